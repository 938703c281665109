"""Reproduce the shape of the paper's main comparison and ablation tables (ASEN++ Sec. IV) on SynthFashion.

Methods of the main table: Random embeddings, Triplet network, CSN (as the ASEN authors train it), ASEN and
ASEN_v2 (the AAAI-2020 code's ASENet and ASENet_V2, :mod:`asen.aaai`), the ASEN++ global branch alone (stage 1)
and ASEN++ (global + local). Each is trained with shipped configs (``synthfashion_cpu`` + a method overlay),
``seeds`` times; the table reports mean +- std of test MAP per attribute and overall, with and without the
"Invisible" values. Every backbone starts from one label-free pre-training run (``synthfashion_cpu_pretrain``,
:mod:`asen.pretrain`), the stand-in for the paper's ImageNet weights; ``Protocol(pretrain_configs=())`` (``asen
reproduce --no-pretrain``) trains from scratch. Trained runs are cached by config hash under ``runs_root``
(load-or-train), so the book and ``make ablations`` reuse what ``make reproduce`` trained.
"""
from __future__ import annotations

import json
import os
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from .checkpoint import check_attribute_count, load_model, read_checkpoint
from .config import Config, load_config
from .data import ImageCache, SplitFiles, load_split_files
from .evaluate import MapTable, evaluate, map_table, random_features
from .runs import RunDataMismatch, data_fingerprint, write_json
from .pretrain import pretrain
from .train import train

MAIN_METHODS = ("random", "triplet", "csn", "asen_aaai", "asen_v2", "asen", "asenpp")
# "asen" is ASEN++'s global branch trained alone (its stage 1); the AAAI paper's ASEN is "asen_aaai"
METHOD_LABELS = {
    "random": "Random embeddings", "triplet": "Triplet network", "csn": "CSN", "asen_aaai": "ASEN (AAAI ASENet)",
    "asen_v2": "ASEN_v2 (AAAI ASENet_V2)", "asen": "ASEN++ global branch (stage 1)",
    "asenpp": "ASEN++ (global + local)", "no_asa": "ASEN++ w/o ASA", "no_aca": "ASEN++ w/o ACA",
    "global_only": "ASEN++ global branch only", "local_only": "ASEN++ local branch only",
    "no_zoom": "ASEN++ without the zoom (crop threshold 0)",
}
# stage-1 overlays per method; ASEN++ continues ASEN's stage-1 run with the stage-2 config
STAGE1_OVERLAYS = {"triplet": ["method_triplet"], "csn": ["method_csn"], "asen_aaai": ["method_asen_aaai"],
                   "asen_v2": ["method_asen_v2"], "asen": [], "no_asa": ["ablation_no_asa"],
                   "no_aca": ["ablation_no_aca"], "no_zoom": []}
# stage-2 overrides per method: the no-zoom control trains and tests its local branch on the whole image (crop
# threshold 0: the box keeps every location), continuing the same stage-1 run as ASEN++ ("asen")
STAGE2_OVERRIDES = {"no_zoom": ["train.crop_threshold=0", "eval.crop_threshold=0"]}
STAGE1_OF = {"asenpp": "asen", "no_zoom": "asen"}
"""Methods whose stage 2 continues another method's stage-1 run."""


def stage1_of(method: str) -> str:
    """The method whose stage-1 run ``method`` trains or continues (:data:`STAGE1_OF`, else itself)."""
    return STAGE1_OF.get(method, method)

# Profiles: which configs, how much to train. "smoke" is for tests and the book's smoke build (minutes on a
# laptop); "cpu" the CPU protocol (small backbones at 64 px, README's table); "gpu" the paper's networks at 224 px
# (ResNet-50 / ResNet-34 from ImageNet weights) on the same 224 px SynthFashion, sized for a Colab T4
# (asen.estimate, README "The gpu profile"). "configs" / "s2_configs" / "pretrain_configs" are the stage-1,
# stage-2 and stage-0 config files; "imagenet": the backbones start from ImageNet weights when they can be
# loaded, and from the stage-0 run (one message says so) when they cannot.
PROFILES: dict[str, dict[str, Any]] = {
    "smoke": {"size": "tiny", "seeds": (0,), "overrides": [
        "data.steps_per_epoch=4", "data.images_per_batch=32", "train.epochs=1", "model.tiny_width=8",
        "data.eval_batch_size=64"], "s2_overrides": ["train.epochs=1"]},
    "cpu": {"size": "small", "seeds": (0, 1, 2), "overrides": [], "s2_overrides": []},
    "gpu": {"size": "small", "seeds": (0, 1, 2), "overrides": [], "s2_overrides": [],
            "configs": ("synthfashion_gpu",), "s2_configs": ("synthfashion_gpu_s2",),
            "pretrain_configs": ("synthfashion_gpu_pretrain",), "imagenet": True},
}
CPU_CONFIGS = {"configs": ("synthfashion_cpu",), "s2_configs": ("synthfashion_cpu_s2",),
               "pretrain_configs": ("synthfashion_cpu_pretrain",)}
"""The config files of a profile that names none (smoke, cpu)."""


def profile_configs(profile: str, key: str) -> tuple[str, ...]:
    """A profile's ``configs``, ``s2_configs`` or ``pretrain_configs`` (:data:`CPU_CONFIGS` where it names none)."""
    return tuple(PROFILES[profile].get(key, CPU_CONFIGS[key]))


_SAID: set[str] = set()


