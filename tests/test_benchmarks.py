"""The benchmark code runs and its outputs are well-formed, at minimal sizes. Speed is measured by
`python benchmarks/run.py`, never asserted here; only the MAP values of the two implementations must agree."""
import math
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import map_bench, run, train_bench  # noqa: E402

TINY = {"model.tiny_width": 8, "model.attr_embed_size": 16, "model.spatial_dim": 16, "model.local_spatial_dim": 16,
        "model.embed_size": 32, "data.global_size": 32, "data.local_size": 32, "data.images_per_batch": 16}


def test_map_benchmark_values_identical():
    res = map_bench.run(scale=0.03, dim=32, repeats=1, reference_repeats=1)
    assert res["attributes"] == 8 and res["queries"] == sum(max(2, round(q * 0.03)) for _, q, *_ in
                                                           map_bench.FASHIONAI_TEST)
    for impl in ("ours", "reference", "tight_loop"):
        assert res[impl]["repeats"] == 1 and res[impl]["median_s"] > 0
        assert res[f"map_{impl}"].keys() == res["map_ours"].keys()
    for name, value in res["map_ours"].items():
        assert 0.0 <= value <= 1.0
        assert value == pytest.approx(res["map_reference"][name], abs=1e-9)
        assert value == pytest.approx(res["map_tight_loop"][name], abs=1e-9)
    assert res["max_abs_diff"] <= 1e-9 and math.isfinite(res["speedup"])
    assert "MAP at FashionAI test scale" in run.map_table(res)


def test_reference_map_matches_a_hand_computed_case():
    # one attribute, one query; ranking by score: relevant, not, relevant -> AP = (1/1 + 2/3) / 2
    q = np.array([[1.0, 0.0]], np.float32)
    c = np.array([[0.9, 0.1], [0.5, 0.5], [0.1, 0.9]], np.float32)
    ql, cl = np.array([[0, 1]]), np.array([[0, 1], [0, 0], [0, 1]])
    expected = (1.0 + 2.0 / 3.0) / 2.0
    for fn in (map_bench.reference_map_per_attribute, map_bench.loop_map_per_attribute):
        assert fn(q, c, ql, cl)[0] == (pytest.approx(expected), 1)


def test_training_throughput_is_well_formed(toy_root):
    cfg = train_bench.make_config("cpu", 2, toy_root, **TINY)
    batches = train_bench.build_batches(cfg, 1, keep_original=True)
    variants = {"batched": (cfg, "none"), "per_image": (cfg.replace(**{"data.crop_mode": "per_image"}), "none")}
    res = train_bench.train_throughput(variants, batches, "cpu", steps=1, warmup=1, repeats=1)
    assert set(res) == {"batched", "per_image"}
    for v in res.values():
        assert v["repeats"] == 1 and v["steps"] == 1 and v["images_per_step"] == len(batches[0][0]["image"])
        assert math.isfinite(v["images_per_s"]) and v["images_per_s"] > 0
        assert v["peak_rss_mb"] is not None and v["peak_cuda_mb"] is None
    ext = train_bench.extract_throughput({"fp32": (cfg, "none")}, batches, "cpu", repeats=1, local=True)
    assert ext["fp32"]["images_per_s_global"] > 0 and ext["fp32"]["images_per_s_global_local"] > 0
    crop = train_bench.crop_time(cfg, *batches[0], "cpu", repeats=1)
    assert set(crop) == {"batched", "per_image", "roi_align_sr2"} and all(c["ms_per_batch"] > 0 for c in crop.values())


def test_report_renders_every_section(tmp_path):
    # the markdown of a run with every section, from small fake measurements (no timing involved)
    t = {"median_s": 1.0, "min_s": 1.0, "max_s": 1.0, "repeats": 1, "times_s": [1.0]}
    train_res = {"images_per_s": 10.0, "peak_rss_mb": 1.0, "peak_cuda_mb": None, "steps": 1, **t}
    ext = {"images_per_s_global": 5.0, "images_per_s_global_local": 4.0, "peak_rss_mb": 1.0, "peak_cuda_mb": None,
           "repeats": 1}
    setting = {"images_per_step": 4, "model": {"backbone": "resnet_tiny", "local_backbone": "resnet_tiny",
                                               "tiny_width": 8}, "global_size": 32, "local_size": 32,
               "crop": {k: {"ms_per_batch": 1.0, **t} for k in ("batched", "per_image", "roi_align_sr2")},
               "stage2_crop": {"batched": train_res, "per_image": train_res},
               "stage1": {"fp32": train_res, "fp32+channels_last": train_res},
               "extract": {"fp32": ext, "fp32+channels_last": ext}}
    lat = {"median_ms": 1.0, "p95_ms": 2.0}
    faiss = {"n": 10, "dim": 4, "k": 10, "gallery_mb": 0.1, "faiss_threads": 1, "single_queries": 2,
             "batch_queries": 2, "flat": {"build_s": 0.1, "peak_rss_mb": 1.0, "single": lat,
                                          "batched": {"ms_per_query": 1.0, **t}, "recall_at_10": 1.0},
             "numpy": {"memory_mb": 0.1, "single": lat, "batched": {"ms_per_query": 1.0, **t}},
             "hnsw": {"M": 16, "ef_construction": 40, "build_s": 1.0, "peak_rss_mb": 1.0,
                      "runs": [{"ef_search": 32, "recall_at_10": 0.9, "single": lat, "batched": {"ms_per_query": 0.1}}]}}
    e2e = {m: {"images_per_s": 3.0, "runs": [{"epoch_seconds": 2.0}], "steps": 1, "images_per_step": 4, "repeats": 1}
           for m in ("batched", "per_image")}
    results = {"mode": "quick", "machine": {"cpu": "x", "cores": 2, "torch_threads": 2, "memory_gb": 1, "gpu": None,
                                            "torch": "t", "numpy": "n", "device": "cpu", "load_average_start": [0, 0, 0]},
               "results": {"map": map_bench.run(scale=0.02, dim=8, repeats=1, reference_repeats=1),
                           "train": {"cuda_rows": "skipped: no CUDA device (CPU run)", "cpu": setting},
                           "e2e": e2e, "faiss": faiss}, "skipped": {"faiss_gpu": "not installed"}}
    text = run.report(results)
    for heading in ("### MAP", "### Training and extraction", "### End-to-end training", "### Search",
                    "skipped: no CUDA device", "skipped: not installed"):
        assert heading in text
