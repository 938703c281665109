"""The epoch loop that training (:mod:`asen.train`, stages 1-2) and pre-training (:mod:`asen.pretrain`, stage 0)
share: the run folder, resume from the last checkpoint, the divergence check, checkpoint writing, the epoch log
and the progress bar. What a step computes stays with each stage; an :class:`EpochLoop` runs the rest::

    with EpochLoop(run_dir, cfg, device, resume=resume, overwrite=overwrite, progress=progress) as loop:
        loop.restore({"model": model}, opt, sched)        # a resumed run: weights, optimiser, scheduler, RNG
        for epoch in loop.epochs(max_epochs):
            t0 = time.time()
            for step, batch in enumerate(loop.steps(batches, len(batches), f"epoch {epoch + 1}")):
                loss = ...
                loop.check_loss(loss, epoch, step)         # NaN / inf: TrainingDiverged, one line
                ...
            record = epoch_record(epoch, time.time() - t0, n_images, opt, loss=mean_loss)
            loop.save(checkpoint_state({"model": model.state_dict()}, opt, sched, epoch), best_state, record)

A resumed run ends with the same weights as an uninterrupted one because the checkpoint holds the optimiser,
scheduler and RNG states (:func:`checkpoint_state`, restored by :meth:`EpochLoop.restore`) and each stage draws
an epoch's data from (seed, epoch) alone. Checkpoints are written atomically, ``best.pt`` before ``last.pt``, so
that ``last.pt`` never names a best that a crash lost. In a data-parallel run only rank 0 writes
(``write=False`` elsewhere): it holds the run folder, writes checkpoints and logs.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Iterable, Mapping

import torch
from tqdm import tqdm

from .config import Config
from .errors import UserError
from .runs import RunDir, atomic_torch_save, is_run_folder, read_resume_checkpoint, rng_state, set_rng_state


class TrainingDiverged(UserError, RuntimeError):
    """The loss became NaN or infinite."""


def make_scheduler(opt: torch.optim.Optimizer, cfg: Config, steps_per_epoch: int) -> torch.optim.lr_scheduler.LambdaLR:
    """Per-step LambdaLR: ``step`` decays by ``lr_decay`` every ``lr_step`` epochs; ``cosine`` anneals to 0."""
    t = cfg.train
    total = max(1, t.epochs * steps_per_epoch)
    if t.scheduler == "step":
        fn = lambda step: t.lr_decay ** ((step // steps_per_epoch) // t.lr_step)  # noqa: E731
    elif t.scheduler == "cosine":
        fn = lambda step: 0.5 * (1.0 + math.cos(math.pi * min(step, total) / total))  # noqa: E731
    else:
        raise ValueError(f"train.scheduler must be 'step' or 'cosine', got {t.scheduler!r}")
    return torch.optim.lr_scheduler.LambdaLR(opt, [fn] * len(opt.param_groups))


def checkpoint_state(weights: Mapping[str, Any], optimizer: torch.optim.Optimizer,
                     scheduler: torch.optim.lr_scheduler.LRScheduler, epoch: int, **more: Any) -> dict[str, Any]:
    """What ``last.pt`` holds for a run to resume from.

    Args:
        weights: the state dicts, by the key :meth:`EpochLoop.restore` loads each from (e.g. ``{"model": ...}``).
        optimizer, scheduler: their states are saved.
        epoch: the epoch just finished (from 0).
        more: further entries (config, best MAP, ...), after the others.
    Returns:
        ``{**weights, "optimizer", "scheduler", "rng", "epoch", **more}``: plain containers of tensors, numbers and
        strings (loadable with ``weights_only``); ``rng`` is the RNG state now (:func:`asen.runs.rng_state`).
    """
    return {**weights, "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "rng": rng_state(),
            "epoch": epoch, **more}


def epoch_record(epoch: int, seconds: float, images: int, optimizer: torch.optim.Optimizer,
                 **means: float) -> dict[str, Any]:
    """An epoch's line of ``log.jsonl``: ``{"epoch" (from 1), **means, "seconds", "images_per_second", "lr"}``.

    Args:
        epoch: the epoch (from 0).
        seconds: how long its steps took.
        images: how many images (or views) they processed.
        optimizer: its parameter groups' learning rates are recorded (one per group).
        means: the epoch's mean loss and the like, in the order given.
    """
    return {"epoch": epoch + 1, **means, "seconds": round(seconds, 2),
            "images_per_second": round(images / max(seconds, 1e-9), 1),
            "lr": [g["lr"] for g in optimizer.param_groups]}


class EpochLoop:
    """One run's epochs: its folder, resume, the divergence check, checkpoints and log (see the module's text).

    Creating it takes the run folder (:class:`asen.runs.RunDir`: the lock, and the checks that the folder may be
    used); :meth:`close`, or the end of a ``with`` block, releases it.

    Args:
        run_dir: the run folder (created; to resume it must hold ``checkpoints/last.pt``).
        cfg: the run's resolved config (``train.epochs``; a resumed run's checkpoint must have the same).
        device: recorded in ``run.json``.
        resume: continue the run in ``run_dir`` (:meth:`restore` loads its last checkpoint).
        overwrite: replace a run already in ``run_dir``.
        progress: show a tqdm bar per epoch and a line after it.
        write: hold the folder and write checkpoints and logs (``False`` on data-parallel ranks other than 0).
        kind: what the run is, in messages (``"pre-training"``: "pre-training loss is nan ...").
        diverged: the error :meth:`check_loss` raises (a :class:`TrainingDiverged`).
    Raises:
        RunLockedError, RunExistsError: as :class:`asen.runs.RunDir`.
    """

    def __init__(self, run_dir: str | Path, cfg: Config, device: torch.device | str, *, resume: bool = False,
                 overwrite: bool = False, progress: bool = True, write: bool = True, kind: str = "",
                 diverged: type[TrainingDiverged] = TrainingDiverged) -> None:
        self.cfg, self.resuming, self.progress = cfg, resume, progress
        self.path = Path(run_dir)
        self.last, self.best = self.path / "checkpoints" / "last.pt", self.path / "checkpoints" / "best.pt"
        self.kind, self.diverged = kind, diverged
        self.start = 0  # the first epoch this call trains (after restore: the one after the checkpoint's)
        self.run = RunDir(self.path, cfg, device, resume=resume, overwrite=overwrite) if write else None

    def close(self) -> None:
        """Release the run folder."""
        if self.run is not None:
            self.run.close()

    def __enter__(self) -> "EpochLoop":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _named(self, what: str) -> str:
        return f"{self.kind} {what}" if self.kind else what

    def restore(self, modules: Mapping[str, torch.nn.Module], optimizer: torch.optim.Optimizer,
                scheduler: torch.optim.lr_scheduler.LRScheduler) -> dict[str, Any] | None:
        """With ``resume``: load the last checkpoint into the modules, optimiser, scheduler and RNGs, log the
        resume, and start at the epoch after the checkpoint's. Without: nothing.

        Args:
            modules: each module with the checkpoint key of its state dict (as given to :func:`checkpoint_state`).
            optimizer, scheduler: restored from ``"optimizer"`` and ``"scheduler"``.
        Returns:
            The checkpoint (for entries of the stage's own, e.g. the best MAP so far), or ``None`` without resume.
        Raises:
            FileNotFoundError: there is no ``last.pt`` to resume from.
            CheckpointError: it cannot be read. RunConfigMismatch: the run was started with another config.
        """
        if not self.resuming:
            return None
        if not self.last.exists():
            if is_run_folder(self.path):  # started, but stopped before its first checkpoint: nothing to continue
                raise FileNotFoundError(f"cannot resume: {self.last} does not exist (the run in {self.path} stopped "
                                        f"before its first checkpoint); start it over with --overwrite")
            raise FileNotFoundError(f"cannot resume: {self.last} does not exist (start the run without --resume)")
        ckpt = read_resume_checkpoint(self.last, self.cfg, self.path,
                                      f"the last checkpoint of the {self._named('run')} to resume")
        for key, module in modules.items():
            module.load_state_dict(ckpt[key])
        optimizer.load_state_dict(ckpt["optimizer"])
        scheduler.load_state_dict(ckpt["scheduler"])
        set_rng_state(ckpt["rng"])
        self.start = ckpt["epoch"] + 1
        self.log(event="resume", epoch=self.start)
        return ckpt

    def epochs(self, max_epochs: int | None = None) -> range:
        """The epochs this call trains: from :attr:`start` to ``train.epochs``, at most ``max_epochs`` of them
        (to stop early, e.g. to simulate an interruption in tests)."""
        end = self.cfg.train.epochs if max_epochs is None else min(self.cfg.train.epochs, self.start + max_epochs)
        return range(self.start, end)

    def steps(self, batches: Iterable, total: int, desc: str) -> tqdm:
        """``batches`` through an epoch's progress bar (shown with ``progress``, removed when done)."""
        return tqdm(batches, total=total, desc=desc, disable=not self.progress, leave=False)

    def check_loss(self, loss: torch.Tensor, epoch: int, step: int, parts: Mapping[str, float] | None = None,
                   advice: str = "Lower train.lr.") -> None:
        """Stop a run whose loss is NaN or infinite, before the step changes the weights.

        Args:
            loss: the step's loss (on every rank the same value, so that all stop together).
            epoch, step: where (from 0).
            parts: the loss's parts, named in the message.
            advice: what to change, the message's last sentence.
        Raises:
            TrainingDiverged (``diverged``): one line with the loss, the epoch and step (from 1), the last good
                checkpoint (or that none was written yet) and ``advice``; the event is logged.
        """
        if torch.isfinite(loss):
            return
        kept = f"the last good checkpoint is {self.last}" if self.last.exists() else "no checkpoint was written yet"
        self.log(event="diverged", epoch=epoch, step=step, loss=float(loss))
        detail = "" if parts is None else f" ({parts})"
        raise self.diverged(f"{self._named('loss')} is {float(loss)} at epoch {epoch + 1}, step {step + 1}{detail}; "
                            f"{kept}. {advice}")

    def save(self, last_state: Mapping[str, Any], best_state: Mapping[str, Any] | None,
             record: Mapping[str, Any]) -> None:
        """End an epoch: write ``best_state`` (if given) to ``best.pt``, then ``last_state`` to ``last.pt``, both
        atomically, then append ``record`` to the log. Nothing where this process does not write."""
        if self.run is None:
            return
        if best_state is not None:  # best.pt first: last.pt never names a best that is not on disk
            atomic_torch_save(best_state, self.best)
        atomic_torch_save(last_state, self.last)
        self.run.log(**record)

    def log(self, **record: Any) -> None:
        """Append one JSON line to the run's ``log.jsonl`` (where this process writes)."""
        if self.run is not None:
            self.run.log(**record)

    def note(self, message: str) -> None:
        """Print a line between progress bars (with ``progress``)."""
        if self.progress:
            tqdm.write(message)
