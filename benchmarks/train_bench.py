"""Training and feature-extraction throughput of the ASEN / ASEN++ model (ASEN++ Sec. III-D, IV-B).

Two configurations:

* ``cpu``: the project's shipped CPU protocol, loaded by name (``synthfashion_cpu``, + ``synthfashion_cpu_s2``
  for stage 2), so whatever it says (``resnet_tiny`` backbones and their width, global / local sizes from
  224 px originals, the in-batch sampler and its images per step, the memory format) is what is timed;
* ``paper``: ASEN++'s FashionAI configuration (``fashionai_s1`` / ``fashionai_s2``) - ResNet-50 global and
  ResNet-34 local backbones (random init here: no downloads), 224 / 112 px, 16 random triplets = 48 images
  (``data.batch_size`` changes the batch, e.g. 128 triplets = 384 images for the ``paper_large`` GPU setting).

Only what a benchmark needs is overridden (:data:`BENCH_OVERRIDES`): the data root, no loader workers, no
image cache and, for ``paper``, no ImageNet weights.

Steps run :func:`asen.train.compute_loss` + backward + an Adam step on batches built beforehand from a toy
dataset of 224 px images (so image decoding does not dominate); variants of one comparison are timed in
interleaved repeats (A B A B ...) so that background load hits both alike. :func:`e2e_train` times the whole
:func:`asen.train.train` loop (data loading included) for one short epoch.
"""
from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from asen.config import Config, load_config
from asen.data import ImageSet, collate_images, load_split_files
from asen.model import build_model
from asen.roi import local_inputs
from asen.train import compute_loss, make_optimizer, make_sampler, train

from .common import PeakMemory, count_flops, summary, sync

# the shipped configs of each setting: stage 1, then what stage 2 merges on top
CONFIGS = {"cpu": (["synthfashion_cpu"], ["synthfashion_cpu_s2"]), "paper": (["fashionai_s1"], ["fashionai_s2"])}
# what a benchmark changes, and nothing else: no loader workers (batches are built beforehand), no image cache
BENCH_OVERRIDES: dict[str, Any] = {"data.num_workers": 0, "data.cache_images": False}
# the paper's backbones start from ImageNet weights: random init here (no downloads); the CPU protocol has none
PAPER_OVERRIDES = {"model.pretrained": "none", "model.local_pretrained": "none"}


def setting_base(setting: str) -> str:
    """The configuration a benchmark setting uses: ``paper`` for ``paper`` and ``paper_*`` (e.g. ``paper_large``,
    a larger batch), ``cpu`` for ``cpu``."""
    base = "paper" if setting == "paper" or setting.startswith("paper_") else setting
    if base not in CONFIGS:
        raise ValueError(f"setting must be 'cpu', 'paper' or 'paper_*', got {setting!r}")
    return base


def make_config(setting: str, stage: int, root: str | Path, **extra: Any) -> Config:
    """The ``cpu`` or ``paper`` (``paper_*``) configuration of one stage on the dataset at ``root``: the shipped
    configs by name (:data:`CONFIGS`), :data:`BENCH_OVERRIDES`, then the dotted ``extra`` overrides."""
    base = setting_base(setting)
    if stage not in (1, 2):
        raise ValueError(f"stage must be 1 or 2, got {stage!r}")
    s1, s2 = CONFIGS[base]
    files = s1 + (s2 if stage == 2 else [])
    over = dict(BENCH_OVERRIDES)
    if base == "paper":
        over.update(PAPER_OVERRIDES)
        # only a few batches are drawn: keep the sampler's epoch short
        over["data.num_triplets"] = 8 * int(extra.get("data.batch_size", 16))
    if stage == 2:  # the shipped stage-2 configs say so already; kept for configs that do not
        over.update({"model.local_branch": True, "train.stage": 2})
    over.update({"data.root": str(root), **extra})
    return load_config(files, over)


def make_dataset(root: str | Path, n_train: int = 128, size: int = 224) -> Path:
    """A toy dataset (:mod:`asen.toydata`) of ``size`` px images, small valid/test splits."""
    from asen.toydata import make_toy_dataset  # noqa: PLC0415

    return make_toy_dataset(root, n_train=n_train, n_query=8, n_cand=16, size=size)


