"""Load-or-train: trained runs are cached by config hash, ``<runs_root>/<name>-<config hash>``.

A finished run is reused, an interrupted one resumed, and a run trained on other data under the same path is
refused (:func:`is_finished`), so the book, ``make reproduce`` and ``make ablations`` share their runs.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import torch

from ..checkpoint import read_checkpoint
from ..config import Config
from ..data import ImageCache, SplitFiles
from ..pretrain import pretrain
from ..runs import RunDataMismatch, data_fingerprint
from ..train import train

if TYPE_CHECKING:
    from .protocol import Protocol


def run_dir_of(cfg: Config, runs_root: Path) -> Path:
    """The run folder :func:`ensure_trained` uses for a config."""
    return Path(runs_root) / f"{cfg.name}-{cfg.hash()}"


def best_checkpoint(cfg: Config, runs_root: Path) -> Path:
    """Where a config's run keeps its best checkpoint (whether or not it has been trained yet)."""
    return run_dir_of(cfg, runs_root) / "checkpoints" / "best.pt"


def is_finished(cfg: Config, runs_root: Path) -> bool:
    """Whether the config's run has finished all its epochs (an interrupted run has not).

    Raises:
        RunDataMismatch: (a RuntimeError and UserError) the run folder was trained on other data under the same
            path (its ``run.json`` records a different :func:`~asen.runs.data_fingerprint`), e.g. before
            SynthFashion was regenerated.
    """
    run = run_dir_of(cfg, runs_root)
    last = run / "checkpoints" / "last.pt"
    if not last.exists():
        return False
    info = json.loads((run / "run.json").read_text()) if (run / "run.json").exists() else {}
    recorded = (info.get("data") or {}).get("fingerprint")
    current = data_fingerprint(cfg.data.root)
    if recorded and current and recorded != current:
        raise RunDataMismatch(f"{run} was trained on other data than what is now in {cfg.data.root} (data "
                              f"fingerprint {recorded} in its run.json, {current} now, e.g. SynthFashion of another "
                              "generator version); delete that folder to retrain, or pass another runs folder (--runs)")
    return read_checkpoint(last, f"the last checkpoint of {run}")["epoch"] + 1 >= cfg.train.epochs


def ensure_trained(cfg: Config, runs_root: Path, device: torch.device, files: SplitFiles | None = None,
                   progress: bool = True, image_cache: ImageCache | None = None) -> Path:
    """Load-or-train: reuse ``runs_root/<name>-<config hash>`` when it finished, resume it when it did not.

    A folder that holds a started run without ``last.pt`` (killed during its first epoch) is trained again
    from the start (``overwrite``); a run whose checkpoint holds another config is refused by
    :func:`asen.train.train` (``RunConfigMismatch``), never retrained over. ``image_cache``: the caller's
    decoded-image cache, for a run with ``data.cache_images`` (:func:`asen.train.train`).

    Returns:
        Path of the run's ``best.pt``.
    """
    run = run_dir_of(cfg, runs_root)
    start = Path(cfg.model.pretrained)
    if cfg.model.pretrained not in ("", "none", "imagenet") and not start.exists() and not is_finished(cfg, runs_root):
        raise FileNotFoundError(f"{cfg.name} starts from {start}, which does not exist yet: train that pre-training "
                                "run first (Protocol.ensure_pretrained(), or train_all with both configs)")
    if is_finished(cfg, runs_root):
        if progress:
            print(f"reusing {run}")
    else:
        resume = (run / "checkpoints" / "last.pt").exists()
        fit = pretrain if cfg.train.stage == 0 else train
        own = {} if cfg.train.stage == 0 else {"image_cache": image_cache}  # pre-training keeps its own views
        # no last.pt: nothing resumable was kept of an earlier start in this folder (if any); it is replaced
        fit(cfg, run, device, resume=resume, progress=progress, files=files, overwrite=not resume, **own)
    return best_checkpoint(cfg, runs_root)


def trained_seeds(protocol: Protocol, method: str, seeds: Sequence[int]) -> list[int]:
    """The ``seeds`` for which ``method``'s main-table runs (its stage-1 run, and for ``"asenpp"`` the stage-2
    run after it) have finished under ``protocol.runs_root``; every seed for ``"random"``."""
    from .protocol import main_table_runs  # protocol.py imports this module

    return [s for s in seeds
            if all(is_finished(c, protocol.runs_root) for c in main_table_runs(protocol, {method: [s]}))]
