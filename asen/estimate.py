"""What a training plan costs before it runs: FLOPs per image, a device's measured rate, and a T4 estimate.

Not a paper section: the cost side of reproducing ASEN++'s training schedule (Sec. IV-B) on a given machine,
used by ``asen reproduce --plan``.

* FLOPs per image (:func:`flops_per_image`) are counted with :class:`torch.utils.flop_counter.FlopCounterMode`
  on the ``meta`` device (shapes only, nothing computed): matmuls and convolutions of the forward and backward
  of one training step (both branches in stage 2; the backbone on two views in stage 0) and of the extraction
  forward, 2 FLOPs a multiply-add, as ``benchmarks/common.count_flops`` counts them. The paper's configuration
  gives 20.1 GFLOP per image for a stage-1 step (ResNet-50 at 224 px), 24.6 for stage 2 (+ ResNet-34 at
  112 px), 6.8 / 8.3 for extraction: the figures ``benchmarks/results_gpu.md`` measured on real batches.
* The current device's rate (:func:`measure_rate`) is timed on training steps of a plan's stage-1 config
  (random inputs, random weights, the config's precision and memory format; on a CPU the batch is capped at a
  few images; the median of five steps after one untimed step): achieved FLOP/s, which the estimate applies
  to every run. On a CPU ``asen reproduce --plan`` times it in one process of as many threads as each training
  process gets and multiplies by the processes (:func:`asen.reproduce.plan.device_rate`).
* A T4 (:data:`T4`) is estimated from its datasheet peaks (65 TFLOP/s fp16 tensor, 8.1 TFLOP/s fp32) and an
  assumed share of them (:data:`T4_SHARE`). The assumption comes from this project's H200 measurement
  (``benchmarks/results_gpu.md``): the stage-1 step at 384 images reached 67 TFLOP/s in bf16 (6.8 % of the
  H200's peak) and 38.8 TFLOP/s in fp32, bound by memory traffic, not by the tensor cores; scaled by the two
  GPUs' memory bandwidths (T4 320 GB/s, H200 4.8 TB/s, datasheets) that is 4.5 and 2.6 TFLOP/s on a T4, so
  6 % of the fp16 peak (3.9 TFLOP/s) and 30 % of the fp32 peak (2.4 TFLOP/s) are assumed. Data loading is
  assumed not to limit the GPU (the image store, :mod:`asen.device_images`). Nothing of this has been checked
  on a T4.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch

from .config import Config


@dataclass(frozen=True)
class GpuSpec:
    """A GPU's datasheet peaks (dense, TFLOP/s) and whether its tensor cores compute bf16."""

    name: str
    fp16_tflops: float
    fp32_tflops: float
    bf16: bool


T4 = GpuSpec("NVIDIA T4", fp16_tflops=65.0, fp32_tflops=8.1, bf16=False)
T4_SHARE = {"fp16": 0.06, "fp32": 0.30}
"""Assumed achieved share of the T4's peaks (see the module docstring)."""


def t4_precision(amp: str, stage: int) -> str:
    """The precision a config's training runs at on a T4: ``fp16`` for ``train.amp`` auto/fp16 (auto picks
    fp16 on GPUs without bf16, :func:`asen.train.resolve_amp`), else ``fp32`` (bf16 has no T4 tensor cores;
    stage 0, :mod:`asen.pretrain`, has no autocast)."""
    return "fp16" if stage != 0 and amp in ("auto", "fp16") else "fp32"


def t4_seconds(flops: float, amp: str, stage: int, gpu: GpuSpec = T4) -> float:
    """Estimated seconds of ``flops`` on a T4 at the assumed share of its peak."""
    prec = t4_precision(amp, stage)
    peak = gpu.fp16_tflops if prec == "fp16" else gpu.fp32_tflops
    return flops / (peak * 1e12 * T4_SHARE[prec])


def _count(fn: Callable[[], torch.Tensor], backward: bool) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        out = fn()
        if backward:
            out.backward()
    return int(counter.get_total_flops())


def _key(cfg: Config) -> tuple:
    m, d = cfg.model, cfg.data
    return (cfg.train.stage, m.backbone, m.local_backbone if m.local_branch else None, d.global_size,
            d.local_size if m.local_branch else None, m.tiny_width, m.tiny_blocks, m.head, m.attr_embed_size,
            m.spatial_dim, m.local_spatial_dim, m.embed_size, m.spatial_attention, m.channel_attention,
            cfg.pretrain.projection_dim)


_FLOPS: dict[tuple, dict[str, float]] = {}


def flops_per_image(cfg: Config, num_attributes: int = 8) -> dict[str, float]:
    """FLOPs per image of one training step (``"train"``: forward + backward) and of extraction
    (``"extract"``: forward; 0 for stage 0), counted on the meta device; cached per architecture.

    Args:
        cfg: a run's config (stage 0, 1 or 2).
        num_attributes: the model's attribute count (the attribute tables' cost is negligible).
    Returns:
        ``{"train": ..., "extract": ...}`` in FLOPs.
    """
    key = _key(cfg)
    if key not in _FLOPS:
        try:
            _FLOPS[key] = _flops_on(cfg, num_attributes, torch.device("meta"))
        except NotImplementedError:  # an op without a meta kernel (per-attribute BatchNorm): count on the CPU
            _FLOPS[key] = _flops_on(cfg, num_attributes, torch.device("cpu"))
    return _FLOPS[key]


