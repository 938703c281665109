#!/usr/bin/env python
"""The GPU checks in one command (about 5-8 minutes on one H200): the training benchmarks and the input pipeline.

    python -m benchmarks.gpu_check [--results benchmarks/gpu_check] [--dry-run] [--skip-run-py]
                                   [--data data/SynthFashion] [--batch-triplets N] [--compile [--compile-mode M]]

1. prints the GPU (``nvidia-smi``, torch's device name and versions) into ``<results>/gpu.txt``;
2. runs ``python -m benchmarks.run --device cuda --sections train,e2e --plan gpu --out benchmarks/results_gpu.json``
   (ASEN++ Sec. III-B/C training steps, Sec. IV-B settings) and copies its JSON and markdown into the results
   (``--skip-run-py`` leaves it out);
3. the input pipeline (``pipeline``): on SynthFashion at 224 px (generated, or ``--data``), the PIL ``DataLoader``
   (JPEG decoding in 2 and 4 worker processes, as ``asen train`` does) against the image store of
   :mod:`asen.device_images` (one prefetch thread, conversion on the GPU) - first the loader alone (batches on the
   GPU, no model), then feeding training steps at the paper's sizes, random init, bf16 + channels-last, 384 images
   a step (``--batch-triplets``: 3 x that many), against the same steps on batches already on the GPU (the step
   alone, the figure the loaders are compared with): stage 1 (ResNet-50 at 224 px; store of global views) and
   stage 2 (+ ResNet-34 on 112 px crops batched on the GPU; store with the originals), loaders taking turns,
   with FLOPs per image and the share of the GPU's bf16 peak; with ``--compile``, stage 1 again with the global
   backbone compiled (``torch.compile``, compile time reported; ``--compile-mode reduce-overhead`` adds CUDA
   graphs). Also the stores' one-off build times. Written to ``<results>/pipeline.json`` after each stage.

Without CUDA it stops at once with an error (``--dry-run`` prints the commands and the plan and runs nothing;
``--pipeline-device cpu`` runs step 3 on the CPU at toy sizes, for testing). Results of one H200 session:
``benchmarks/gpu_h200_2026-11-30/``.
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if not __package__:  # run as a file, where `benchmarks` cannot be imported
    sys.exit("error: run it from the repository root as a module: python -m benchmarks.gpu_check [...]")

RUN_PY_ARGS = ["--device", "cuda", "--sections", "train,e2e", "--plan", "gpu", "--out", "benchmarks/results_gpu.json"]
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune-no-cudagraphs")
# pipeline settings: (images a step, triplets a step); the GPU run and a CPU smoke run of the same code
PIPELINE = {
    "cuda": {"image_size": 224, "synth_size": "tiny", "batch_triplets": 128, "workers": (2, 4), "warmup": 3,
             "steps": 10, "repeats": 2, "loader_batches": 10, "backbone": {}},
    "cpu": {"image_size": 64, "synth_size": "tiny", "batch_triplets": 4, "workers": (2,), "warmup": 1,
            "steps": 2, "repeats": 1, "loader_batches": 3,
            "backbone": {"model.backbone": "resnet_tiny", "model.local_backbone": "resnet_tiny",
                         "model.tiny_width": 8, "data.global_size": 64, "data.local_size": 32}},
}


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def run_py_command() -> list[str]:
    """The benchmark command of step 2 (``benchmarks/run.py`` with the GPU plan)."""
    return [sys.executable, "-m", "benchmarks.run", *RUN_PY_ARGS]  # run from ROOT


def require_cuda() -> None:
    """Exit with status 1 and a one-line error when torch sees no CUDA device."""
    import torch

    if not torch.cuda.is_available():
        sys.exit(f"error: gpu_check needs a CUDA GPU, and torch {torch.__version__} sees none "
                 f"(torch.cuda.is_available() is False); use --dry-run to see the plan")


def gpu_info() -> str:
    """nvidia-smi's summary (when installed) and torch's view of the device."""
    import torch

    lines = []
    if shutil.which("nvidia-smi"):
        out = subprocess.run(["nvidia-smi"], capture_output=True, text=True, check=False)
        lines.append(out.stdout.strip() or out.stderr.strip())
    props = torch.cuda.get_device_properties(0)
    lines.append(f"torch {torch.__version__}, CUDA {torch.version.cuda}, device 0: {props.name}, "
                 f"{props.total_memory / 2**30:.1f} GiB, {props.multi_processor_count} SMs")
    return "\n".join(lines)


def _sync(device: Any) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def pipeline(device_name: str, workdir: Path, data: Path | None = None, compile_step: bool = False,
             save: Any = None, batch_triplets: int | None = None, compile_mode: str = "default") -> dict[str, Any]:
    """Step 3: loader alone and end to end, PIL DataLoader against the store (see the module docstring).

    Args:
        device_name: ``cuda`` (the real check) or ``cpu`` (toy sizes, to test the code path).
        workdir: where SynthFashion (unless ``data``) and the store are written.
        data: an existing SynthFashion folder at the setting's image size (e.g. the one ``asen reproduce --profile
            gpu`` generates) instead of generating ``synth_size``.
        compile_step: also time stage 1 with the global backbone compiled (``torch.compile``; the compile time is
            the untimed warm-up's, reported), after every other figure.
        save: called with the results so far after each stage (a run cut short keeps what it measured).
        batch_triplets: triplets a step instead of the setting's.
        compile_mode: ``torch.compile``'s mode with ``compile_step`` (:data:`COMPILE_MODES`).
    Returns:
        A JSON-ready dict of settings, the store build, ``loader_only`` and ``end_to_end`` rates (img/s): each
        loader feeding the training step, and ``step_only`` (the same steps on batches already on the device),
        with FLOPs per image and the share of the GPU's bf16 peak.
    """
    import numpy as np
    import torch
    from torch.utils.data import DataLoader

    from asen.data import ImageSet, collate_images, load_split_files
    from asen.device_images import StoreLoader, open_store
    from asen.model import build_model
    from asen.synth.layout import generate_dataset
    from asen.train import compute_loss, make_optimizer, make_sampler
    from benchmarks import common, train_bench

    p = dict(PIPELINE[device_name], **({"batch_triplets": batch_triplets} if batch_triplets else {}))
    device = torch.device(device_name)
    t0 = time.perf_counter()
    if data is None:
        root = generate_dataset(workdir / f"SynthFashion_{p['synth_size']}_{p['image_size']}", size=p["synth_size"],
                                image_size=p["image_size"], progress=False)
    else:
        root = Path(data)
    out: dict[str, Any] = {"device": device_name, "settings": p, "data": str(root),
                           "synth_seconds": time.perf_counter() - t0}
    peak = common.bf16_peak_tflops(torch.cuda.get_device_name(0)) if device.type == "cuda" else None
    out["bf16_peak_tflops"] = peak
    extra = {"data.batch_size": p["batch_triplets"], "model.channels_last": device.type == "cuda",
             "train.amp": "bf16" if device.type == "cuda" else "none", "data.crop_mode": "batched", **p["backbone"]}
    cfgs = {stage: train_bench.make_config("paper", stage, root, **extra) for stage in (1, 2)}
    files = load_split_files(root, ("train",))
    names, g = files.filenames["train"], cfgs[1].data.global_size
    log(f"pipeline: {len(names)} training images in {root}, global view {g} px, "
        f"{3 * p['batch_triplets']} images a step")
    stores, out["store"] = {}, {}
    for stage in (1, 2):  # stage 1: global views only; stage 2: with the originals the local crops need
        t0 = time.perf_counter()
        stores[stage] = open_store(root, "train", names, g, cache_dir=workdir / "store", progress=False,
                                   originals=stage == 2)
        seconds = time.perf_counter() - t0
        out["store"][f"stage{stage}"] = {"build_s": seconds, "bytes": stores[stage].path.stat().st_size,
                                         "images": len(stores[stage]), "build_images_per_s": len(names) / seconds}
        log(f"store stage {stage}: {len(names)} images in {seconds:.1f} s")
    sampler = make_sampler(cfgs[1], files)
    metas = []
    epoch = 0
    need = max(p["loader_batches"], p["warmup"] + p["steps"])
    while len(metas) < need:
        metas.extend(sampler.epoch(epoch))
        epoch += 1

    def loaders(batches: list[list[int]], stage: int) -> dict[str, Any]:
        images = ImageSet(root, names, g, keep_original=stage == 2)
        made: dict[str, Any] = {}
        for w in p["workers"]:
            made[f"pil_{w}_workers"] = DataLoader(images, batch_sampler=batches, collate_fn=collate_images,
                                                  num_workers=w, pin_memory=device.type == "cuda",
                                                  persistent_workers=False)
        made["store"] = StoreLoader(stores[stage], batches, device, prefetch=2, keep_original=stage == 2)
        return made

    def rates_of(runs: dict[str, list[float]], flops_per_image: float | None = None) -> dict[str, Any]:
        res: dict[str, Any] = {}
        for k, v in runs.items():
            rate = float(np.median(v))
            tflops = common.tflops_achieved(rate, flops_per_image)
            res[k] = {"images_per_s": rate, "runs": v, "tflops": tflops,
                      "percent_of_bf16_peak": common.percent_of_peak(tflops, peak)}
        best_pil = max(v["images_per_s"] for k, v in res.items() if k.startswith("pil_"))
        res["store_over_best_pil"] = res["store"]["images_per_s"] / best_pil
        if "step_only" in res:
            res["store_over_step_only"] = res["store"]["images_per_s"] / res["step_only"]["images_per_s"]
        return res

    # loader alone (stage 1's batches delivered on the device; the worker processes' start-up included)
    batches = [m["images"].tolist() for m in metas[: p["loader_batches"]]]
    runs: dict[str, list[float]] = {}
    for _ in range(p["repeats"]):
        for name, loader in loaders(batches, 1).items():
            _sync(device)
            t0 = time.perf_counter()
            n = 0
            for batch in loader:
                n += len(batch["image"].to(device, non_blocking=True))
            _sync(device)
            runs.setdefault(name, []).append(n / (time.perf_counter() - t0))
    out["loader_only"] = rates_of(runs)
    log("loader only (img/s): " + ", ".join(f"{k} {v['images_per_s']:.0f}" for k, v in out["loader_only"].items()
                                            if isinstance(v, dict)))

    def timed_steps(model: Any, opt: Any, cfg: Any, loader: Any, steps: list[dict]) -> tuple[float, float]:
        """Training steps fed by ``loader``; returns (img/s after the warm-up, seconds of the warm-up)."""
        _sync(device)
        n, t0 = 0, time.perf_counter()
        warm = 0.0
        for s, (batch, meta) in enumerate(zip(loader, steps)):
            if s == p["warmup"]:
                _sync(device)
                warm = time.perf_counter() - t0
                t0, n = time.perf_counter(), 0
            with train_bench._autocast(device, cfg.train.amp):
                loss, _ = compute_loss(model, batch, meta, cfg, device)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            n += len(batch["image"])
        _sync(device)
        return n / (time.perf_counter() - t0), warm

    # end to end: each loader feeding training steps (warm-up steps untimed), loaders taking turns, and the same
    # steps on batches assembled beforehand and kept on the device (the step-only figure of the same run)
    steps = metas[: p["warmup"] + p["steps"]]
    step_ids = [m["images"].tolist() for m in steps]
    for stage, cfg in cfgs.items():
        resident = list(StoreLoader(stores[stage], step_ids, device, prefetch=0, keep_original=stage == 2))
        fl = train_bench.train_flops(cfg, resident[0], steps[0], device, files.meta.num_attributes)
        torch.manual_seed(0)
        model = build_model(cfg.model, files.meta.num_attributes, device).train()
        opt = make_optimizer(model, cfg)
        runs = {}
        for _ in range(p["repeats"]):
            made = loaders(step_ids, stage)
            made["step_only"] = resident
            for name, loader in made.items():
                runs.setdefault(name, []).append(timed_steps(model, opt, cfg, loader, steps)[0])
        key = f"end_to_end_stage{stage}"
        out[key] = rates_of(runs, fl["flops_per_image"])
        out[key]["flops_per_image"] = fl["flops_per_image"]
        log(f"end to end, stage {stage} (img/s): " + ", ".join(
            f"{k} {v['images_per_s']:.0f}" for k, v in out[key].items() if isinstance(v, dict))
            + f"; store / step only {out[key]['store_over_step_only']:.2f}")
        if save is not None:
            save(out)
        if stage == 1 and compile_step:  # timed last, after the eager figures are saved
            kept = (model, opt, cfg, resident, fl["flops_per_image"], out[key]["step_only"]["images_per_s"])
        del model, opt, resident
        if device.type == "cuda":
            torch.cuda.empty_cache()
    if compile_step:
        model, opt, cfg, resident, fpi, eager = kept
        log("compiling the global backbone (torch.compile) and timing stage 1 again")
        t0 = time.perf_counter()
        res: dict[str, Any] = {}
        try:
            model.global_branch.backbone.compile(mode=compile_mode)
            for name, loader in (("step_only", resident), ("store", loaders(step_ids, 1)["store"])):
                rate, warm = timed_steps(model, opt, cfg, loader, steps)
                tflops = common.tflops_achieved(rate, fpi)
                res[name] = {"images_per_s": rate, "warmup_s": warm, "tflops": tflops,
                             "percent_of_bf16_peak": common.percent_of_peak(tflops, peak)}
            res["compiled_over_eager_step_only"] = res["step_only"]["images_per_s"] / eager
        except Exception as exc:  # reported, not fatal: the eager figures stand
            res["error"] = repr(exc)[:500]
        res["seconds"] = time.perf_counter() - t0
        res["mode"] = compile_mode
        out["compiled_stage1"] = res
        log(f"compiled stage 1: {json.dumps(res)[:400]}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", default=str(ROOT / "benchmarks" / "gpu_check"),
                        help="folder for gpu.txt, results_gpu.json/.md and pipeline.json")
    parser.add_argument("--dry-run", action="store_true", help="print the steps and commands, run nothing")
    parser.add_argument("--skip-run-py", action="store_true", help="skip step 2 (benchmarks/run.py)")
    parser.add_argument("--data", default=None,
                        help="an existing SynthFashion folder for step 3 (default: generate the setting's size)")
    parser.add_argument("--batch-triplets", type=int, default=None,
                        help="triplets a step in step 3 (default 128 on cuda; the gpu profile trains with 16)")
    parser.add_argument("--compile", action="store_true",
                        help="step 3 also times stage 1 with torch.compile (compile time reported)")
    parser.add_argument("--compile-mode", default="default", choices=COMPILE_MODES,
                        help="torch.compile's mode for --compile (reduce-overhead: CUDA graphs, for small batches "
                             "bound by kernel launches)")
    parser.add_argument("--pipeline-device", default="cuda", choices=sorted(PIPELINE),
                        help="cuda (default; needs a GPU) or cpu (toy sizes, to test the code path; no GPU steps)")
    args = parser.parse_args(argv)
    results = Path(args.results)
    gpu = args.pipeline_device == "cuda"
    plan = [("gpu", "print the GPU -> gpu.txt")] if gpu else []
    if gpu and not args.skip_run_py:
        plan.append(("run.py", " ".join(run_py_command()) + " (then copied into the results)"))
    plan.append(("pipeline", f"PIL DataLoader vs image store on {args.pipeline_device}: "
                             f"{json.dumps(PIPELINE[args.pipeline_device])} -> pipeline.json"))
    if args.dry_run:
        print(f"results folder: {results}")
        for name, what in plan:
            print(f"{name}: {what}")
        return 0
    if gpu:
        require_cuda()
    results.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    summary: dict[str, Any] = {"steps": {}}
    if gpu:
        info = gpu_info()
        print(info, flush=True)
        (results / "gpu.txt").write_text(info + "\n")
    if gpu and not args.skip_run_py:
        log("python -m benchmarks.run " + " ".join(RUN_PY_ARGS))
        t0 = time.perf_counter()
        rc = subprocess.run(run_py_command(), cwd=ROOT, check=False).returncode
        summary["steps"]["run.py"] = {"rc": rc, "seconds": time.perf_counter() - t0}
        for suffix in (".json", ".md"):
            src = ROOT / "benchmarks" / f"results_gpu{suffix}"
            if src.exists():
                shutil.copy2(src, results / src.name)
        if rc != 0:
            log(f"error: benchmarks/run.py exited with status {rc} (continuing with the pipeline check)")
    t0 = time.perf_counter()
    def save(part: dict[str, Any]) -> None:  # after each stage, and the whole at the end
        (results / "pipeline.json").write_text(json.dumps(part, indent=1) + "\n")

    save(pipeline(args.pipeline_device, results / "work", Path(args.data) if args.data else None, args.compile,
                  save=save, batch_triplets=args.batch_triplets, compile_mode=args.compile_mode))
    summary["steps"]["pipeline"] = {"seconds": time.perf_counter() - t0}
    shutil.rmtree(results / "work", ignore_errors=True)
    summary["seconds"] = time.perf_counter() - t_start
    (results / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    log(f"done in {summary['seconds']:.0f} s; results in {results}")
    failed = [k for k, v in summary["steps"].items() if v.get("rc", 0) != 0]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