def image_attributes(meta: dict) -> np.ndarray:
    """One attribute per image of a batch (the random sampler gives one per triplet)."""
    return np.asarray(meta["attributes"]) if "values" in meta else np.tile(meta["attributes"], 3)


def build_batches(cfg: Config, n_batches: int, keep_original: bool) -> list[tuple[dict, dict]]:
    """``n_batches`` (batch, sampler meta) pairs of the config's sampler, collated in memory."""
    files = load_split_files(cfg.data.root, ("train",))
    sampler = make_sampler(cfg, files)
    images = ImageSet(files.root, files.filenames["train"], cfg.data.global_size, keep_original=keep_original)
    out = []
    for epoch in range(n_batches):
        for meta in sampler.epoch(epoch):
            out.append((collate_images([images[int(i)] for i in meta["images"]]), meta))
            if len(out) == n_batches:
                return out
    return out


def _autocast(device: torch.device, amp: str):
    if amp == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return torch.autocast(device_type=device.type, enabled=False)


def _train_step(model: torch.nn.Module, opt: torch.optim.Optimizer, cfg: Config, batch: dict, meta: dict,
                device: torch.device, amp: str) -> float:
    with _autocast(device, amp):
        loss, _ = compute_loss(model, batch, meta, cfg, device)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return float(loss.detach())


