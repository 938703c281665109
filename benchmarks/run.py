#!/usr/bin/env python
"""The asen benchmarks in one command: prints markdown tables and writes JSON.

    python -m benchmarks.run [--quick | --plan quick|full|gpu] [--device cpu|cuda] [--out benchmarks/results.json]

Every figure is measured next to a baseline in the same run, as the median of several repeats (the repeat
counts are in the tables); comparisons take turns (A B A B ...) so that background load hits both sides:

* ``map``   - MAP at FashionAI test scale (3,600 queries, 14,400 candidates, 2,048-d, 8 attributes):
  the vectorised :mod:`asen.metrics` vs per-query Python loops (:mod:`benchmarks.map_bench`); the MAPs must
  be identical (1e-9).
* ``train`` - stage-2 training images/s with the batched on-device crop vs the per-image PIL crop, stage-1
  training and feature extraction with channels_last on/off (and bf16 autocast on CUDA), peak memory, for each
  setting of the plan (:mod:`benchmarks.train_bench`): ``cpu`` is the shipped CPU protocol
  (``synthfashion_cpu`` + ``synthfashion_cpu_s2``, as shipped: backbone width, sizes, images a step), ``paper``
  the paper's configuration (``fashionai_s1`` / ``_s2``, random init) and ``paper_*`` the same at another batch.
* ``e2e``   - one short epoch of :func:`asen.train.train` (data loading included), both crop modes.
* ``isa``   - stage-1 and stage-2 training steps of the CPU protocol with oneDNN's full instruction set and capped
  at AVX2 (what ``import asen`` sets on AVX-512 CPUs, :mod:`asen.cpu`), in processes taking turns
  (:mod:`benchmarks.isa_bench`); on a CPU without AVX-512 both sides run the same kernels.
* ``faiss`` - exact ``IndexFlatIP`` vs brute-force NumPy and HNSW on a 1M x 512 gallery (100k in --quick)
  (:mod:`benchmarks.faiss_bench`); skipped with a message where faiss is not installed (e.g. a GPU machine).

Plans (``PLANS``; ``--plan``, default ``full`` on the CPU and ``gpu`` with ``--device cuda``):

* ``quick`` (``--quick``): fewer repeats, the FAISS gallery at 100k and, for the paper's configuration, 2 triplets
  = 6 images a step instead of 16 = 48. ``--quick --sections map,train,e2e`` took 75 s on the idle 2-core
  build machine.
* ``full``: the CPU reference run; the paper's configuration at its batch, 1 step a repeat. It took 53 minutes
  at load average 5-10 (the 1M-vector HNSW build alone 7 minutes). On a shared machine the timings move with
  the load; ``--threads 1`` gives steadier (and there, faster) figures.
* ``gpu``: for ``--device cuda``, where 1 step is far too short to time: every setting 3 warm-up steps, then 3
  repeats of 10 steps (extraction: 3 repeats over the batches) - ``cpu`` (4 batches), ``paper`` at the paper's
  batch (16 triplets = 48 images, 4 batches) and ``paper_large`` (128 triplets = 384 images a step, 2 batches),
  to show what the GPU does when it is fed. Results go to ``benchmarks/results_gpu.json`` / ``.md``::

      python -m benchmarks.run --device cuda --sections train,e2e

CUDA rows (bf16 autocast, both memory formats) are measured with ``--device cuda`` and reported as skipped on a
CPU run. The train tables also give, per setting, the FLOPs per image (``torch.utils.flop_counter`` on one batch,
untimed: matmuls and convolutions of a training step's ``compute_loss`` forward + backward, and of the extraction
forward) and for each rate "TFLOP/s achieved" (img/s x FLOPs/img); on CUDA runs "% of bf16 peak" puts that
against the GPU's datasheet dense (no sparsity) bf16 tensor-core peak (``common.BF16_DENSE_PEAK_TFLOPS``: H200 and
H100 SXM 989.4, H100 PCIe 756, A100 312, L4 121 TFLOP/s; any other GPU shows "unknown peak"), fp32 rows included.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if not __package__:  # run as a file, where `benchmarks` cannot be imported
    sys.exit("error: run it from the repository root as a module: python -m benchmarks.run [...]")

import torch  # noqa: E402

from asen import cpu  # noqa: E402
from benchmarks import common, faiss_bench, isa_bench, map_bench, train_bench  # noqa: E402
from benchmarks.common import md_table  # noqa: E402

SECTIONS = ("map", "train", "e2e", "faiss", "isa")

# Each plan's "settings" are timed in order by run_train: "cpu" is the shipped CPU protocol, "paper" and any
# "paper_*" the paper's configuration (train_bench.setting_base) with batch_triplets random triplets a step.
_FULL_OTHER: dict[str, Any] = {
    "map_repeats": 7, "map_reference_repeats": 3,
    "crop_repeats": 20, "e2e_steps": 10, "e2e_repeats": 2,
    "isa": {"rounds": 3, "steps": 4, "warmup": 2, "repeats": 3, "batches": 4},
    "faiss": {"n": 1_000_000, "dim": 512, "single_queries": 100, "batch_queries": 200, "batch_repeats": 2,
              "ef_search": (32, 64, 128)},
}
PLANS: dict[str, dict[str, Any]] = {
    "quick": {
        "map_repeats": 5, "map_reference_repeats": 3,
        "settings": {
            "cpu": {"steps": 2, "warmup": 1, "repeats": 3, "batches": 3, "extract_repeats": 2},
            "paper": {"batch_triplets": 2, "steps": 1, "warmup": 1, "repeats": 1, "batches": 1, "extract_repeats": 1},
        },
        "crop_repeats": 5, "e2e_steps": 3, "e2e_repeats": 1,
        "isa": {"rounds": 1, "steps": 2, "warmup": 1, "repeats": 2, "batches": 3},
        "faiss": {"n": 100_000, "dim": 512, "single_queries": 50, "batch_queries": 100, "batch_repeats": 1,
                  "ef_search": (32, 128)},
    },
    "full": {
        **_FULL_OTHER,
        "settings": {
            "cpu": {"steps": 4, "warmup": 2, "repeats": 5, "batches": 4, "extract_repeats": 5},
            "paper": {"batch_triplets": 16, "steps": 1, "warmup": 1, "repeats": 3, "batches": 2, "extract_repeats": 3},
        },
    },
    "gpu": {
        **_FULL_OTHER,
        "settings": {
            "cpu": {"steps": 10, "warmup": 3, "repeats": 3, "batches": 4, "extract_repeats": 3},
            "paper": {"batch_triplets": 16, "steps": 10, "warmup": 3, "repeats": 3, "batches": 4,
                      "extract_repeats": 3},
            "paper_large": {"batch_triplets": 128, "steps": 10, "warmup": 3, "repeats": 3, "batches": 2,
                            "extract_repeats": 3},
        },
    },
}


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------------------ runs
def run_map(plan: dict[str, Any]) -> dict[str, Any]:
    """MAP at FashionAI test scale, ours vs the loops."""
    return map_bench.run(scale=1.0, dim=2048, repeats=plan["map_repeats"],
                         reference_repeats=plan["map_reference_repeats"])


def _variants(cfg, device: torch.device) -> dict[str, tuple[Any, str]]:
    """fp32 contiguous (the baseline), fp32 channels_last and, on CUDA, bf16 autocast with both formats (whatever
    memory format the shipped config asks for)."""
    base = cfg.replace(**{"model.channels_last": False})
    cl = cfg.replace(**{"model.channels_last": True})
    out = {"fp32": (base, "none"), "fp32+channels_last": (cl, "none")}
    if device.type == "cuda":
        out.update({"bf16": (base, "bf16"), "bf16+channels_last": (cl, "bf16")})
    return out


def setting_configs(setting: str, p: dict[str, Any], data_root: Path) -> tuple[Any, Any]:
    """Stage-2 and stage-1 configs of one plan setting (``batch_triplets`` sets a paper setting's batch)."""
    extra = {"data.batch_size": p["batch_triplets"]} if "batch_triplets" in p else {}
    return (train_bench.make_config(setting, 2, data_root, **extra),
            train_bench.make_config(setting, 1, data_root, **extra))


def count_setting_flops(cfg2, cfg1, batch: dict, meta: dict, device: torch.device) -> dict[str, Any]:
    """FLOPs per image of one setting (untimed, one batch): stage-1 and stage-2 training steps (forward +
    backward of compute_loss) and the extraction forward (global, global+local)."""
    out = {"stage1_train": train_bench.train_flops(cfg1, batch, meta, device),
           "stage2_train": train_bench.train_flops(cfg2, batch, meta, device),
           "extract": train_bench.extract_flops(cfg2, batch, meta, device, local=True)}
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return out


def run_train(plan: dict[str, Any], device: torch.device, data_root: Path) -> dict[str, Any]:
    """Crop modes (stage 2), memory formats / precision (stage 1, extraction) for every setting of the plan."""
    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else None
    out: dict[str, Any] = {"cuda_rows": "measured" if device.type == "cuda" else "skipped: no CUDA device (CPU run)",
                           "device": device.type, "gpu": gpu, "bf16_peak_tflops": common.bf16_peak_tflops(gpu),
                           "settings": list(plan["settings"])}
    for setting, p in plan["settings"].items():
        cfg2, cfg1 = setting_configs(setting, p, data_root)
        log(f"{setting}: building {p['batches']} batches")
        batches = train_bench.build_batches(cfg2, p["batches"], keep_original=True)
        res: dict[str, Any] = {"images_per_step": len(batches[0][0]["image"]), "plan": p,
                               "base": train_bench.setting_base(setting),
                               "model": {k: v for k, v in cfg2.model.__dict__.items()
                                         if k in ("backbone", "local_backbone", "tiny_width", "embed_size",
                                                  "embed_norm", "channels_last")},
                               "global_size": cfg2.data.global_size, "local_size": cfg2.data.local_size,
                               "sampler": cfg2.data.sampler}
        log(f"{setting}: counting FLOPs (one batch, untimed)")
        res["flops"] = count_setting_flops(cfg2, cfg1, *batches[0], device)
        log(f"{setting}: crop step alone")
        res["crop"] = train_bench.crop_time(cfg2, *batches[0], device, plan["crop_repeats"])
        log(f"{setting}: stage-2 training, batched vs per-image crop")
        res["stage2_crop"] = train_bench.train_throughput(
            {"batched": (cfg2, "none"), "per_image": (cfg2.replace(**{"data.crop_mode": "per_image"}), "none")},
            batches, device, p["steps"], p["warmup"], p["repeats"])
        log(f"{setting}: stage-1 training, memory format / precision")
        res["stage1"] = train_bench.train_throughput(_variants(cfg1, device), batches, device, p["steps"],
                                                     p["warmup"], p["repeats"])
        log(f"{setting}: feature extraction (global, global+local)")
        res["extract"] = train_bench.extract_throughput(_variants(cfg2, device), batches, device,
                                                        p["extract_repeats"], local=True)
        out[setting] = res
        del batches
        if device.type == "cuda":
            torch.cuda.empty_cache()
    return out


def run_e2e(plan: dict[str, Any], device: torch.device, data_root: Path) -> dict[str, Any]:
    """One short epoch of asen.train.train at the CPU configuration, stage 2, both crop modes (turns)."""
    cfg = train_bench.make_config("cpu", 2, data_root)
    runs: dict[str, list[dict[str, Any]]] = {"batched": [], "per_image": []}
    for _ in range(plan["e2e_repeats"]):
        for mode in runs:
            runs[mode].append(train_bench.e2e_train(cfg.replace(**{"data.crop_mode": mode}), device,
                                                    plan["e2e_steps"]))
    out: dict[str, Any] = {}
    for mode, rs in runs.items():
        rates = sorted(r["images_per_s"] for r in rs)
        out[mode] = {"images_per_s": rates[len(rates) // 2] if len(rates) % 2 else sum(rates[len(rates) // 2 - 1:
                     len(rates) // 2 + 1]) / 2, "runs": rs, "repeats": len(rs), "steps": plan["e2e_steps"],
                     "images_per_step": cfg.data.images_per_batch}
    return out


def run_faiss(plan: dict[str, Any]) -> dict[str, Any]:
    """FAISS exact vs NumPy, and HNSW."""
    return faiss_bench.run(**plan["faiss"])


# ----------------------------------------------------------------------------------------------- tables
def _r(x: float | None, digits: int = 1) -> str:
    return "-" if x is None else f"{x:,.{digits}f}"


def map_table(m: dict[str, Any]) -> str:
    """Markdown for the MAP benchmark."""
    ours = m["ours"]["median_s"]
    rows = [
        ["vectorised `asen.metrics.map_per_attribute` (ours)", _r(ours, 3), m["ours"]["repeats"], "1.0x", "-"],
        ["reference-style loop (NumPy element indexing, 2 Python loops)", _r(m["reference"]["median_s"], 3),
         m["reference"]["repeats"], f"{m['speedup']:.1f}x", "identical"],
        ["tight Python loop (list, 1 loop)", _r(m["tight_loop"]["median_s"], 3), m["tight_loop"]["repeats"],
         f"{m['speedup_vs_tight_loop']:.1f}x", "identical"],
        ["(score matrices alone, shared by all)", _r(m["score_matrices"]["median_s"], 3),
         m["score_matrices"]["repeats"], "-", "-"],
    ]
    if "floor" in m:  # results written before the floor was timed have none
        rows.append(["(floor: score matrices + one torch.sort per query row)", _r(m["floor"]["median_s"], 3),
                     m["floor"]["repeats"], f"ours / floor = {m['ours_over_floor']:.2f}", "-"])
    head = (f"MAP at FashionAI test scale: {m['queries']:,} queries, {m['candidates']:,} candidates, {m['dim']:,}-d "
            f"float32, {m['attributes']} attributes; max |MAP difference| = {m['max_abs_diff']:.1e}. "
            f"Speed-up over the reference-style loop: **{m['speedup']:.1f}x** (target >= 20x: "
            f"{'met' if m['speedup'] >= 20 else 'NOT met'}); excluding the shared score matrices: "
            f"{m['speedup_excluding_score_matrices']:.1f}x.")
    return head + "\n\n" + md_table(["implementation", "median s", "repeats", "ours is faster by", "MAP"], rows)


def _setting_label(setting: str, r: dict[str, Any]) -> str:
    m = r["model"]
    bb = f"{m['backbone']}/{m['local_backbone']}" + (f" w{m['tiny_width']}" if m["backbone"] == "resnet_tiny" else "")
    return f"{setting}: {bb}, {r['global_size']}/{r['local_size']} px, {r['images_per_step']} img/step"


def _settings(t: dict[str, Any]) -> list[str]:
    """The settings of a train result, in the order they ran (older results: those with a stage-2 table)."""
    names = t.get("settings") or [k for k, v in t.items() if isinstance(v, dict) and "stage2_crop" in v]
    return [n for n in names if n in t]


def _fpi(r: dict[str, Any], *keys: str) -> float | None:
    """A FLOPs-per-image figure of a setting's result (``None`` where not counted, e.g. older results)."""
    v: Any = r.get("flops")
    for k in keys:
        if not isinstance(v, dict) or k not in v:
            return None
        v = v[k]
    return v


def _gflop(x: float | None) -> str:
    return "-" if x is None else f"{x / 1e9:.3g}"


def _tflops(x: float | None) -> str:
    return "-" if x is None else (f"{x:,.0f}" if x >= 1000 else f"{x:.3g}")


def flop_cells(t: dict[str, Any], images_per_s: float | None, flops_per_image: float | None) -> list[str]:
    """The "TFLOP/s achieved" and "% of bf16 peak" cells of a row: img/s x FLOPs/img, and its share of the GPU's
    dense bf16 peak on CUDA runs ("unknown peak" for a GPU not in the lookup; "-" on CPU runs)."""
    achieved = common.tflops_achieved(images_per_s, flops_per_image)
    if t.get("device") != "cuda":
        return [_tflops(achieved), "-"]
    peak = t.get("bf16_peak_tflops")
    if peak is None:
        return [_tflops(achieved), "unknown peak"]
    pct = common.percent_of_peak(achieved, peak)
    return [_tflops(achieved), "-" if pct is None else f"{pct:.1f}%"]


def _pair(a: list[str], b: list[str]) -> list[str]:
    return [f"{x} / {y}" for x, y in zip(a, b)]


def flops_note(t: dict[str, Any]) -> str:
    """How the FLOPs and the share of the peak are obtained (one paragraph)."""
    text = ("FLOPs per image are counted once per setting, untimed, on one batch with "
            "`torch.utils.flop_counter.FlopCounterMode`: matmuls and convolutions (2 FLOPs a multiply-add) of "
            "`compute_loss` forward + backward for a training step, of the forward for extraction; the optimizer "
            "step, elementwise ops, norms and the crop are not counted, so \"TFLOP/s achieved\" (img/s x FLOPs/img) "
            "is the model's useful work rate. ")
    if t.get("device") != "cuda":
        return text + "CPU run: no GPU peak to compare with (\"% of bf16 peak\" is \"-\")."
    peak = t.get("bf16_peak_tflops")
    if peak is None:
        return text + (f"\"% of bf16 peak\": unknown peak for {t.get('gpu')} (the lookup holds the datasheet dense "
                       "bf16 figures of H200 / H100 SXM 989.4, H100 PCIe 756, A100 312, L4 121 TFLOP/s).")
    return text + (f"\"% of bf16 peak\" is against the datasheet dense (no sparsity) bf16 tensor-core peak of the "
                   f"{t.get('gpu')}: {peak:g} TFLOP/s; fp32 rows are compared with the same bf16 figure.")


def train_tables(t: dict[str, Any]) -> str:
    """Markdown for the training / extraction benchmarks, every setting the run measured."""
    settings = _settings(t)
    parts = [flops_note(t)]
    rows = []
    for setting in settings:
        r = t[setting]
        rows.append([_setting_label(setting, r), _gflop(_fpi(r, "stage1_train", "flops_per_image")),
                     _gflop(_fpi(r, "stage2_train", "flops_per_image")),
                     _gflop(_fpi(r, "extract", "flops_per_image_global")),
                     _gflop(_fpi(r, "extract", "flops_per_image_global_local"))])
    parts.append("GFLOP per image (training: forward + backward of one step).\n\n"
                 + md_table(["configuration", "stage-1 train", "stage-2 train", "extract global",
                             "extract global+local"], rows))
    rows = []
    for setting in settings:
        r = t[setting]
        b, p = r["stage2_crop"]["batched"], r["stage2_crop"]["per_image"]
        ratio = b["images_per_s"] / p["images_per_s"]
        fpi = _fpi(r, "stage2_train", "flops_per_image")
        cl = r["model"].get("channels_last")
        rows.append([_setting_label(setting, r), "-" if cl is None else ("channels_last" if cl else "contiguous"),
                     _r(b["images_per_s"], 2), _r(p["images_per_s"], 2), f"{ratio:.2f}x",
                     *_pair(flop_cells(t, b["images_per_s"], fpi), flop_cells(t, p["images_per_s"], fpi)),
                     f"{_r(b['peak_rss_mb'], 0)} / {_r(p['peak_rss_mb'], 0)}", f"{b['repeats']} x {b['steps']}"])
    parts.append("Stage-2 training (compute_loss + backward + Adam step on pre-built batches, fp32, the configured "
                 "memory format): batched on-device crop (roi_align) vs per-image PIL crop. Target: batched >= "
                 "1.5x per-image at the CPU configuration.\n\n"
                 + md_table(["configuration", "format", "batched img/s", "per-image img/s", "batched / per-image",
                             "TFLOP/s achieved (b / p)", "% of bf16 peak (b / p)", "peak RSS MB (b / p)",
                             "repeats x steps"], rows))
    rows = []
    for setting in settings:
        c = t[setting]["crop"]
        rows.append([_setting_label(setting, t[setting]), _r(c["batched"]["ms_per_batch"], 2),
                     _r(c["per_image"]["ms_per_batch"], 2), _r(c["roi_align_sr2"]["ms_per_batch"], 2),
                     c["batched"]["repeats"]])
    parts.append("The crop step alone (attention maps -> boxes -> crops, one batch), ms. Batched is "
                 "`asen.roi.zoom` (roi_align, 2x2 samples a pixel, /255 applied to the crops); the last column is "
                 "the same roi_align with the whole batch of originals scaled to [0, 1] first (and no "
                 "normalisation), the order the library used before.\n\n"
                 + md_table(["configuration", "batched ms", "per-image ms", "roi_align, /255 first ms", "repeats"],
                            rows))
    rows = []
    for setting in settings:
        r = t[setting]["stage1"]
        fpi = _fpi(t[setting], "stage1_train", "flops_per_image")
        base = r["fp32"]["images_per_s"]
        for name, v in r.items():
            rows.append([_setting_label(setting, t[setting]), name, _r(v["images_per_s"], 2),
                         f"{v['images_per_s'] / base:.2f}x", *flop_cells(t, v["images_per_s"], fpi),
                         _r(v["peak_rss_mb"], 0), _r(v["peak_cuda_mb"], 0), f"{v['repeats']} x {v['steps']}"])
        if "bf16" not in r:
            rows.append([_setting_label(setting, t[setting]), "bf16 autocast (+channels_last)", "-", "-", "-", "-",
                         "-", "-", t["cuda_rows"]])
    parts.append("Stage-1 training, memory format and precision (baseline: fp32, contiguous).\n\n"
                 + md_table(["configuration", "variant", "img/s", "vs fp32", "TFLOP/s achieved", "% of bf16 peak",
                             "peak RSS MB", "peak CUDA MB", "repeats x steps"], rows))
    rows = []
    for setting in settings:
        r = t[setting]["extract"]
        fg = _fpi(t[setting], "extract", "flops_per_image_global")
        fgl = _fpi(t[setting], "extract", "flops_per_image_global_local")
        base = r["fp32"]
        for name, v in r.items():
            rows.append([_setting_label(setting, t[setting]), name, _r(v["images_per_s_global"], 1),
                         f"{v['images_per_s_global'] / base['images_per_s_global']:.2f}x",
                         _r(v.get("images_per_s_global_local"), 1),
                         f"{v['images_per_s_global_local'] / base['images_per_s_global_local']:.2f}x",
                         *_pair(flop_cells(t, v["images_per_s_global"], fg),
                                flop_cells(t, v.get("images_per_s_global_local"), fgl)),
                         _r(v["peak_rss_mb"], 0), _r(v["peak_cuda_mb"], 0), v["repeats"]])
        if "bf16" not in r:
            rows.append([_setting_label(setting, t[setting]), "bf16 autocast (+channels_last)", "-", "-", "-", "-",
                         "-", "-", "-", "-", t["cuda_rows"]])
    parts.append("Feature extraction (eval, inference mode; global+local includes the batched crop), images/s "
                 "(baseline: fp32, contiguous).\n\n"
                 + md_table(["configuration", "variant", "global img/s", "vs fp32", "global+local img/s", "vs fp32",
                             "TFLOP/s achieved (g / g+l)", "% of bf16 peak (g / g+l)", "peak RSS MB",
                             "peak CUDA MB", "repeats"], rows))
    return "\n\n".join(parts)


def e2e_table(e: dict[str, Any]) -> str:
    """Markdown for the end-to-end training epoch."""
    rows = [[mode, _r(v["images_per_s"], 2), _r(sum(r["epoch_seconds"] for r in v["runs"]) / len(v["runs"]), 1),
             f"{v['steps']} x {v['images_per_step']}", v["repeats"]] for mode, v in e.items()]
    ratio = e["batched"]["images_per_s"] / e["per_image"]["images_per_s"]
    return (f"End-to-end `asen.train.train`, one epoch, CPU configuration, stage 2 (image loading in the main "
            f"process included, validation excluded): batched / per-image = {ratio:.2f}x.\n\n"
            + md_table(["crop mode", "img/s", "epoch s", "steps x images", "runs"], rows))


def faiss_table(f: dict[str, Any]) -> str:
    """Markdown for the FAISS benchmark."""
    fl, npy, h = f["flat"], f["numpy"], f["hnsw"]
    rows = [
        ["FAISS IndexFlatIP (exact)", _r(fl["build_s"], 2), _r(fl["peak_rss_mb"], 0), _r(fl["single"]["median_ms"], 2),
         _r(fl["single"]["p95_ms"], 2), _r(fl["batched"]["ms_per_query"], 2), f"{fl['recall_at_10']:.3f}"],
        ["NumPy matmul + argpartition (exact)", "-", f"{_r(npy['memory_mb'], 0)} (the array)",
         _r(npy["single"]["median_ms"], 2), _r(npy["single"]["p95_ms"], 2), _r(npy["batched"]["ms_per_query"], 2),
         "1 (reference)"],
    ]
    for run in h["runs"]:
        rows.append([f"FAISS HNSW M={h['M']}, efC={h['ef_construction']}, efSearch={run['ef_search']}",
                     _r(h["build_s"], 1), _r(h["peak_rss_mb"], 0), _r(run["single"]["median_ms"], 3),
                     _r(run["single"]["p95_ms"], 3), _r(run["batched"]["ms_per_query"], 3),
                     f"{run['recall_at_10']:.3f}"])
    head = (f"FAISS, {f['n']:,} x {f['dim']} float32 gallery ({f['gallery_mb']:,.0f} MB), k={f['k']}, "
            f"{f['faiss_threads']} threads; latency over {f['single_queries']} single-query calls (HNSW: "
            f"{f['batch_queries']}); batched = per query in batches of 100 over {f['batch_queries']} queries "
            f"(median of {fl['batched']['repeats']}); memory = RSS high-water mark over the build.")
    return head + "\n\n" + md_table(["method", "build s", "memory MB", "1-query median ms", "1-query p95 ms",
                                     "batched ms/query", "recall@10"], rows)


def report(results: dict[str, Any]) -> str:
    """The whole markdown report."""
    m = results["machine"]
    gpu = m["gpu"] or "no GPU"
    cpu_label = cpu.cpu_label(m)  # older results lack cpu_id: the name alone
    head = (f"## asen benchmarks ({results['mode']}, device {m['device']})\n\n"
            f"Machine: {cpu_label}, {m['cores']} cores ({m['torch_threads']} torch threads), {m['memory_gb']} GB, "
            f"{gpu}; torch {m['torch']}, numpy {m['numpy']}, faiss {m.get('faiss')}. Load average at start "
            f"{', '.join(f'{x:.2f}' for x in m['load_average_start'])}, at end "
            f"{', '.join(f'{x:.2f}' for x in results.get('load_average_end', []))}. "
            f"Wall time {results.get('wall_s', 0) / 60:.1f} min. Commit {m.get('git_commit')}.")
    parts = [head]
    r = results["results"]
    if "map" in r:
        parts.append("### MAP\n\n" + map_table(r["map"]))
    if "train" in r:
        parts.append("### Training and extraction\n\n" + train_tables(r["train"]))
    if "e2e" in r:
        parts.append("### End-to-end training\n\n" + e2e_table(r["e2e"]))
    if "isa" in r:
        parts.append("### oneDNN instruction-set cap\n\n" + isa_bench.table(r["isa"]))
    if "faiss" in r:
        parts.append("### Search\n\n" + faiss_table(r["faiss"]))
    for name, why in results.get("skipped", {}).items():
        parts.append(f"### {name}\n\nskipped: {why}")
    return "\n\n".join(parts) + "\n"


# ------------------------------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small repeats and sizes (about 3 minutes on 2 cores); "
                                                             "the same as --plan quick")
    parser.add_argument("--plan", choices=sorted(PLANS),
                        help="repeats, sizes and training settings: quick, full (the CPU default) or gpu (the "
                             "default with --device cuda: 10-step repeats and a paper_large setting of 384 images "
                             "a step)")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="where the models run (default cpu)")
    parser.add_argument("--out", help="JSON output (default benchmarks/results.json; results_quick.json with the "
                                      "quick plan, results_gpu.json with the gpu plan); the markdown goes next to "
                                      "it (.md)")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch (and FAISS) threads; default 0 keeps torch's default (the core count). On a "
                             "machine shared with other jobs, 1 thread gives steadier timings")
    parser.add_argument("--sections", default=",".join(SECTIONS),
                        help=f"comma-separated subset of {', '.join(SECTIONS)} (default all)")
    args = parser.parse_args(argv)
    sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections {sorted(unknown)} (choose from {', '.join(SECTIONS)})")
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device")
    if args.quick and args.plan not in (None, "quick"):
        parser.error(f"--quick and --plan {args.plan} disagree (--quick is --plan quick)")
    mode = args.plan or ("quick" if args.quick else "gpu" if args.device == "cuda" else "full")
    if args.threads > 0:
        torch.set_num_threads(args.threads)
        try:
            import faiss

            faiss.omp_set_num_threads(args.threads)
        except ImportError:
            pass
    device = torch.device(args.device)
    plan = PLANS[mode]
    default_out = {"quick": "results_quick.json", "gpu": "results_gpu.json"}.get(mode, "results.json")
    out = Path(args.out) if args.out else ROOT / "benchmarks" / default_out
    results: dict[str, Any] = {"mode": mode, "machine": common.machine_info(str(device)), "plan": plan, "results": {}}
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        data_root = None
        if {"train", "e2e", "isa"} & set(sections):
            log("writing a toy dataset of 224 px images")
            data_root = train_bench.make_dataset(Path(tmp) / "Toy", n_train=128, size=224)
        for section in sections:
            log(f"section {section}")
            s0 = time.perf_counter()
            if section == "map":
                results["results"]["map"] = run_map(plan)
            elif section == "train":
                results["results"]["train"] = run_train(plan, device, data_root)
            elif section == "e2e":
                results["results"]["e2e"] = run_e2e(plan, device, data_root)
            elif section == "isa":
                results["results"]["isa"] = isa_bench.run(data_root, **plan["isa"])
            elif section == "faiss":
                try:
                    results["results"]["faiss"] = run_faiss(plan)
                except ImportError as exc:  # e.g. a GPU machine without faiss
                    log(f"skipping faiss: {exc}")
                    results["skipped"] = {**results.get("skipped", {}), "faiss": str(exc)}
            results.setdefault("section_seconds", {})[section] = round(time.perf_counter() - s0, 1)
    results["wall_s"] = time.perf_counter() - t0
    results["load_average_end"] = list(os.getloadavg())
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=str) + "\n")  # first, in case the report fails
    text = report(results)
    results["markdown"] = text
    out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    out.with_suffix(".md").write_text(text)
    print(text)
    log(f"wrote {out} and {out.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
