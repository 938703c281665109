#!/usr/bin/env python
"""Narrow oneDNN's AVX-512 crash (see :mod:`asen.cpu`) down to one op and shape, on a machine that shows it.

Each candidate (the whole CPU-protocol training step, the tiny backbone alone, each convolution of the backbone
alone, BatchNorm alone) runs forward + backward a few times in its own process, with 2 threads, once with oneDNN's
full instruction set (``ONEDNN_MAX_CPU_ISA=DEFAULT``) and once capped (``AVX2``, what ``import asen`` sets on
AVX-512 CPUs). A process killed by a signal or ending with glibc's "double free" / "invalid pointer" counts as a
crash. On a CPU without AVX-512 the two columns run the same kernels and nothing is expected to crash.

    python tools/onednn_crash_probe.py [--repeats 3] [--threads 2] [--only conv] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def candidates(width: int = 8, batch: int = 32, size: int = 64) -> dict[str, str]:
    """name -> Python code that runs one forward + backward (asen imported first, so the cap applies)."""
    w = width
    head = "import torch, asen\nfrom asen.backbones import build_backbone\ntorch.manual_seed(0)\n"
    out: dict[str, str] = {}
    for fmt in ("channels_last", "contiguous_format"):
        mf = f"torch.{fmt}"
        out[f"backbone width {w}, {batch}x3x{size}x{size}, {fmt}"] = head + (
            f"net = build_backbone('resnet_tiny', 'none', {w}, 1).to(memory_format={mf})\n"
            f"x = torch.randn({batch}, 3, {size}, {size}).to(memory_format={mf})\n"
            "for _ in range(4):\n    net(x).float().pow(2).mean().backward()\n")
        # the convolutions of resnet_tiny: stem (3x3 stride 2), stage convs, stride-2 transitions, 1x1 shortcuts
        s = size // 4  # after the stride-2 stem and the max pooling
        shapes = [(3, w, 3, 2, size), (w, w, 3, 1, s), (w, 2 * w, 3, 2, s), (w, 2 * w, 1, 2, s),
                  (2 * w, 2 * w, 3, 1, s // 2), (2 * w, 4 * w, 3, 2, s // 2), (2 * w, 4 * w, 1, 2, s // 2),
                  (4 * w, 4 * w, 3, 1, s // 4)]
        for cin, cout, k, stride, hw in shapes:
            out[f"conv {cin}->{cout} k{k} s{stride} at {hw}x{hw}, batch {batch}, {fmt}"] = head + (
                f"conv = torch.nn.Conv2d({cin}, {cout}, {k}, {stride}, {k // 2}, bias=False).to(memory_format={mf})\n"
                f"x = torch.randn({batch}, {cin}, {hw}, {hw}, requires_grad=True).to(memory_format={mf})\n"
                "for _ in range(4):\n    conv(x).pow(2).mean().backward()\n")
        out[f"batchnorm {w} at {size // 2}x{size // 2}, batch {batch}, {fmt}"] = head + (
            f"bn = torch.nn.BatchNorm2d({w})\n"
            f"x = torch.randn({batch}, {w}, {size // 2}, {size // 2}, requires_grad=True).to(memory_format={mf})\n"
            "for _ in range(4):\n    bn(x).pow(2).mean().backward()\n")
    return out


def full_step_code(data_root: Path, width: int) -> str:
    sets = ["data.steps_per_epoch=4", "data.images_per_batch=32", "train.epochs=1", f"model.tiny_width={width}",
            "data.eval_batch_size=64", "model.pretrained=none", f"data.root={data_root}"]
    return ("import sys, tempfile\nfrom asen.cli import main\nrun = tempfile.mkdtemp() + '/run'\n"
            f"sys.exit(main(['train', '-c', 'synthfashion_cpu', '--run-dir', run, '--quiet'] "
            f"+ sum([['--set', s] for s in {sets!r}], [])))\n")


def run_once(code: str, isa: str, threads: int, timeout: float = 600) -> str:
    """``ok``, ``crash (<signal or message>)``, ``error (rc)`` or ``timeout``."""
    env = {**os.environ, "ONEDNN_MAX_CPU_ISA": isa, "OMP_NUM_THREADS": str(threads),
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    try:
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return "timeout"
    if out.returncode == 0:
        return "ok"
    text = out.stderr
    if out.returncode < 0 or "double free" in text or "invalid pointer" in text or "corruption" in text:
        return f"crash (rc {out.returncode})"
    return f"error (rc {out.returncode}: {text.strip().splitlines()[-1][:120] if text.strip() else ''})"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=3, help="runs per candidate and setting (default 3)")
    p.add_argument("--threads", type=int, default=2, help="OMP_NUM_THREADS of each run (the crash needs >= 2)")
    p.add_argument("--width", type=int, default=8, help="resnet_tiny width (the crash was seen at 8)")
    p.add_argument("--only", default="", help="run only candidates whose name contains this text")
    p.add_argument("--work", default="/tmp/onednn_probe", help="folder for the tiny dataset")
    p.add_argument("--json", help="also write the results here")
    args = p.parse_args(argv)

    from asen import cpu

    work = Path(args.work)
    todo = candidates(args.width)
    data = work / "data"
    if not args.only or args.only in "full training step":
        if not (data / "meta.json").exists():
            subprocess.run([sys.executable, "-m", "asen", "synth", "--out", str(data), "--size", "tiny", "--quiet"],
                           check=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
        todo = {f"full training step, width {args.width}": full_step_code(data, args.width), **todo}
    todo = {k: v for k, v in todo.items() if args.only in k}
    print(f"CPU: {cpu.cpu_model()}; AVX-512: {cpu.needs_isa_cap(cpu.cpu_flags())}; threads {args.threads}; "
          f"{args.repeats} runs each")
    print("| candidate | ONEDNN_MAX_CPU_ISA=DEFAULT | =AVX2 |\n|---|---|---|")
    results = []
    for name, code in todo.items():
        row = {"candidate": name}
        for isa in ("DEFAULT", "AVX2"):
            outcomes = [run_once(code, isa, args.threads) for _ in range(args.repeats)]
            row[isa] = outcomes
        results.append(row)
        cells = [f"{sum(o != 'ok' for o in row[i])}/{args.repeats} failed"
                 + (f" ({sorted(set(o for o in row[i] if o != 'ok'))[0]})" if any(o != "ok" for o in row[i]) else "")
                 for i in ("DEFAULT", "AVX2")]
        print(f"| {name} | {cells[0]} | {cells[1]} |", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps({"cpu": cpu.describe(), "threads": args.threads,
                                               "results": results}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
