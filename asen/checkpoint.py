"""Checkpoints: ours, and the authors' released ASEN++ checkpoints (``pretrained_asen.zip``).

The authors' model keeps both branches under ``choices.{global,local}`` with the sub-modules ``attrnet``
(the shared attribute embedding, stored once per branch), ``basenet`` (the truncated ResNet) and
``attnnet`` (spatial + channel attention + ``feature_fc``); files are dicts with ``model`` (the
state_dict), ``epoch`` and ``mAP``. :data:`OFFICIAL_TO_OURS` maps those names onto this project's modules,
so an official file loads strictly (no missing, no unexpected weights) and ours can be exported back.

Every checkpoint is read by :func:`read_checkpoint`, with ``torch.load(weights_only=True)``: a file can
hold tensors, numbers, strings and containers of them, never code to run. This project's checkpoints
store nothing else; the NumPy arrays of checkpoints written before (NumPy's RNG state) are admitted
through a short allow-list of NumPy's array-rebuilding functions (:data:`LEGACY_NUMPY_GLOBALS`).
"""
from __future__ import annotations

import hashlib
import pickle
import re
import zipfile
from pathlib import Path
from typing import Any, Iterable, Mapping

import torch

from .config import Config, ModelConfig, load_config
from .errors import UserError
from .model import ASEN

# (pattern over the official key, replacement in ours)
OFFICIAL_TO_OURS: list[tuple[str, str]] = [
    (r"^choices\.(global|local)\.attrnet\.attr_embedding\.", "attr_embedding."),
    (r"^choices\.(global|local)\.basenet\.", r"\1_branch.backbone."),
    (r"^choices\.(global|local)\.attnnet\.conv\.", r"\1_branch.spatial.conv."),
    (r"^choices\.(global|local)\.attnnet\.attr_transform1\.", r"\1_branch.spatial.attr_transform."),
    (r"^choices\.(global|local)\.attnnet\.attr_transform2\.", r"\1_branch.channel.attr_transform."),
    (r"^choices\.(global|local)\.attnnet\.fc([12])\.", r"\1_branch.channel.fc\2."),
    (r"^choices\.(global|local)\.attnnet\.feature_fc\.", r"\1_branch.feature_fc."),
]


class CheckpointError(UserError, ValueError):
    """A checkpoint cannot be read or does not match the model or data; the message names the file."""


class CheckpointNotFoundError(CheckpointError, FileNotFoundError):
    """The checkpoint file does not exist (also a FileNotFoundError, as before)."""


def _legacy_numpy_globals() -> list[Any]:
    import numpy as np

    core = getattr(np, "_core", None) or np.core
    out = [core.multiarray._reconstruct, core.multiarray.scalar, np.ndarray, np.dtype]
    out += [type(np.dtype(t)) for t in (np.uint32, np.int64, np.float64, np.float32)]
    return out


# NumPy's array and scalar reconstruction (no user code): what checkpoints written before this project stored
# NumPy's RNG state as plain tensors need, and what a NumPy float as the authors' 'prec' needs
LEGACY_NUMPY_GLOBALS = _legacy_numpy_globals()


