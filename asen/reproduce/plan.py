"""``asen reproduce --plan``: every run a table needs, its networks, sizes, steps and FLOPs, and the time it
should take here and on a T4 (:mod:`asen.estimate`), without training anything."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import torch

from ..config import Config
from .cache import is_finished
from .methods import MAIN_METHODS
from .profiles import PROFILES
from .protocol import Protocol, ablation_runs, main_table_runs
from ..cpu import describe as describe_cpu
from .schedule import machine_label, process_layout


def split_items(protocol: Protocol, split: str) -> int:
    """Items a pass over ``split`` embeds (its query and candidate lines): counted in the data folder, else
    the profile's SynthFashion size (the data is generated later)."""
    files = [protocol.data_root / f"{kind}_{split}.txt" for kind in ("query", "candidate")]
    if all(f.exists() for f in files):
        return sum(sum(1 for line in f.read_text().splitlines() if line.strip()) for f in files)
    from ..synth.layout import SIZES

    spec = SIZES[PROFILES[protocol.profile]["size"]]
    return getattr(spec, f"{split}_queries") + getattr(spec, f"{split}_candidates")


def plan_configs(protocol: Protocol, seeds: Sequence[int], main: bool = True, ablations: bool = False) -> list[Config]:
    """The config of every training run the main table (``main``) and the ablations (``ablations``) need, in
    training order, each once: the pre-training run (if any), then :func:`~asen.reproduce.main_table_runs` and
    :func:`~asen.reproduce.ablation_runs`. Their hashes name the run folders (:func:`~asen.reproduce.run_dir_of`)."""
    configs: list[Config] = []
    pre = protocol.pretrain_config()
    if pre is not None:
        configs.append(pre)
    if main:
        configs += main_table_runs(protocol, {m: seeds for m in MAIN_METHODS})
    if ablations:
        configs += ablation_runs(protocol, seeds)
    return list({(c.name, c.hash()): c for c in configs}.values())


def plan_runs(protocol: Protocol, seeds: Sequence[int], main: bool = True, ablations: bool = False,
              rate: float | None = None) -> list[dict]:
    """Every training run ``asen reproduce`` would need (:func:`plan_configs`), without training anything.

    Args:
        protocol: data, runs folder and profile.
        seeds: training seeds.
        main: the main table's runs; ablations: the ablations' runs.
        rate: achieved FLOP/s of the current device (:func:`asen.estimate.measure_rate`), for ``seconds``.
    Returns:
        One dict per run: ``name``, ``stage``, ``head``, ``backbone``, ``local_backbone`` (stage 2), ``global_size``,
        ``local_size`` (stage 2), ``steps``, ``images_per_step``, ``flops`` (its steps and validation passes,
        :func:`asen.estimate.run_flops`), ``seconds`` (``flops / rate``; None without ``rate``), ``t4_seconds``
        (:func:`asen.estimate.t4_seconds`) and ``trained`` (a finished run is reused).
    """
    from ..estimate import images_per_step, run_flops, steps_per_epoch, t4_seconds

    valid = split_items(protocol, "valid")
    out = []
    for c in plan_configs(protocol, seeds, main, ablations):
        d, m, t = c.data, c.model, c.train
        flops = run_flops(c, valid)
        out.append({"name": c.name, "stage": t.stage, "head": m.head if t.stage else "-", "backbone": m.backbone,
                    "local_backbone": m.local_backbone if m.local_branch else None, "global_size": d.global_size,
                    "local_size": d.local_size if m.local_branch else None, "steps": t.epochs * steps_per_epoch(c),
                    "images_per_step": images_per_step(c), "flops": flops,
                    "seconds": flops / rate if rate else None, "t4_seconds": t4_seconds(flops, t.amp, t.stage),
                    "trained": is_finished(c, protocol.runs_root)})
    return out


def evaluation_flops(protocol: Protocol, seeds: Sequence[int], main: bool, ablations: bool) -> tuple[float, float]:
    """FLOPs of the tables' test-split passes (:func:`asen.estimate.table_evaluations`) and their T4 seconds."""
    from ..estimate import flops_per_image, t4_seconds, table_evaluations

    test = split_items(protocol, "test")
    s1 = protocol.stage1_config("asen", seeds[0])
    s2 = protocol.stage2_config("asen", seeds[0], Path("stage1.pt"))
    flops = t4 = 0.0
    for stage, count in table_evaluations(seeds, main, ablations).items():
        cfg = s1 if stage == 1 else s2
        f = count * test * flops_per_image(cfg)["extract"]
        flops += f
        t4 += t4_seconds(f, "none", stage)  # extraction runs in fp32 (asen.evaluate has no autocast)
    return flops, t4


def _minutes(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds / 60:.1f}"


