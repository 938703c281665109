"""Large-gallery search (asen.search): FAISS exact ``IndexFlatIP`` vs brute-force NumPy, and HNSW.

The gallery stands in for attribute-specific embeddings: L2-normalised vectors from a mixture of 2,000
Gaussian clusters in 64 latent dimensions projected to ``dim``, plus noise (:func:`make_vectors`); queries
come from the same distribution (not from the gallery).
Per-query latency is measured one query per call (an interactive search), and per query within batches of
100 (an offline job). Memory is the RSS high-water mark over building each index.
"""
from __future__ import annotations

import time
from typing import Any

import numpy as np

from asen.search import exact_search, make_index, require_faiss, search_vectors

from .common import PeakMemory, summary

K = 10


def make_vectors(n: int, dim: int, seed: int, intrinsic: int = 64, clusters: int = 2000, spread: float = 1.0,
                 noise: float = 0.3, chunk: int = 100_000) -> np.ndarray:
    """``n`` unit float32 vectors standing in for embeddings: a mixture of ``clusters`` Gaussians in
    ``intrinsic`` latent dimensions (centres shared by every call, whatever ``seed``), projected to ``dim``,
    plus uniform noise of standard deviation ``noise`` per dimension; built in chunks."""
    fixed = np.random.default_rng(12345)
    proj = fixed.standard_normal((intrinsic, dim), dtype=np.float32) / np.sqrt(intrinsic)
    centres = fixed.standard_normal((clusters, intrinsic), dtype=np.float32)
    rng = np.random.default_rng(seed)
    out = np.empty((n, dim), np.float32)
    half_width = noise * np.sqrt(3.0)  # uniform(-w, w) has standard deviation w / sqrt(3)
    for start in range(0, n, chunk):
        m = min(chunk, n - start)
        z = centres[rng.integers(0, clusters, m)] + spread * rng.standard_normal((m, intrinsic), dtype=np.float32)
        x = z @ proj
        x += (rng.random((m, dim), dtype=np.float32) * 2 - 1) * half_width
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        out[start : start + m] = x
    return out


def _latency(fns: dict[str, Any], queries: np.ndarray) -> dict[str, dict[str, Any]]:
    """Per-query latency, one query per call; the functions take turns on each query."""
    ms: dict[str, list[float]] = {name: [] for name in fns}
    for i in range(len(queries)):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn(queries[i : i + 1])
            ms[name].append(1000 * (time.perf_counter() - t0))
    out = {}
    for name, values in ms.items():
        arr = np.asarray(values)
        out[name] = {"median_ms": float(np.median(arr)), "p95_ms": float(np.percentile(arr, 95)),
                     "mean_ms": float(arr.mean()), "queries": len(arr)}
    return out


def _batched(fns: dict[str, Any], queries: np.ndarray, batch: int, repeats: int) -> dict[str, dict[str, Any]]:
    """Time per query when searching in batches of ``batch``; the functions take turns on each repeat."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            for s in range(0, len(queries), batch):
                fn(queries[s : s + batch])
            times[name].append(time.perf_counter() - t0)
    out = {}
    for name, t in times.items():
        res = summary(t)
        res.update(ms_per_query=1000 * res["median_s"] / len(queries), batch=batch)
        out[name] = res
    return out


def _numpy_top_k(gallery: np.ndarray):
    def fn(q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return exact_search(gallery, q, K, chunk=100)
    return fn


def recall_at_k(ids: np.ndarray, truth: np.ndarray) -> float:
    """Mean fraction of the true top-k found in the returned top-k."""
    return float(np.mean([len(set(a.tolist()) & set(b.tolist())) / truth.shape[1] for a, b in zip(ids, truth)]))


def run(n: int = 1_000_000, dim: int = 512, single_queries: int = 100, batch_queries: int = 200,
        batch_repeats: int = 2, hnsw_m: int = 16, ef_construction: int = 40, ef_search: tuple[int, ...] = (32, 64, 128),
        seed: int = 0) -> dict[str, Any]:
    """Exact FAISS vs NumPy (latency, memory, identical results) and HNSW (build time, latency, recall@10).

    Args:
        n, dim: gallery size and dimension.
        single_queries: queries timed one per call (latency median / p95).
        batch_queries: queries timed in batches of 100 (per-query cost), and the recall@10 set.
        batch_repeats: repeats of the batched timing (median).
        hnsw_m, ef_construction, ef_search: HNSW parameters (one row per ``ef_search``).
    Returns:
        A JSON-ready dict with ``flat``, ``numpy`` and ``hnsw`` entries.
    """
    faiss = require_faiss()
    t0 = time.perf_counter()
    gallery = make_vectors(n, dim, seed)
    queries = make_vectors(max(single_queries, batch_queries), dim, seed + 1)
    single, batch = queries[:single_queries], queries[:batch_queries]
    res: dict[str, Any] = {"n": n, "dim": dim, "k": K, "single_queries": single_queries,
                           "batch_queries": batch_queries, "gallery_mb": gallery.nbytes / 2**20,
                           "generate_s": time.perf_counter() - t0, "faiss_threads": faiss.omp_get_max_threads()}
    numpy_fn = _numpy_top_k(gallery)
    truth_scores, truth = numpy_fn(batch)

    with PeakMemory() as mem:
        t0 = time.perf_counter()
        flat = make_index(gallery, "flat")
        build = time.perf_counter() - t0
    fs, fi = search_vectors(flat, batch, K)
    res["flat"] = {"build_s": build, **mem.to_dict(), "index_mb": n * dim * 4 / 2**20,
                   "recall_at_10": recall_at_k(fi, truth), "max_score_diff": float(np.abs(fs - truth_scores).max())}
    res["numpy"] = {"memory_mb": n * dim * 4 / 2**20, "extra_per_query_mb": n * 4 / 2**20}
    # the two exact searches take turns, so that background load hits both alike
    fns = {"flat": lambda q: search_vectors(flat, q, K), "numpy": numpy_fn}
    for name, lat in _latency(fns, single).items():
        res[name]["single"] = lat
    for name, b in _batched(fns, batch, 100, batch_repeats).items():
        res[name]["batched"] = b
    del flat

    with PeakMemory() as mem:
        t0 = time.perf_counter()
        hnsw = make_index(gallery, "hnsw", hnsw_m=hnsw_m, ef_construction=ef_construction)
        build = time.perf_counter() - t0
    res["hnsw"] = {"build_s": build, **mem.to_dict(), "M": hnsw_m, "ef_construction": ef_construction, "runs": []}
    for ef in ef_search:
        hnsw.hnsw.efSearch = ef
        _, hi = search_vectors(hnsw, batch, K)
        res["hnsw"]["runs"].append({"ef_search": ef, "recall_at_10": recall_at_k(hi, truth),
                                    "single": _latency({"h": lambda q: search_vectors(hnsw, q, K)}, batch)["h"],
                                    "batched": _batched({"h": lambda q: search_vectors(hnsw, q, K)}, batch, 100,
                                                        batch_repeats)["h"]})
    del hnsw
    return res