def read_checkpoint(path: str | Path, expected: str = "a checkpoint written by asen train") -> dict[str, Any]:
    """Read a ``.pt``/``.pth``/``.pth.tar`` file safely (``torch.load(weights_only=True)``, on the CPU).

    Args:
        path: the file.
        expected: what the file should be, for the error message (e.g. "a stage-1 checkpoint (best.pt)").
    Returns:
        The loaded dict.
    Raises:
        CheckpointError: (one line naming the file and what it should be) the file is missing, empty,
            truncated or not a PyTorch file, holds Python objects other than tensors, numbers and strings
            (refused: unpickling them could run code), or is not a dict.
    """
    path = Path(path)
    if not path.exists():
        raise CheckpointNotFoundError(f"{path}: no such file; expected {expected}")
    if path.is_dir():
        raise CheckpointError(f"{path}: a folder, not a file; expected {expected}")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path}: the file is empty (0 bytes; an interrupted copy?); expected {expected}")
    try:
        with torch.serialization.safe_globals(LEGACY_NUMPY_GLOBALS):
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        msg = str(exc)
        found = re.search(r"Unsupported global: GLOBAL (\S+)", msg)
        if found:
            raise CheckpointError(f"{path}: refused: it holds a Python object ({found.group(1)}) that safe loading "
                                  f"(weights_only) does not allow, since unpickling it could run code; expected "
                                  f"{expected}, which holds tensors, numbers and strings only") from None
        detail = re.search(r"WeightsUnpickler error:\s*(.+?)\s*(?:\n\n|$)", msg, re.S)
        reason = " ".join(detail.group(1).split())[:200] if detail else _first_line(exc)
        raise CheckpointError(f"{path}: not a readable PyTorch checkpoint (truncated, or another kind of file: "
                              f"{reason}); expected {expected}") from None
    except (RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile, UnicodeDecodeError, KeyError,
            AttributeError, IndexError, TypeError) as exc:
        raise CheckpointError(f"{path}: not a readable PyTorch checkpoint (truncated, or another kind of file: "
                              f"{_first_line(exc)}); expected {expected}") from None
    if not isinstance(ckpt, Mapping):
        raise CheckpointError(f"{path}: holds a {type(ckpt).__name__}, not a dict; expected {expected}")
    return dict(ckpt)


def read_model_state(path: str | Path, expected: str) -> tuple[dict[str, Any], Mapping[str, Any]]:
    """A checkpoint (:func:`read_checkpoint`) and its weights: its ``model`` entry, or the file itself where it has
    none (a bare state dict).

    Args:
        path: the file.
        expected: what the file should be, for the error message.
    Returns:
        ``(checkpoint, state dict)``.
    Raises:
        CheckpointError: as :func:`read_checkpoint`, or the ``model`` entry is not a state dict.
    """
    ckpt = read_checkpoint(path, expected)
    state = ckpt.get("model", ckpt)
    if not isinstance(state, Mapping):
        raise CheckpointError(f"{path}: its 'model' entry is a {type(state).__name__}, not a state dict")
    return ckpt, state


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]


