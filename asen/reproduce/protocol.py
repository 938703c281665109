"""The protocol: where the data is, where runs go, and the config of every run a table needs.

:class:`Protocol` resolves a profile (:mod:`~asen.reproduce.profiles`) into the configs of each method's runs
(:mod:`~asen.reproduce.methods`): one label-free pre-training run (stage 0) every backbone starts from, the
stage-1 runs, and the stage-2 runs that continue them.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import torch

from ..config import Config, load_config
from ..data import ImageCache
from .cache import best_checkpoint, ensure_trained
from .methods import STAGE1_OVERLAYS, STAGE2_OVERRIDES, stage1_methods, stage1_of
from .profiles import PROFILES, profile_configs

_SAID: set[str] = set()


def imagenet_fallback_note(reason: str) -> str:
    """The one message of a profile whose ImageNet weights cannot be loaded."""
    return (f"ImageNet weights cannot be loaded ({reason}); the gpu profile starts the global backbone from the "
            "stage-0 self-supervised pre-training (synthfashion_gpu_pretrain, as the cpu profile does) and the "
            "local one from random weights. From that start every row of its table stayed at chance when measured "
            "on an H200 (benchmarks/gpu_h200_2026-11-30): for numbers that mean something without the weights, "
            "use --profile cpu. For the paper's start, run once with network access (torchvision caches the files "
            "under ~/.cache/torch/hub/checkpoints) or put the files there.")


def imagenet_available(configs: Sequence[str]) -> tuple[bool, str]:
    """Whether the ImageNet weights of the backbones of ``configs`` (a profile's stage-1 config files) can be
    loaded: :func:`asen.backbones.imagenet_weights_available` of the global and the local backbone."""
    from ..backbones import imagenet_weights_available

    cfg = load_config(list(configs), ["model.local_branch=false"])
    return imagenet_weights_available((cfg.model.backbone, cfg.model.local_backbone))


@dataclass
class Protocol:
    """Where the data is, where runs go, what to train and on which device.

    ``base_configs``, ``stage2_configs`` and ``pretrain_configs`` default (None) to the profile's
    (:func:`profile_configs`); ``pretrain_configs=()`` trains every backbone from scratch. ``imagenet`` (None:
    decide) applies to profiles that start from ImageNet weights (``gpu``): True uses them, False falls back
    to the stage-0 run; None checks once whether torchvision can load them
    (:func:`asen.backbones.imagenet_weights_available`) and, when it cannot, prints one message and falls back.
    ``image_cache`` (default: a new one of the base config's ``data.cache_bytes`` / ``data.view_cache_bytes``)
    is handed to every run this protocol trains or evaluates in this process (those whose config sets
    ``data.cache_images``), so that they decode each image once; each worker process of :func:`train_all`
    has one of the same sizes.
    """

    data_root: Path
    runs_root: Path
    device: torch.device
    profile: str = "cpu"
    base_configs: tuple[str, ...] | None = None
    stage2_configs: tuple[str, ...] | None = None
    # stage 0: every method's backbone starts from one self-supervised pre-training run (asen.pretrain), the
    # stand-in for the paper's ImageNet weights; () trains every backbone from scratch
    pretrain_configs: tuple[str, ...] | None = None
    extra_overrides: tuple[str, ...] = ()
    progress: bool = True
    jobs: int = 0  # runs trained at once, each in its own process (0: auto, see default_jobs)
    imagenet: bool | None = None
    image_cache: ImageCache | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.profile not in PROFILES:
            raise ValueError(f"profile must be one of {', '.join(PROFILES)}, got {self.profile!r}")
        prof = PROFILES[self.profile]
        self.base_configs = tuple(self.base_configs or profile_configs(self.profile, "configs"))
        self.stage2_configs = tuple(self.stage2_configs or profile_configs(self.profile, "s2_configs"))
        wants_imagenet = prof["imagenet"]
        if wants_imagenet and self.imagenet is None and self.pretrain_configs != ():
            ok, reason = imagenet_available(self.base_configs)
            self.imagenet = ok
            if not ok and self.profile not in _SAID:
                _SAID.add(self.profile)
                print(imagenet_fallback_note(reason), file=sys.stderr, flush=True)
        self.imagenet = bool(wants_imagenet and self.imagenet)
        if self.pretrain_configs is None:
            self.pretrain_configs = () if self.imagenet else profile_configs(self.profile, "pretrain_configs")
        self.pretrain_configs = tuple(self.pretrain_configs)
        if self.image_cache is None:
            self.image_cache = ImageCache.sized(load_config(list(self.base_configs), list(self.extra_overrides)).data)

    def _start(self) -> list[str]:
        """Overrides of a profile that wants ImageNet weights but falls back: the global backbone starts from the
        stage-0 run (:meth:`_pretrained`, later in the list) or from scratch, the local one from scratch."""
        if not PROFILES[self.profile]["imagenet"] or self.imagenet:
            return []
        return ["model.pretrained=none", "model.local_pretrained=none"]  # the stage-0 run's path comes later

    def pretrain_config(self) -> Config | None:
        """The backbone pre-training run every method starts from (one for all seeds, as ImageNet weights
        are), or None when backbones train from scratch."""
        if not self.pretrain_configs:
            return None
        over = [f"data.root={self.data_root}", *PROFILES[self.profile]["overrides"], *self._start(),
                *self.extra_overrides]
        return load_config([*self.base_configs, *self.pretrain_configs], over).replace(name="pretrain")

    def ensure_pretrained(self) -> Path | None:
        """Load-or-train the pre-training run (None when backbones train from scratch); its ``best.pt``."""
        pre = self.pretrain_config()
        return None if pre is None else ensure_trained(pre, self.runs_root, self.device, progress=self.progress)

    def _pretrained(self) -> list[str]:
        pre = self.pretrain_config()
        return [f"model.pretrained={best_checkpoint(pre, self.runs_root)}"] if pre else []

    def stage1_config(self, method: str, seed: int) -> Config:
        prof = PROFILES[self.profile]
        over = [f"data.root={self.data_root}", f"train.seed={seed}", *prof["overrides"], *self._start(),
                *self._pretrained(), *self.extra_overrides]
        cfg = load_config([*self.base_configs, *(f for f in STAGE1_OVERLAYS[method])], over)
        return cfg.replace(name=f"{method}_s1_seed{seed}")

    def stage2_config(self, method: str, seed: int, stage1_ckpt: Path) -> Config:
        prof = PROFILES[self.profile]
        over = [f"data.root={self.data_root}", f"train.seed={seed}", *prof["overrides"], *prof["s2_overrides"],
                *self._start(), *self._pretrained(), *self.extra_overrides, *STAGE2_OVERRIDES.get(method, []),
                f"train.init_from={stage1_ckpt}"]
        cfg = load_config([*self.base_configs, *STAGE1_OVERLAYS[method], *self.stage2_configs], over)
        return cfg.replace(name=f"{method}_s2_seed{seed}")

    def stage2_config_after_stage1(self, method: str, seed: int) -> Config:
        """The stage-2 config that continues this protocol's own stage-1 run of ``method`` (of ``"asen"`` for the
        no-zoom control, :data:`~asen.reproduce.methods.STAGE1_OF`), trained or not."""
        return self.stage2_config(method, seed,
                                  best_checkpoint(self.stage1_config(stage1_of(method), seed), self.runs_root))


def main_table_runs(protocol: Protocol, seeds_of: dict[str, Sequence[int]]) -> list[Config]:
    """The training runs main-table rows need, stage-1 runs first: ``seeds_of`` maps each row (a key of
    :data:`MAIN_METHODS`, in table order) to its seeds. ASEN++'s seeds need their global branch's stage-1 runs."""
    runs = []
    for base in stage1_methods(list(seeds_of)):
        base_seeds = dict.fromkeys(s for m, ss in seeds_of.items() if m != "random" and stage1_of(m) == base
                                   for s in ss)
        runs += [protocol.stage1_config(base, s) for s in base_seeds]
    return runs + [protocol.stage2_config_after_stage1("asen", s) for s in seeds_of.get("asenpp", ())]


def ablation_runs(protocol: Protocol, seeds: Sequence[int]) -> list[Config]:
    """The training runs :func:`~asen.reproduce.run_ablations` needs: both stages of ASEN++, w/o ASA and w/o ACA, and the
    no-zoom control's stage 2 (after ASEN++'s stage-1 run), for each seed."""
    runs = [c for m in ("asen", "no_asa", "no_aca") for s in seeds
            for c in (protocol.stage1_config(m, s), protocol.stage2_config_after_stage1(m, s))]
    return runs + [protocol.stage2_config_after_stage1("no_zoom", s) for s in seeds]


def protocol_caption(protocol: Protocol) -> str:
    """One paragraph naming every departure from the paper's protocol (from the resolved config)."""
    cfg = protocol.stage1_config("asen", 0)
    s2 = load_config([*protocol.base_configs, *protocol.stage2_configs], PROFILES[protocol.profile]["overrides"])
    d, m, t = cfg.data, cfg.model, cfg.train
    pre = protocol.pretrain_config()
    start = (f"pre-trained without labels on the training images: {pre.train.epochs} x {pre.data.steps_per_epoch} "
             f"SimCLR steps of {pre.data.images_per_batch} images, one run for all methods and seeds"
             if pre else "from scratch")
    return (
        f"Protocol ({protocol.profile} profile): {m.backbone} backbones (width {m.tiny_width}, {start}) "
        f"instead of ImageNet ResNet-50/34; embeddings {m.embed_size}-d with "
        f"model.embed_norm={m.embed_norm}; global input {d.global_size} px, local crops {d.local_size} px cut from "
        f"the full-resolution renders; data.sampler={d.sampler} ({d.images_per_batch} images of "
        f"{'one attribute' if d.attributes_per_batch == 1 else f'{d.attributes_per_batch} attributes'} a step, "
        f"all valid triplets) instead of 16 random triplets; "
        f"Adam {t.lr:g} with {t.scheduler} decay, {t.epochs} x {d.steps_per_epoch} steps in stage 1 and "
        f"{s2.train.epochs} x {d.steps_per_epoch} in stage 2 (local lr {s2.train.local_lr:g}, global lr "
        f"{s2.train.lr:g}, loss weights {s2.train.global_weight:g}/{s2.train.local_weight:g}/"
        f"{s2.train.align_weight:g}, crop threshold {s2.train.crop_threshold:g}); test beta {cfg.eval.beta:g}."
    )
