"""What capping oneDNN at AVX2 costs (:mod:`asen.cpu`): training steps with and without the cap, same run.

oneDNN reads its instruction-set cap once per process, so each side runs in its own process
(``python -m benchmarks.isa_bench --child ISA ROOT``), the two sides taking turns (DEFAULT, AVX2, DEFAULT, ...).
Each process times stage-1 and stage-2 training steps of the shipped CPU protocol (as shipped: channels-last, fp32)
on pre-built batches, and prints one JSON line. On a CPU without AVX-512 both sides run the same AVX2 kernels and
the ratio only shows the noise; the cap is applied (by ``import asen``) only on AVX-512 CPUs.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
ISAS = ("DEFAULT", "AVX2")


def child(root: str, steps: int, warmup: int, repeats: int, batches: int) -> dict[str, Any]:
    """In this process: stage-1 and stage-2 training images/s of the CPU protocol (see the module docstring)."""
    import torch  # noqa: PLC0415

    from benchmarks import train_bench  # noqa: PLC0415

    cfg1 = train_bench.make_config("cpu", 1, root)
    cfg2 = train_bench.make_config("cpu", 2, root)
    built = train_bench.build_batches(cfg2, batches, keep_original=True)
    out = train_bench.train_throughput({"stage1": (cfg1, "none"), "stage2": (cfg2, "none")}, built, "cpu", steps,
                                       warmup, repeats)
    return {"isa": os.environ.get("ONEDNN_MAX_CPU_ISA"), "threads": torch.get_num_threads(),
            **{k: v["images_per_s"] for k, v in out.items()}}


def run(root: str | Path, rounds: int = 3, steps: int = 4, warmup: int = 2, repeats: int = 3,
        batches: int = 4) -> dict[str, Any]:
    """Alternate processes with ``ONEDNN_MAX_CPU_ISA`` = DEFAULT and AVX2; medians over the rounds per side.

    Returns:
        ``{"cpu", "avx512", "rounds", "DEFAULT": {"stage1", "stage2"}, "AVX2": {...}, "ratio": {...}, "runs"}``
        with images/s medians and ``ratio`` = AVX2 / DEFAULT (below 1: the cap costs speed).
    """
    from asen import cpu  # noqa: PLC0415

    runs: dict[str, list[dict[str, Any]]] = {isa: [] for isa in ISAS}
    env = {k: v for k, v in os.environ.items() if k != "ASEN_CAPPED_ONEDNN_ISA"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    for _ in range(rounds):
        for isa in ISAS:
            cmd = [sys.executable, "-m", "benchmarks.isa_bench", "--child", str(root), "--steps", str(steps),
                   "--warmup", str(warmup), "--repeats", str(repeats), "--batches", str(batches)]
            out = subprocess.run(cmd, env={**env, "ONEDNN_MAX_CPU_ISA": isa}, cwd=ROOT, capture_output=True,
                                 text=True)
            if out.returncode != 0:
                runs[isa].append({"error": f"exit {out.returncode}: {out.stderr.strip()[-300:]}"})
                continue
            runs[isa].append(json.loads(out.stdout.strip().splitlines()[-1]))
    # with "family 25, model 17": the model name alone does not tell CPU kinds apart in a VM
    result: dict[str, Any] = {"cpu": cpu.cpu_label(cpu.describe()),
                              "avx512": cpu.needs_isa_cap(cpu.cpu_flags()), "rounds": rounds,
                              "steps": steps, "repeats": repeats, "runs": runs}
    for isa in ISAS:
        ok = [r for r in runs[isa] if "error" not in r]
        result[isa] = {k: float(np.median([r[k] for r in ok])) if ok else None for k in ("stage1", "stage2")}
        result[isa]["crashed_or_failed"] = len(runs[isa]) - len(ok)
    result["ratio"] = {k: (result["AVX2"][k] / result["DEFAULT"][k]
                           if result["AVX2"][k] and result["DEFAULT"][k] else None) for k in ("stage1", "stage2")}
    return result


def table(r: dict[str, Any]) -> str:
    """Markdown for one :func:`run` result."""
    from benchmarks.common import md_table  # noqa: PLC0415

    def f(x: float | None) -> str:
        return "-" if x is None else f"{x:,.1f}"

    rows = [[f"stage-{s[-1]} training step, CPU protocol", f(r["DEFAULT"][s]), f(r["AVX2"][s]),
             "-" if r["ratio"][s] is None else f"{r['ratio'][s]:.2f}x"] for s in ("stage1", "stage2")]
    rows.append(["runs that crashed or failed", r["DEFAULT"]["crashed_or_failed"], r["AVX2"]["crashed_or_failed"], ""])
    head = (f"oneDNN's instruction set, full (DEFAULT) vs capped at AVX2 (what `import asen` sets on AVX-512 CPUs), "
            f"{r['rounds']} processes a side taking turns, medians of {r['repeats']} x {r['steps']} steps each; "
            f"CPU {r['cpu']}, AVX-512: {'yes' if r['avx512'] else 'no (both sides run the same AVX2 kernels)'}.")
    return head + "\n\n" + md_table(["what", "DEFAULT img/s", "AVX2 img/s", "AVX2 / DEFAULT"], rows)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--child", metavar="ROOT", help="time one side in this process, on the dataset at ROOT")
    p.add_argument("--steps", type=int, default=4)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--batches", type=int, default=4)
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.steps, args.warmup, args.repeats, args.batches)))
        return 0
    p.error("run it through `python -m benchmarks.run --sections isa` (or give --child ROOT)")
    return 2


if __name__ == "__main__":
    sys.exit(main())