def format_plan(runs: list[dict], device: str | None = None, rate: float | None = None,
                evaluation: tuple[float, float] | None = None, t4: bool = False) -> str:
    """A plain-text table of :func:`plan_runs`: networks, input sizes, steps, training FLOPs, estimated minutes
    on the current device (``device``, measured at ``rate`` FLOP/s) and, with ``t4``, on a T4; then the totals
    (runs and images still to train; with ``evaluation``, the tables' test passes, :func:`evaluation_flops`)."""
    head = (f"{'run':<24} {'stage':>5} {'head':<10} {'networks':<26} {'px':>9} {'steps':>6} {'img/step':>8} "
            f"{'PFLOP':>7} {'min here':>8}" + (f" {'min T4':>7}" if t4 else "") + "  status")
    lines = [head, "-" * len(head)]
    todo = 0
    left = {"flops": 0.0, "here": 0.0, "t4": 0.0}
    for r in runs:
        nets = r["backbone"] + (f" + {r['local_backbone']}" if r["local_backbone"] else "")
        px = f"{r['global_size']}" + (f"/{r['local_size']}" if r["local_size"] else "")
        lines.append(f"{r['name']:<24} {r['stage']:>5} {r['head']:<10} {nets:<26} {px:>9} {r['steps']:>6} "
                     f"{r['images_per_step']:>8} {r['flops'] / 1e15:>7.3f} {_minutes(r['seconds']):>8}"
                     + (f" {_minutes(r['t4_seconds']):>7}" if t4 else "")
                     + f"  {'trained' if r['trained'] else 'to train'}")
        if not r["trained"]:
            todo += r["steps"] * r["images_per_step"]
            left["flops"] += r["flops"]
            left["here"] += r["seconds"] or 0.0
            left["t4"] += r["t4_seconds"]
    lines.append(f"{sum(not r['trained'] for r in runs)} of {len(runs)} runs to train, "
                 f"{todo:,} training images in all, {left['flops'] / 1e15:.2f} PFLOP (steps and validation passes)")
    if rate:
        lines.append(f"estimated training time on this device ({device}, {rate / 1e12:.3g} TFLOP/s measured on "
                     f"training steps): {left['here'] / 60:.1f} min")
    if t4:
        from ..estimate import T4, T4_SHARE

        lines.append(f"estimated training time on a T4 ({T4.fp16_tflops:g} TFLOP/s fp16 / {T4.fp32_tflops:g} fp32 "
                     f"peak, assumed {T4_SHARE['fp16']:.0%} / {T4_SHARE['fp32']:.0%} of it, asen.estimate): "
                     f"{left['t4'] / 60:.1f} min")
        if evaluation is not None:
            lines.append(f"the tables' test-split passes: {evaluation[0] / 1e15:.2f} PFLOP, {evaluation[1] / 60:.1f} "
                         f"min on a T4; with training: {(left['t4'] + evaluation[1]) / 60:.1f} min")
    return "\n".join(lines)


CPU_RATE_STEP_FLOP = 20e9
"""A CPU times a step of at most this many FLOPs (about a second): the cpu profile's whole 96-image step; for the
paper's networks a few images (a small batch runs below a full one's rate, so that estimate errs long)."""


def device_rate(protocol: Protocol, seeds: Sequence[int]) -> float:
    """Achieved FLOP/s of the current device on training steps of the plan's first stage-1 run (a CPU times a
    step of at most :data:`CPU_RATE_STEP_FLOP`: the whole batch of the cpu profile, a few images of the paper's
    networks).

    On a CPU the step is timed as :func:`train_all` runs it, in one of its processes
    (:func:`~asen.reproduce.schedule.process_layout`: e.g. one thread of two on 2 cores), and the rate is that
    process's times the number of processes: several one-thread processes train faster than one process with all
    the threads, so timing the latter would double the estimate.
    """
    from ..estimate import flops_per_image, measure_rate

    cfg = protocol.stage1_config("asen", seeds[0])
    if protocol.device.type != "cpu":
        return measure_rate(cfg, protocol.device)
    cap = max(9, int(CPU_RATE_STEP_FLOP // flops_per_image(cfg)["train"]))
    jobs, threads = process_layout(protocol)
    saved = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return jobs * measure_rate(cfg, protocol.device, max_images=cap)
    finally:
        torch.set_num_threads(saved)


def device_description(protocol: Protocol) -> str:
    """The device of a plan's time estimate: the GPU's name, or the CPU's and its torch threads."""
    if protocol.device.type == "cuda":
        return torch.cuda.get_device_name(protocol.device)
    jobs, threads = process_layout(protocol)
    cpu = machine_label(describe_cpu())
    return f"{cpu}, {jobs} process{'es' if jobs > 1 else ''} x {threads} thread{'s' if threads > 1 else ''}"
