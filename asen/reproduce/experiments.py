"""Train (or reuse) and evaluate: the main comparison (:func:`run_main_table`) and the ablations
(:func:`run_ablations`), as the results dicts :mod:`~asen.reproduce.tables` formats."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Sequence

import torch

from ..checkpoint import check_attribute_count, load_model
from ..data import ImageCache, SplitFiles, load_split_files
from ..evaluate import MapTable, evaluate, map_table, random_features
from ..synth.layout import dataset_version
from .cache import ensure_trained
from .methods import ABLATION_ROWS, MAIN_METHODS, METHOD_LABELS, stage1_of
from .protocol import Protocol, ablation_runs, main_table_runs, protocol_caption
from .schedule import train_all
from .tables import _stats, aggregate, zoom_gains


def data_version(files: SplitFiles) -> str | None:
    """The generator version a SynthFashion folder records in its ``meta.json`` (None for a dataset without one,
    such as FashionAI; :func:`asen.synth.layout.dataset_version`): the tables carry it, so a table says which
    SynthFashion it was measured on and a reference measured on another version is not compared with it."""
    return dataset_version(files.root)


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


def main_table_seeds_of(seeds: Sequence[int], methods: Sequence[str] = MAIN_METHODS,
                        method_seeds: dict[str, Sequence[int]] | None = None) -> dict[str, list[int]]:
    """Each row's seeds as :func:`run_main_table` takes them: ``method_seeds`` where it names the row, else
    ``seeds``."""
    return {m: list((method_seeds or {}).get(m, seeds)) for m in methods}


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
        "dataset": files.meta.name, "data_version": data_version(files), "split": "test", "seeds": list(seeds),
        "profile": protocol.profile, "attributes": list(files.meta.attributes),
        "methods": {m: {"label": METHOD_LABELS[m], "seeds": own[m], **aggregate(per_method[m])} for m in methods},
        "seconds": timings,
        "protocol": protocol_caption(protocol),
    }
    fewer = {m: s for m, s in own.items() if s != list(seeds)}
    if fewer:
        out["method_seeds"] = fewer
    return out


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
        "dataset": files.meta.name, "data_version": data_version(files), "split": "test", "seeds": list(seeds),
        "profile": protocol.profile, "attributes": list(files.meta.attributes),
        "methods": methods,
        "beta_sweep": {str(b): _stats(v) for b, v in beta_curve.items()},
        "threshold_sweep": {str(t): _stats(v) for t, v in thr_curve.items()},
        "zoom_gains": zoom_gains({"methods": methods, "attributes": list(files.meta.attributes)}),
        "protocol": protocol_caption(protocol) + " Sweeps vary beta and the test-time crop threshold of the same "
                                                 "trained ASEN++.",
    }