def train_throughput(variants: dict[str, tuple[Config, str]], batches: list[tuple[dict, dict]],
                     device: str | torch.device, steps: int, warmup: int, repeats: int, num_attributes: int = 2,
                     seed: int = 0) -> dict[str, dict[str, Any]]:
    """Training images/second of several variants on the same batches, interleaved repeats.

    Args:
        variants: ``{name: (config, amp)}``; ``amp`` is ``"none"`` or ``"bf16"`` (CUDA autocast).
        batches: from :func:`build_batches` (cycled).
        device: where to train.
        steps: optimizer steps per timed repeat.
        warmup: untimed steps first (the peak memory is measured over model creation and these).
        repeats: timed repeats per variant.
    Returns:
        ``{name: {"images_per_s": median, "repeats", "steps", "times_s", "peak_rss_mb", "peak_cuda_mb", ...}}``.
    """
    device = torch.device(device)
    state: dict[str, Any] = {}
    out: dict[str, dict[str, Any]] = {}
    for name, (cfg, amp) in variants.items():
        with PeakMemory(device) as mem:
            torch.manual_seed(seed)
            model = build_model(cfg.model, num_attributes, device).train()
            opt = make_optimizer(model, cfg)
            for s in range(max(1, warmup)):
                batch, meta = batches[s % len(batches)]
                _train_step(model, opt, cfg, batch, meta, device, amp)
            sync(device)
        state[name] = (model, opt, cfg, amp)
        out[name] = mem.to_dict()
    times: dict[str, list[float]] = {n: [] for n in variants}
    n_images: dict[str, list[int]] = {n: [] for n in variants}
    cursor = 0
    for _ in range(repeats):
        for name, (model, opt, cfg, amp) in state.items():
            count = 0
            sync(device)
            t0 = time.perf_counter()
            for s in range(steps):
                batch, meta = batches[(cursor + s) % len(batches)]
                _train_step(model, opt, cfg, batch, meta, device, amp)
                count += len(batch["image"])
            sync(device)
            times[name].append(time.perf_counter() - t0)
            n_images[name].append(count)
        cursor += steps
    for name in variants:
        rates = [n / t for n, t in zip(n_images[name], times[name])]
        out[name].update(summary(times[name]))
        out[name].update(images_per_s=float(np.median(rates)), steps=steps, images_per_step=n_images[name][0] // steps)
    return out


def train_flops(cfg: Config, batch: dict, meta: dict, device: str | torch.device, num_attributes: int = 2,
                seed: int = 0) -> dict[str, Any]:
    """FLOPs of one training step's :func:`asen.train.compute_loss` forward and its backward on ``batch``
    (:func:`benchmarks.common.count_flops`: matmuls and convolutions; the optimizer step, elementwise ops and
    the crop are not counted), in total and per image. Untimed; a fresh model in fp32 (precision and memory
    format do not change the count)."""
    device = torch.device(device)
    torch.manual_seed(seed)
    model = build_model(cfg.replace(**{"model.channels_last": False}).model, num_attributes, device).train()
    fwd, (loss, _) = count_flops(lambda: compute_loss(model, batch, meta, cfg, device))
    bwd, _ = count_flops(loss.backward)
    n = len(batch["image"])
    del model, loss
    return {"images": n, "forward_flops": fwd, "backward_flops": bwd, "flops": fwd + bwd,
            "flops_per_image": (fwd + bwd) / n}


@torch.inference_mode()
def extract_flops(cfg: Config, batch: dict, meta: dict, device: str | torch.device, num_attributes: int = 2,
                  local: bool = True) -> dict[str, Any]:
    """FLOPs of the extraction forward (eval) on ``batch``: the global branch and, with ``local`` (a model with
    a local branch), global + crop + local branch, in total and per image, as :func:`_extract` runs them."""
    device = torch.device(device)
    torch.manual_seed(0)
    model = build_model(cfg.replace(**{"model.channels_last": False}).model, num_attributes, device).eval()
    x = batch["image"].to(device)
    attrs = torch.as_tensor(image_attributes(meta), device=device)
    n = len(x)
    g, (_, maps) = count_flops(lambda: model(x, attrs, branch="global"))
    out: dict[str, Any] = {"images": n, "global_flops": g, "flops_per_image_global": g / n}
    if local:
        def local_pass() -> None:
            crops, _ = local_inputs(maps, batch["original"], batch["size"], cfg.eval.crop_threshold,
                                    cfg.data.global_size, cfg.data.local_size, mode=cfg.data.crop_mode)
            model(crops, attrs, branch="local")

        loc, _ = count_flops(local_pass)
        out.update(local_flops=loc, flops_per_image_global_local=(g + loc) / n)
    return out


@torch.inference_mode()
def _extract(model: torch.nn.Module, cfg: Config, batch: dict, meta: dict, device: torch.device, amp: str,
             local: bool) -> tuple[float, float]:
    """One batch through the global branch (and the crop + local branch); returns the two times (s)."""
    sync(device)
    t0 = time.perf_counter()
    x = batch["image"].to(device, non_blocking=True)
    attrs = torch.as_tensor(image_attributes(meta), device=device)
    with _autocast(device, amp):
        _, maps = model(x, attrs, branch="global")
        sync(device)
        t1 = time.perf_counter()
        if local:
            crops, _ = local_inputs(maps, batch["original"], batch["size"], cfg.eval.crop_threshold,
                                    cfg.data.global_size, cfg.data.local_size, mode=cfg.data.crop_mode)
            model(crops, attrs, branch="local")
            sync(device)
    return t1 - t0, time.perf_counter() - t1


def extract_throughput(variants: dict[str, tuple[Config, str]], batches: list[tuple[dict, dict]],
                       device: str | torch.device, repeats: int, warmup: int = 1, num_attributes: int = 2,
                       local: bool = False) -> dict[str, dict[str, Any]]:
    """Feature-extraction images/second (eval mode), interleaved repeats; each repeat embeds every batch once.

    With ``local`` (a model with a local branch) the same pass gives the global-only rate (global branch
    time) and the global+local rate (global + crop + local branch time).

    Returns:
        ``{name: {"images_per_s_global", "images_per_s_global_local" (with local), timings, peak memory}}``.
    """
    device = torch.device(device)
    models: dict[str, Any] = {}
    out: dict[str, dict[str, Any]] = {}
    for name, (cfg, amp) in variants.items():
        with PeakMemory(device) as mem:
            torch.manual_seed(0)
            model = build_model(cfg.model, num_attributes, device).eval()
            for s in range(max(1, warmup)):
                _extract(model, cfg, *batches[s % len(batches)], device, amp, local)
        models[name] = (model, cfg, amp)
        out[name] = mem.to_dict()
    t_global: dict[str, list[float]] = {n: [] for n in variants}
    t_both: dict[str, list[float]] = {n: [] for n in variants}
    total = sum(len(b["image"]) for b, _ in batches)
    for _ in range(repeats):
        for name, (model, cfg, amp) in models.items():
            g = loc = 0.0
            for batch, meta in batches:
                dg, dl = _extract(model, cfg, batch, meta, device, amp, local)
                g, loc = g + dg, loc + dl
            t_global[name].append(g)
            t_both[name].append(g + loc)
    for name in variants:
        out[name].update(images=total, repeats=repeats, global_s=summary(t_global[name]),
                         images_per_s_global=total / summary(t_global[name])["median_s"])
        if local:
            out[name].update(global_local_s=summary(t_both[name]),
                             images_per_s_global_local=total / summary(t_both[name])["median_s"])
    return out


@torch.no_grad()
def crop_time(cfg: Config, batch: dict, meta: dict, device: str | torch.device, repeats: int,
              num_attributes: int = 2) -> dict[str, dict[str, Any]]:
    """The local-input step alone (attention maps -> boxes -> crops) per batch: ``batched`` (:func:`asen.roi.zoom`:
    roi_align with a 2x2 sampling grid, /255 applied to the crops) vs ``per_image`` (a box and a PIL crop per
    image, the reference's way); plus ``roi_align_sr2``: the same roi_align on originals scaled to [0, 1] first
    (without the normalisation), the order the library used before."""
    from torchvision.ops import roi_align  # noqa: PLC0415

    from asen.roi import crop_boxes  # noqa: PLC0415

    device = torch.device(device)
    torch.manual_seed(0)
    model = build_model(cfg.model, num_attributes, device).eval()
    x = batch["image"].to(device)
    _, maps = model(x, torch.as_tensor(image_attributes(meta), device=device), branch="global")
    g, size, thr = cfg.data.global_size, cfg.data.local_size, cfg.train.crop_threshold

    def sr2() -> None:
        boxes = crop_boxes(maps, batch["size"], thr, g)
        imgs = batch["original"].to(device).float() / 255.0
        idx = torch.arange(len(imgs), device=device, dtype=imgs.dtype)[:, None]
        roi_align(imgs, torch.cat([idx, boxes.to(imgs.dtype)], 1), output_size=size, sampling_ratio=2,
                  aligned=True)

    fns = {"batched": lambda: local_inputs(maps, batch["original"], batch["size"], thr, g, size, mode="batched"),
           "per_image": lambda: local_inputs(maps, batch["original"], batch["size"], thr, g, size, mode="per_image"),
           "roi_align_sr2": sr2}
    times: dict[str, list[float]] = {m: [] for m in fns}
    for r in range(repeats + 1):
        for mode, fn in fns.items():
            sync(device)
            t0 = time.perf_counter()
            fn()
            sync(device)
            if r:  # the first round warms up
                times[mode].append(time.perf_counter() - t0)
    return {m: {**summary(t), "ms_per_batch": 1000 * summary(t)["median_s"], "images": len(x)}
            for m, t in times.items()}


def e2e_train(cfg: Config, device: str | torch.device, steps: int) -> dict[str, Any]:
    """One epoch of ``steps`` steps of :func:`asen.train.train` (image loading, validation excluded from the rate).

    Returns:
        ``{"images_per_s": from the run log, "epoch_seconds", "wall_s": including validation and setup}``.
    """
    cfg = cfg.replace(**{"data.steps_per_epoch": steps, "train.epochs": 1, "data.num_triplets": steps *
                         cfg.data.batch_size})
    if cfg.train.stage == 2 and not cfg.train.init_from:  # a speed measurement: no stage-1 weights needed
        cfg = cfg.replace(**{"train.init_from": "scratch"})
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        train(cfg, Path(tmp) / "run", device, progress=False)
        wall = time.perf_counter() - t0
        log = [json.loads(x) for x in (Path(tmp) / "run" / "log.jsonl").read_text().splitlines()]
    rec = [r for r in log if "images_per_second" in r][-1]
    return {"images_per_s": rec["images_per_second"], "epoch_seconds": rec["seconds"], "wall_s": wall,
            "steps": steps}
