"""Typed, frozen configuration for every component, loaded from YAML.

The paper's hyper-parameters (ASEN++, Dong et al. 2021, Sec. IV-B "Implementation details") live in the
YAML files shipped in ``asen/configs/``; this module only defines the schema and the merge rules:

* files are merged left to right (later files override earlier ones, key by key);
* ``--set section.key=value`` overrides come last, values parsed as YAML scalars;
* an unknown section or key is an error that names the key and the file it came from;
* the authors' own yacs-style YAML files (upper-case keys, e.g. ``config/FashionAI/FashionAI.yaml`` plus
  ``s2.yaml``) are recognised and translated (see :func:`translate_authors_config`).
"""
from __future__ import annotations

import ast
import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Iterable, Mapping

import yaml

from .errors import UserError

CONFIG_DIR = Path(__file__).parent / "configs"


class ConfigError(UserError, ValueError):
    """A configuration file or override is invalid; the message names the key and the file."""


@dataclass(frozen=True)
class DataConfig:
    """Where the data is and how it is fed to the model."""

    dataset: str = "FashionAI"  # name, used for messages and result tables
    root: str = "data/FashionAI"  # dataset folder with filenames_*.txt, label_train.txt, ...
    global_size: int = 224  # global-branch input: resize short side, centre crop (paper: 224)
    local_size: int = 112  # local-branch input: the zoomed crop is resized to this (paper: 112)
    sampler: str = "random"  # "random": the paper's one random triplet at a time; "aaai": the AAAI code's
    #   variant (anchor's value uniform, negatives uniform over images); "in_batch": grouped batches
    num_triplets: int = 100_000  # triplets per epoch ("random" sampler; paper: 100k)
    batch_size: int = 16  # triplets per step ("random" sampler; paper: 16)
    images_per_batch: int = 96  # images per step ("in_batch" sampler)
    attributes_per_batch: int = 2  # attributes per step ("in_batch" sampler)
    steps_per_epoch: int = 0  # "in_batch" sampler: steps an epoch (0: num_triplets // batch_size)
    eval_batch_size: int = 64  # images per forward pass at evaluation
    num_workers: int = 0  # DataLoader worker processes (0: load in the main process)
    skip_bad_images: bool = False  # skip unreadable images (counted and reported) instead of failing
    max_eval_queries: int = 0  # evaluate on the first N queries per split file only (0: all)
    augment: bool = False  # random flip + crop of training images (CPU protocol; the paper uses none)
    hflip: bool = False  # random horizontal flip only (the AAAI code's augmentation; implied by augment)
    cache_images: bool = False  # keep decoded images and global views in memory (asen.data.ImageCache, shared
    #   by the runs of one process: asen reproduce, the book): for small CPU datasets
    cache_bytes: int = 4 << 30  # cache_images: at most this many bytes of decoded images (4 GiB)
    view_cache_bytes: int = 2 << 30  # cache_images: at most this many bytes of normalised global views (2 GiB)
    crop_mode: str = "batched"  # local crops: "batched" on the device (roi_align) or "per_image" (PIL, the reference)
    crop_sampling_ratio: int = 2  # batched crops: roi_align samples per pixel and axis (-1: adaptive, slower)
    loader: str = "pil"  # training images: "pil" (decoded every step, DataLoader workers) or "store" (decoded once
    #   into a memory-mapped uint8 store, batches assembled on the device: asen.device_images; same tensors)
    store_dir: str = ""  # where "store" keeps its files (default: <data.root>/.asen_store)
    attribute_values: str = ""  # values per attribute the dataset must have, comma-separated ("6,9,8,6,5,5,10,5":
    #   the authors' DATA.ATTRIBUTES.NUM, checked against meta.json when training or evaluating); "": any