def imagenet_fallback_note(reason: str) -> str:
    """The one message of a profile whose ImageNet weights cannot be loaded."""
    return (f"ImageNet weights cannot be loaded ({reason}); the gpu profile starts the global backbone from the "
            "stage-0 self-supervised pre-training (synthfashion_gpu_pretrain, as the cpu profile does) and the "
            "local one from random weights. For the paper's start, run once with network access (torchvision "
            "caches the files under ~/.cache/torch/hub/checkpoints) or put the files there.")


def default_data_root(profile: str) -> Path:
    """``data/SynthFashion`` for the cpu profile (the README's dataset), ``data/SynthFashion-<size>`` otherwise."""
    size = PROFILES[profile]["size"]
    return Path("data/SynthFashion" if size == "small" else f"data/SynthFashion-{size}")


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
    jobs: int = 0  # training processes on a CPU (0: auto, see default_jobs); CUDA always trains one run at a time
    imagenet: bool | None = None
    image_cache: ImageCache | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.profile not in PROFILES:
            raise ValueError(f"profile must be one of {', '.join(PROFILES)}, got {self.profile!r}")
        prof = PROFILES[self.profile]
        self.base_configs = tuple(self.base_configs or profile_configs(self.profile, "configs"))
        self.stage2_configs = tuple(self.stage2_configs or profile_configs(self.profile, "s2_configs"))
        wants_imagenet = bool(prof.get("imagenet"))
        if wants_imagenet and self.imagenet is None and self.pretrain_configs != ():
            from .backbones import imagenet_weights_available

            cfg = load_config(list(self.base_configs), ["model.local_branch=false"])
            ok, reason = imagenet_weights_available((cfg.model.backbone, cfg.model.local_backbone))
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
        if not PROFILES[self.profile].get("imagenet") or self.imagenet:
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
        no-zoom control, :data:`STAGE1_OF`), trained or not."""
        return self.stage2_config(method, seed,
                                  best_checkpoint(self.stage1_config(stage1_of(method), seed), self.runs_root))


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
    if cfg.model.pretrained not in ("", "none", "imagenet") and not start.exists() and not _finished(cfg, runs_root):
        raise FileNotFoundError(f"{cfg.name} starts from {start}, which does not exist yet: train that pre-training "
                                "run first (Protocol.ensure_pretrained(), or train_all with both configs)")
    if _finished(cfg, runs_root):
        if progress:
            print(f"reusing {run}")
    else:
        resume = (run / "checkpoints" / "last.pt").exists()
        fit = pretrain if cfg.train.stage == 0 else train
        own = {} if cfg.train.stage == 0 else {"image_cache": image_cache}  # pre-training keeps its own views
        # no last.pt: nothing resumable was kept of an earlier start in this folder (if any); it is replaced
        fit(cfg, run, device, resume=resume, progress=progress, files=files, overwrite=not resume, **own)
    return best_checkpoint(cfg, runs_root)


def usable_cores() -> int:
    """The CPU cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def default_jobs() -> int:
    """Training processes on a CPU: one per core, at most 4 (each keeps its own decoded-image cache, ~1.5 GB
    with SynthFashion small). Small models train faster as N one-thread processes than as one N-thread one
    (measured on 2 cores: about 1.8x the images per second)."""
    return max(1, min(4, usable_cores()))


def run_dir_of(cfg: Config, runs_root: Path) -> Path:
    """The run folder :func:`ensure_trained` uses for a config."""
    return Path(runs_root) / f"{cfg.name}-{cfg.hash()}"


def best_checkpoint(cfg: Config, runs_root: Path) -> Path:
    """Where a config's run keeps its best checkpoint (whether or not it has been trained yet)."""
    return run_dir_of(cfg, runs_root) / "checkpoints" / "best.pt"


def _finished(cfg: Config, runs_root: Path) -> bool:
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


_WORKER_CACHE: list[ImageCache] = []
"""In a worker process of :func:`train_all`: its decoded-image cache (set by :func:`_start_worker`), shared by
the runs it trains one after the other. Empty in any other process."""


def _start_worker(image_bytes: int, view_bytes: int) -> None:
    """Initialiser of a :func:`train_all` worker process: its own cache, of the protocol's sizes."""
    _WORKER_CACHE[:] = [ImageCache(image_bytes, view_bytes)]


def _train_job(cfg_dict: dict, runs_root: str, threads: int) -> str:
    """One training run in a worker process (quiet; ``threads`` torch threads; the worker's image cache)."""
    from .config import from_dict

    torch.set_num_threads(threads)
    cfg = from_dict(cfg_dict, source="asen reproduce")
    return str(ensure_trained(cfg, Path(runs_root), torch.device("cpu"), progress=False,
                              image_cache=_WORKER_CACHE[0] if _WORKER_CACHE else None))


def _schedule(todo: Sequence[Config], runs_root: Path) -> tuple[list[int], dict[int, set[int]]]:
    """The order to start ``todo`` in, and each config's dependencies (indices into ``todo``).

    A config depends on the configs whose best checkpoint it starts from (a stage-2 run's ``train.init_from``
    names its stage-1 run's ``best.pt``, a stage-1 run's ``model.pretrained`` a pre-training run's) and comes
    after them. Runs in such a chain come before independent
    runs, so that a stage-2 run can start as soon as its stage-1 run is done while independent runs fill the
    other processes; otherwise the order given is kept.
    """
    where = {str(best_checkpoint(c, runs_root)): k for k, c in enumerate(todo)}
    deps: dict[int, set[int]] = {}
    for k, c in enumerate(todo):
        srcs = {str(Path(f)) for f in (c.train.init_from, c.model.pretrained) if f not in ("", "none", "imagenet")}
        deps[k] = {where[f] for f in srcs if f in where}
    order: list[int] = []

    def place(k: int) -> None:
        if k not in order:
            for d in sorted(deps[k]):
                place(d)
            order.append(k)

    for k in range(len(todo)):
        place(k)
    chained = {k for k, d in deps.items() if d} | {d for ds in deps.values() for d in ds}
    return sorted(order, key=lambda k: k not in chained), deps  # stable: dependencies stay first


