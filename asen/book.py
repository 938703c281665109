"""Notebook support: one ``setup()`` call turns a chapter's ``parameters`` cell into paths, data and a device.

Every chapter of the book starts, after its ``parameters`` cell, with::

    ctx = asen.book.setup(globals())

which reads the parameters cell's names (:data:`PARAMETERS`) from the chapter's namespace, seeds everything,
picks the device (CUDA when present and asked for), makes sure the data exists
(SynthFashion is generated, cached, at the size of the profile) and returns a :class:`BookContext`, whose
:meth:`BookContext.trained` is the load-or-train entry point: a model is trained once for the whole book,
keyed by its configuration hash, and every later chapter loads it.
"""
from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import torch

from .data import SplitFiles, load_split_files
from .reproduce import (MAIN_METHODS, PROFILES, Protocol, ablation_runs, default_data_root, ensure_trained,
                        main_table_runs)
from .runs import resolve_device, seed_everything

SYNTH_SIZE = {name: prof["size"] for name, prof in PROFILES.items()}  # gpu: the 224 px renders, as cpu
PARAMETERS = ("profile", "dataset", "data_root", "device", "seed", "runs_root", "results_dir")
"""The names of a chapter's ``parameters`` cell, in order: the arguments of :func:`setup`."""


def on_colab() -> bool:
    """True inside Google Colab."""
    return "google.colab" in sys.modules


def default_profile(requested: str = "cpu") -> str:
    """The profile a chapter runs: ``ASEN_PROFILE`` from the environment when set; else, for the default
    ``cpu``, ``gpu`` on a CUDA runtime (Colab's included); else ``requested``."""
    if os.environ.get("ASEN_PROFILE"):
        return os.environ["ASEN_PROFILE"]
    return "gpu" if requested == "cpu" and torch.cuda.is_available() else requested


@dataclass(repr=False)
class BookContext:
    """Everything a chapter derives from its parameters."""

    profile: str
    dataset: str
    data_root: Path
    device: torch.device
    seed: int
    runs_root: Path
    results_dir: Path
    files: SplitFiles = field(repr=False)
    progress: bool = False

    def __repr__(self) -> str:
        return f"device: {self.device} | profile: {self.profile} | data: {self.data_root}"

    @property
    def trains_fully(self) -> bool:
        """True on the ``cpu`` and ``gpu`` profiles; ``smoke`` trains a few steps, so its numbers are noise and a
        chapter checks the claims about what training achieves only when this is true."""
        return self.profile != "smoke"

    @property
    def protocol(self) -> Protocol:
        return Protocol(self.data_root, self.runs_root, self.device, profile=self.profile, progress=self.progress)

    @property
    def seeds(self) -> tuple[int, ...]:
        """Training seeds of the profile (the book's tables use them all)."""
        return tuple(PROFILES[self.profile]["seeds"])

    def trained(self, method: str = "asen", stage: int = 1, seed: int | None = None) -> Path:
        """Load-or-train a method (``triplet``, ``csn``, ``asen``, ``no_asa``, ``no_aca``); stage 2 adds the
        local branch on top of that method's stage-1 run. Returns the ``best.pt`` path."""
        seed = self.seed if seed is None else seed
        p = self.protocol
        p.ensure_pretrained()  # the backbone every method starts from (None when they start from scratch)
        ckpt = ensure_trained(p.stage1_config(method, seed), self.runs_root, self.device, self.files, self.progress)
        if stage == 2:
            ckpt = ensure_trained(p.stage2_config(method, seed, ckpt), self.runs_root, self.device, self.files,
                                  self.progress)
        return ckpt


