import json

import pytest
import torch

from benchmarks import gpu_check, run


def test_dry_run_prints_the_plan_and_runs_nothing(tmp_path, capsys):
    assert gpu_check.main(["--dry-run", "--results", str(tmp_path / "r")]) == 0
    out = capsys.readouterr().out
    assert "-m benchmarks.run --device cuda --sections train,e2e --plan gpu --out benchmarks/results_gpu.json" in out
    assert "pipeline: PIL DataLoader vs image store on cuda" in out
    assert not (tmp_path / "r").exists()


def test_run_py_accepts_the_flags_the_check_passes():
    args = dict(zip(gpu_check.RUN_PY_ARGS[::2], gpu_check.RUN_PY_ARGS[1::2]))
    assert args["--plan"] in run.PLANS
    assert set(args["--sections"].split(",")) <= set(run.SECTIONS)
    source = (gpu_check.ROOT / "benchmarks" / "run.py").read_text()
    for flag in args:
        assert f'add_argument("{flag}"' in source


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU error")
def test_without_cuda_it_fails_loudly(tmp_path):
    with pytest.raises(SystemExit, match="gpu_check needs a CUDA GPU"):
        gpu_check.main(["--results", str(tmp_path / "r")])
    assert not (tmp_path / "r").exists()


def test_pipeline_code_path_on_the_cpu(tmp_path):
    assert gpu_check.main(["--pipeline-device", "cpu", "--results", str(tmp_path)]) == 0
    res = json.loads((tmp_path / "pipeline.json").read_text())
    assert res["store"]["stage1"]["images"] == 300
    assert res["store"]["stage1"]["bytes"] == 300 * 3 * 64 * 64  # global views only
    assert res["store"]["stage2"]["bytes"] == 300 * 3 * 64 * 64 * 2  # + the 64 px originals
    assert set(res["loader_only"]) == {"pil_2_workers", "store", "store_over_best_pil"}
    for part in ("end_to_end_stage1", "end_to_end_stage2"):  # + the same steps on batches already on the device
        assert set(res[part]) == {"pil_2_workers", "store", "step_only", "store_over_best_pil",
                                  "store_over_step_only", "flops_per_image"}
        assert res[part]["store_over_step_only"] == pytest.approx(
            res[part]["store"]["images_per_s"] / res[part]["step_only"]["images_per_s"])
        assert res[part]["store"]["percent_of_bf16_peak"] is None  # no peak on a CPU
    for part in ("loader_only", "end_to_end_stage1", "end_to_end_stage2"):
        assert res[part]["store"]["images_per_s"] > 0 and res[part]["pil_2_workers"]["images_per_s"] > 0
    # stage 2 does more work per image than stage 1 (the local branch)
    assert res["end_to_end_stage2"]["flops_per_image"] > res["end_to_end_stage1"]["flops_per_image"] > 0
    assert not (tmp_path / "work").exists() and (tmp_path / "summary.json").exists()
    assert "compiled_stage1" not in res


def test_pipeline_on_a_given_dataset_batch_and_compile_path(tmp_path, monkeypatch):
    """--data reuses a dataset, --batch-triplets sets the step, --compile times stage 1 again after the rest
    (torch.compile itself replaced by a no-op here: the code path, not the compiler)."""
    from asen.synth.layout import generate_dataset

    data = generate_dataset(tmp_path / "SF", size="tiny", image_size=64, workers=1, progress=False)
    compiled = []
    monkeypatch.setattr(torch.nn.Module, "compile", lambda self, *a, **k: compiled.append(k.get("mode")))
    out = tmp_path / "r"
    assert gpu_check.main(["--pipeline-device", "cpu", "--results", str(out), "--data", str(data),
                           "--batch-triplets", "2", "--compile", "--compile-mode", "reduce-overhead"]) == 0
    res = json.loads((out / "pipeline.json").read_text())
    assert res["data"] == str(data) and res["settings"]["batch_triplets"] == 2
    assert compiled == ["reduce-overhead"]  # the global backbone, once, in the mode asked for
    assert res["compiled_stage1"]["mode"] == "reduce-overhead"
    c = res["compiled_stage1"]
    assert "error" not in c and c["step_only"]["images_per_s"] > 0 and c["store"]["images_per_s"] > 0
    assert c["compiled_over_eager_step_only"] == pytest.approx(
        c["step_only"]["images_per_s"] / res["end_to_end_stage1"]["step_only"]["images_per_s"])
    assert not (out / "work" / "SynthFashion_tiny_64").exists()  # the given dataset, not a generated one


