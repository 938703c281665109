"""ASEN as the AAAI-2020 paper's code computes it (Ma et al., AAAI 2020, Sec. 3: attribute-aware spatial
attention, attribute-aware channel attention), its "advanced version" ASENet_V2, and the CSN baseline
(Veit et al. 2017) as those authors implement it; with a loader for their checkpoints.

The ASEN++ paper (Dong et al. 2021) builds its global branch from the same two attentions but computes them
differently; :mod:`asen.model` (``head="asen"``) is that version. Here, with ``x`` the backbone feature map
(B, C, h, w), ``o`` the one-hot attribute (B, A) and ``c`` the attribute index:

* :class:`ASENet` (the AAAI paper's model): ``F = tanh(conv1(x))``, ``m = tanh(mask_fc1(o))``,
  ``s = softmax_hw(tanh(conv2(m * F)))`` (a tanh *before* the softmax, no scaling); ``f = sum_hw s x``;
  ``a = relu(mask_fc2(o))``, ``w = sigmoid(fc2(relu(fc1([f; a]))))``; embedding ``feature_fc(f * w)``.
  Two one-hot tables (``mask_fc1``, ``mask_fc2``, Linear without bias) stand for the attribute.
* :class:`ASENetV2`: one attribute table ``E``, ``e = E[c]``; ``F = tanh(img_bn1(conv1(x)))``,
  ``g = tanh(attr_transform1(e))``, ``s = softmax_hw(sum_ch(g * F) / sqrt(C'))``; ``f = sum_hw s x``;
  ``a = relu(attr_transform2(e))``, ``w = sigmoid(fc2(relu(fc1([f; a]))))``; embedding ``f * w`` (C-d, no
  ``feature_fc``).
* :class:`ConditionalSimNet`: ``z = embed_fc(mean_hw x)``, embedding ``z * relu(masks[c])``, masks initialised
  ~ normal(0.9, 0.7). Trained with the triplet loss only (Veit et al.'s mask L1 and embedding L2 are not in
  these authors' baseline; see ``train.csn_mask_l1`` / ``train.csn_embed_l2``).

The authors hard-code C = 1024 channels and a 14 x 14 map (ResNet-50 cut after layer3, 224 px); here C and
the map size come from the backbone, so the same heads run on ``resnet_tiny`` for the CPU protocol. Embeddings
are returned *not* L2-normalised (the authors normalise inside the model; this project's evaluation and losses
normalise themselves). ``embed_norm`` (default ``"none"``, the authors') is the CPU protocol's normalisation
layer, placed after the layer that makes the embedding and, for CSN, before the mask, as in :mod:`asen.model`.

Usage::

    model = load_asen_aaai("runs/ASENet/model_best.pth.tar", "ASENet")   # eval mode, CPU
    emb, maps = model(images, attributes)     # (B, 1024) not normalised, (B, 14, 14) (None for CSN)
    model, cfg = load_asen_aaai_for_evaluation(path, "ASENet_V2", ["fashionai_s1"])   # for asen.evaluate
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .backbones import build_backbone
from .config import Config, load_config
from .model import apply_embed_norm, make_embed_norm

ARCHS = ("ASENet", "ASENet_V2", "ConditionalSimNet")  # the authors' class names (their --model argument)
ARCH_HEADS = {"ASENet": "asen_aaai", "ASENet_V2": "asen_v2", "ConditionalSimNet": "csn"}  # model.head values
# where each model keeps its backbone in the authors' state dicts (under the Tripletnet's "embeddingnet.")
_BACKBONE_PREFIX = {"ASENet": "backbonenet.", "ASENet_V2": "backbonenet.", "ConditionalSimNet": "embeddingnet."}
_UNUSED_BACKBONE_KEYS = ("fc.weight", "fc.bias")  # the authors' truncated ResNet-50 still owns ResNet's fc


class _AAAIModel(nn.Module):
    """Common interface: ``forward(images, attributes, branch="global")`` like :class:`asen.model.ASEN`."""

    local_branch = None  # no ASEN++ local branch: the evaluation pipeline reports the global MAP
    csn_masks = None
    backbone: nn.Module
    embed_size: int

    def forward(
        self, images: torch.Tensor, attributes: torch.Tensor, branch: str = "global"
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Embed images under attributes.

        Args:
            images: (B, 3, H, W) normalised images.
            attributes: (B,) attribute indices.
            branch: only ``"global"`` (accepted so that :func:`asen.embed.extract_features` can call it).
        Returns:
            embeddings (B, D), not normalised, and the spatial attention maps (B, h, w) (``None`` for CSN).
        """
        if branch != "global":
            raise ValueError(f"{type(self).__name__} has only a global branch, got branch={branch!r}")
        if attributes.dim() != 1 or attributes.shape[0] != images.shape[0]:
            raise ValueError(f"attributes must have shape ({images.shape[0]},), got {tuple(attributes.shape)}")
        return self.embed_features(self.backbone(images), attributes)

    def embed_features(
        self, feat: torch.Tensor, attributes: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor | None]:  # pragma: no cover - defined by each model
        raise NotImplementedError


