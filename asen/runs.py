"""Reproducibility plumbing: seeding, run folders, atomic writes, JSON-lines logs.

A run folder holds ``config.yaml`` (the resolved configuration), ``run.json`` (git commit, package versions,
command line, device), ``log.jsonl`` (one JSON object per epoch / event) and ``checkpoints/``.
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .config import Config, save_config


def seed_everything(seed: int, deterministic: bool = False) -> None:
    """Seed Python, NumPy and torch (all devices); optionally turn on deterministic algorithms."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` -> CUDA when available, else CPU; anything else is passed to ``torch.device``."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


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


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write to a temporary file in the same folder, then rename over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_torch_save(obj: Any, path: str | Path) -> None:
    """``torch.save`` through a temporary file and a rename, so a crash never leaves half a checkpoint."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: str | Path, obj: Any) -> None:
    """Atomically write pretty JSON."""
    atomic_write_bytes(path, (json.dumps(obj, indent=2, sort_keys=False) + "\n").encode())


def data_fingerprint(root: str | Path) -> str | None:
    """A short hash of a dataset's split files (``*.txt``) and, where present, ``meta.json`` / ``manifest.json``
    (SynthFashion's checksums of every image); ``None`` when ``root`` is not a folder. Runs record it so that a
    run trained on other data under the same path is not silently reused."""
    root = Path(root)
    if not root.is_dir():
        return None
    h = hashlib.sha256()
    for f in sorted([*root.glob("*.txt"), *(root / n for n in ("meta.json", "manifest.json") if (root / n).exists())]):
        h.update(f.name.encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()[:16]


class RunDir:
    """A run folder: resolved config, environment record, JSON-lines log and checkpoints."""

    def __init__(self, path: str | Path, cfg: Config, device: torch.device | str, write_env: bool = True) -> None:
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self.checkpoints = self.path / "checkpoints"
        self.checkpoints.mkdir(exist_ok=True)
        if write_env:
            save_config(cfg, self.path / "config.yaml")
            write_json(self.path / "run.json", {
                "git_commit": git_commit(),
                "versions": package_versions(),
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
        path = self.path / "log.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def rng_state() -> dict[str, Any]:
    """torch's, NumPy's global and (when present) CUDA's RNG states, for a checkpoint a run resumes from."""
    state = {"torch": torch.get_rng_state(), "numpy": np.random.get_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` saved."""
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
