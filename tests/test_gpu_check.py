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
    for part in ("loader_only", "end_to_end_stage1", "end_to_end_stage2"):
        assert set(res[part]) == {"pil_2_workers", "store", "store_over_best_pil"}
        assert res[part]["store"]["images_per_s"] > 0 and res[part]["pil_2_workers"]["images_per_s"] > 0
    assert not (tmp_path / "work").exists() and (tmp_path / "summary.json").exists()