def setup(profile: str | Mapping[str, Any] = "cpu", dataset: str = "SynthFashion", data_root: str | None = None,
          device: str = "auto", seed: int = 0, runs_root: str = "runs/synthfashion", results_dir: str = "results/book",
          progress: bool = False) -> BookContext:
    """Seed, choose the device, make sure the data exists, and return the chapter's context.

    A chapter passes its namespace, ``setup(globals())``: the names of :data:`PARAMETERS` are read from it (the
    parameters cell as papermill left it); any other argument is then ignored.

    Args:
        profile: ``smoke`` (tiny data, seconds), ``cpu`` (small data, the default), ``gpu`` (the paper's networks),
            or a mapping holding the parameters (a chapter's ``globals()``); ``cpu`` becomes :func:`default_profile`
            (``gpu`` on a CUDA runtime, ``ASEN_PROFILE`` when set).
        dataset: ``SynthFashion`` (generated when missing) or a real dataset prepared with ``data_scripts/``.
        data_root: the dataset folder (default ``data/SynthFashion`` for cpu, ``data/SynthFashion-<size>`` otherwise).
        device: ``auto``, ``cpu`` or ``cuda``.
        seed: seeds Python, NumPy and torch, and the training runs.
        runs_root: where trained runs are cached (shared by all chapters).
        results_dir: where chapters write their numbers.
    """
    if isinstance(profile, Mapping):
        missing = [k for k in PARAMETERS if k not in profile]
        if missing:
            raise ValueError(f"the parameters cell does not set {', '.join(missing)}")
        return setup(**{k: profile[k] for k in PARAMETERS}, progress=progress)
    if profile == "cpu":
        profile = default_profile()  # "gpu" on a CUDA runtime (ASEN_PROFILE wins)
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {', '.join(PROFILES)}, got {profile!r}")
    seed_everything(seed)
    dev = resolve_device(device)
    if dataset == "SynthFashion":
        size = SYNTH_SIZE[profile]
        root = Path(data_root or default_data_root(profile))
        from . import synth

        existing = root / "meta.json"
        if existing.exists():
            found = json.loads(existing.read_text()).get("generator", {}).get("size")
            if found != size:
                raise ValueError(f"{root} holds SynthFashion of size {found!r} but profile {profile!r} needs "
                                 f"{size!r}; pass another data_root (it is never overwritten)")
        synth.generate_dataset(root, size=size, seed=0, progress=progress)
    else:
        if not data_root:
            raise ValueError(f"data_root is required for {dataset} (prepare it with data_scripts/, see chapter 12)")
        root = Path(data_root)
    files = load_split_files(root)
    results = Path(results_dir)
    results.mkdir(parents=True, exist_ok=True)
    return BookContext(profile, dataset, root, dev, seed, Path(runs_root), results, files, progress)


FEWER_SEED_METHODS = ("asen_aaai", "asen_v2")
"""Main-table rows the book trains for the first seed only on the cpu profile (to keep ``make book`` within
its time budget); chapter 8 uses every seed of theirs that is already trained (``make reproduce`` trains all)."""


def main_table_seeds(ctx: BookContext, method: str) -> tuple[int, ...]:
    """The seeds the book trains ``method`` of the main table for: every seed of the profile, but only the first
    for :data:`FEWER_SEED_METHODS` on the cpu profile."""
    if ctx.profile == "cpu" and method in FEWER_SEED_METHODS:
        return tuple(dict.fromkeys((ctx.seed, *ctx.seeds[:1])))
    return tuple(dict.fromkeys((ctx.seed, *ctx.seeds)))


def main_table_method_seeds(ctx: BookContext) -> dict[str, tuple[int, ...]]:
    """Chapter 8's ``method_seeds`` for :func:`asen.reproduce.run_main_table`: for each of
    :data:`FEWER_SEED_METHODS` on the cpu profile, every profile seed already trained under ``ctx.runs_root``
    (all three after ``make reproduce``), else the first seed (what :func:`book_runs` trains). Empty otherwise."""
    if ctx.profile != "cpu":
        return {}
    from .reproduce import trained_seeds

    return {m: tuple(trained_seeds(ctx.protocol, m, ctx.seeds) or main_table_seeds(ctx, m))
            for m in FEWER_SEED_METHODS}


def book_runs(ctx: BookContext) -> tuple[list, list]:
    """The training runs the chapters ask for: ``(stage-1 configs, stage-2 configs)``.

    Chapters 3-7, 10 and 11 use seed ``ctx.seed``; chapter 8 every seed of the profile (the stage-1 runs of
    :func:`asen.reproduce.stage1_methods` and ASEN++'s stage 2; the first seed only for
    :data:`FEWER_SEED_METHODS` on the cpu profile, :func:`main_table_seeds`); chapter 9 the ablations (w/o ASA, w/o ACA, both
    stages; the no-zoom control's stage 2) for the first seed on the cpu profile and every seed otherwise.
    """
    p = ctx.protocol
    ablation_seeds = ctx.seeds[:1] if ctx.profile == "cpu" else ctx.seeds
    runs = [*main_table_runs(p, {m: main_table_seeds(ctx, m) for m in MAIN_METHODS}),
            *ablation_runs(p, ablation_seeds)]
    unique = list({(c.name, c.hash()): c for c in runs}.values())
    return [c for c in unique if c.train.stage == 1], [c for c in unique if c.train.stage == 2]