class ASENet(_AAAIModel):
    """The AAAI paper's ASEN (the authors' ``ASENet``); sizes as in their code by default."""

    def __init__(
        self,
        backbone: nn.Module,
        num_attributes: int,
        spatial_dim: int = 512,
        reduction: int = 2,
        embed_size: int = 1024,
        embed_norm: str = "none",
    ) -> None:
        """
        Args:
            backbone: a module with ``out_channels`` = C mapping images to (B, C, h, w).
            num_attributes: A, the length of the one-hot attribute vector.
            spatial_dim: C', channels of the spatial attention's common space (authors: 512).
            reduction: the channel attention's ``fc1`` has C / reduction outputs (authors: 1024 / 512 = 2).
            embed_size: output size of ``feature_fc`` (authors: 1024).
            embed_norm: ``model.embed_norm`` after ``feature_fc`` (authors: ``"none"``).
        """
        super().__init__()
        c = backbone.out_channels
        self.backbone = backbone
        self.num_attributes = num_attributes
        self.embed_size = embed_size
        self.mask_fc1 = nn.Linear(num_attributes, spatial_dim, bias=False)
        self.mask_fc2 = nn.Linear(num_attributes, c, bias=False)
        self.fc1 = nn.Linear(2 * c, c // reduction)
        self.fc2 = nn.Linear(c // reduction, c)
        self.feature_fc = nn.Linear(c, embed_size)
        self.conv1 = nn.Conv2d(c, spatial_dim, kernel_size=1)
        self.conv2 = nn.Conv2d(spatial_dim, 1, kernel_size=1)
        self.norm = make_embed_norm(embed_norm, num_attributes, embed_size)

    def embed_features(self, feat: torch.Tensor, attributes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Backbone features (B, C, h, w) -> embeddings (B, D) and attention maps (B, h, w)."""
        b, c, h, w = feat.shape
        onehot = F.one_hot(attributes, self.num_attributes).to(feat.dtype)  # (B, A)
        img = torch.tanh(self.conv1(feat))  # (B, C', h, w)
        att = torch.tanh(self.mask_fc1(onehot))  # (B, C')
        scores = torch.tanh(self.conv2(img * att[:, :, None, None]))  # (B, 1, h, w), in [-1, 1]
        maps = torch.softmax(scores.reshape(b, h * w), dim=1)  # (B, h*w)
        pooled = (feat.reshape(b, c, h * w) * maps[:, None, :]).sum(dim=2)  # (B, C)
        attr = torch.relu(self.mask_fc2(onehot))  # (B, C)
        weights = torch.sigmoid(self.fc2(torch.relu(self.fc1(torch.cat([pooled, attr], dim=1)))))  # (B, C)
        emb = self.feature_fc(pooled * weights)  # (B, D)
        return apply_embed_norm(self.norm, emb, attributes), maps.reshape(b, h, w)


class ASENetV2(_AAAIModel):
    """The authors' ``ASENet_V2`` ("advanced ASEN"): one attribute table, a BatchNorm in the spatial attention,
    scaled dot-product scores, and the re-weighted feature itself as the embedding (C-d)."""

    def __init__(
        self,
        backbone: nn.Module,
        num_attributes: int,
        attr_embed_size: int = 512,
        spatial_dim: int = 512,
        reduction: int = 2,
        embed_norm: str = "none",
    ) -> None:
        """
        Args:
            backbone: a module with ``out_channels`` = C mapping images to (B, C, h, w).
            num_attributes: A, rows of the attribute table.
            attr_embed_size: size of the attribute table's rows (authors: 512).
            spatial_dim: C', channels of the spatial attention's common space (authors: 512).
            reduction: the channel attention's ``fc1`` has C / reduction outputs (authors: 2).
            embed_norm: ``model.embed_norm`` on the C-d embedding (authors: ``"none"``).
        """
        super().__init__()
        c = backbone.out_channels
        self.backbone = backbone
        self.num_attributes = num_attributes
        self.embed_size = c
        self.attr_embedding = nn.Embedding(num_attributes, attr_embed_size)
        self.attr_transform1 = nn.Linear(attr_embed_size, spatial_dim)
        self.conv1 = nn.Conv2d(c, spatial_dim, kernel_size=1)
        self.img_bn1 = nn.BatchNorm2d(spatial_dim)
        self.attr_transform2 = nn.Linear(attr_embed_size, attr_embed_size)
        self.fc1 = nn.Linear(c + attr_embed_size, c // reduction)
        self.fc2 = nn.Linear(c // reduction, c)
        self.scale = 1.0 / math.sqrt(spatial_dim)
        self.norm = make_embed_norm(embed_norm, num_attributes, c)

    def embed_features(self, feat: torch.Tensor, attributes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Backbone features (B, C, h, w) -> embeddings (B, C) and attention maps (B, h, w)."""
        b, c, h, w = feat.shape
        e = self.attr_embedding(attributes)  # (B, E)
        img = torch.tanh(self.img_bn1(self.conv1(feat)))  # (B, C', h, w)
        att = torch.tanh(self.attr_transform1(e))  # (B, C')
        scores = (img * att[:, :, None, None]).sum(dim=1) * self.scale  # (B, h, w)
        maps = torch.softmax(scores.reshape(b, h * w), dim=1)  # (B, h*w)
        pooled = (feat.reshape(b, c, h * w) * maps[:, None, :]).sum(dim=2)  # (B, C)
        attr = torch.relu(self.attr_transform2(e))  # (B, E)
        weights = torch.sigmoid(self.fc2(torch.relu(self.fc1(torch.cat([pooled, attr], dim=1)))))  # (B, C)
        return apply_embed_norm(self.norm, pooled * weights, attributes), maps.reshape(b, h, w)


class ConditionalSimNet(_AAAIModel):
    """The CSN baseline of the AAAI code: average pooling, ``embed_fc``, a learned non-negative mask."""

    def __init__(
        self,
        backbone: nn.Module,
        num_attributes: int,
        embed_size: int = 1024,
        mask_mean: float = 0.9,
        mask_std: float = 0.7,
        embed_norm: str = "none",
    ) -> None:
        """
        Args:
            backbone: a module with ``out_channels`` = C mapping images to (B, C, h, w).
            num_attributes: A, rows of the mask table.
            embed_size: output size of ``embed_fc`` (authors: 1024).
            mask_mean: the masks start ~ normal(mask_mean, mask_std) (authors and Veit et al.: 0.9, 0.7).
            mask_std: see ``mask_mean``.
            embed_norm: ``model.embed_norm`` between ``embed_fc`` and the mask (authors: ``"none"``).
        """
        super().__init__()
        self.backbone = backbone
        self.num_attributes = num_attributes
        self.embed_size = embed_size
        self.embed_fc = nn.Linear(backbone.out_channels, embed_size)
        self.masks = nn.Embedding(num_attributes, embed_size)
        nn.init.normal_(self.masks.weight, mask_mean, mask_std)
        self.norm = make_embed_norm(embed_norm, num_attributes, embed_size)

    def embed_features(self, feat: torch.Tensor, attributes: torch.Tensor) -> tuple[torch.Tensor, None]:
        """Backbone features (B, C, h, w) -> embeddings (B, D); no attention map (``None``)."""
        z = self.embed_fc(feat.mean(dim=(2, 3)))  # (B, D); the authors' 14 x 14 average pooling
        z = apply_embed_norm(self.norm, z, attributes)
        return z * torch.relu(self.masks(attributes)), None  # (B, D)


def build_aaai_model(
    arch: str,
    num_attributes: int = 8,
    embedding_size: int = 1024,
    backbone: str = "resnet50",
    pretrained: str = "none",
    tiny_width: int = 32,
    tiny_blocks: int = 1,
    embed_norm: str = "none",
) -> nn.Module:
    """One of the authors' three models on a backbone of this project (sizes of the heads as theirs).

    Args:
        arch: ``"ASENet"``, ``"ASENet_V2"`` or ``"ConditionalSimNet"``.
        num_attributes: number of attributes (FashionAI: 8).
        embedding_size: output size of ASENet's ``feature_fc`` and CSN's ``embed_fc`` (ASENet_V2 outputs C).
        backbone: a backbone of :mod:`asen.backbones` (the authors': ``resnet50``).
        pretrained: its weights (``"none"``, ``"imagenet"`` or a path), as ``model.pretrained``.
        tiny_width: ``model.tiny_width`` for ``resnet_tiny``.
        tiny_blocks: ``model.tiny_blocks`` for ``resnet_tiny``.
        embed_norm: ``model.embed_norm`` (the authors: ``"none"``).
    Returns:
        The model (training mode, CPU).
    """
    if arch not in ARCHS:
        raise ValueError(f"arch must be one of {', '.join(ARCHS)}, got {arch!r}")
    net = build_backbone(backbone, pretrained, tiny_width, tiny_blocks)
    if arch == "ASENet":
        return ASENet(net, num_attributes, embed_size=embedding_size, embed_norm=embed_norm)
    if arch == "ASENet_V2":
        return ASENetV2(net, num_attributes, embed_norm=embed_norm)
    return ConditionalSimNet(net, num_attributes, embed_size=embedding_size, embed_norm=embed_norm)


def aaai_to_ours(state: Mapping[str, torch.Tensor], arch: str) -> dict[str, torch.Tensor]:
    """Rename an authors' ``Tripletnet`` state dict to the module names of :func:`build_aaai_model`.

    ``embeddingnet.<backbone prefix>`` becomes ``backbone.`` (the prefix is ``backbonenet.`` for ASENet and
    ASENet_V2, ``embeddingnet.`` for CSN), other ``embeddingnet.`` keys lose that prefix, and the backbone's
    unused ``fc`` is dropped. Keys without the ``embeddingnet.`` prefix are kept as they are (and will be
    reported as unexpected by the loader).
    """
    if arch not in ARCHS:
        raise ValueError(f"arch must be one of {', '.join(ARCHS)}, got {arch!r}")
    backbone = "embeddingnet." + _BACKBONE_PREFIX[arch]
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if key.startswith(backbone):
            rest = key[len(backbone):]
            if rest in _UNUSED_BACKBONE_KEYS:
                continue
            out["backbone." + rest] = value
        elif key.startswith("embeddingnet."):
            out[key[len("embeddingnet."):]] = value
        else:
            out[key] = value
    return out


def ours_to_aaai(state: Mapping[str, torch.Tensor], arch: str) -> dict[str, torch.Tensor]:
    """The inverse of :func:`aaai_to_ours`: a :func:`build_aaai_model` state dict in the authors' layout
    (``Tripletnet`` keys; without the backbone's unused ``fc``, which their code would need filled in)."""
    if arch not in ARCHS:
        raise ValueError(f"arch must be one of {', '.join(ARCHS)}, got {arch!r}")
    backbone = "embeddingnet." + _BACKBONE_PREFIX[arch]
    return {(backbone + k[len("backbone."):] if k.startswith("backbone.") else "embeddingnet." + k): v
            for k, v in state.items()}


def detect_arch(state: Mapping[str, Any]) -> str | None:
    """Which of the authors' models a ``Tripletnet`` state dict comes from (by its head's keys), or ``None``."""
    if "embeddingnet.mask_fc1.weight" in state:
        return "ASENet"
    if "embeddingnet.attr_transform1.weight" in state:
        return "ASENet_V2"
    if "embeddingnet.masks.weight" in state:
        return "ConditionalSimNet"
    return None


def _numpy_scalar_types() -> list:
    """Classes that a ``weights_only`` load needs to read NumPy scalars (the authors' ``prec`` may be one)."""
    multiarray = getattr(np, "_core", None) or np.core
    types = [multiarray.multiarray.scalar, np.dtype]
    types += [type(np.dtype(t)) for t in (np.float64, np.float32, np.int64)]
    return types


def read_aaai_checkpoint(checkpoint: str | Path | Mapping[str, Any]) -> tuple[dict[str, torch.Tensor], dict]:
    """The state dict and the metadata of an authors' AAAI checkpoint.

    Args:
        checkpoint: a path (``torch.save({'epoch', 'state_dict', 'prec'})`` of their ``main.py``), that dict
            loaded, or a bare state dict.
    Returns:
        ``(state_dict, {"epoch": ..., "prec": ...})`` (values ``None`` when absent).
    Raises:
        FileNotFoundError: no such file. CheckpointError: unreadable file, or no state dict in it.
    """
    from .checkpoint import CheckpointError  # asen.checkpoint imports asen.model, which imports this module

    source = "the checkpoint dict"
    if isinstance(checkpoint, (str, Path)):
        path = Path(checkpoint)
        source = str(path)
        if not path.is_file():
            raise FileNotFoundError(f"AAAI checkpoint not found: {path}")
        try:
            with torch.serialization.safe_globals(_numpy_scalar_types()):
                checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # pickle, zip and weights-only errors come in many types
            raise CheckpointError(f"{path}: cannot be read as a PyTorch checkpoint: {exc}") from exc
    if not isinstance(checkpoint, Mapping):
        raise CheckpointError(f"{source}: expected a dict with 'state_dict', got {type(checkpoint).__name__}")
    if "state_dict" in checkpoint:
        state, info = checkpoint["state_dict"], {k: checkpoint.get(k) for k in ("epoch", "prec")}
    else:
        state, info = checkpoint, {"epoch": None, "prec": None}
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{source}: no state dict of tensors under 'state_dict' "
                              f"(top-level keys: {', '.join(map(str, list(checkpoint)[:8]))})")
    if isinstance(info["prec"], (np.generic, torch.Tensor)):
        info["prec"] = float(info["prec"])
    return dict(state), info


def _listing(keys: list[str], n: int = 8) -> str:
    """``count (first keys, ...)``, the head's keys (those that tell the architectures apart) first."""
    keys = sorted(keys, key=lambda k: k.startswith(("backbone.", "backbonenet.", "embeddingnet.")))
    shown = ", ".join(keys[:n])
    return f"{len(keys)} ({shown}{', ...' if len(keys) > n else ''})"


def load_asen_aaai(
    checkpoint: str | Path | Mapping[str, Any], arch: str, num_attributes: int = 8, embedding_size: int = 1024
) -> nn.Module:
    """Load one of the authors' AAAI-2020 checkpoints (ASENet, ASENet_V2 or their CSN) on ResNet-50.

    Args:
        checkpoint: a path to their ``.pth.tar`` (``{'epoch', 'state_dict', 'prec'}``, keys prefixed
            ``embeddingnet.``), that dict, or a bare state dict. Read with ``weights_only=True``.
        arch: ``"ASENet"``, ``"ASENet_V2"`` or ``"ConditionalSimNet"``; a checkpoint of another architecture
            is refused.
        num_attributes: number of attributes the model was trained with (FashionAI: 8).
        embedding_size: their ``--dim_embed`` (1024; ASENet_V2's embedding is the backbone's 1024 channels).
    Returns:
        The model in eval mode on the CPU; ``emb, maps = model(images, attrs)`` gives (B, D) embeddings, not
        L2-normalised, and (B, 14, 14) attention maps at 224 px (``None`` for CSN).
        ``model.checkpoint_info`` holds ``{"arch", "epoch", "prec"}``.
    Raises:
        CheckpointError: missing or unexpected weights (named, with the architecture the keys belong to), or
            weights of another shape. FileNotFoundError: no such file.
    """
    from .checkpoint import CheckpointError

    if arch not in ARCHS:
        raise ValueError(f"arch must be one of {', '.join(ARCHS)}, got {arch!r}")
    state, info = read_aaai_checkpoint(checkpoint)
    source = str(checkpoint) if isinstance(checkpoint, (str, Path)) else "checkpoint"
    model = build_aaai_model(arch, num_attributes, embedding_size)
    ours = aaai_to_ours(state, arch)
    expected = model.state_dict()
    missing = [k for k in expected if k not in ours]
    unexpected = [k for k in ours if k not in expected]
    if missing or unexpected:
        found = detect_arch(state)
        hint = f"; its keys are those of {found}" if found and found != arch else ""
        raise CheckpointError(f"{source}: not an {arch} checkpoint{hint}: missing keys {_listing(missing)}; "
                              f"unexpected keys {_listing(unexpected)}")
    wrong = [f"{k} {tuple(ours[k].shape)} (expected {tuple(v.shape)})" for k, v in expected.items()
             if ours[k].shape != v.shape]
    if wrong:
        raise CheckpointError(f"{source}: weights of another shape for {arch} with num_attributes={num_attributes}, "
                              f"embedding_size={embedding_size}: {'; '.join(wrong[:5])}")
    model.load_state_dict(ours)
    model.checkpoint_info = {"arch": arch, **info}
    return model.eval()


def aaai_sizes(state: Mapping[str, torch.Tensor], arch: str) -> tuple[int, int]:
    """``(num_attributes, embedding_size)`` of an authors' state dict of architecture ``arch`` (by shapes)."""
    table = {"ASENet": ("mask_fc1.weight", 1), "ASENet_V2": ("attr_embedding.weight", 0),
             "ConditionalSimNet": ("masks.weight", 0)}
    key, axis = table[arch]
    num_attributes = int(state[f"embeddingnet.{key}"].shape[axis]) if f"embeddingnet.{key}" in state else 8
    out = {"ASENet": "feature_fc.weight", "ASENet_V2": "fc2.weight", "ConditionalSimNet": "embed_fc.weight"}[arch]
    embedding_size = int(state[f"embeddingnet.{out}"].shape[0]) if f"embeddingnet.{out}" in state else 1024
    return num_attributes, embedding_size


def load_asen_aaai_for_evaluation(
    checkpoint: str | Path | Mapping[str, Any],
    arch: str,
    config_paths: Iterable[str | Path] = (),
    overrides: Iterable[str] | Mapping[str, Any] = (),
) -> tuple[nn.Module, Config]:
    """An authors' AAAI checkpoint, ready for :func:`asen.evaluate.evaluate`, and the matching Config.

    The number of attributes and the embedding size are read from the checkpoint's shapes. The Config is
    ``config_paths`` + ``overrides`` (data and evaluation settings, e.g. ``fashionai_s1``) with the model
    section describing the loaded model (ResNet-50, ``model.head`` ``asen_aaai``/``asen_v2``/``csn``, no
    local branch, no ``embed_norm``), so the run folder records what was evaluated.

    Args:
        checkpoint: as for :func:`load_asen_aaai`.
        arch: ``"ASENet"``, ``"ASENet_V2"`` or ``"ConditionalSimNet"``.
        config_paths: config files for the data and evaluation sections.
        overrides: ``section.key=value`` overrides applied after them.
    Returns:
        ``(model in eval mode, Config)``; call ``evaluate(model.to(device), files, cfg, device)``.
    """
    if arch not in ARCHS:
        raise ValueError(f"arch must be one of {', '.join(ARCHS)}, got {arch!r}")
    state, info = read_aaai_checkpoint(checkpoint)
    num_attributes, embedding_size = aaai_sizes(state, arch)
    # a path is passed on as it is, so that an error names the file (it is read a second time)
    source = checkpoint if isinstance(checkpoint, (str, Path)) else {"state_dict": state, **info}
    model = load_asen_aaai(source, arch, num_attributes, embedding_size)
    if isinstance(checkpoint, (str, Path)):
        model.checkpoint_info["path"] = str(checkpoint)
    cfg = load_config(list(config_paths), overrides)
    head = ARCH_HEADS[arch]
    model_fields = {
        "model.backbone": "resnet50", "model.pretrained": "none", "model.head": head,
        "model.embed_size": model.embed_size, "model.spatial_attention": head != "csn",
        "model.channel_attention": head != "csn", "model.local_branch": False, "model.embed_norm": "none",
        "model.spatial_dim": 512, "model.attr_embed_size": 512, "model.reduction": 2,
    }
    return model, cfg.replace(**model_fields)
