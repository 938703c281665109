"""asen.estimate: FLOPs per image on the meta device, the T4 arithmetic, a measured rate."""
import pytest
import torch

from asen.config import load_config
from asen.estimate import (T4, T4_SHARE, flops_per_image, measure_rate, run_flops, t4_precision, t4_seconds,
                           table_evaluations, validations)

PAPER = ["model.pretrained=none", "model.local_pretrained=none"]


def test_paper_flops_match_the_counts_on_real_batches():
    """benchmarks/results_gpu.md counted 20.1 / 24.6 GFLOP per training image and 6.77 / 8.29 per extracted
    one on real batches (FlopCounterMode); the meta-device count must agree."""
    s1 = flops_per_image(load_config(["fashionai_s1"], PAPER))
    s2 = flops_per_image(load_config(["fashionai_s1", "fashionai_s2"], [*PAPER, "train.init_from=x.pt"]))
    assert s1["train"] / 1e9 == pytest.approx(20.07, abs=0.05) and s1["extract"] / 1e9 == pytest.approx(6.77, abs=0.02)
    assert s2["train"] / 1e9 == pytest.approx(24.56, abs=0.05) and s2["extract"] / 1e9 == pytest.approx(8.29, abs=0.02)
    pre = flops_per_image(load_config(["synthfashion_gpu", "synthfashion_gpu_pretrain"]))
    assert pre["extract"] == 0 and pre["train"] == pytest.approx(2 * s1["train"], rel=0.05)  # two views an image


def test_t4_arithmetic_and_run_totals():
    assert t4_precision("auto", 1) == "fp16" and t4_precision("bf16", 1) == "fp32" and t4_precision("auto", 0) == "fp32"
    assert t4_seconds(65e12 * T4_SHARE["fp16"], "fp16", 1) == pytest.approx(1.0)
    assert t4_seconds(T4.fp32_tflops * 1e12 * T4_SHARE["fp32"], "none", 2) == pytest.approx(1.0)
    cfg = load_config(["synthfashion_gpu"], ["model.pretrained=none", "train.epochs=4", "train.eval_every=3"])
    assert validations(cfg) == 2  # after epoch 3 and after the last
    f = flops_per_image(cfg)
    assert run_flops(cfg, 100) == pytest.approx(4 * 96 * 48 * f["train"] + 2 * 100 * f["extract"])
    assert table_evaluations((0, 1, 2), main=True, ablations=True) == {1: 18, 2: 30}


def test_measure_rate_times_a_step_of_the_config():
    cfg = load_config(["synthfashion_cpu"], ["model.tiny_width=8", "data.global_size=32", "data.images_per_batch=16"])
    torch.manual_seed(0)
    rate = measure_rate(cfg, "cpu", max_images=8)
    assert rate > 1e6  # FLOP/s of a real step; no timing bound is asserted


def test_measure_rate_is_the_counted_flops_over_the_median_step(monkeypatch):
    """With measure_rate's clock faked (timed steps of 0.5, 0.1, 0.3, 0.9, 0.2 s): 8 images (in-batch sampler,
    max_images=8) x the counted training FLOPs per image / the median 0.3 s (the mean would be 0.4 s)."""
    import sys
    import time

    cfg = load_config(["synthfashion_cpu"], ["model.tiny_width=8", "data.global_size=32", "data.images_per_batch=16"])
    assert cfg.data.sampler == "in_batch" and cfg.train.forward_passes == 1
    ticks = iter([0.0, 0.5, 1.0, 1.1, 2.0, 2.3, 3.0, 3.9, 4.0, 4.2])
    real = time.perf_counter

    def clock():
        return next(ticks) if sys._getframe(1).f_globals.get("__name__") == "asen.estimate" else real()

    monkeypatch.setattr(time, "perf_counter", clock)
    torch.manual_seed(0)
    rate = measure_rate(cfg, "cpu", max_images=8)
    assert next(ticks, None) is None  # five timed steps, two readings each
    assert rate == pytest.approx(8 * flops_per_image(cfg)["train"] / 0.3, rel=1e-9)
    with pytest.raises(ValueError, match="stage-1 or stage-2"):
        measure_rate(load_config(["synthfashion_cpu", "synthfashion_cpu_pretrain"]), "cpu")