def _flops_on(cfg: Config, num_attributes: int, meta: torch.device) -> dict[str, float]:
    """:func:`flops_per_image` counted on ``meta`` (the meta device, or the CPU with two zero images)."""
    from .model import build_model

    b = 2
    m, g = cfg.model, cfg.data.global_size
    x = torch.zeros(b, 3, g, g, device=meta)
    if cfg.train.stage == 0:
        from .backbones import build_backbone
        from .pretrain import ProjectionHead

        with meta:
            net = build_backbone(m.backbone, "none", m.tiny_width, m.tiny_blocks)
            head = ProjectionHead(net.out_channels, cfg.pretrain.projection_dim)
        train = _count(lambda: head(net(x)).sum(), backward=True)  # per view; two views an image
        return {"train": 2 * train / b, "extract": 0.0}
    model_cfg = cfg.replace(**{"model.pretrained": "none", "model.local_pretrained": "none"}).model
    with meta:
        model = build_model(model_cfg, num_attributes, meta)
    attrs = torch.zeros(b, dtype=torch.long, device=meta)
    crops = torch.zeros(b, 3, cfg.data.local_size, cfg.data.local_size, device=meta)

    def forward() -> torch.Tensor:
        out = model(x, attrs, branch="global")[0].sum()
        if model.local_branch is not None:
            out = out + model(crops, attrs, branch="local")[0].sum()
        return out

    model.train()
    train = _count(forward, backward=True)
    model.eval()
    with torch.no_grad():
        extract = _count(forward, backward=False)
    return {"train": train / b, "extract": extract / b}


def images_per_step(cfg: Config) -> int:
    """Images of one training step: ``images_per_batch`` (stage 0, in-batch sampler) or 3 x ``batch_size``."""
    d = cfg.data
    return d.images_per_batch if cfg.train.stage == 0 or d.sampler == "in_batch" else 3 * d.batch_size


def steps_per_epoch(cfg: Config) -> int:
    d = cfg.data
    return d.steps_per_epoch or max(1, d.num_triplets // d.batch_size)


def validations(cfg: Config) -> int:
    """Validation passes of a run (every ``eval_every`` epochs and after the last; none in stage 0)."""
    t = cfg.train
    return 0 if t.stage == 0 else sum(1 for e in range(1, t.epochs + 1) if e % t.eval_every == 0 or e == t.epochs)


def run_flops(cfg: Config, valid_images: int, num_attributes: int = 8) -> float:
    """Training FLOPs of a whole run: its steps plus its validation passes over ``valid_images`` images."""
    f = flops_per_image(cfg, num_attributes)
    steps = cfg.train.epochs * steps_per_epoch(cfg)
    return steps * images_per_step(cfg) * f["train"] + validations(cfg) * valid_images * f["extract"]


def measure_rate(cfg: Config, device: torch.device | str, max_images: int | None = None,
                 num_attributes: int = 8, repeats: int = 5) -> float:
    """Achieved FLOP/s of a training step of a stage-1 or stage-2 ``cfg`` on ``device`` (after one untimed
    step; random weights and inputs; the median of ``repeats`` timed steps, the config's precision, memory format
    and forward passes).

    Args:
        cfg: the config to time (its batch, capped at ``max_images`` rounded down to whole triplets).
        device: where to time it.
        max_images: cap on the batch (None: the config's; a CPU estimate uses a few images).
    Returns:
        FLOP/s (counted FLOPs of the step / its wall time).
    """
    import time

    from .model import build_model
    from .train import _autocast, compute_loss, make_optimizer, resolve_amp

    device = torch.device(device)
    if cfg.train.stage == 0:
        raise ValueError("measure_rate times stage-1 or stage-2 configs")
    cfg = cfg.replace(**{"model.pretrained": "none", "model.local_pretrained": "none", "train.compile": False})
    n = images_per_step(cfg) if max_images is None else min(images_per_step(cfg), max_images)
    in_batch = cfg.data.sampler == "in_batch"
    passes = cfg.train.forward_passes
    n = max(n - n % (3 * passes) if not in_batch else n - n % max(2, passes), 3 * passes if not in_batch else 4)
    g = torch.Generator().manual_seed(0)
    batch = {"image": torch.randn(n, 3, cfg.data.global_size, cfg.data.global_size, generator=g)}
    if cfg.model.local_branch:
        batch["original"] = torch.randint(0, 256, (n, 3, cfg.data.global_size, cfg.data.global_size),
                                          dtype=torch.uint8, generator=g)
        batch["size"] = torch.tensor([[cfg.data.global_size] * 2] * n)
    meta = ({"attributes": np.zeros(n, np.int64), "values": np.arange(n) % 2} if in_batch
            else {"attributes": np.arange(n // 3) % num_attributes})
    model = build_model(cfg.model, num_attributes, device).train()
    opt = make_optimizer(model, cfg)
    amp = resolve_amp(cfg.train.amp, device)

    def step() -> None:
        with _autocast(device, amp):
            loss, _ = compute_loss(model, batch, meta, cfg, device)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    step()
    seconds = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        step()
        seconds.append(time.perf_counter() - t0)
    return n * flops_per_image(cfg, num_attributes)["train"] / sorted(seconds)[len(seconds) // 2]


def table_evaluations(seeds: Sequence[int], main: bool, ablations: bool) -> dict[int, int]:
    """Test-split passes of the tables, by the stage of the model evaluated: the main table evaluates five
    stage-1 models and ASEN++ per seed; the ablations ASEN++ (with its beta sweep in one pass), w/o ASA,
    w/o ACA, the no-zoom control and five crop thresholds (stage 2), and the stage-1 model, per seed."""
    out = {1: 0, 2: 0}
    if main:
        out[1] += 5 * len(seeds)
        out[2] += len(seeds)
    if ablations:
        out[1] += len(seeds)
        out[2] += 9 * len(seeds)
    return out
