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

import dataclasses
import hashlib
import json
import warnings
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Iterable, Mapping

import yaml

CONFIG_DIR = Path(__file__).parent / "configs"


class ConfigError(ValueError):
    """A configuration file or override is invalid; the message names the key and the file."""


@dataclass(frozen=True)
class DataConfig:
    """Where the data is and how it is fed to the model."""

    dataset: str = "FashionAI"  # name, used for messages and result tables
    root: str = "data/FashionAI"  # dataset folder with filenames_*.txt, label_train.txt, ...
    global_size: int = 224  # global-branch input: resize short side, centre crop (paper: 224)
    local_size: int = 112  # local-branch input: the zoomed crop is resized to this (paper: 112)
    sampler: str = "random"  # "random": the paper's one random triplet at a time; "in_batch": grouped batches
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
    cache_images: bool = False  # keep decoded images in memory (up to 4 GiB a process): for small CPU datasets
    crop_mode: str = "batched"  # local crops: "batched" on the device (roi_align) or "per_image" (PIL, the reference)
    crop_sampling_ratio: int = 2  # batched crops: roi_align samples per pixel and axis (-1: adaptive, slower)


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
    global_weight: float = 1.0  # loss weights in stage 2 (paper: 1.0, 0.1, 0.1)
    local_weight: float = 0.1
    align_weight: float = 0.1
    crop_threshold: float = 0.1  # attention threshold for the zoom-in crop during stage 2 (paper: 0.1)
    csn_mask_l1: float = 5e-4  # CSN baseline only: weight of the masks' L1 norm per image (Veit et al.: 5e-4)
    csn_embed_l2: float = 0.0  # CSN baseline only: weight of the unmasked embeddings' L2 norm (Veit et al.: 5e-3)
    init_from: str = ""  # stage 2: path of the stage-1 checkpoint to start from
    local_init: str = "pretrained"  # stage 2 local branch: "pretrained" (model.local_pretrained, the paper) or
    #   "global": a copy of the stage-1 global branch (same architecture; for from-scratch CPU training)
    seed: int = 0
    eval_every: int = 1  # validate every N epochs (best checkpoint by validation MAP)
    amp: str = "none"  # "none", "bf16" or "fp16" mixed precision (CUDA only)
    grad_clip: float = 0.0  # clip gradient norm (0: off)
    deterministic: bool = False  # torch.use_deterministic_algorithms