def state_fingerprint(state: Mapping[str, torch.Tensor] | torch.nn.Module) -> str:
    """SHA-256 over a state dict's names, dtypes, shapes and tensor bytes (buffers included).

    Args:
        state: a state dict, or a module (its ``state_dict()``).
    Returns:
        The hex digest: equal for equal weights wherever they were loaded, different after any change.
    """
    if isinstance(state, torch.nn.Module):
        state = state.state_dict()
    h = hashlib.sha256()
    for key in sorted(state):
        t = state[key]
        if not isinstance(t, torch.Tensor):
            h.update(f"{key}={t!r}\0".encode())
            continue
        t = t.detach().to("cpu").contiguous()
        h.update(f"{key}|{t.dtype}|{tuple(t.shape)}\0".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def check_attribute_count(model_attributes: int, checkpoint: str | Path | None, data_attributes: int,
                          data_root: str | Path) -> None:
    """Refuse a model whose attribute count differs from the data's, before any work.

    Args:
        model_attributes: the model's (checkpoint's) number of attributes.
        checkpoint: the checkpoint file (for the message).
        data_attributes: the dataset's number of attributes (its ``meta.json``).
        data_root: the dataset folder (for the message).
    Raises:
        CheckpointError: the counts differ; the message names both counts and both places.
    """
    if int(model_attributes) != int(data_attributes):
        raise CheckpointError(f"{checkpoint or 'the model'} has {model_attributes} attributes but the data in "
                              f"{data_root} has {data_attributes} (its meta.json): the checkpoint was trained on "
                              f"another dataset; use that dataset's folder (data.root) or its own checkpoint")


def is_official(state: Mapping[str, Any]) -> bool:
    return any(k.startswith("choices.") for k in state)


def official_to_ours(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename an official state dict to this project's names (the duplicated embedding must agree)."""
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        for pattern, repl in OFFICIAL_TO_OURS:
            if re.match(pattern, key):
                new = re.sub(pattern, repl, key)
                break
        else:
            raise CheckpointError(f"unexpected key in the official checkpoint: '{key}'")
        if new in out and not torch.equal(out[new], value):
            raise CheckpointError(f"'{key}' differs from the other copy of the shared attribute embedding")
        out[new] = value
    return out


def ours_to_official(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Export this project's state dict in the authors' layout (for their code, or a round trip)."""
    reverse = [
        (r"^(global|local)_branch\.backbone\.", r"choices.\1.basenet."),
        (r"^(global|local)_branch\.spatial\.conv\.", r"choices.\1.attnnet.conv."),
        (r"^(global|local)_branch\.spatial\.attr_transform\.", r"choices.\1.attnnet.attr_transform1."),
        (r"^(global|local)_branch\.channel\.attr_transform\.", r"choices.\1.attnnet.attr_transform2."),
        (r"^(global|local)_branch\.channel\.fc([12])\.", r"choices.\1.attnnet.fc\2."),
        (r"^(global|local)_branch\.feature_fc\.", r"choices.\1.attnnet.feature_fc."),
    ]
    branches = sorted({k.split("_branch.")[0] for k in state if "_branch." in k}, key=["global", "local"].index)
    out: dict[str, torch.Tensor] = {}
    for branch in branches:
        out[f"choices.{branch}.attrnet.attr_embedding.weight"] = state["attr_embedding.weight"]
        for key, value in state.items():
            if not key.startswith(f"{branch}_branch."):
                continue
            for pattern, repl in reverse:
                if re.match(pattern, key):
                    out[re.sub(pattern, repl, key)] = value
                    break
            else:
                raise CheckpointError(f"'{key}' has no counterpart in the official layout")
    return out


def _backbone_from_state(state: Mapping[str, torch.Tensor], prefix: str) -> str:
    blocks = {int(m.group(1)) for k in state if (m := re.match(rf"^{re.escape(prefix)}layer3\.(\d+)\.", k))}
    bottleneck = any(k.startswith(f"{prefix}layer1.0.conv3.") for k in state)
    if bottleneck:
        return "resnet50"
    return "resnet34" if len(blocks) == 6 else "resnet18"


def model_config_from_state(state: Mapping[str, torch.Tensor], base: ModelConfig | None = None) -> tuple[ModelConfig, int]:
    """Infer the architecture (backbones, sizes, switches) from an official state dict's keys and shapes."""
    base = base or ModelConfig()
    g = "choices.global."
    has_local = any(k.startswith("choices.local.") for k in state)
    num_attributes, attr_dim = state[f"{g}attrnet.attr_embedding.weight"].shape
    fields: dict[str, Any] = dict(
        backbone=_backbone_from_state(state, f"{g}basenet."),
        attr_embed_size=int(attr_dim),
        embed_size=int(state[f"{g}attnnet.feature_fc.weight"].shape[0]),
        spatial_attention=f"{g}attnnet.conv.weight" in state,
        channel_attention=f"{g}attnnet.fc1.weight" in state,
        local_branch=has_local,
        pretrained="none",
        local_pretrained="none",
        embed_norm="none",
        head="asen",
    )
    if fields["spatial_attention"]:
        fields["spatial_dim"] = int(state[f"{g}attnnet.conv.weight"].shape[0])
    if fields["channel_attention"]:
        fields["reduction"] = int(state[f"{g}attnnet.fc2.weight"].shape[0] // state[f"{g}attnnet.fc1.weight"].shape[0])
    if has_local:
        fields["local_backbone"] = _backbone_from_state(state, "choices.local.basenet.")
        if "choices.local.attnnet.conv.weight" in state:
            fields["local_spatial_dim"] = int(state["choices.local.attnnet.conv.weight"].shape[0])
    return ModelConfig(**{**base.__dict__, **fields}), int(num_attributes)


def load_asenpp(checkpoint: str | Path | Mapping[str, Any], config_paths: Iterable[str | Path] = ()) -> ASEN:
    """Load one of the authors' released checkpoints into :class:`ASEN`, in eval mode.

    Args:
        checkpoint: a path to a ``.pth``/``.pth.tar`` file or the loaded dict (``model``, ``epoch``, ``mAP``);
            a bare state dict is accepted too.
        config_paths: the authors' YAML files the checkpoint was trained with (e.g. ``FashionAI.yaml`` and
            ``s2.yaml``). The architecture is read from the checkpoint's shapes; where the YAML files say
            otherwise (a different backbone or local-branch switch) that is an error naming both.
    Returns:
        The model (CPU, eval mode) with ``model.checkpoint_info = {"epoch", "mAP", "config"}``.
    Raises:
        CheckpointError: missing or unexpected weights, or a disagreement with the YAML files.
    """
    ckpt = read_checkpoint(checkpoint, "an ASEN++ checkpoint") if isinstance(checkpoint, (str, Path)) else checkpoint
    state = ckpt.get("model", ckpt) if isinstance(ckpt, Mapping) else ckpt
    if "state_dict" in state and isinstance(state["state_dict"], Mapping):
        state = state["state_dict"]
    state = {k.removeprefix("module."): v for k, v in state.items()}
    cfg = load_config(list(config_paths)) if config_paths else Config()
    if not is_official(state):
        where = f"{checkpoint}: " if isinstance(checkpoint, (str, Path)) else ""
        raise CheckpointError(f"{where}not an official ASEN++ checkpoint (no 'choices.' keys); a best.pt/last.pt of "
                              f"asen train is read with asen.checkpoint.load_model (asen evaluate without "
                              f"--asenpp-config)")
    mcfg, num_attributes = model_config_from_state(state, cfg.model)
    if config_paths:
        for name in ("backbone", "local_branch") + (("local_backbone",) if mcfg.local_branch else ()):
            said, found = getattr(cfg.model, name), getattr(mcfg, name)
            if said != found:
                raise CheckpointError(f"the config files say model.{name}={said!r} but the checkpoint holds {found!r}")
    model = ASEN(mcfg, num_attributes)
    ours = official_to_ours(state)
    missing, unexpected = model.load_state_dict(ours, strict=False)
    if missing or unexpected:
        raise CheckpointError(f"checkpoint does not fit the model: missing {missing}, unexpected {unexpected}")
    model.checkpoint_info = {
        "epoch": ckpt.get("epoch") if isinstance(ckpt, Mapping) else None,
        "mAP": ckpt.get("mAP") if isinstance(ckpt, Mapping) else None,
        "config": Config(name=cfg.name, data=cfg.data, model=mcfg, train=cfg.train, eval=cfg.eval),
    }
    return model.eval()


def load_model(path: str | Path, device: torch.device | str = "cpu") -> tuple[ASEN, Config, dict]:
    """Load a checkpoint written by ``asen train`` (or an official one). Returns (model in eval mode, config, info)."""
    path = Path(path)
    ckpt, state = read_model_state(path, "a best.pt/last.pt written by asen train, or an official ASEN++ checkpoint")
    if is_official(state):
        model = load_asenpp(ckpt)
        return model.to(device), model.checkpoint_info["config"], {"epoch": ckpt.get("epoch"), "mAP": ckpt.get("mAP")}
    if ckpt.get("stage") == 0:
        raise CheckpointError(f"{path}: a pre-training checkpoint (stage 0) holds a backbone only, no attribute "
                              f"embeddings; start a stage-1 run from it with --set model.pretrained={path}")
    if "config" not in ckpt:
        raise CheckpointError(f"{path}: no 'config' in the checkpoint (not written by asen train?)")
    from .config import from_dict

    cfg = from_dict(ckpt["config"], source=str(path))
    mcfg = ModelConfig(**{**cfg.model.__dict__, "pretrained": "none", "local_pretrained": "none"})
    if "num_attributes" not in ckpt:
        raise CheckpointError(f"{path}: no 'num_attributes' in the checkpoint (not written by asen train?)")
    model = ASEN(mcfg, ckpt["num_attributes"])
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise CheckpointError(f"{path}: the weights do not fit the model its config describes "
                              f"({_first_line(exc)})") from None
    return model.to(device).eval(), cfg, {k: ckpt.get(k) for k in ("epoch", "mAP", "stage")}


# The AAAI-2020 code's checkpoints (ASENet, ASENet_V2, ConditionalSimNet) are read by asen.aaai, which imports
# this module; the loader is re-exported here so that every checkpoint format has one home to be found in.
from .aaai import load_asen_aaai  # noqa: E402,F401