def train_all(protocol: Protocol, configs: Sequence[Config], desc: str = "training") -> None:
    """Make sure every config has a finished run, training the missing ones ``protocol.jobs`` at a time.

    A config that starts from another one's best checkpoint (``train.init_from``, e.g. a stage-2 run after its
    stage-1 run) is trained after it; runs start as soon as a process is free, in the order of
    :func:`_schedule`, so a stage-2 run can use a core that would otherwise wait for the last stage-1 run.

    On CUDA, or with one job, runs train one after the other in this process (with progress bars). On a CPU
    with several jobs each run trains in its own process with ``cores // jobs`` threads; a run's result does
    not depend on which process trained it, except for the floating-point summation order of the thread
    count (CPU training is reproducible for a given thread count).
    """
    unique = list({c.hash() + c.name: c for c in configs}.values())
    pre = protocol.pretrain_config()
    if pre is not None and any(c.model.pretrained == str(best_checkpoint(pre, protocol.runs_root)) for c in unique):
        unique = [c for c in unique if c.train.stage != 0 or c.hash() != pre.hash()]
        protocol.ensure_pretrained()  # every other run waits for it: first, in this process, with all threads
    todo = [c for c in unique if not _finished(c, protocol.runs_root)]
    if not todo:
        return
    order, deps = _schedule(todo, protocol.runs_root)
    jobs = protocol.jobs or default_jobs()
    if protocol.device.type != "cpu" or jobs <= 1 or len(todo) == 1:
        for k in order:
            ensure_trained(todo[k], protocol.runs_root, protocol.device, progress=protocol.progress,
                           image_cache=protocol.image_cache)
        return
    jobs = min(jobs, len(todo))
    threads = max(1, torch.get_num_threads() // jobs)
    import multiprocessing as mp

    from tqdm import tqdm

    done: set[int] = set()
    waiting = list(order)
    sizes = (protocol.image_cache.images.max_bytes, protocol.image_cache.views.max_bytes)
    with ProcessPoolExecutor(max_workers=jobs, mp_context=mp.get_context("spawn"), initializer=_start_worker,
                             initargs=sizes) as pool:
        bar = tqdm(total=len(todo), desc=f"{desc}: {len(todo)} runs, {jobs} processes x {threads} thread(s)",
                   disable=not protocol.progress)
        running: dict = {}

        def submit_ready() -> None:
            for k in [k for k in waiting if deps[k] <= done][: jobs - len(running)]:
                waiting.remove(k)
                running[pool.submit(_train_job, todo[k].to_dict(), str(protocol.runs_root), threads)] = k

        submit_ready()
        while running:
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for fut in finished:
                k = running.pop(fut)
                cfg = todo[k]
                try:
                    fut.result()
                except Exception as exc:
                    raise RuntimeError(f"training {cfg.name} failed in a worker process ({exc}); its run folder is "
                                       f"{run_dir_of(cfg, protocol.runs_root)}") from exc
                done.add(k)
                bar.set_postfix_str(cfg.name)
                bar.update()
            submit_ready()
        bar.close()


def _stats(values: Sequence[float]) -> dict[str, Any]:
    arr = np.asarray(values, dtype=float)
    return {"mean": float(arr.mean()), "std": float(arr.std(ddof=1)) if len(arr) > 1 else 0.0,
            "values": [float(v) for v in arr]}


def aggregate(tables: Sequence[MapTable]) -> dict[str, Any]:
    """Mean +- std over seeds of overall and per-attribute MAP (with and without Invisible)."""
    attrs = [a for a in tables[0].attributes if a in tables[0].per_attribute]
    out = {
        "overall": _stats([t.overall for t in tables]),
        "per_attribute": {a: _stats([t.per_attribute[a] for t in tables]) for a in attrs},
        "queries": tables[0].queries,
    }
    if tables[0].overall_visible is not None:
        out["overall_without_invisible"] = _stats([t.overall_visible for t in tables])
        out["per_attribute_without_invisible"] = {
            a: _stats([t.per_attribute_visible[a] for t in tables]) for a in attrs if a in tables[0].per_attribute_visible}
    return out


def evaluate_checkpoint(ckpt: Path, files: SplitFiles, device: torch.device, split: str = "test",
                        progress: bool = True, overrides: Sequence[str] = (), betas: tuple[float, ...] = (),
                        image_cache: ImageCache | None = None) -> dict:
    """Evaluate a trained run's best checkpoint on a split (eval-time overrides such as eval.beta allowed;
    ``image_cache``: the caller's decoded-image cache, see :func:`asen.evaluate.evaluate`)."""
    model, cfg, _ = load_model(ckpt, device)
    check_attribute_count(model.num_attributes, ckpt, files.meta.num_attributes, files.root)
    cfg = cfg.with_overrides(overrides)
    with torch.inference_mode():
        return evaluate(model, files, cfg, device, split=split, progress=progress, betas=betas,
                        image_cache=image_cache)


def random_table(files: SplitFiles, seed: int, split: str = "test", dim: int = 128) -> MapTable:
    """The Random-embeddings baseline on a split."""
    q, c = files.queries[split], files.candidates[split]
    return map_table(files.meta, random_features(len(q), dim, 2 * seed), random_features(len(c), dim, 2 * seed + 1), q, c)


def stage1_methods(methods: Sequence[str] = MAIN_METHODS) -> list[str]:
    """The stage-1 runs (method keys) that main-table ``methods`` need, in order: Random needs none, and ASEN++
    continues the stage-1 run of its global branch (``"asen"``)."""
    return list(dict.fromkeys(stage1_of(m) for m in methods if m != "random"))


def main_table_seeds_of(seeds: Sequence[int], methods: Sequence[str] = MAIN_METHODS,
                        method_seeds: dict[str, Sequence[int]] | None = None) -> dict[str, list[int]]:
    """Each row's seeds as :func:`run_main_table` takes them: ``method_seeds`` where it names the row, else
    ``seeds``."""
    return {m: list((method_seeds or {}).get(m, seeds)) for m in methods}


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
    """The training runs :func:`run_ablations` needs: both stages of ASEN++, w/o ASA and w/o ACA, and the
    no-zoom control's stage 2 (after ASEN++'s stage-1 run), for each seed."""
    runs = [c for m in ("asen", "no_asa", "no_aca") for s in seeds
            for c in (protocol.stage1_config(m, s), protocol.stage2_config_after_stage1(m, s))]
    return runs + [protocol.stage2_config_after_stage1("no_zoom", s) for s in seeds]


def trained_seeds(protocol: Protocol, method: str, seeds: Sequence[int]) -> list[int]:
    """The ``seeds`` for which ``method``'s main-table runs (its stage-1 run, and for ``"asenpp"`` the stage-2
    run after it) have finished under ``protocol.runs_root``; every seed for ``"random"``."""
    return [s for s in seeds
            if all(_finished(c, protocol.runs_root) for c in main_table_runs(protocol, {method: [s]}))]


def run_main_table(protocol: Protocol, seeds: Sequence[int], methods: Sequence[str] = MAIN_METHODS,
                   method_seeds: dict[str, Sequence[int]] | None = None) -> dict[str, Any]:
    """Train (or reuse) and evaluate every method for every seed. Returns the results dict.

    Args:
        protocol: data, runs folder, profile and device.
        seeds: training seeds of every method.
        methods: rows of the table (keys of :data:`METHOD_LABELS`), in order.
        method_seeds: seeds for some methods instead of ``seeds`` (e.g. the book trains the AAAI rows for one
            seed on the cpu profile); the results record them under ``"method_seeds"`` and the markdown caption
            names them.
    """
    files = load_split_files(protocol.data_root)
    per_method: dict[str, list[MapTable]] = {m: [] for m in methods}
    own = main_table_seeds_of(seeds, methods, method_seeds)
    if any(not s for s in own.values()):
        raise ValueError(f"every method needs at least one seed, got {own}")
    timings: dict[str, float] = {}
    t_train = time.time()
    train_all(protocol, main_table_runs(protocol, own), "training")
    timings["training"] = time.time() - t_train
    for seed in dict.fromkeys(s for m in methods for s in own[m]):
        stage1: dict[str, Path] = {}
        for method in methods:
            if seed not in own[method]:
                continue
            t0 = time.time()
            if method == "random":
                per_method[method].append(random_table(files, seed))
                continue
            base = stage1_of(method)
            if base not in stage1:
                stage1[base] = ensure_trained(protocol.stage1_config(base, seed), protocol.runs_root, protocol.device,
                                              files, protocol.progress)
            ckpt = stage1[base]
            if method == "asenpp":
                ckpt = ensure_trained(protocol.stage2_config("asen", seed, stage1[base]), protocol.runs_root,
                                      protocol.device, files, protocol.progress)
            per_method[method].append(evaluate_checkpoint(ckpt, files, protocol.device, progress=protocol.progress,
                                                          image_cache=protocol.image_cache)["main"])
            timings[method] = timings.get(method, 0.0) + time.time() - t0
    out = {
        "dataset": files.meta.name, "split": "test", "seeds": list(seeds), "profile": protocol.profile,
        "attributes": list(files.meta.attributes),
        "methods": {m: {"label": METHOD_LABELS[m], "seeds": own[m], **aggregate(per_method[m])} for m in methods},
        "seconds": timings,
        "protocol": protocol_caption(protocol),
    }
    fewer = {m: s for m, s in own.items() if s != list(seeds)}
    if fewer:
        out["method_seeds"] = fewer
    return out


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


def paired_gap(results: dict[str, Any], a: str, b: str, key: str = "overall") -> dict[str, Any]:
    """Method ``b`` minus method ``a`` of a results dict, paired by seed: each seed trained both, so the
    difference is taken per seed, then its mean and standard error over the seeds both rows have.

    Returns:
        ``{"from", "to", "seeds", "mean", "se", "clear"}``; ``se`` is NaN with one common seed, and ``clear``
        says whether ``|mean| > 2 se`` (never with one seed).
    Raises:
        ValueError: the two rows share no seed.
    """
    def by_seed(m: str) -> dict[int, float]:
        row = results["methods"][m]
        return dict(zip(row.get("seeds", results["seeds"]), row[key]["values"]))

    va, vb = by_seed(a), by_seed(b)
    common = [s for s in vb if s in va]
    if not common:
        raise ValueError(f"{a} and {b} share no seed ({sorted(va)} vs {sorted(vb)}): no paired gap")
    d = np.array([vb[s] - va[s] for s in common])
    se = float(d.std(ddof=1) / np.sqrt(len(d))) if len(d) > 1 else float("nan")
    return {"from": a, "to": b, "seeds": common, "mean": float(d.mean()), "se": se,
            "clear": bool(len(d) > 1 and abs(d.mean()) > 2 * se)}


REFERENCE_DIR = Path(__file__).resolve().parent.parent / "reference_results"
"""The tracked reference tables of a source checkout (absent from an installed wheel)."""


def load_reference(stem: str, results: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """The tracked reference table ``reference_results/synthfashion_<stem>.json`` (``main_table``,
    ``ablations``), or None when this is not a source checkout or, given ``results``, when the reference was
    measured on another dataset, profile or protocol (so the two are not comparable)."""
    path = REFERENCE_DIR / f"synthfashion_{stem}.json"
    if not path.is_file():
        return None
    ref = json.loads(path.read_text())
    if results is not None and any(ref.get(k) != results.get(k) for k in ("dataset", "profile", "protocol")):
        return None
    return ref


def reference_comparison(results: dict[str, Any], reference: dict[str, Any]) -> list[dict[str, Any]]:
    """Per method present in both: this run's overall mean and the reference's, and the difference
    (``{"method", "label", "ours", "reference", "diff", "ref_std"}``)."""
    rows = []
    for m, row in results["methods"].items():
        ref = reference["methods"].get(m)
        if ref is None:
            continue
        ours, theirs = row["overall"]["mean"], ref["overall"]["mean"]
        rows.append({"method": m, "label": row["label"], "ours": ours, "reference": theirs, "diff": ours - theirs,
                     "ref_std": ref["overall"]["std"]})
    return rows


def format_stat(stat: dict[str, Any] | None) -> str:
    """``mean ± std`` of an :func:`aggregate` statistic (the mean alone for one seed; ``–`` for none)."""
    if stat is None:
        return "–"
    return f"{stat['mean']:.2f} ± {stat['std']:.2f}" if len(stat["values"]) > 1 else f"{stat['mean']:.2f}"


def markdown_table(results: dict[str, Any], title: str) -> str:
    """The main table as markdown: methods x (attributes, overall, overall w/o Invisible)."""
    attrs = results["attributes"]
    head = ["method", *attrs, "overall", "overall w/o Invisible"]
    lines = [f"### {title}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for key, res in results["methods"].items():
        cells = [res["label"], *(format_stat(res["per_attribute"].get(a)) for a in attrs), format_stat(res["overall"]),
                 format_stat(res.get("overall_without_invisible"))]
        lines.append("| " + " | ".join(cells) + " |")
    seeds = results["seeds"]
    fewer = "".join(f" {results['methods'][m]['label']}: seed(s) {s} only (no spread when one)."
                    for m, s in (results.get("method_seeds") or {}).items() if m in results["methods"])
    lines += ["", f"MAP (%) on the {results['split']} split of {results['dataset']}, mean ± std over "
              f"{len(seeds)} seed(s) {seeds}.{fewer} {results['protocol']}"]
    return "\n".join(lines)


def write_results(results: dict[str, Any], out_dir: Path, stem: str, title: str) -> tuple[Path, Path]:
    """Write ``<stem>.json`` and ``<stem>.md`` into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json(out_dir / f"{stem}.json", results)
    md = out_dir / f"{stem}.md"
    md.write_text(markdown_table(results, title) + "\n")
    return out_dir / f"{stem}.json", md


ABLATION_ROWS = ("asenpp", "no_asa", "no_aca", "global_only", "local_only", "no_zoom", "asen")
"""Rows of :func:`run_ablations`, in order: ASEN++ and its ablations, then the stage-1 model both stage-2 runs
start from (``"asen"``, the reference the zoom's gain is measured against)."""


def attribute_groups(attributes: Sequence[str]) -> dict[str, list[str]]:
    """FashionAI's two kinds of attribute, in the given order: ``"length"`` (``*_length``, read from the
    silhouette) and ``"design"`` (the others, read from a small region)."""
    length = [a for a in attributes if a.endswith("_length")]
    return {"length": length, "design": [a for a in attributes if a not in length]}


def zoom_gains(results: dict[str, Any]) -> dict[str, dict[str, float]]:
    """What the zoom adds, from an ablation (or main-table) results dict holding ``"asen"`` (the stage-1 global
    branch) and ``"asenpp"`` (and ``"no_zoom"`` when present): per row, its mean MAP minus the stage-1 model's,
    averaged over the design attributes and over the length attributes (``{"design": .., "length": ..}``; None
    for a group the dataset does not have)."""
    res, groups = results["methods"], attribute_groups(results["attributes"])

    def gain(m: str, names: list[str]) -> float | None:
        return float(np.mean([res[m]["per_attribute"][a]["mean"] - res["asen"]["per_attribute"][a]["mean"]
                              for a in names])) if names else None

    return {m: {g: gain(m, names) for g, names in groups.items()} for m in ("asenpp", "no_zoom") if m in res}


def run_ablations(protocol: Protocol, seeds: Sequence[int], betas: Sequence[float] = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0),
                  thresholds: Sequence[float] = (0.0, 0.1, 0.3, 0.5, 0.7)) -> dict[str, Any]:
    """ASEN++ without ASA, without ACA, global only, local only, without the zoom, its stage-1 model, and sweeps
    of beta and the crop threshold.

    "Without the zoom" is a control trained for it: the same stage 2 with crop threshold 0 in training and test,
    so the local branch sees the whole image at the crop size (no pixels the global input lacks beyond the
    resolution). The sweeps are evaluation-time (the same trained ASEN++, other beta / test crop threshold).
    """
    files = load_split_files(protocol.data_root)
    tables: dict[str, list[MapTable]] = {k: [] for k in ABLATION_ROWS}
    beta_curve: dict[float, list[float]] = {b: [] for b in betas}
    thr_curve: dict[float, list[float]] = {t: [] for t in thresholds}
    train_all(protocol, ablation_runs(protocol, seeds), "training")
    for seed in seeds:
        ckpts, stage1 = {}, {}
        for method in ("asen", "no_asa", "no_aca", "no_zoom"):
            base = stage1_of(method)
            if base not in stage1:
                stage1[base] = ensure_trained(protocol.stage1_config(base, seed), protocol.runs_root, protocol.device,
                                              files, protocol.progress)
            ckpts[method] = ensure_trained(protocol.stage2_config(method, seed, stage1[base]), protocol.runs_root,
                                           protocol.device, files, protocol.progress)
        cache = protocol.image_cache
        res = evaluate_checkpoint(ckpts["asen"], files, protocol.device, progress=protocol.progress, betas=tuple(betas),
                                  image_cache=cache)
        tables["asenpp"].append(res["fused"])
        tables["global_only"].append(res["global"])
        tables["local_only"].append(res["local"])
        for b in betas:
            beta_curve[b].append(res["beta"][b])
        for method in ("no_asa", "no_aca", "no_zoom"):
            tables[method].append(evaluate_checkpoint(ckpts[method], files, protocol.device,
                                                      progress=protocol.progress, image_cache=cache)["main"])
        tables["asen"].append(evaluate_checkpoint(stage1["asen"], files, protocol.device,
                                                  progress=protocol.progress, image_cache=cache)["main"])
        for thr in thresholds:
            r = evaluate_checkpoint(ckpts["asen"], files, protocol.device, progress=protocol.progress,
                                    overrides=[f"eval.crop_threshold={thr}"], image_cache=cache)
            thr_curve[thr].append(r["main"].overall)
    methods = {k: {"label": METHOD_LABELS[k], **aggregate(v)} for k, v in tables.items()}
    return {
        "dataset": files.meta.name, "split": "test", "seeds": list(seeds), "profile": protocol.profile,
        "attributes": list(files.meta.attributes),
        "methods": methods,
        "beta_sweep": {str(b): _stats(v) for b, v in beta_curve.items()},
        "threshold_sweep": {str(t): _stats(v) for t, v in thr_curve.items()},
        "zoom_gains": zoom_gains({"methods": methods, "attributes": list(files.meta.attributes)}),
        "protocol": protocol_caption(protocol) + " Sweeps vary beta and the test-time crop threshold of the same "
                                                 "trained ASEN++.",
    }


def plot_ablations(results: dict[str, Any], path: Path) -> Path:
    """Two panels: MAP against beta, MAP against the crop threshold (mean +- std over seeds)."""
    from matplotlib.figure import Figure  # no pyplot: leaves the caller's backend and figures alone

    fig = Figure(figsize=(10, 3.8))
    axes = fig.subplots(1, 2)
    for ax, key, xlabel in ((axes[0], "beta_sweep", "β (weight of the global branch)"),
                            (axes[1], "threshold_sweep", "crop threshold (test time)")):
        xs = [float(k) for k in results[key]]
        mean = np.array([v["mean"] for v in results[key].values()])
        std = np.array([v["std"] for v in results[key].values()])
        ax.plot(xs, mean, marker="o", label="ASEN++")
        ax.fill_between(xs, mean - std, mean + std, alpha=0.2)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("test MAP (%)")
        ax.grid(alpha=0.3)
        ax.legend()
    axes[0].set_title("Fusion weight β")
    axes[1].set_title("Zoom-in crop threshold")
    fig.suptitle(f"ASEN++ ablations on {results['dataset']} ({len(results['seeds'])} seed(s))")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    return path


def split_items(protocol: Protocol, split: str) -> int:
    """Items a pass over ``split`` embeds (its query and candidate lines): counted in the data folder, else
    the profile's SynthFashion size (the data is generated later)."""
    files = [protocol.data_root / f"{kind}_{split}.txt" for kind in ("query", "candidate")]
    if all(f.exists() for f in files):
        return sum(sum(1 for line in f.read_text().splitlines() if line.strip()) for f in files)
    from .synth.layout import SIZES

    spec = SIZES[PROFILES[protocol.profile]["size"]]
    return getattr(spec, f"{split}_queries") + getattr(spec, f"{split}_candidates")


def plan_runs(protocol: Protocol, seeds: Sequence[int], main: bool = True, ablations: bool = False,
              rate: float | None = None) -> list[dict]:
    """Every training run ``asen reproduce`` would need, in training order, without training anything.

    Args:
        protocol: data, runs folder and profile.
        seeds: training seeds.
        main: the main table's runs; ablations: the ablations' runs.
        rate: achieved FLOP/s of the current device (:func:`asen.estimate.measure_rate`), for ``seconds``.
    Returns:
        One dict per run: ``name``, ``stage``, ``head``, ``backbone``, ``local_backbone`` (stage 2), ``global_size``,
        ``local_size`` (stage 2), ``steps``, ``images_per_step``, ``flops`` (its steps and validation passes,
        :func:`asen.estimate.run_flops`), ``seconds`` (``flops / rate``; None without ``rate``), ``t4_seconds``
        (:func:`asen.estimate.t4_seconds`) and ``trained`` (a finished run is reused).
    """
    from .estimate import images_per_step, run_flops, steps_per_epoch, t4_seconds

    configs: list[Config] = []
    pre = protocol.pretrain_config()
    if pre is not None:
        configs.append(pre)
    if main:
        configs += main_table_runs(protocol, {m: seeds for m in MAIN_METHODS})
    if ablations:
        configs += ablation_runs(protocol, seeds)
    valid = split_items(protocol, "valid")
    out, seen = [], set()
    for c in configs:
        if (c.name, c.hash()) in seen:
            continue
        seen.add((c.name, c.hash()))
        d, m, t = c.data, c.model, c.train
        flops = run_flops(c, valid)
        out.append({"name": c.name, "stage": t.stage, "head": m.head if t.stage else "-", "backbone": m.backbone,
                    "local_backbone": m.local_backbone if m.local_branch else None, "global_size": d.global_size,
                    "local_size": d.local_size if m.local_branch else None, "steps": t.epochs * steps_per_epoch(c),
                    "images_per_step": images_per_step(c), "flops": flops,
                    "seconds": flops / rate if rate else None, "t4_seconds": t4_seconds(flops, t.amp, t.stage),
                    "trained": _finished(c, protocol.runs_root)})
    return out


def evaluation_flops(protocol: Protocol, seeds: Sequence[int], main: bool, ablations: bool) -> tuple[float, float]:
    """FLOPs of the tables' test-split passes (:func:`asen.estimate.table_evaluations`) and their T4 seconds."""
    from .estimate import flops_per_image, t4_seconds, table_evaluations

    test = split_items(protocol, "test")
    s1 = protocol.stage1_config("asen", seeds[0])
    s2 = protocol.stage2_config("asen", seeds[0], Path("stage1.pt"))
    flops = t4 = 0.0
    for stage, count in table_evaluations(seeds, main, ablations).items():
        cfg = s1 if stage == 1 else s2
        f = count * test * flops_per_image(cfg)["extract"]
        flops += f
        t4 += t4_seconds(f, "none", stage)  # extraction runs in fp32 (asen.evaluate has no autocast)
    return flops, t4


def _minutes(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds / 60:.1f}"


def format_plan(runs: list[dict], device: str | None = None, rate: float | None = None,
                evaluation: tuple[float, float] | None = None, t4: bool = False) -> str:
    """A plain-text table of :func:`plan_runs`: networks, input sizes, steps, training FLOPs, estimated minutes
    on the current device (``device``, measured at ``rate`` FLOP/s) and, with ``t4``, on a T4; then the totals
    (runs and images still to train; with ``evaluation``, the tables' test passes, :func:`evaluation_flops`)."""
    head = (f"{'run':<24} {'stage':>5} {'head':<10} {'networks':<26} {'px':>9} {'steps':>6} {'img/step':>8} "
            f"{'PFLOP':>7} {'min here':>8}" + (f" {'min T4':>7}" if t4 else "") + "  status")
    lines = [head, "-" * len(head)]
    todo = 0
    left = {"flops": 0.0, "here": 0.0, "t4": 0.0}
    for r in runs:
        nets = r["backbone"] + (f" + {r['local_backbone']}" if r["local_backbone"] else "")
        px = f"{r['global_size']}" + (f"/{r['local_size']}" if r["local_size"] else "")
        lines.append(f"{r['name']:<24} {r['stage']:>5} {r['head']:<10} {nets:<26} {px:>9} {r['steps']:>6} "
                     f"{r['images_per_step']:>8} {r['flops'] / 1e15:>7.3f} {_minutes(r['seconds']):>8}"
                     + (f" {_minutes(r['t4_seconds']):>7}" if t4 else "")
                     + f"  {'trained' if r['trained'] else 'to train'}")
        if not r["trained"]:
            todo += r["steps"] * r["images_per_step"]
            left["flops"] += r["flops"]
            left["here"] += r["seconds"] or 0.0
            left["t4"] += r["t4_seconds"]
    lines.append(f"{sum(not r['trained'] for r in runs)} of {len(runs)} runs to train, "
                 f"{todo:,} training images in all, {left['flops'] / 1e15:.2f} PFLOP (steps and validation passes)")
    if rate:
        lines.append(f"estimated training time on this device ({device}, {rate / 1e12:.3g} TFLOP/s measured on one "
                     f"training step): {left['here'] / 60:.1f} min")
    if t4:
        from .estimate import T4, T4_SHARE

        lines.append(f"estimated training time on a T4 ({T4.fp16_tflops:g} TFLOP/s fp16 / {T4.fp32_tflops:g} fp32 "
                     f"peak, assumed {T4_SHARE['fp16']:.0%} / {T4_SHARE['fp32']:.0%} of it, asen.estimate): "
                     f"{left['t4'] / 60:.1f} min")
        if evaluation is not None:
            lines.append(f"the tables' test-split passes: {evaluation[0] / 1e15:.2f} PFLOP, {evaluation[1] / 60:.1f} "
                         f"min on a T4; with training: {(left['t4'] + evaluation[1]) / 60:.1f} min")
    return "\n".join(lines)


CPU_RATE_STEP_FLOP = 20e9
"""A CPU times a step of at most this many FLOPs (about a second): the cpu profile's whole 96-image step; for the
paper's networks a few images (a small batch runs below a full one's rate, so that estimate errs long)."""


def device_rate(protocol: Protocol, seeds: Sequence[int]) -> float:
    """Achieved FLOP/s of the current device on one training step of the plan's first stage-1 run (a CPU times a
    step of at most :data:`CPU_RATE_STEP_FLOP`: the whole batch of the cpu profile, a few images of the paper's
    networks)."""
    from .estimate import flops_per_image, measure_rate

    cfg = protocol.stage1_config("asen", seeds[0])
    cap = None
    if protocol.device.type == "cpu":
        cap = max(9, int(CPU_RATE_STEP_FLOP // flops_per_image(cfg)["train"]))
    return measure_rate(cfg, protocol.device, max_images=cap)


def machine_info() -> dict[str, Any]:
    """Where a table was measured: CPU (model, AVX-512, oneDNN cap), usable cores, torch version, GPU if any."""
    from . import cpu

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {**cpu.describe(), "cores": usable_cores(), "torch": torch.__version__, "gpu": gpu,
            "date": time.strftime("%Y-%m-%d")}


def main_cli(args) -> int:
    """``asen reproduce``: generate SynthFashion if needed, train, evaluate, write tables."""
    from .runs import resolve_device

    prof = PROFILES[args.profile]
    data_root = Path(args.data or default_data_root(args.profile))
    if (not (data_root / "meta.json").exists() or args.generate) and not args.plan:
        from . import synth

        synth.generate_dataset(data_root, size=prof["size"], seed=args.data_seed, progress=not args.quiet)
    seeds = tuple(args.seeds) if args.seeds else prof["seeds"]
    protocol = Protocol(data_root=data_root, runs_root=Path(args.runs), device=resolve_device(args.device),
                        profile=args.profile, extra_overrides=tuple(args.overrides), progress=not args.quiet,
                        jobs=args.jobs, **({"pretrain_configs": ()} if args.no_pretrain else {}))
    if args.plan:
        main, abl = not args.ablations_only, args.ablations or args.ablations_only
        rate = device_rate(protocol, seeds)
        where = torch.cuda.get_device_name(protocol.device) if protocol.device.type == "cuda" else \
            f"{machine_info()['cpu']}, {torch.get_num_threads()} threads"
        gpu = args.profile == "gpu"
        print(format_plan(plan_runs(protocol, seeds, main=main, ablations=abl, rate=rate), where, rate,
                          evaluation_flops(protocol, seeds, main, abl) if gpu else None, t4=gpu))
        return 0
    out = Path(args.out)
    t0 = time.time()
    if not args.ablations_only:
        res = run_main_table(protocol, seeds)
        res["wall_seconds"] = round(time.time() - t0, 1)
        res["machine"] = machine_info()
        j, md = write_results(res, out, "main_table", f"Main comparison on {res['dataset']}")
        print(md.read_text())
        print(f"wrote {j} and {md}")
    if args.ablations or args.ablations_only:
        t1 = time.time()
        abl = run_ablations(protocol, seeds)
        abl["wall_seconds"] = round(time.time() - t1, 1)
        abl["machine"] = machine_info()
        j, md = write_results(abl, out, "ablations", f"Ablations on {abl['dataset']}")
        png = plot_ablations(abl, out / "ablations.png")
        print(md.read_text())
        print("β sweep:", {k: round(v["mean"], 2) for k, v in abl["beta_sweep"].items()})
        print("threshold sweep:", {k: round(v["mean"], 2) for k, v in abl["threshold_sweep"].items()})
        print(f"wrote {j}, {md} and {png}")
    print(f"total {time.time() - t0:.0f} s")
    return 0


def add_arguments(p) -> None:
    p.add_argument("--profile", choices=sorted(PROFILES), default="cpu",
                   help="smoke (tiny data, 1 seed, minutes), cpu (small data, 3 seeds, the README's table: 45 min "
                        "on a 2-core AMD EPYC; recommended), gpu (the paper's ResNet-50 / ResNet-34 at 224 / 112 px "
                        "from ImageNet weights on the same data, sized for a Colab T4; see --plan)")
    p.add_argument("--data", help="SynthFashion folder (default data/SynthFashion for cpu, data/SynthFashion-<size> otherwise); "
                                  "generated when missing")
    p.add_argument("--data-seed", type=int, default=0, help="seed of the generated dataset (default 0)")
    p.add_argument("--generate", action="store_true", help="(re)generate the dataset even if present")
    p.add_argument("--seeds", type=int, nargs="+", help="training seeds (default: the profile's, 0 1 2 for cpu)")
    p.add_argument("--runs", default="runs/synthfashion", help="run folders; finished runs are reused by config hash")
    p.add_argument("--out", default="results/synthfashion", help="where the tables (.json, .md) go")
    p.add_argument("--ablations", action="store_true", help="also run the ablations (w/o ASA, w/o ACA, β, threshold)")
    p.add_argument("--ablations-only", action="store_true", help="only the ablations")
    p.add_argument("--set", "-s", action="append", default=[], dest="overrides", metavar="KEY=VALUE",
                   help="override a config value for every run, e.g. --set data.num_workers=2")
    p.add_argument("--device", default="auto", help="auto (CUDA when available), cpu or cuda")
    p.add_argument("--jobs", "-j", type=int, default=0,
                   help="runs trained at once on a CPU, each in its own process (default 0: one per core, at most "
                        "4; 1: one after the other in this process). Ignored on CUDA")
    p.add_argument("--no-pretrain", action="store_true",
                   help="train every backbone from scratch instead of from the shared self-supervised pre-training "
                        "run (synthfashion_cpu_pretrain, the stand-in for ImageNet weights)")
    p.add_argument("--plan", action="store_true",
                   help="print every run the profile needs (method, seed, stage, networks, input sizes, steps, "
                        "images a step, FLOPs, estimated minutes on this device from one timed training step and, "
                        "for gpu, on a T4; whether it is already trained) and exit without training")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