@dataclass(frozen=True)
class EvalConfig:
    """Evaluation protocol (paper Sec. IV-A)."""

    beta: float = 0.6  # weight of the global branch in the fused similarity (paper: 0.6)
    crop_threshold: float = 0.1  # attention threshold for the crop at test time
    split: str = "test"  # "valid" or "test"


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
        """A short hash of the resolved configuration (for load-or-train caches)."""
        text = json.dumps(self.to_dict(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def with_overrides(self, overrides: Iterable[str]) -> "Config":
        """Apply ``section.key=value`` strings (as ``--set`` does) to a copy."""
        tree = self.to_dict()
        for text in overrides:
            key, value = parse_override(text)
            _set_dotted(tree, key, value, source=f"--set {text}")
        return from_dict(tree, source="--set")

    def replace(self, **overrides: Any) -> "Config":
        """Return a copy with dotted overrides, e.g. ``cfg.replace(**{"train.lr": 1e-3})``."""
        tree = self.to_dict()
        for key, value in overrides.items():
            _set_dotted(tree, key, value, source="replace()")
        return from_dict(tree, source="replace()")


_SECTIONS = {"data": DataConfig, "model": ModelConfig, "train": TrainConfig, "eval": EvalConfig,
             "pretrain": PretrainConfig}


def _coerce(value: Any, typ: Any, key: str, source: str) -> Any:
    """Check/convert one value against the dataclass field type."""
    typ_name = typ if isinstance(typ, str) else getattr(typ, "__name__", str(typ))
    if typ_name == "bool":
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{source}: '{key}' must be true or false, got {value!r}")
    if typ_name == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise ConfigError(f"{source}: '{key}' must be an integer, got {value!r}")
        return value
    if typ_name == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{source}: '{key}' must be a number, got {value!r}")
        return float(value)
    if typ_name == "str":
        if value is None:
            return ""
        if not isinstance(value, (str, int, float)):
            raise ConfigError(f"{source}: '{key}' must be a string, got {value!r}")
        return str(value)
    return value


def from_dict(tree: Mapping[str, Any], source: str = "<dict>") -> Config:
    """Build a :class:`Config` from a nested dict, rejecting unknown keys."""
    kwargs: dict[str, Any] = {}
    for section, body in tree.items():
        if section == "name":
            kwargs["name"] = str(body)
            continue
        if section not in _SECTIONS:
            raise ConfigError(
                f"{source}: unknown section '{section}' (expected one of name, {', '.join(_SECTIONS)})"
            )
        if body is None:
            body = {}
        if not isinstance(body, Mapping):
            raise ConfigError(f"{source}: section '{section}' must be a mapping, got {body!r}")
        cls = _SECTIONS[section]
        known = {f.name: f for f in fields(cls)}
        values = {}
        for key, value in body.items():
            if key not in known:
                raise ConfigError(
                    f"{source}: unknown key '{section}.{key}' (known keys: {', '.join(sorted(known))})"
                )
            values[key] = _coerce(value, known[key].type, f"{section}.{key}", source)
        kwargs[section] = cls(**values)
    return Config(**kwargs)


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
        raise ConfigError(f"--set '{text}': cannot parse value {raw!r}: {exc}") from exc
    # YAML 1.1 reads "1e-4" as a string; accept it as a float.
    if isinstance(value, str):
        try:
            value = float(value) if any(c in value for c in "eE.") and value[0] in "0123456789.-+" else value
        except ValueError:
            pass
    return key.strip(), value


def resolve_config_path(name: str | Path) -> Path:
    """A path as given, or the name of a shipped config (``fashionai_s1`` -> ``asen/configs/fashionai_s1.yaml``)."""
    path = Path(name)
    if path.exists():
        return path
    shipped = CONFIG_DIR / (str(name) if str(name).endswith(".yaml") else f"{name}.yaml")
    if shipped.exists():
        return shipped
    available = ", ".join(sorted(p.stem for p in CONFIG_DIR.glob("*.yaml")))
    raise ConfigError(f"config file '{name}' not found (not a path, nor a shipped config: {available})")


def _read_yaml(path: Path) -> dict:
    try:
        with open(path) as fh:
            tree = yaml.safe_load(fh)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if tree is None:
        return {}
    if not isinstance(tree, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(tree).__name__}")
    return tree


def is_authors_config(tree: Mapping) -> bool:
    """The authors' yacs configs use upper-case top-level keys (DATA, MODEL, SOLVER, ...)."""
    return bool(tree) and all(isinstance(k, str) and k.isupper() for k in tree)


# Authors' key (flattened with dots) -> our dotted key. Keys not listed are reported with a warning.
_AUTHORS_KEYS: dict[str, str | None] = {
    "DATA.DATASET": "data.dataset",
    "DATA.BASE_PATH": None,  # combined with DATA.DATASET into data.root
    "DATA.GLOBAL_SIZE": "data.global_size",
    "DATA.LOCAL_SIZE": "data.local_size",
    "DATA.NUM_TRIPLETS": "data.num_triplets",
    "DATA.TRAIN_BATCHSIZE": "data.batch_size",
    "DATA.TEST_BATCHSIZE": "data.eval_batch_size",
    "DATA.NUM_WORKERS": "data.num_workers",
    "DATA.NUM_ATTRIBUTES": None,  # read from meta.json / checkpoint shapes
    "DATA.PATH_FILE": None,
    "MODEL.GLOBAL.BACKBONE.NAME": "model.backbone",
    "MODEL.LOCAL.BACKBONE.NAME": "model.local_backbone",
    "MODEL.BACKBONE.NAME": "model.backbone",
    "MODEL.LOCAL.ENABLE": "model.local_branch",
    "MODEL.LOCAL.THRESHOLD": "train.crop_threshold",
    "MODEL.EMBED_SIZE": "model.embed_size",
    "MODEL.ATTRIBUTE.EMBED_SIZE": "model.attr_embed_size",
    "MODEL.GLOBAL.ATTENTION.SPATIAL.COMMON_EMBED_SIZE": "model.spatial_dim",
    "MODEL.LOCAL.ATTENTION.SPATIAL.COMMON_EMBED_SIZE": "model.local_spatial_dim",
    "MODEL.GLOBAL.ATTENTION.CHANNEL.REDUCTION_RATE": "model.reduction",
    "MODEL.ATTENTION.SPATIAL.ENABLE": "model.spatial_attention",
    "MODEL.ATTENTION.CHANNEL.ENABLE": "model.channel_attention",
    "MODEL.DEVICE": None,
    "MODEL.GLOBAL.BACKBONE.EMBED_SIZE": None,  # implied by the backbone
    "MODEL.LOCAL.BACKBONE.EMBED_SIZE": None,
    "MODEL.GLOBAL.BACKBONE.PRETRAINED": None,
    "MODEL.LOCAL.BACKBONE.PRETRAINED": None,
    "MODEL.LOCAL.ATTENTION.CHANNEL.REDUCTION_RATE": None,  # the same rate as the global branch
    "SOLVER.EPOCHS": "train.epochs",
    "SOLVER.BASE_LR": "train.lr",
    "SOLVER.GLOBAL.BASE_LR": "train.lr",
    "SOLVER.LOCAL.BASE_LR": "train.local_lr",
    "SOLVER.STEP_SIZE": "train.lr_step",
    "SOLVER.DECAY_RATE": "train.lr_decay",
    "SOLVER.MARGIN": "train.margin",
    "SOLVER.WEIGHT_DECAY": "train.weight_decay",
    "SOLVER.EVAL_STEP": "train.eval_every",
    "SOLVER.GLOBAL.LOSS_WEIGHT": "train.global_weight",
    "SOLVER.LOCAL.LOSS_WEIGHT": "train.local_weight",
    "SOLVER.ALIGN.LOSS_WEIGHT": "train.align_weight",
    "SOLVER.BETA": "eval.beta",
    "SOLVER.LOG_PERIOD": None,
    "SOLVER.CHECKPOINT_PERIOD": None,
}


def _flatten(tree: Mapping, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in tree.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(_flatten(value, dotted + "."))
        else:
            out[dotted] = value
    return out


def translate_authors_config(tree: Mapping, source: str = "<authors config>") -> dict[str, Any]:
    """Translate one of the authors' yacs YAML files into our nested dict.

    Keys that only concern the authors' runtime (devices, logging periods) are dropped; keys this
    project does not know are reported in one warning naming them and the file, never silently.
    """
    flat = _flatten(tree)
    out: dict[str, Any] = {}
    unknown = []
    for key, value in flat.items():
        if key not in _AUTHORS_KEYS:
            unknown.append(key)
            continue
        ours = _AUTHORS_KEYS[key]
        if ours is not None:
            _set_dotted(out, ours, value, source)
    if "DATA.BASE_PATH" in flat or "DATA.DATASET" in flat:
        base = flat.get("DATA.BASE_PATH", "data")
        out.setdefault("data", {})["root"] = str(Path(str(base)) / str(flat.get("DATA.DATASET", "")))
    if "MODEL.LOCAL.ENABLE" in flat:
        out.setdefault("train", {})["stage"] = 2 if flat["MODEL.LOCAL.ENABLE"] else 1
    if unknown:
        warnings.warn(f"{source}: ignoring authors' config keys this project does not use: {', '.join(unknown)}")
    return out


def load_config(
    paths: Iterable[str | Path] = (), overrides: Iterable[str] | Mapping[str, Any] = ()
) -> Config:
    """Load and merge YAML files left to right, then apply ``section.key=value`` overrides.

    Args:
        paths: config files (paths, or names of configs shipped in ``asen/configs``), ours or the authors'.
        overrides: ``["train.lr=1e-3", ...]`` strings or a ``{"train.lr": 1e-3}`` mapping.
    Returns:
        The resolved, frozen :class:`Config`.
    Raises:
        ConfigError: unknown key (named, with its file), wrong type, or missing file.
    """
    tree: dict[str, Any] = {}
    for name in paths:
        path = resolve_config_path(name)
        raw = _read_yaml(path)
        if is_authors_config(raw):
            raw = translate_authors_config(raw, source=str(path))
        from_dict(raw, source=str(path))  # validate this file on its own so errors name it
        tree = _merge(tree, raw)
    items = overrides.items() if isinstance(overrides, Mapping) else (parse_override(o) for o in overrides)
    for key, value in items:
        _set_dotted(tree, key, value, source=f"override {key}={value!r}")
    return from_dict(tree, source="merged config (last override)")


def save_config(cfg: Config, path: str | Path) -> None:
    """Write the resolved configuration as YAML (loadable with :func:`load_config`)."""
    Path(path).write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))
