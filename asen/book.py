"""Notebook support: one ``setup()`` call turns a chapter's ``parameters`` cell into paths, data and a device.

Every chapter of the book starts with::

    ctx = asen.book.setup(profile=profile, dataset=dataset, data_root=data_root, device=device, seed=seed,
                          runs_root=runs_root)

which seeds everything, picks the device (CUDA when present and asked for), makes sure the data exists
(SynthFashion is generated, cached, at the size of the profile) and returns a :class:`BookContext`, whose
:meth:`BookContext.trained` is the load-or-train entry point: a model is trained once for the whole book,
keyed by its configuration hash, and every later chapter loads it.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .data import SplitFiles, load_split_files
from .reproduce import (MAIN_METHODS, PROFILES, Protocol, ablation_runs, default_data_root, ensure_trained,
                        main_table_runs)
from .runs import resolve_device, seed_everything

SYNTH_SIZE = {name: prof["size"] for name, prof in PROFILES.items()}  # gpu: the 224 px renders, as cpu


def on_colab() -> bool:
    """True inside Google Colab."""
    return "google.colab" in sys.modules


def default_profile(requested: str = "cpu") -> str:
    """The profile a chapter runs: ``ASEN_PROFILE`` from the environment when set; else, for the default
    ``cpu``, ``gpu`` on a CUDA runtime (Colab's included); else ``requested``."""
    if os.environ.get("ASEN_PROFILE"):
        return os.environ["ASEN_PROFILE"]
    return "gpu" if requested == "cpu" and torch.cuda.is_available() else requested


@dataclass
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


def setup(profile: str = "cpu", dataset: str = "SynthFashion", data_root: str | None = None, device: str = "auto",
          seed: int = 0, runs_root: str = "runs/synthfashion", results_dir: str = "results/book",
          progress: bool = False) -> BookContext:
    """Seed, choose the device, make sure the data exists, and return the chapter's context.

    Args:
        profile: ``smoke`` (tiny data, seconds), ``cpu`` (small data, the default), ``gpu`` (the paper's networks);
            ``cpu`` becomes :func:`default_profile` (``gpu`` on a CUDA runtime, ``ASEN_PROFILE`` when set).
        dataset: ``SynthFashion`` (generated when missing) or a real dataset prepared with ``data_scripts/``.
        data_root: the dataset folder (default ``data/SynthFashion`` for cpu, ``data/SynthFashion-<size>`` otherwise).
        device: ``auto``, ``cpu`` or ``cuda``.
        seed: seeds Python, NumPy and torch, and the training runs.
        runs_root: where trained runs are cached (shared by all chapters).
        results_dir: where chapters write their numbers.
    """
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
            import json

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
