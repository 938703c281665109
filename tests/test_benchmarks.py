"""The benchmark code runs and its outputs are well-formed, at minimal sizes. Speed is measured by
`python -m benchmarks.run`, never asserted here; only the MAP values of the two implementations must agree."""
import math
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent

from benchmarks import isa_bench, map_bench, run, train_bench

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
    isa = {"cpu": "x", "avx512": True, "rounds": 1, "steps": 1, "repeats": 1,
           "DEFAULT": {"stage1": 10.0, "stage2": 4.0, "crashed_or_failed": 1},
           "AVX2": {"stage1": 8.0, "stage2": 4.0, "crashed_or_failed": 0}, "ratio": {"stage1": 0.8, "stage2": 1.0}}
    results = {"mode": "quick", "machine": {"cpu": "x", "cores": 2, "torch_threads": 2, "memory_gb": 1, "gpu": None,
                                            "torch": "t", "numpy": "n", "device": "cpu", "load_average_start": [0, 0, 0]},
               "results": {"map": map_bench.run(scale=0.02, dim=8, repeats=1, reference_repeats=1),
                           "train": {"cuda_rows": "skipped: no CUDA device (CPU run)", "cpu": setting},
                           "e2e": e2e, "faiss": faiss, "isa": isa}, "skipped": {"faiss_gpu": "not installed"}}
    text = run.report(results)
    assert "| stage-1 training step, CPU protocol | 10.0 | 8.0 | 0.80x |" in text
    assert "(floor: score matrices + one torch.sort per query row)" in text and "ours / floor = " in text
    assert "| runs that crashed or failed | 1 | 0 |  |" in text
    for heading in ("### MAP", "### Training and extraction", "### End-to-end training", "### Search",
                    "### oneDNN instruction-set cap",
                    "skipped: no CUDA device", "skipped: not installed"):
        assert heading in text


def test_make_config_follows_the_shipped_cpu_protocol(toy_root):
    from asen.config import load_config

    for stage, files in ((1, ["synthfashion_cpu"]), (2, ["synthfashion_cpu", "synthfashion_cpu_s2"])):
        shipped, cfg = load_config(files), train_bench.make_config("cpu", stage, toy_root)
        # only what a benchmark needs differs from the shipped protocol
        same = cfg.replace(**{"data.root": shipped.data.root, "data.num_workers": shipped.data.num_workers,
                              "data.cache_images": shipped.data.cache_images})
        assert same.to_dict() == shipped.to_dict()
        assert cfg.data.root == str(toy_root) and cfg.data.num_workers == 0 and cfg.data.cache_images is False
    large = train_bench.make_config("paper_large", 2, toy_root, **{"data.batch_size": 128})
    assert large.model.backbone == "resnet50" and large.data.batch_size == 128 and large.model.local_branch
    assert train_bench.setting_base("paper_large") == "paper" and train_bench.setting_base("cpu") == "cpu"
    with pytest.raises(ValueError):
        train_bench.make_config("gpu", 1, toy_root)


def test_flop_counting(toy_root):
    import torch

    from benchmarks import common

    lin = torch.nn.Linear(10, 20, bias=False)
    flops, y = common.count_flops(lambda: lin(torch.randn(4, 10)))
    assert flops == 2 * 4 * 10 * 20 and y.shape == (4, 20)
    cfg2 = train_bench.make_config("cpu", 2, toy_root, **TINY)
    cfg1 = train_bench.make_config("cpu", 1, toy_root, **TINY)
    batch, meta = train_bench.build_batches(cfg2, 1, keep_original=True)[0]
    f = run.count_setting_flops(cfg2, cfg1, batch, meta, torch.device("cpu"))
    n = len(batch["image"])
    for key in ("stage1_train", "stage2_train"):
        v = f[key]
        assert v["images"] == n and v["forward_flops"] > 0 and v["backward_flops"] > v["forward_flops"]
        assert v["flops"] == v["forward_flops"] + v["backward_flops"] and v["flops_per_image"] == v["flops"] / n
    # stage 2 runs the local branch (here a copy of the global one) on top of stage 1
    assert f["stage2_train"]["flops"] > f["stage1_train"]["flops"]
    e = f["extract"]
    assert 0 < e["flops_per_image_global"] < e["flops_per_image_global_local"]
    assert e["flops_per_image_global"] < f["stage1_train"]["flops_per_image"]  # a forward < forward + backward


def test_bf16_peak_lookup_and_share():
    from benchmarks import common

    assert common.bf16_peak_tflops("NVIDIA H200") == 989.4
    assert common.bf16_peak_tflops("NVIDIA H100 80GB HBM3") == 989.4
    assert common.bf16_peak_tflops("NVIDIA H100 PCIe") == 756.0
    assert common.bf16_peak_tflops("NVIDIA A100-SXM4-80GB") == 312.0
    assert common.bf16_peak_tflops("NVIDIA A100 80GB PCIe") == 312.0
    assert common.bf16_peak_tflops("NVIDIA L4") == 121.0
    for name in ("NVIDIA L40S", "NVIDIA H100 NVL", "NVIDIA GH200 480GB", "Tesla T4", None, ""):
        assert common.bf16_peak_tflops(name) is None
    achieved = common.tflops_achieved(1000.0, 4.947e11)  # 1,000 img/s x 494.7 GFLOP/img
    assert achieved == pytest.approx(494.7)
    assert common.percent_of_peak(achieved, 989.4) == pytest.approx(50.0)
    assert common.percent_of_peak(achieved, None) is None and common.tflops_achieved(None, 1.0) is None