def pretrain(ctx: BookContext, jobs: int = 0) -> None:
    """Train every run of :func:`book_runs` that is not trained yet, ``jobs`` at a time on a CPU (0: one per
    core, at most 4), so that the chapters only load them. The book build calls this before executing the
    chapters; a chapter run on its own trains just what it needs."""
    from dataclasses import replace

    from .reproduce import train_all

    protocol = replace(ctx.protocol, jobs=jobs, progress=True)
    stage1, stage2 = book_runs(ctx)
    train_all(protocol, [*stage1, *stage2], "training")  # each stage-2 run starts once its stage-1 run is done


# ------------------------------------------------------------------------------------ helpers of the chapters
def glue(**values: Any) -> None:
    """Hand numbers to the chapter's prose: ``glue(ap=0.5)`` makes ``{glue:text}`ap:.2f``` in a markdown cell
    render as 0.50 (myst-nb's glue; nothing is shown in the cell itself). NumPy scalars become Python numbers (so
    that a format spec applies). Where myst-nb is not installed (Colab) the values are printed instead, one
    ``name = value`` a line, since there the prose shows the roles, not the numbers."""
    plain = {k: (v.item() if isinstance(v, np.generic) else v) for k, v in values.items()}
    try:
        from myst_nb import glue as myst_glue
    except ImportError:
        print("\n".join(f"{k} = {v:.4g}" if isinstance(v, float) else f"{k} = {v}" for k, v in plain.items()))
        return
    for name, value in plain.items():
        myst_glue(name, value, display=False)


def epoch_log(run: str | Path) -> "pandas.DataFrame":  # noqa: F821
    """A run's training log as a table indexed by epoch (``loss``, ``valid_map``, ...): the epoch records of
    ``log.jsonl`` (events such as ``resume`` left out; after a resume the last record of an epoch wins). ``run``
    is the run folder or any checkpoint in its ``checkpoints/``."""
    import pandas as pd

    from .runs import read_log

    run = Path(run)
    if run.suffix == ".pt":
        run = run.parent.parent
    records = [r for r in read_log(run) if "epoch" in r and "loss" in r]
    if not records:
        raise ValueError(f"{run} has no epoch records in log.jsonl")
    return pd.DataFrame(records).drop_duplicates("epoch", keep="last").set_index("epoch")


def first_query(items: np.ndarray, attribute: int) -> int:
    """Row of the first query of ``attribute`` in a split's query items (``[image, attribute, value]`` rows):
    the chapters show queries chosen by position in the file, not by how well they come out."""
    rows = np.flatnonzero(np.asarray(items)[:, 1] == attribute)
    if not len(rows):
        raise ValueError(f"no query of attribute {attribute}")
    return int(rows[0])


def train_images_per_second(model: torch.nn.Module, branch: str, size: int, batch: int, steps: int,
                            num_attributes: int = 8) -> float:
    """Training throughput of one branch of ``model``: images per second through a forward and a backward pass
    on random images of ``size`` pixels (the median of ``steps`` steps after one warm-up step; the speed does not
    depend on the weights or the pixels). The gradients are cleared afterwards."""
    device = next(model.parameters()).device
    model.train()
    x = torch.randn(batch, 3, size, size, device=device)
    a = torch.randint(0, num_attributes, (batch,), device=device)
    times = []
    for step in range(steps + 1):  # the first step warms up
        t0 = time.perf_counter()
        emb, _ = model(x, a, branch=branch)
        emb.square().mean().backward()
        if device.type == "cuda":
            torch.cuda.synchronize()
        if step:
            times.append(time.perf_counter() - t0)
    model.zero_grad(set_to_none=True)
    return batch / float(np.median(times))


def saved_gpu_benchmark(paths: list[str | Path]) -> dict | None:
    """The paper configuration's training images/s from the first CUDA run of ``python -m benchmarks.run`` among
    ``paths`` (its JSON files): ``{"file", "gpu", "stage1", "stage2"}``, or None when none is a CUDA run."""
    for path in paths:
        try:
            found = json.loads(Path(path).read_text())
            train = found["results"]["train"]["paper"]
            if found["machine"]["device"] != "cuda":
                continue
            return {"file": str(path), "gpu": found["machine"].get("gpu"),
                    "stage1": max(v["images_per_s"] for v in train["stage1"].values()),
                    "stage2": train["stage2_crop"]["batched"]["images_per_s"]}
        except (OSError, KeyError, TypeError, ValueError):
            continue
    return None
