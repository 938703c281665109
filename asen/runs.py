"""Reproducibility plumbing: seeding, run folders, atomic writes, JSON-lines logs (the training protocol of
ASEN++ Sec. IV-B, run so that every number can be traced back to its run).

A run folder holds ``config.yaml`` (the resolved configuration), ``run.json`` (git commit, package versions,
command line, device), ``log.jsonl`` (one JSON object per epoch / event) and ``checkpoints/``.

A run folder belongs to one process at a time: :class:`RunDir` holds an exclusive ``flock`` on ``<run>/.lock``
(which records the holder's pid, host and start time) for the run's life, and a second process is refused
(:class:`RunLockedError`). An existing run is never silently replaced: starting again without ``resume``
is refused (:class:`RunExistsError`) unless ``overwrite`` is asked for, which deletes the earlier run's
files first. Checkpoints and JSON files are written to a temporary file, fsynced, renamed, and the folder
fsynced; temporary files left by a killed run are removed when the next run starts or resumes.
"""
from __future__ import annotations

import fcntl
import json
import os
import platform
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import cpu
from .config import Config, save_config
from .errors import BadValue, UserError
from .layout import data_fingerprint  # noqa: F401 - runs record it; the layout owns it

RUN_FILES = ("config.yaml", "run.json", "log.jsonl")  # with checkpoints/: what makes a folder a run


class RunError(UserError, ValueError):
    """A run folder cannot be used as asked; the message names the folder and what to do."""


class RunLockedError(RunError):
    """Another process holds the run folder's lock; the message names the holder (pid, host, start time)."""


class RunExistsError(RunError):
    """The folder already holds a run and neither ``resume`` nor ``overwrite`` was asked for."""


class RunConfigMismatch(RunError):
    """``resume`` with a config that differs from the run's; the message lists the differing keys."""


class RunDataMismatch(RunError, RuntimeError):
    """A finished run was trained on other data than its config's data folder now holds (e.g. SynthFashion
    regenerated with another generator version); it is neither reused nor trained over."""


def seed_everything(seed: int, deterministic: bool = False) -> None:
    """Seed Python, NumPy and torch (all devices); optionally turn on deterministic algorithms."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False


DEVICE_CHOICES = "auto, cpu, cuda or cuda:N (N: a GPU index)"
"""What ``--device`` accepts, for messages (``torch.device`` also parses the other device types it knows)."""


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` -> CUDA when available, else CPU; anything else is parsed by ``torch.device``.

    Raises:
        BadValue: a name ``torch.device`` does not parse, or a CUDA device this machine does not have (no CUDA,
            or an index beyond its GPUs); the message names the value and lists :data:`DEVICE_CHOICES`.
    """
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError, ValueError):
        raise BadValue(f"--device {name!r}: unknown device; expected {DEVICE_CHOICES}") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise BadValue(f"--device {name}: CUDA is not available on this machine; use --device cpu (or auto)")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise BadValue(f"--device {name}: this machine has {torch.cuda.device_count()} CUDA device(s) "
                           f"(cuda:0..cuda:{torch.cuda.device_count() - 1}); expected {DEVICE_CHOICES}")
    return device