@dataclass(frozen=True)
class ModelConfig:
    """Architecture switches; the defaults are the paper's FashionAI model."""

    backbone: str = "resnet50"  # global backbone, cut after layer3: resnet18|resnet34|resnet50|resnet_tiny
    local_backbone: str = "resnet34"  # local backbone (paper: resnet34)
    pretrained: str = "imagenet"  # "imagenet" (torchvision weights), "none" (random init), or a .pth path
    local_pretrained: str = "imagenet"  # the same for the local backbone
    attr_embed_size: int = 512  # size of the shared attribute embedding (paper: 512)
    spatial_dim: int = 512  # C' of the spatial attention in the global branch (paper: 512)
    local_spatial_dim: int = 256  # C' of the spatial attention in the local branch (paper: 256)
    embed_size: int = 1024  # output embedding size of both branches (paper: 1024)
    reduction: int = 2  # channel-attention reduction rate (paper: 2)
    spatial_attention: bool = True  # ASA; off: global average pooling (ablation)
    channel_attention: bool = True  # ACA; off: no channel re-weighting (ablation)
    head: str = "asen"  # "asen" (the paper), "csn" (masks over one embedding), "asen_aaai"/"asen_v2" (asen.aaai)
    csn_mask_mean: float = 0.9  # CSN masks start ~ normal(mean, std) and pass a ReLU (Veit et al.: 0.9, 0.7)
    csn_mask_std: float = 0.7
    local_branch: bool = False  # ASEN++'s local branch (stage 2)
    embed_norm: str = "none"  # "none" (paper); "batchnorm" / "attribute_batchnorm" (statistics per attribute)
    #   after the last layer, against the start-up collapse when training from scratch
    tiny_width: int = 32  # width of the first stage of the "resnet_tiny" CPU backbone
    tiny_blocks: int = 1  # residual blocks per stage of "resnet_tiny"
    channels_last: bool = False  # use channels-last memory format (faster on CPU and recent GPUs)


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation and the two-stage schedule (paper Sec. III-D, IV-B)."""

    stage: int = 1  # 1: global branch only; 2: both branches, starting from a stage-1 checkpoint;
    #   0: self-supervised pre-training of the backbone alone (asen.pretrain; not in the paper)
    epochs: int = 50  # paper: 50 (stage 1), 20 (stage 2)
    lr: float = 1e-4  # Adam learning rate of the global branch (paper: 1e-4 stage 1, 1e-5 stage 2)
    local_lr: float = 1e-4  # Adam learning rate of the local branch (stage 2; paper: 1e-4)
    weight_decay: float = 0.0
    scheduler: str = "step"  # "step": lr x lr_decay every lr_step epochs (paper); "cosine": cosine to 0 over all steps
    lr_decay: float = 0.9
    lr_step: int = 3  # epochs between decays (paper: 3 in stage 1, 1 in stage 2)
    margin: float = 0.2  # triplet margin on cosine similarity (paper: 0.2)
    global_weight: float = 1.0  # loss weights (paper: 1.0, 0.1, 0.1; the global one applies in stage 1 too)
    local_weight: float = 0.1
    align_weight: float = 0.1
    crop_threshold: float = 0.1  # attention threshold for the zoom-in crop during stage 2 (paper: 0.1)
    csn_mask_l1: float = 0.0  # CSN baseline only: weight of the masks' L1 norm per image (Veit et al.: 5e-4; the
    #   ASEN authors' CSN, the default: none)
    csn_embed_l2: float = 0.0  # CSN baseline only: weight of the unmasked embeddings' L2 norm (Veit et al.: 5e-3)
    init_from: str = ""  # stage 2: path of the stage-1 checkpoint to start from
    local_init: str = "pretrained"  # stage 2 local branch: "pretrained" (model.local_pretrained, the paper) or
    #   "global": a copy of the stage-1 global branch (same architecture; for from-scratch CPU training)
    seed: int = 0
    eval_every: int = 1  # validate every N epochs (best checkpoint by validation MAP)
    amp: str = "none"  # "none", "bf16" or "fp16" mixed precision (CUDA only); "auto": bf16 where the GPU has it
    #   (compute capability >= 8.0), else fp16 with loss scaling; nothing on a CPU (asen.train.resolve_amp)
    grad_clip: float = 0.0  # clip gradient norm (0: off)
    deterministic: bool = False  # torch.use_deterministic_algorithms
    forward_passes: int = 1  # a batch is embedded in this many equal forward passes (BatchNorm statistics per
    #   pass): with the random samplers 3 = anchors | positives | negatives, 16 images each (the authors' code)
    compile: bool = False  # torch.compile the model for training (opt-in; meant for CUDA, see asen.train)


@dataclass(frozen=True)
class EvalConfig:
    """Evaluation protocol (paper Sec. IV-A)."""

    beta: float = 0.6  # weight of the global branch in the fused similarity (paper: 0.6)
    crop_threshold: float = 0.1  # attention threshold for the crop at test time
    split: str = "test"  # "valid" or "test"
    ties: str = "stable"  # exact score ties: "stable" (candidate order) or "reference" (the authors' reversed
    #   ascending argsort, asen.metrics); only quantised features have ties


@dataclass(frozen=True)
class PretrainConfig:
    """Self-supervised backbone pre-training (``train.stage: 0``, :mod:`asen.pretrain`): the view recipe.

    Not in the paper, which starts from ImageNet weights; a stand-in for them where there are none.
    """

    source_size: int = 96  # images are resized to this before views are cut (views: data.global_size px)
    min_scale: float = 0.55  # a view's side is this to 1 times the image's
    aspect_jitter: float = 0.2  # a view's aspect ratio is within exp(+-this)
    jitter_p: float = 0.8  # probability of colour jitter
    colour_jitter: float = 0.4  # brightness, contrast and saturation factors in 1 +- this
    grey_p: float = 0.2  # probability of a grey view
    temperature: float = 0.2  # NT-Xent temperature
    projection_dim: int = 64  # output size of the projection head (discarded after pre-training)


@dataclass(frozen=True)
class Config:
    """A whole experiment: data, model, training and evaluation."""

    name: str = "asen"
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def hash(self) -> str:
        """A short hash of the resolved configuration (for load-or-train caches).

        Keys of :data:`HASH_OMITS_DEFAULT` at their default value are left out, so that adding such a key
        (e.g. ``train.compile``) does not change the hash, and the cached runs, of every existing config."""
        text = json.dumps(identity_tree(self.to_dict()), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def with_overrides(self, overrides: Iterable[str]) -> "Config":
        """Apply ``section.key=value`` strings (as ``--set`` does) to a copy; the result is validated."""
        tree = self.to_dict()
        origins: dict[str, str] = {}
        for text in overrides:
            key, value = parse_override(text)
            _set_dotted(tree, key, value, source=f"--set {text}")
            origins[key] = f"--set {text}"
        return from_dict(tree, source="--set", origins=origins)

    def replace(self, **overrides: Any) -> "Config":
        """Return a copy with dotted overrides, e.g. ``cfg.replace(**{"train.lr": 1e-3})``."""
        tree = self.to_dict()
        for key, value in overrides.items():
            _set_dotted(tree, key, value, source="replace()")
        return from_dict(tree, source="replace()", origins={k: f"replace({k}={v!r})" for k, v in overrides.items()})


HASH_OMITS_DEFAULT: dict[str, Any] = {"train.compile": False, "data.cache_bytes": DataConfig.cache_bytes,
                                      "data.view_cache_bytes": DataConfig.view_cache_bytes,
                                      "data.attribute_values": DataConfig.attribute_values}
"""Keys added after runs were cached, whose default reproduces what those runs did: left out of
:meth:`Config.hash` (and of a resume's config comparison, :func:`asen.runs.read_resume_checkpoint`) while at
their default."""

HASHED_CSN_MASK_L1 = 5e-4
"""``train.csn_mask_l1`` as :func:`identity_tree` records it for every head but ``csn``, on which it has no effect:
the default it had before it became 0 (the ASEN authors' CSN has no such term), so that no cached run of another
head changes its hash or stops being resumable."""


def identity_tree(tree: dict[str, Any]) -> dict[str, Any]:
    """What identifies a run in a config's dict (:meth:`Config.to_dict`, or one saved in a checkpoint): a copy
    without the keys of :data:`HASH_OMITS_DEFAULT` at their default and with ``train.csn_mask_l1`` at
    :data:`HASHED_CSN_MASK_L1` where the head is not ``csn``. :meth:`Config.hash` hashes it; a resume compares
    the run's and the given config's (:func:`asen.runs.read_resume_checkpoint`)."""
    tree = json.loads(json.dumps(tree))
    for key, default in HASH_OMITS_DEFAULT.items():
        section, name = key.split(".")
        if isinstance(tree.get(section), dict) and tree[section].get(name, default) == default:
            tree[section].pop(name, None)
    if isinstance(tree.get("train"), dict) and (tree.get("model") or {}).get("head", "asen") != "csn":
        tree["train"]["csn_mask_l1"] = HASHED_CSN_MASK_L1
    return tree

_SECTIONS = {"data": DataConfig, "model": ModelConfig, "train": TrainConfig, "eval": EvalConfig,
             "pretrain": PretrainConfig}


def _coerce(value: Any, typ: Any, key: str, source: str) -> Any:
    """Check/convert one value against the dataclass field type."""
    typ_name = typ if isinstance(typ, str) else getattr(typ, "__name__", str(typ))
    if typ_name == "bool":
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{source}: '{key}' must be true or false; got {value!r}")
    if typ_name == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise ConfigError(f"{source}: '{key}' must be an integer; got {value!r}")
        return value
    if typ_name == "float":
        if isinstance(value, str):  # PyYAML (YAML 1.1) reads `1e-4` as a string
            try:
                return float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{source}: '{key}' must be a number; got {value!r}")
        return float(value)
    if typ_name == "str":
        if value is None:
            return ""
        if not isinstance(value, (str, int, float)):
            raise ConfigError(f"{source}: '{key}' must be a string; got {value!r}")
        return str(value)
    return value


# --- Allowed values -------------------------------------------------------------------------------------------
# One tuple per fixed-choice key: to add a choice (a new head, a new sampler), extend its tuple here and teach the
# consuming module (named in the comment) what it means.
SAMPLERS = ("random", "aaai", "in_batch")  # asen.train.make_sampler
CROP_MODES = ("batched", "per_image")  # asen.roi
HEADS = ("asen", "csn", "asen_aaai", "asen_v2")  # asen.model.ASEN (the last two: asen.aaai)
EMBED_NORMS = ("none", "batchnorm", "attribute_batchnorm")  # asen.model.Branch
SCHEDULERS = ("step", "cosine")  # asen.train.make_scheduler
AMP_MODES = ("none", "bf16", "fp16", "auto")  # asen.train.resolve_amp
LOCAL_INITS = ("pretrained", "global")  # asen.train.train
STAGES = (0, 1, 2)  # 0: asen.pretrain; 1, 2: asen.train
from .layout import EVAL_SPLITS as SPLITS  # noqa: E402 - asen.evaluate; the layout owns the split names
from .layout import parse_value_counts  # noqa: E402 - data.attribute_values, as check_value_counts reads it
TIES = ("stable", "reference")  # asen.metrics
LOADERS = ("pil", "store")  # asen.train (asen.device_images)
FORWARD_PASSES = (1, 3)  # asen.train.compute_loss
WEIGHTS = ("imagenet", "none")  # asen.backbones.build_backbone; anything else is read as a path to a state dict


def _backbones() -> tuple[str, ...]:
    from .backbones import BACKBONES  # the backbone names live with the backbones

    return tuple(BACKBONES)


# dotted key -> allowed values (a tuple, or a function returning one)
CHOICES: dict[str, Any] = {
    "data.sampler": SAMPLERS,
    "data.crop_mode": CROP_MODES,
    "model.backbone": _backbones,
    "model.local_backbone": _backbones,
    "model.head": HEADS,
    "model.embed_norm": EMBED_NORMS,
    "train.scheduler": SCHEDULERS,
    "train.amp": AMP_MODES,
    "train.local_init": LOCAL_INITS,
    "train.stage": STAGES,
    "eval.split": SPLITS,
    "eval.ties": TIES,
    "data.loader": LOADERS,
    "train.forward_passes": FORWARD_PASSES,
}

_GE0 = (">= 0", lambda v: v >= 0)
_GE1 = (">= 1", lambda v: v >= 1)
_GT0 = ("> 0", lambda v: v > 0)
_UNIT = ("in [0, 1]", lambda v: 0 <= v <= 1)
_THRESHOLD = ("in [0, 1) (pixels above it are kept)", lambda v: 0 <= v < 1)

# dotted key -> (what is allowed, test)
RANGES: dict[str, tuple[str, Any]] = {
    "data.global_size": _GE1,
    "data.local_size": _GE1,
    "data.num_triplets": _GE1,
    "data.batch_size": _GE1,
    "data.images_per_batch": _GE1,
    "data.attributes_per_batch": _GE1,
    "data.steps_per_epoch": (">= 0 (0: num_triplets // batch_size)", lambda v: v >= 0),
    "data.eval_batch_size": _GE1,
    "data.num_workers": _GE0,
    "data.cache_bytes": _GE0,
    "data.view_cache_bytes": _GE0,
    "data.max_eval_queries": (">= 0 (0: all)", lambda v: v >= 0),
    "data.crop_sampling_ratio": ("-1 (adaptive) or >= 1", lambda v: v == -1 or v >= 1),
    "data.attribute_values": ("whole numbers >= 1, comma-separated (values per attribute), or empty",
                              lambda v: parse_value_counts(v) is not None),
    "model.attr_embed_size": _GE1,
    "model.spatial_dim": _GE1,
    "model.local_spatial_dim": _GE1,
    "model.embed_size": _GE1,
    "model.reduction": _GE1,
    "model.csn_mask_std": _GE0,
    "model.tiny_width": _GE1,
    "model.tiny_blocks": _GE1,
    "train.epochs": _GE1,
    "train.lr": _GT0,
    "train.local_lr": _GT0,
    "train.weight_decay": _GE0,
    "train.lr_decay": ("in (0, 1]", lambda v: 0 < v <= 1),
    "train.lr_step": _GE1,
    "train.margin": _GE0,
    "train.global_weight": _GE0,
    "train.local_weight": _GE0,
    "train.align_weight": _GE0,
    "train.crop_threshold": _THRESHOLD,
    "train.csn_mask_l1": _GE0,
    "train.csn_embed_l2": _GE0,
    "train.seed": _GE0,
    "train.eval_every": _GE1,
    "train.grad_clip": (">= 0 (0: off)", lambda v: v >= 0),
    "eval.beta": _UNIT,
    "eval.crop_threshold": _THRESHOLD,
    "pretrain.source_size": _GE1,
    "pretrain.min_scale": ("in (0, 1]", lambda v: 0 < v <= 1),
    "pretrain.aspect_jitter": _GE0,
    "pretrain.jitter_p": _UNIT,
    "pretrain.colour_jitter": _UNIT,
    "pretrain.grey_p": _UNIT,
    "pretrain.temperature": _GT0,
    "pretrain.projection_dim": _GE1,
}


def _looks_like_path(value: str) -> bool:
    """A weights path has a folder or a file extension; a bare word is a misspelled ``imagenet``/``none``."""
    return "/" in value or "\\" in value or Path(value).suffix != ""


def validate(cfg: Config, origins: Mapping[str, str] | None = None, source: str = "<config>") -> None:
    """Check every fixed-choice value and every range of a resolved configuration; every number is finite.

    Args:
        cfg: the merged configuration.
        origins: dotted key -> where its value was set last (a file, or a ``--set`` override).
        source: named for keys without an entry in ``origins``.
    Raises:
        ConfigError: one line naming where the value came from, the key, the value and what is allowed.
    """
    origins = origins or {}
    for section in _SECTIONS:
        body = getattr(cfg, section)
        for f in fields(body):
            key, value = f"{section}.{f.name}", getattr(body, f.name)
            where = origins.get(key, source)
            if isinstance(value, float) and not math.isfinite(value):  # inf passes "> 0"; no key means it
                raise ConfigError(f"{where}: '{key}' must be a finite number"
                                  f"{f' {RANGES[key][0]}' if key in RANGES else ''}; got {value!r}")
            if key in CHOICES:
                allowed = CHOICES[key]() if callable(CHOICES[key]) else CHOICES[key]
                if value not in allowed:
                    raise ConfigError(f"{where}: '{key}' must be one of {', '.join(map(str, allowed))}; got {value!r}")
            elif key in RANGES:
                text, ok = RANGES[key]
                if not ok(value):
                    raise ConfigError(f"{where}: '{key}' must be {text}; got {value!r}")
            elif key in ("model.pretrained", "model.local_pretrained"):
                if value not in WEIGHTS and not _looks_like_path(value):
                    raise ConfigError(f"{where}: '{key}' must be one of {', '.join(WEIGHTS)} or a path to a state "
                                      f"dict (e.g. runs/x/checkpoints/best.pt); got {value!r}")
    if not cfg.name.strip():
        raise ConfigError(f"{origins.get('name', source)}: 'name' must not be empty (it names the run folder)")
    if cfg.name.strip() in (".", "..") or any(c in cfg.name for c in "/\\"):
        raise ConfigError(f"{origins.get('name', source)}: 'name' must be a folder name, without / or \\ (it names the "
                          f"run folder runs/<name>; --run-dir chooses another place); got {cfg.name!r}")


def from_dict(
    tree: Mapping[str, Any], source: str = "<dict>", origins: Mapping[str, str] | None = None, check: bool = True
) -> Config:
    """Build a :class:`Config` from a nested dict, rejecting unknown keys and invalid values.

    Args:
        tree: ``{"train": {"lr": 1e-4}, ...}``; missing keys keep their defaults.
        source: where the dict came from, named in errors.
        origins: dotted key -> where that value was set last (named in its errors instead of ``source``).
        check: also check choices and ranges (:func:`validate`); off for one file of several, whose values a
            later file may still fix.
    Returns:
        The frozen :class:`Config`.
    Raises:
        ConfigError: unknown section or key, wrong type, or a value out of its choices or range.
    """
    origins = origins or {}
    kwargs: dict[str, Any] = {}
    for section, body in tree.items():
        if section == "name":
            if isinstance(body, (list, dict)):
                raise ConfigError(f"{origins.get('name', source)}: 'name' must be a string (it names the run folder); "
                                  f"got {body!r}")
            kwargs["name"] = "" if body is None else str(body)
            continue
        if section not in _SECTIONS:
            raise ConfigError(
                f"{origins.get(section, source)}: unknown section '{section}' "
                f"(expected one of name, {', '.join(_SECTIONS)})"
            )
        if body is None:
            body = {}
        if not isinstance(body, Mapping):
            raise ConfigError(f"{origins.get(section, source)}: section '{section}' must be a mapping, got {body!r}")
        cls = _SECTIONS[section]
        known = {f.name: f for f in fields(cls)}
        values = {}
        for key, value in body.items():
            where = origins.get(f"{section}.{key}", source)
            if key not in known:
                raise ConfigError(
                    f"{where}: unknown key '{section}.{key}' (known keys: {', '.join(sorted(known))})"
                )
            values[key] = _coerce(value, known[key].type, f"{section}.{key}", where)
        kwargs[section] = cls(**values)
    cfg = Config(**kwargs)
    if check:
        validate(cfg, origins, source)
    return cfg


def _leaves(tree: Mapping[str, Any], prefix: str = "") -> Iterable[str]:
    """Dotted keys of the values in one of our (two-level) config trees."""
    for key, value in tree.items():
        if isinstance(value, Mapping) and not prefix:
            yield from _leaves(value, f"{key}.")
        else:
            yield f"{prefix}{key}"


def _merge(base: dict, update: Mapping) -> dict:
    out = dict(base)
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(dict(out[key]), value)
        else:
            out[key] = value
    return out


def _set_dotted(tree: dict, dotted: str, value: Any, source: str) -> None:
    parts = dotted.split(".")
    if len(parts) == 1 and parts[0] == "name":
        tree["name"] = value
        return
    if len(parts) != 2:
        raise ConfigError(f"{source}: override key '{dotted}' must look like section.key (e.g. train.lr)")
    section, key = parts
    if section not in _SECTIONS:
        raise ConfigError(f"{source}: unknown section '{section}' in override '{dotted}'")
    known = {f.name for f in fields(_SECTIONS[section])}
    if key not in known:
        raise ConfigError(f"{source}: unknown key '{dotted}' (known keys: {', '.join(sorted(known))})")
    tree.setdefault(section, {})[key] = value


def parse_override(text: str) -> tuple[str, Any]:
    """Parse ``section.key=value``; the value is read as a YAML scalar (``1e-4``, ``true``, ``resnet18``)."""
    if "=" not in text:
        raise ConfigError(f"--set '{text}': expected section.key=value (e.g. train.lr=1e-4)")
    key, raw = text.split("=", 1)
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError as exc:
        raise ConfigError(f"--set '{text}': cannot parse value {raw!r}: {' '.join(str(exc).split())}") from exc
    # YAML 1.1 reads "1e-4" as a string; accept it as a float.
    if isinstance(value, str):
        try:
            value = float(value) if any(c in value for c in "eE.") and value[0] in "0123456789.-+" else value
        except ValueError:
            pass
    return key.strip(), value


def resolve_config_path(name: str | Path) -> Path:
    """A path as given, or the name of a shipped config (``fashionai_s1`` -> ``asen/configs/fashionai_s1.yaml``).

    Raises:
        ConfigError: an empty name, a folder, or neither a file nor a shipped config's name.
    """
    if not str(name).strip():  # Path("") is the current folder
        raise ConfigError("--config '': empty config name; give a YAML file or a shipped config name "
                          "(e.g. -c synthfashion_cpu)")
    path = Path(name)
    if path.is_dir():
        raise ConfigError(f"config file '{name}' is a folder; give a YAML file in it, or a shipped config name")
    if path.exists():
        return path
    shipped = CONFIG_DIR / (str(name) if str(name).endswith(".yaml") else f"{name}.yaml")
    if shipped.exists():
        return shipped
    available = ", ".join(sorted(p.stem for p in CONFIG_DIR.glob("*.yaml")))
    raise ConfigError(f"config file '{name}' not found (not a path, nor a shipped config: {available})")


def _read_yaml(path: Path) -> dict:
    """The top-level mapping of a YAML file (``{}`` for an empty file); in one of our configs, a section left
    empty (``train:`` with nothing under it) reads as an empty mapping, so that it changes nothing when merged.

    Raises:
        ConfigError: not UTF-8, not valid YAML, or not a mapping at the top level; the message names the file.
    """
    try:
        with open(path, encoding="utf-8") as fh:
            tree = yaml.safe_load(fh)
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}); save the config as "
                          f"UTF-8") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {' '.join(str(exc).split())}") from exc
    if tree is None:
        return {}
    if not isinstance(tree, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(tree).__name__}")
    return {key: {} if value is None and key in _SECTIONS else value for key, value in tree.items()}


def is_authors_config(tree: Mapping) -> bool:
    """The authors' yacs configs use upper-case top-level keys (DATA, MODEL, SOLVER, ...)."""
    return bool(tree) and all(isinstance(k, str) and k.isupper() for k in tree)


_IMAGENET_MEAN = [0.485, 0.456, 0.406]  # the normalisation of asen.data (torchvision's ImageNet statistics)
_IMAGENET_STD = [0.229, 0.224, 0.225]

# Every key of the authors' yacs defaults (ASEN++ reference code, flattened with dots) and its default value.
# A file may override only these keys, as with yacs; the translation below gives each one its meaning here.
AUTHORS_DEFAULTS: dict[str, Any] = {
    "NAME": "",
    "SAVE_DIR": "",
    "DEVICE": "cuda",
    "MODEL.EMBED_SIZE": 1024,
    "MODEL.ATTRIBUTE.EMBED_SIZE": 512,
    "MODEL.GLOBAL.BACKBONE.NAME": "resnet50",
    "MODEL.GLOBAL.BACKBONE.EMBED_SIZE": 1024,
    "MODEL.GLOBAL.ATTENTION.SPATIAL.ENABLE": True,
    "MODEL.GLOBAL.ATTENTION.SPATIAL.COMMON_EMBED_SIZE": 512,
    "MODEL.GLOBAL.ATTENTION.CHANNEL.ENABLE": True,
    "MODEL.GLOBAL.ATTENTION.CHANNEL.REDUCTION_RATE": 2,
    "MODEL.LOCAL.ENABLE": False,
    "MODEL.LOCAL.BACKBONE.NAME": "resnet34",
    "MODEL.LOCAL.BACKBONE.EMBED_SIZE": 256,
    "MODEL.LOCAL.ATTENTION.SPATIAL.ENABLE": True,
    "MODEL.LOCAL.ATTENTION.SPATIAL.COMMON_EMBED_SIZE": 256,
    "MODEL.LOCAL.ATTENTION.CHANNEL.ENABLE": True,
    "MODEL.LOCAL.ATTENTION.CHANNEL.REDUCTION_RATE": 2,
    "INPUT.PIXEL_MEAN": _IMAGENET_MEAN,
    "INPUT.PIXEL_STD": _IMAGENET_STD,
    "INPUT.GLOBAL_SIZE": 224,
    "INPUT.LOCAL_SIZE": 112,
    "INPUT.THRESHOLD": 0.4,
    "DATA.BASE_PATH": "data",
    "DATA.DATASET": "",
    "DATA.NUM_ATTRIBUTES": -1,
    "DATA.ATTRIBUTES.NAME": [],
    "DATA.ATTRIBUTES.NUM": [],
    "DATA.PATH_FILE.TRAIN": "",
    "DATA.PATH_FILE.VALID": "",
    "DATA.PATH_FILE.TEST": "",
    "DATA.GROUNDTRUTH.TRAIN": "",
    "DATA.GROUNDTRUTH.QUERY.VALID": "",
    "DATA.GROUNDTRUTH.QUERY.TEST": "",
    "DATA.GROUNDTRUTH.CANDIDATE.VALID": "",
    "DATA.GROUNDTRUTH.CANDIDATE.TEST": "",
    "DATA.NUM_WORKERS": 4,
    "DATA.NUM_TRIPLETS": 100_000,
    "DATA.TRAIN_BATCHSIZE": 16,
    "DATA.TEST_BATCHSIZE": 64,
    "SOLVER.OPTIMIZER_NAME": "Adam",
    "SOLVER.BASE_LR": 1e-4,
    "SOLVER.BASE_LR_SLOW": 1e-5,
    "SOLVER.STEP_SIZE": 3,
    "SOLVER.DECAY_RATE": 0.9,
    "SOLVER.EPOCHS": 50,
    "SOLVER.EVAL_STEPS": 1,
    "SOLVER.LOG_PERIOD": 800,
    "SOLVER.MARGIN": 0.2,
    "SOLVER.GLOBAL_WEIGHT": 1.0,
    "SOLVER.LOCAL_WEIGHT": 1.0,
    "SOLVER.ALIGN_WEIGHT": 1.0,
    "SOLVER.BETA": 0.6,
    "LOGGER.LEVEL": 20,  # logging.INFO
    "LOGGER.STREAM": "stdout",
}

# The authors' key -> ours, where the meaning is one-to-one (the others are handled in translate_authors_configs).
_AUTHORS_DIRECT: dict[str, tuple[str, ...]] = {
    "MODEL.EMBED_SIZE": ("model.embed_size",),
    "MODEL.ATTRIBUTE.EMBED_SIZE": ("model.attr_embed_size",),
    "MODEL.GLOBAL.BACKBONE.NAME": ("model.backbone",),
    "MODEL.LOCAL.BACKBONE.NAME": ("model.local_backbone",),
    "MODEL.GLOBAL.ATTENTION.SPATIAL.ENABLE": ("model.spatial_attention",),
    "MODEL.GLOBAL.ATTENTION.SPATIAL.COMMON_EMBED_SIZE": ("model.spatial_dim",),
    "MODEL.LOCAL.ATTENTION.SPATIAL.COMMON_EMBED_SIZE": ("model.local_spatial_dim",),
    "MODEL.GLOBAL.ATTENTION.CHANNEL.ENABLE": ("model.channel_attention",),
    "MODEL.GLOBAL.ATTENTION.CHANNEL.REDUCTION_RATE": ("model.reduction",),
    "MODEL.LOCAL.ENABLE": ("model.local_branch",),
    "INPUT.GLOBAL_SIZE": ("data.global_size",),
    "INPUT.LOCAL_SIZE": ("data.local_size",),
    "INPUT.THRESHOLD": ("train.crop_threshold", "eval.crop_threshold"),
    "DATA.NUM_WORKERS": ("data.num_workers",),
    "DATA.NUM_TRIPLETS": ("data.num_triplets",),
    "DATA.TRAIN_BATCHSIZE": ("data.batch_size",),
    "DATA.TEST_BATCHSIZE": ("data.eval_batch_size",),
    "SOLVER.STEP_SIZE": ("train.lr_step",),  # StepLR steps once per epoch: our "step" schedule
    "SOLVER.DECAY_RATE": ("train.lr_decay",),
    "SOLVER.EPOCHS": ("train.epochs",),
    "SOLVER.EVAL_STEPS": ("train.eval_every",),
    "SOLVER.MARGIN": ("train.margin",),
    "SOLVER.GLOBAL_WEIGHT": ("train.global_weight",),
    "SOLVER.LOCAL_WEIGHT": ("train.local_weight",),
    "SOLVER.ALIGN_WEIGHT": ("train.align_weight",),
    "SOLVER.BETA": ("eval.beta",),
}
# Keys that concern only the authors' runtime (where to log and save, which device): recognised, not used here
# (the run folder is --run-dir, the device --device).
_AUTHORS_RUNTIME = ("SAVE_DIR", "DEVICE", "SOLVER.LOG_PERIOD", "LOGGER.LEVEL", "LOGGER.STREAM")
# The files a dataset folder holds, as the authors' data file names them (their defaults are empty: each
# config/<D>/<D>.yaml sets them); this project reads these names from data.root (asen.layout).
_AUTHORS_FILE_NAMES: dict[str, str] = {
    "DATA.PATH_FILE.TRAIN": "filenames_train.txt", "DATA.PATH_FILE.VALID": "filenames_valid.txt",
    "DATA.PATH_FILE.TEST": "filenames_test.txt", "DATA.GROUNDTRUTH.TRAIN": "label_train.txt",
    "DATA.GROUNDTRUTH.QUERY.VALID": "query_valid.txt", "DATA.GROUNDTRUTH.QUERY.TEST": "query_test.txt",
    "DATA.GROUNDTRUTH.CANDIDATE.VALID": "candidate_valid.txt", "DATA.GROUNDTRUTH.CANDIDATE.TEST": "candidate_test.txt",
}
# Keys under the authors' groups created with new_allowed=True (DATA.ATTRIBUTES, DATA.GROUNDTRUTH): not in their
# defaults, so yacs checks no type for them.
_AUTHORS_NEW_ALLOWED = ("DATA.ATTRIBUTES.NAME", "DATA.ATTRIBUTES.NUM", "DATA.GROUNDTRUTH.TRAIN")
# What the authors' code fixes without a key: the protocol of the paper.
_AUTHORS_PROTOCOL: dict[str, Any] = {
    "data.sampler": "random", "train.scheduler": "step", "train.weight_decay": 0.0, "model.head": "asen",
    "model.embed_norm": "none", "model.pretrained": "imagenet", "model.local_pretrained": "imagenet",
    "train.local_init": "pretrained", "train.forward_passes": 3, "eval.ties": "reference",
    "data.crop_mode": "per_image",  # their LocalTransform: a PIL crop, resized with antialiasing
}


def _check_yacs_type(source: str, key: str, value: Any, default: Any) -> None:
    """Refuse a value whose type differs from the authors' default's, as yacs' merge does (a list for a tuple and
    the reverse pass): ``BASE_LR: 1`` (an int for a float) or ``EPOCHS: 20.0`` fail in their code too.

    Raises:
        ConfigError: naming the file, the key, both values and what to write instead.
    """
    if type(value) is type(default) or {type(value), type(default)} <= {list, tuple}:
        return
    hint = f" (write {float(value)!r})" if isinstance(default, float) and type(value) is int else ""
    raise ConfigError(f"{source}: '{key}' is {value!r} ({type(value).__name__}) where the authors' default is "
                      f"{default!r} ({type(default).__name__}); yacs refuses a value of another type{hint}")


def decode_yacs_value(value: Any) -> Any:
    """Decode a value as yacs does: a string goes through Python literal evaluation, falling back to the string.

    Args:
        value: a value as PyYAML read it (``"1e-4"`` is a string there).
    Returns:
        ``1e-4`` -> ``0.0001``, ``"(1, 2)"`` -> ``(1, 2)``, ``"resnet50"`` -> ``"resnet50"``; non-strings unchanged.
    """
    if not isinstance(value, str):
        return value
    try:
        return ast.literal_eval(value)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return value


def _flatten(tree: Mapping, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in tree.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(_flatten(value, dotted + "."))
        else:
            out[dotted] = value
    return out


def translate_authors_configs(files: Iterable[tuple[str, Mapping]]) -> tuple[dict[str, Any], dict[str, str]]:
    """Merge consecutive authors' yacs files over their defaults (as yacs does), then translate to our keys.

    The merge comes first because a key's meaning can depend on another file: ``SOLVER.BASE_LR`` is the
    learning rate of every parameter without ``MODEL.LOCAL.ENABLE`` (our ``train.lr``), but the local
    branch's with it (our ``train.local_lr``; the global branch then trains at ``SOLVER.BASE_LR_SLOW``).
    The result is a complete configuration: the authors' defaults apply to what the files do not set.

    Args:
        files: ``(source name, tree as read from YAML)`` for each file, in order.
    Returns:
        Our nested config dict and, per dotted key of ours, where it came from: "<file> (<their key>)", or
        "the authors' defaults (<their key>)".
    Raises:
        ConfigError: a key the authors' defaults do not have (yacs rejects it too), a value of the wrong shape,
            or a setting this project cannot reproduce (another optimiser, other pixel statistics, other file
            names, attention switched differently in the two branches); the message names the file and key.
    """
    defaults_name = "the authors' defaults"
    flat: dict[str, Any] = dict(AUTHORS_DEFAULTS)
    where: dict[str, str] = {k: defaults_name for k in flat}
    rank: dict[str, int] = {k: -1 for k in flat}
    names = []
    for index, (source, tree) in enumerate(files):
        names.append(source)
        for key, value in _flatten(tree).items():
            if key not in AUTHORS_DEFAULTS:
                section = key.rsplit(".", 1)[0] + "." if "." in key else ""
                near = [k for k in AUTHORS_DEFAULTS if section and k.startswith(section)] or list(AUTHORS_DEFAULTS)
                raise ConfigError(f"{source}: unknown key '{key}' in the authors' config (not among their defaults; "
                                  f"known here: {', '.join(near)})")
            value = decode_yacs_value(value)
            if key not in _AUTHORS_NEW_ALLOWED:
                _check_yacs_type(source, key, value, AUTHORS_DEFAULTS[key])
            flat[key] = value
            where[key], rank[key] = source, index

    def fail(key: str, text: str) -> None:
        raise ConfigError(f"{where[key]}: '{key}' {text}; got {flat[key]!r}")

    out: dict[str, Any] = {}
    origins: dict[str, str] = {}

    def put(ours: str, value: Any, key: str | None) -> None:
        section, name = ours.split(".")
        out.setdefault(section, {})[name] = value
        origins[ours] = f"{where[key]} ({key})" if key else f"the authors' protocol ({', '.join(names)})"

    for ours, value in _AUTHORS_PROTOCOL.items():
        put(ours, value, None)
    for key, targets in _AUTHORS_DIRECT.items():
        for ours in targets:
            put(ours, flat[key], key)
    local = flat["MODEL.LOCAL.ENABLE"]
    if not isinstance(local, bool):
        fail("MODEL.LOCAL.ENABLE", "must be True or False")
    put("train.stage", 2 if local else 1, "MODEL.LOCAL.ENABLE")
    if local:  # the local branch trains at BASE_LR, the global branch (and the attribute embedding) at BASE_LR_SLOW
        put("train.local_lr", flat["SOLVER.BASE_LR"], "SOLVER.BASE_LR")
        put("train.lr", flat["SOLVER.BASE_LR_SLOW"], "SOLVER.BASE_LR_SLOW")
    else:  # every parameter trains at BASE_LR
        put("train.lr", flat["SOLVER.BASE_LR"], "SOLVER.BASE_LR")
    if flat["NAME"]:
        out["name"], origins["name"] = str(flat["NAME"]), f"{where['NAME']} (NAME)"
    if flat["DATA.DATASET"]:
        put("data.dataset", flat["DATA.DATASET"], "DATA.DATASET")
        later = "DATA.BASE_PATH" if rank["DATA.BASE_PATH"] > rank["DATA.DATASET"] else "DATA.DATASET"
        put("data.root", str(Path(str(flat["DATA.BASE_PATH"])) / str(flat["DATA.DATASET"])), later)
    # Recognised keys checked against what this project does.
    if str(flat["SOLVER.OPTIMIZER_NAME"]) != "Adam":
        fail("SOLVER.OPTIMIZER_NAME", "must be 'Adam' (this project trains with Adam, as the paper)")
    for key, ours in (("INPUT.PIXEL_MEAN", _IMAGENET_MEAN), ("INPUT.PIXEL_STD", _IMAGENET_STD)):
        value = flat[key]
        if (not isinstance(value, (list, tuple)) or len(value) != 3
                or any(not isinstance(v, (int, float)) or abs(v - o) > 1e-6 for v, o in zip(value, ours))):
            fail(key, f"must be ImageNet's {ours} (this project normalises every image with it)")
    for key, name in _AUTHORS_FILE_NAMES.items():
        if flat[key] not in ("", name):
            fail(key, f"must be {name!r} (this project reads {name} from data.root)")
    for switch in ("SPATIAL.ENABLE", "CHANNEL.ENABLE", "CHANNEL.REDUCTION_RATE"):
        g, loc = f"MODEL.GLOBAL.ATTENTION.{switch}", f"MODEL.LOCAL.ATTENTION.{switch}"
        if local and flat[loc] != flat[g]:
            fail(loc, f"must equal {g} ({flat[g]!r}): both branches share one setting in this project")
    for branch in ("GLOBAL", "LOCAL"):
        name, size = flat[f"MODEL.{branch}.BACKBONE.NAME"], flat[f"MODEL.{branch}.BACKBONE.EMBED_SIZE"]
        channels = _backbone_channels().get(str(name))
        if channels is not None and size != channels:
            fail(f"MODEL.{branch}.BACKBONE.EMBED_SIZE", f"must be {channels}, the channels of {name} after layer3")
    n, attr_names, attr_values = flat["DATA.NUM_ATTRIBUTES"], flat["DATA.ATTRIBUTES.NAME"], flat["DATA.ATTRIBUTES.NUM"]
    if isinstance(n, bool) or not isinstance(n, int) or n < -1:
        fail("DATA.NUM_ATTRIBUTES", "must be a whole number >= 0 (or -1, their default: not given)")
    for key, listed in (("DATA.ATTRIBUTES.NAME", attr_names), ("DATA.ATTRIBUTES.NUM", attr_values)):
        if not isinstance(listed, (list, tuple)):
            fail(key, "must be a list")
        if listed and n > 0 and len(listed) != n:  # blame the file that set either of the two last
            last = max((key, "DATA.NUM_ATTRIBUTES"), key=rank.__getitem__)
            raise ConfigError(f"{where[last]}: '{key}' lists {len(listed)} entries ({where[key]}) but "
                              f"'DATA.NUM_ATTRIBUTES' is {n} ({where['DATA.NUM_ATTRIBUTES']}); one entry per attribute")
    if attr_values:  # checked against the dataset's meta.json when it is opened (asen.layout.check_value_counts);
        # the names are the authors' display labels ("clothes category"), not meta.json's, and are not compared
        if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in attr_values):
            fail("DATA.ATTRIBUTES.NUM", "must list whole numbers >= 1, the values of each attribute")
        put("data.attribute_values", ",".join(str(v) for v in attr_values), "DATA.ATTRIBUTES.NUM")
    return out, origins


def _backbone_channels() -> dict[str, int]:
    """Channels of each torchvision backbone after layer3 (resnet50: 1024; resnet18/34: 256)."""
    from .backbones import _TORCHVISION

    return {name: spec[2] for name, spec in _TORCHVISION.items()}


def translate_authors_config(tree: Mapping, source: str = "<authors config>") -> dict[str, Any]:
    """Translate one authors' yacs file (over their defaults); see :func:`translate_authors_configs`.

    Args:
        tree: the file as read from YAML.
        source: its name, for messages.
    Returns:
        Our nested config dict.
    """
    return translate_authors_configs([(source, tree)])[0]


def load_config(
    paths: Iterable[str | Path] = (), overrides: Iterable[str] | Mapping[str, Any] = ()
) -> Config:
    """Load and merge YAML files left to right, then apply ``section.key=value`` overrides, then validate.

    Consecutive authors' files are merged together over the authors' defaults first (as yacs does) and then
    translated (:func:`translate_authors_configs`); that block then merges with our files left to right.
    Choices and ranges are checked on the merged result, so a later file or override may fix an earlier value;
    an error names the file or override that set the offending value last.

    Args:
        paths: config files (paths, or names of configs shipped in ``asen/configs``), ours or the authors'.
        overrides: ``["train.lr=1e-3", ...]`` strings or a ``{"train.lr": 1e-3}`` mapping.
    Returns:
        The resolved, frozen :class:`Config`.
    Raises:
        ConfigError: unknown key (named, with its file), wrong type, value out of range, or missing file.
    """
    tree: dict[str, Any] = {}
    origins: dict[str, str] = {}
    authors: list[tuple[str, Mapping]] = []

    def add(raw: Mapping, raw_origins: Mapping[str, str], source: str) -> None:
        nonlocal tree
        from_dict(raw, source=source, origins=raw_origins, check=False)  # unknown keys and types, named by file
        tree = _merge(tree, raw)
        origins.update(raw_origins)

    no_dataset: list[str] = []  # authors' blocks that name no dataset (their s1.yaml or s2.yaml alone)

    def flush_authors() -> None:
        if authors:
            raw, raw_origins = translate_authors_configs(authors)
            names = ", ".join(name for name, _ in authors)
            if "data.root" not in raw_origins:
                no_dataset.append(names)
            add(raw, raw_origins, names)
            authors.clear()

    for name in paths:
        path = resolve_config_path(name)
        raw = _read_yaml(path)
        if is_authors_config(raw):
            authors.append((str(path), raw))
            continue
        flush_authors()
        add(raw, {key: str(path) for key in _leaves(raw)}, str(path))
    flush_authors()
    if isinstance(overrides, Mapping):
        items = [(key, value, f"override {key}={value!r}") for key, value in overrides.items()]
    else:
        items = [(*parse_override(text), f"--set {text}") for text in overrides]
    for key, value, source in items:
        _set_dotted(tree, key, value, source=source)
        origins[key] = source
    if no_dataset and "data.root" not in origins:  # else data/FashionAI, the default, would be used unasked
        raise ConfigError(f"{no_dataset[0]}: the authors' files name no dataset (DATA.DATASET is in their "
                          f"config/<D>/<D>.yaml, not in s1.yaml or s2.yaml): give that file first, e.g. "
                          f"config/FashionAI/FashionAI.yaml then config/FashionAI/s2.yaml, or set data.root")
    return from_dict(tree, source="merged config", origins=origins)


def save_config(cfg: Config, path: str | Path) -> None:
    """Write the resolved configuration as YAML (loadable with :func:`load_config`)."""
    Path(path).write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))