def test_the_session_script_lists_its_steps_and_keeps_to_its_total(tmp_path):
    """benchmarks/gpu_session.sh with DRY_RUN: the six default steps, commands whose flags exist, and TOTAL_S
    capping each step's limit (a step with under 20 s left is skipped)."""
    import os
    import subprocess

    script = gpu_check.ROOT / "benchmarks" / "gpu_session.sh"

    def dry(**env):
        out = subprocess.run(["bash", str(script)], capture_output=True, text=True, check=True,
                             env={**os.environ, "DRY_RUN": "1", "RES": str(tmp_path / "res"), **env})
        return out.stdout, json.loads(out.stdout.strip().splitlines()[-1])

    text, steps = dry()
    assert list(steps) == ["tests", "synth", "cpuplan", "reproduce", "pipeline", "pipeline48"]
    cpuplan = next(x for x in text.splitlines() if x.startswith("== cpuplan"))
    assert "env OMP_NUM_THREADS=2 taskset -c 0,1 " in cpuplan and "-m asen reproduce --profile cpu --plan" in cpuplan
    assert "(limit 300 s)" in text and "--compile-mode reduce-overhead --batch-triplets 16" in text
    source = (gpu_check.ROOT / "benchmarks" / "gpu_check.py").read_text()
    for flag in ("--skip-run-py", "--compile", "--compile-mode", "--batch-triplets", "--data", "--results"):
        assert f'add_argument("{flag}"' in source
    text, steps = dry(TOTAL_S="50")
    assert "== reproduce (limit 50 s)" in text
    _, steps = dry(TOTAL_S="10")
    assert all(s["rc"] == "skipped" for s in steps.values())
    assert '--jobs 0 --quiet' in dry()[0] and '--jobs 1 --quiet' in dry(JOBS="1")[0]  # runs sharing the GPU


def test_the_session_script_runs_the_gpu_book_on_request(tmp_path):
    """STEPS="synth book": only those two steps, the book as `make book` runs it but in the gpu profile on CUDA,
    with flags tools/execute_notebooks.py has."""
    import os
    import subprocess

    script = gpu_check.ROOT / "benchmarks" / "gpu_session.sh"
    out = subprocess.run(["bash", str(script)], capture_output=True, text=True, check=True,
                         env={**os.environ, "DRY_RUN": "1", "RES": str(tmp_path / "res"), "STEPS": "synth book"})
    steps = json.loads(out.stdout.strip().splitlines()[-1])
    assert list(steps) == ["synth", "book"]
    line = next(x for x in out.stdout.splitlines() if x.startswith("== book"))
    assert "(limit 560 s)" in line and "tools/execute_notebooks.py --profile gpu --device cuda" in line
    source = (gpu_check.ROOT / "tools" / "execute_notebooks.py").read_text()
    for flag in ("--profile", "--device", "--data-root", "--runs-root", "--results-dir", "--jobs", "--force",
                 "--keep-going"):
        assert f'add_argument("{flag}"' in source


def test_the_session_script_installs_the_carried_jupyter_wheels_only_where_needed(tmp_path):
    """The book step needs papermill, jupytext and ipykernel: a Python that cannot import them (`false` stands
    for one) gets the wheels of benchmarks/gpu_wheels.sh installed first; one that can (`true`) does not, and
    other steps never trigger it."""
    import os
    import shutil
    import subprocess

    script = gpu_check.ROOT / "benchmarks" / "gpu_session.sh"

    def dry(py, steps):
        return subprocess.run(["bash", str(script)], capture_output=True, text=True, check=True,
                              env={**os.environ, "DRY_RUN": "1", "RES": str(tmp_path / "res"), "STEPS": steps,
                                   "PY": shutil.which(py)}).stdout

    assert "== jupyter: installing the carried wheels (.whl" in dry("false", "synth book")
    assert "== jupyter" not in dry("true", "synth book")
    assert "== jupyter" not in dry("false", "synth reproduce")
    wheels = (gpu_check.ROOT / "benchmarks" / "gpu_wheels.sh").read_text()
    assert "papermill==" in wheels and "jupytext==" in wheels and "ipykernel==" in wheels
