"""The oneDNN instruction-set cap (asen.cpu) and the training run that crashed on AVX-512 Intel CPUs.

The crash killed the process (glibc abort), so the run is made in a subprocess: an abort is a failed test, not a
dead test session.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from asen import cpu

ROOT = Path(__file__).resolve().parent.parent


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in (cpu.ISA_VARIABLE, cpu._SET_BY_ASEN)}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    env.update(extra)
    return env


def test_cap_applies_only_on_avx512_and_respects_the_user():
    env: dict[str, str] = {}
    assert cpu.cap_onednn_isa(env, flags={"avx2", "fma"}) is None
    assert env == {}
    assert cpu.cap_onednn_isa(env, flags={"avx2", "avx512f", "amx_tile"}) == "AVX2"
    assert env[cpu.ISA_VARIABLE] == "AVX2"
    assert cpu.describe(env)["onednn_cap_set_by"] == "asen"
    user = {cpu.ISA_VARIABLE: "DEFAULT"}
    assert cpu.cap_onednn_isa(user, flags={"avx512f"}) is None
    assert user == {cpu.ISA_VARIABLE: "DEFAULT"}
    assert cpu.describe(user)["onednn_cap_set_by"] == "user"


def test_cpu_flags_and_model_read_cpuinfo(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Platinum 8480+\n"
                    "flags\t\t: fpu sse avx2 avx512f amx_tile\n\nprocessor\t: 1\nflags\t\t: fpu\n")
    assert cpu.cpu_flags(info) == {"fpu", "sse", "avx2", "avx512f", "amx_tile"}
    assert cpu.cpu_model(info) == "Intel(R) Xeon(R) Platinum 8480+"
    assert cpu.cpu_flags(tmp_path / "missing") == set()
    assert cpu.cpu_id(info) is None  # no family or model lines
    info.write_text("processor\t: 0\ncpu family\t: 25\nmodel\t\t: 17\nmodel name\t: AMD EPYC\n\n"
                    "processor\t: 1\ncpu family\t: 23\nmodel\t\t: 1\n")
    assert cpu.cpu_id(info) == "family 25, model 17" and cpu.cpu_model(info) == "AMD EPYC"
    assert cpu.cpu_id(tmp_path / "missing") is None


def test_importing_asen_caps_this_machine_exactly_when_it_has_avx512():
    code = "import os, asen; print(os.environ.get('ONEDNN_MAX_CPU_ISA'))"
    out = subprocess.run([sys.executable, "-c", code], env=_env(), capture_output=True, text=True, check=True)
    expected = "AVX2" if cpu.needs_isa_cap(cpu.cpu_flags()) else "None"
    assert out.stdout.strip() == expected


def test_a_cap_set_after_import_torch_reaches_onednn():
    """oneDNN reads the variable at its first primitive, not at ``import torch`` (what makes the cap work when a
    notebook imports torch before asen). Checked with a cap below every x86-64 CPU's (SSE4.1), so it shows here."""
    code = (
        "import torch\n"
        "from asen import cpu\n"
        "import os\n"
        "os.environ.pop(cpu.ISA_VARIABLE, None)\n"
        "assert cpu.cap_onednn_isa(os.environ, flags={'avx512f'}, isa='SSE41') == 'SSE41'\n"
        "x = torch.randn(2, 8, 16, 16, requires_grad=True)\n"
        "w = torch.randn(8, 8, 3, 3, requires_grad=True)\n"
        "with torch.backends.mkldnn.verbose(torch.backends.mkldnn.VERBOSE_ON):\n"
        "    torch.nn.functional.conv2d(x, w, padding=1).sum().backward()\n"
    )
    if not __import__("torch").backends.mkldnn.is_available():
        pytest.skip("this torch build has no oneDNN")
    out = subprocess.run([sys.executable, "-c", code], env=_env(), capture_output=True, text=True, check=True)
    isa_lines = [line for line in out.stdout.splitlines() if ",isa:" in line]
    assert isa_lines and isa_lines[0].endswith("isa:Intel SSE4.1"), out.stdout[:2000]


def test_the_run_that_crashed_on_avx512_trains(tmp_path):
    """The narrow smoke model (width 8, channels-last, 32 images a step) with 2 threads: it aborted in
    ``loss.backward()`` with 'double free or corruption' on AVX-512 Intel Xeons before the cap existed."""
    data, run = tmp_path / "D", tmp_path / "R"
    env = _env(OMP_NUM_THREADS="2")
    asen = [sys.executable, "-m", "asen"]
    subprocess.run([*asen, "synth", "--out", str(data), "--size", "tiny", "--quiet"], env=env, check=True,
                   capture_output=True)
    sets = ["data.steps_per_epoch=4", "data.images_per_batch=32", "train.epochs=1", "model.tiny_width=8",
            "data.eval_batch_size=64", "model.pretrained=none", "model.channels_last=true", f"data.root={data}"]
    cmd = [*asen, "train", "-c", "synthfashion_cpu", "--run-dir", str(run), "--quiet"]
    for s in sets:
        cmd += ["--set", s]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    assert out.returncode == 0, f"exit {out.returncode}\n{out.stdout[-2000:]}\n{out.stderr[-3000:]}"
    assert (run / "checkpoints" / "best.pt").exists()