def _fake_setting(images_per_step: int, backbone: str, gflop: float) -> dict:
    t = {"median_s": 1.0, "min_s": 1.0, "max_s": 1.0, "repeats": 1, "times_s": [1.0]}
    tr = {"images_per_s": 1000.0, "peak_rss_mb": 1.0, "peak_cuda_mb": 2.0, "steps": 10, **t}
    ext = {"images_per_s_global": 2000.0, "images_per_s_global_local": 1000.0, "peak_rss_mb": 1.0,
           "peak_cuda_mb": 2.0, "repeats": 3}
    variants = ("fp32", "fp32+channels_last", "bf16", "bf16+channels_last")
    return {"images_per_step": images_per_step, "global_size": 224, "local_size": 112,
            "model": {"backbone": backbone, "local_backbone": backbone, "tiny_width": 8, "channels_last": False},
            "flops": {"stage1_train": {"flops_per_image": gflop * 1e9},
                      "stage2_train": {"flops_per_image": gflop * 1e9},
                      "extract": {"flops_per_image_global": gflop * 1e9 / 3,
                                  "flops_per_image_global_local": gflop * 1e9 / 2}},
            "crop": {k: {"ms_per_batch": 1.0, **t} for k in ("batched", "per_image", "roi_align_sr2")},
            "stage2_crop": {"batched": tr, "per_image": {**tr, "images_per_s": 500.0}},
            "stage1": {v: tr for v in variants}, "extract": {v: ext for v in variants}}


def test_train_tables_iterate_over_the_plan_settings():
    settings = {"cpu": _fake_setting(96, "resnet_tiny", 0.1), "paper": _fake_setting(48, "resnet50", 494.7),
                "paper_large": _fake_setting(384, "resnet50", 494.7)}
    t = {"cuda_rows": "measured", "device": "cuda", "gpu": "NVIDIA H200", "bf16_peak_tflops": 989.4,
         "settings": list(settings), **settings}
    text = run.train_tables(t)
    assert "paper_large: resnet50/resnet50, 224/112 px, 384 img/step" in text
    assert "989.4 TFLOP/s" in text and "dense (no sparsity)" in text
    # 1,000 img/s x 494.7 GFLOP/img = 494.7 TFLOP/s = 50.0% of 989.4; per-image crop at 500 img/s: 25.0%
    assert "| 495 | 50.0% |" in text and "495 / 247 | 50.0% / 25.0%" in text
    assert text.count("paper_large:") == 1 + 1 + 1 + 4 + 4  # FLOPs, stage 2, crop, stage 1 x4, extract x4
    unknown = run.train_tables({**t, "gpu": "NVIDIA L40S", "bf16_peak_tflops": None})
    assert "unknown peak" in unknown
    # results without the "settings" list (older runs): every setting with a stage-2 table, in order
    legacy = run.train_tables({k: v for k, v in t.items() if k != "settings"})
    assert legacy == text
    cpu = run.train_tables({**t, "device": "cpu", "gpu": None, "bf16_peak_tflops": None, "settings": ["cpu"]})
    assert "paper:" not in cpu and "paper_large:" not in cpu and "CPU run: no GPU peak" in cpu
    assert "50.0%" not in cpu and "| 0.1 | - |" in cpu  # 1,000 img/s x 0.1 GFLOP/img = 0.1 TFLOP/s, no peak
    assert set(run.PLANS["gpu"]["settings"]) == {"cpu", "paper", "paper_large"}
    assert run.PLANS["gpu"]["settings"]["paper_large"]["batch_triplets"] == 128


def test_plan_choice_errors_cleanly():
    import torch

    with pytest.raises(SystemExit):
        run.main(["--quick", "--plan", "gpu", "--sections", "map"])
    if not torch.cuda.is_available():
        with pytest.raises(SystemExit):
            run.main(["--device", "cuda", "--sections", "map"])


def test_isa_benchmark_times_both_sides_in_their_own_processes(toy_root):
    # one child process a side, a handful of steps at the tiny width: the numbers are only checked for form
    from asen import cpu

    res = isa_bench.run(toy_root, rounds=1, steps=1, warmup=1, repeats=1, batches=1)
    # the capped side must run everywhere; the uncapped one may abort on an AVX-512 CPU (what the cap is for)
    sides = isa_bench.ISAS if not cpu.needs_isa_cap(cpu.cpu_flags()) else ("AVX2",)
    for isa in sides:
        assert res[isa]["crashed_or_failed"] == 0, res["runs"][isa]
        assert res[isa]["stage1"] > 0 and res[isa]["stage2"] > 0
        assert res["runs"][isa][0]["isa"] == isa
    if res["DEFAULT"]["stage1"]:
        assert res["ratio"]["stage1"] == pytest.approx(res["AVX2"]["stage1"] / res["DEFAULT"]["stage1"])
    else:
        assert res["ratio"]["stage1"] is None