def git_commit() -> str:
    """The current git commit of the project (``"unknown"`` outside a checkout), with ``-dirty`` if modified."""
    root = Path(__file__).resolve().parent.parent
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10)
        if sha.returncode != 0:
            return "unknown"
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=10)
        return sha.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def package_versions() -> dict[str, str]:
    """Versions of the packages a result depends on."""
    from importlib import metadata

    out = {"python": platform.python_version()}
    for name in ("asen", "torch", "torchvision", "numpy", "pillow", "scikit-learn"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def fsync_dir(path: str | Path) -> None:
    """fsync a folder, so that a rename into it survives a power cut (a no-op where folders cannot be opened)."""
    try:
        fd = os.open(str(path), os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _atomic_write(path: str | Path, write: Any) -> None:
    """Call ``write(binary file)`` on a temporary file next to ``path``, fsync it, rename it over ``path`` and
    fsync the folder. On any failure the temporary file is removed and ``path`` is left as it was."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to a temporary file in the same folder, fsync it, rename it over ``path``, fsync the folder.

    Args:
        path: the file to (re)write.
        data: its new contents.
    """
    _atomic_write(path, lambda fh: fh.write(data))


def atomic_torch_save(obj: Any, path: str | Path) -> None:
    """``torch.save`` through a temporary file (fsynced), a rename and an fsync of the folder, so that a crash
    or a full disk never leaves half a checkpoint, nor loses the previous one.

    Args:
        obj: what to save (plain containers of tensors, numbers and strings: loadable with ``weights_only``).
        path: the checkpoint file.
    """
    _atomic_write(path, lambda fh: torch.save(obj, fh))


def remove_stale_temporaries(folder: str | Path) -> list[Path]:
    """Remove the temporary files (``.<name>.*.tmp``, ``<name>.pt.tmp``) that a killed run left in ``folder``.

    Only call this while holding the folder's run lock (:class:`RunDir` does), so that no live writer's
    temporary file is removed. Returns the removed paths.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    stale = sorted({*folder.glob(".*.tmp"), *folder.glob("*.pt.tmp")})
    for f in stale:
        if f.is_file():
            f.unlink(missing_ok=True)
    return stale


def config_diff(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> list[str]:
    """The keys where two config dicts differ, as ``"train.lr: 0.001 -> 0.0003"`` (old -> new).

    Args:
        old: e.g. the config a run was started with (its checkpoint's ``config``).
        new: the config given now.
        prefix: key prefix (used in the recursion).
    Returns:
        One string per differing leaf key, sorted by key; ``(absent)`` marks a key only one side has.
    """
    out = []
    for key in sorted(set(old) | set(new), key=str):
        name = f"{prefix}{key}"
        a, b = old.get(key, "(absent)"), new.get(key, "(absent)")
        if isinstance(a, dict) and isinstance(b, dict):
            out += config_diff(a, b, prefix=f"{name}.")
        elif a != b:
            out.append(f"{name}: {a!r} -> {b!r}" if isinstance(a, str) or isinstance(b, str) else f"{name}: {a} -> {b}")
    return out


def read_resume_checkpoint(last: Path, cfg: Config, run_path: Path, what: str) -> dict[str, Any]:
    """The last checkpoint of a run to resume, refused when the run was started with another config.

    Args:
        last: the run's ``last.pt``.
        cfg: the config given now.
        run_path: the run folder (named in the error).
        what: what the file is, for a broken-file error (e.g. "the last checkpoint of the run to resume").
    Returns:
        The checkpoint dict.
    Raises:
        CheckpointError: a missing or unreadable file. RunConfigMismatch: the differing keys, named.
    """
    from .checkpoint import read_checkpoint  # asen.checkpoint builds on the model, which this module does not need

    from .config import identity_tree

    ckpt = read_checkpoint(last, what)
    # compared as the hash sees them: a key added since the run was saved is at the default the run had
    diff = config_diff(identity_tree(ckpt.get("config") or {}), identity_tree(cfg.to_dict()))
    if diff:
        raise RunConfigMismatch(f"cannot resume {run_path}: its config differs from the one given in "
                                f"{'; '.join(diff)} (resume with the run's own {Path(run_path) / 'config.yaml'}, "
                                f"or start over with --overwrite)")
    return ckpt


def write_json(path: str | Path, obj: Any) -> None:
    """Atomically write pretty JSON."""
    atomic_write_bytes(path, (json.dumps(obj, indent=2, sort_keys=False) + "\n").encode())


def _lock_holder(lock_path: Path) -> str:
    try:
        info = json.loads(lock_path.read_text() or "{}")
    except (OSError, ValueError):
        info = {}
    if not info:
        return "another process"
    return f"pid {info.get('pid', '?')} on {info.get('host', '?')} (started {info.get('started', '?')})"


def is_run_folder(path: str | Path) -> bool:
    """Whether ``path`` holds a run (``config.yaml``, ``run.json``, ``log.jsonl`` or a checkpoint)."""
    path = Path(path)
    return any((path / f).exists() for f in RUN_FILES) or any((path / "checkpoints").glob("*.pt"))


class RunDir:
    """A run folder, held by this process: resolved config, environment record, JSON-lines log and checkpoints.

    Creating it takes the folder's lock (released by :meth:`close`, at the end of a ``with`` block, or when
    the process ends), removes temporary files left by a killed run, and checks that the folder may be used:
    a new run (``resume=False``) in a folder that already holds one is refused unless ``overwrite``, which
    deletes ``config.yaml``, ``run.json``, ``log.jsonl`` and ``checkpoints/`` first (other files are kept).

    Args:
        path: the run folder (created).
        cfg: the run's resolved config (written to ``config.yaml`` with ``write_env``).
        device: recorded in ``run.json``.
        write_env: write ``config.yaml`` and ``run.json`` (a resumed run keeps the ones it started with).
        resume: the run continues the one in the folder (``write_env`` is then ignored: nothing is rewritten).
        overwrite: replace the run already in the folder.
    Raises:
        RunLockedError: another process holds the folder.
        RunExistsError: the folder holds a run, and neither ``resume`` nor ``overwrite`` is set.
    """

    def __init__(self, path: str | Path, cfg: Config, device: torch.device | str, write_env: bool = True,
                 resume: bool = False, overwrite: bool = False) -> None:
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self._lock_fd: int | None = None
        self._acquire_lock()
        try:
            self.checkpoints = self.path / "checkpoints"
            remove_stale_temporaries(self.path)
            remove_stale_temporaries(self.checkpoints)
            if not resume and is_run_folder(self.path):
                if not overwrite:
                    raise RunExistsError(
                        f"{self.path} already holds a run (config.yaml / checkpoints); continue it with --resume "
                        f"(resume=True), replace it with --overwrite (overwrite=True), or choose another --run-dir")
                for name in RUN_FILES:
                    (self.path / name).unlink(missing_ok=True)
                shutil.rmtree(self.checkpoints, ignore_errors=True)
            self.checkpoints.mkdir(exist_ok=True)
            if write_env and not resume:
                self._write_env(cfg, device)
        except BaseException:
            self.close()
            raise

    def _acquire_lock(self) -> None:
        lock_path = self.path / ".lock"
        fd = os.open(str(lock_path), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise RunLockedError(f"{self.path} is in use by {_lock_holder(lock_path)} (lock file {lock_path}); "
                                 f"wait for that run to end, or use another --run-dir") from None
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                 "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}).encode())
        os.fsync(fd)
        self._lock_fd = fd

    def close(self) -> None:
        """Release the folder's lock (the lock file stays; the next holder rewrites it)."""
        if self._lock_fd is not None:
            try:
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            finally:
                os.close(self._lock_fd)
                self._lock_fd = None

    def __enter__(self) -> "RunDir":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:  # a RunDir dropped without close() still lets the folder go
        try:
            self.close()
        except Exception:
            pass

    def _write_env(self, cfg: Config, device: torch.device | str) -> None:
        save_config(cfg, self.path / "config.yaml")
        write_json(self.path / "run.json", {
            "git_commit": git_commit(),
            "versions": package_versions(),
            "cpu": cpu.describe(),  # CPU model, AVX-512, oneDNN's instruction-set cap (results differ by CPU kind)
            "command": sys.argv,
            "device": str(device),
            "config_hash": cfg.hash(),
            "data": {"root": str(cfg.data.root), "fingerprint": data_fingerprint(cfg.data.root)},
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        })

    @property
    def last(self) -> Path:
        return self.checkpoints / "last.pt"

    @property
    def best(self) -> Path:
        return self.checkpoints / "best.pt"

    def log(self, **record: Any) -> None:
        """Append one JSON line to ``log.jsonl``."""
        record = {"time": round(time.time(), 3), **record}
        with open(self.path / "log.jsonl", "a") as fh:
            fh.write(json.dumps(record) + "\n")

    def read_log(self) -> list[dict]:
        return read_log(self.path)


def read_log(run: str | Path) -> list[dict]:
    """The records of a run folder's ``log.jsonl`` (epochs and events such as ``resume``), oldest first; ``[]``
    when it has none. Reading takes no lock: a finished run, or a running one's lines so far."""
    path = Path(run) / "log.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def rng_state() -> dict[str, Any]:
    """torch's, NumPy's global and (when present) CUDA's RNG states, for a checkpoint a run resumes from.

    Returns:
        Plain containers of tensors, numbers and strings, so that the checkpoint loads with
        ``torch.load(weights_only=True)``: NumPy's state tuple is stored as a dict whose key array is an int64
        tensor.
    """
    name, keys, pos, has_gauss, cached = np.random.get_state()
    state = {"torch": torch.get_rng_state(),
             "numpy": {"name": str(name), "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
                       "pos": int(pos), "has_gauss": int(has_gauss), "cached_gaussian": float(cached)}}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` saved (or NumPy's raw state tuple, as checkpoints before held it).

    Args:
        state: ``{"torch", "numpy"[, "cuda"]}``.
    """
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    if isinstance(n, dict):
        n = (n["name"], np.asarray(torch.as_tensor(n["keys"]).numpy(), dtype=np.uint32), int(n["pos"]),
             int(n["has_gauss"]), float(n["cached_gaussian"]))
    np.random.set_state(n)
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
