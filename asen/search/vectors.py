"""FAISS inner-product indexes over feature vectors: :func:`make_index` (``flat`` exact, ``hnsw`` and ``ivf``
approximate), :func:`search_vectors`, and :func:`exact_search`, the brute-force NumPy reference.

FAISS is imported lazily (``pip install faiss-cpu``); GPU indexes are used when asked for and
``faiss.get_num_gpus() > 0``.
"""
from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from ..errors import BadValue

INDEX_TYPES = ("flat", "hnsw", "ivf")


def require_faiss() -> Any:
    """Import FAISS, or fail with an error that names the package to install.

    Returns:
        The ``faiss`` module.
    Raises:
        ImportError: FAISS is not installed.
    """
    try:
        import faiss  # noqa: PLC0415
    except ImportError as exc:  # pragma: no cover - faiss-cpu is a test dependency
        raise ImportError(
            "asen.search needs FAISS: install it with `pip install faiss-cpu` (or `pip install -e '.[search]'`; "
            "for GPU indexes install faiss-gpu, e.g. from conda-forge)"
        ) from exc
    return faiss


def faiss_gpu_available() -> bool:
    """True when the installed FAISS has GPU support and sees at least one GPU."""
    faiss = require_faiss()
    return hasattr(faiss, "StandardGpuResources") and faiss.get_num_gpus() > 0


def _to_gpu(index: Any, faiss: Any) -> Any:
    res = faiss.StandardGpuResources()
    gpu = faiss.index_cpu_to_gpu(res, 0, index)
    gpu.referenced_objects = [res]  # keep the resources alive as long as the index
    return gpu


def _to_cpu(index: Any, faiss: Any) -> Any:
    return faiss.index_gpu_to_cpu(index) if "Gpu" in type(index).__name__ else index


def _as_queries(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 1:
        x = x[None]
    if x.ndim != 2:
        raise ValueError(f"expected (N, D) float vectors, got shape {x.shape}")
    return np.ascontiguousarray(x)


def make_index(
    vectors: np.ndarray,
    index_type: str = "flat",
    *,
    use_gpu: bool = False,
    hnsw_m: int = 32,
    ef_construction: int = 200,
    ef_search: int = 128,
    nlist: int | None = None,
    nprobe: int = 16,
    train_size: int = 100_000,
    chunk: int = 65_536,
    seed: int = 0,
) -> Any:
    """An inner-product FAISS index over ``vectors`` (added in chunks, so a ``np.memmap`` works).

    Args:
        vectors: (N, D) float32 gallery vectors (L2-normalised for cosine similarity).
        index_type: ``"flat"`` (exact ``IndexFlatIP``), ``"hnsw"`` (``IndexHNSWFlat``) or ``"ivf"``
            (``IndexIVFFlat`` over a flat coarse quantiser).
        use_gpu: build on the first GPU when FAISS has GPU support (not for HNSW); else a warning and CPU.
        hnsw_m: HNSW neighbours per node.
        ef_construction: HNSW build-time search width.
        ef_search: HNSW query-time search width (stored in the index).
        nlist: IVF cells (default about ``4 sqrt(N)``, at most ``N / 39``).
        nprobe: IVF cells visited per query.
        train_size: IVF: at most this many vectors (a random sample) train the coarse quantiser.
        chunk: vectors added per call.
        seed: IVF training sample seed.
    Returns:
        The filled index (a GPU index when built on the GPU).
    """
    faiss = require_faiss()
    n, d = vectors.shape
    if index_type not in INDEX_TYPES:
        raise ValueError(f"index type must be one of {', '.join(INDEX_TYPES)}, got {index_type!r}")
    if n == 0:
        raise ValueError("cannot build an index over an empty gallery")
    gpu = False
    if use_gpu:
        if index_type == "hnsw":
            warnings.warn("FAISS has no GPU HNSW index; building it on the CPU")
        elif faiss_gpu_available():
            gpu = True
        else:
            warnings.warn("a GPU index was asked for but FAISS sees no GPU (faiss-cpu?); building on the CPU")
    if index_type == "flat":
        index = faiss.IndexFlatIP(d)
    elif index_type == "hnsw":
        index = faiss.IndexHNSWFlat(d, hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = ef_construction
        index.hnsw.efSearch = ef_search
    else:
        if nlist is None:
            nlist = int(4 * math.sqrt(n))
        nlist = max(1, min(nlist, n // 39 if n >= 39 else 1))
        quantizer = faiss.IndexFlatIP(d)
        index = faiss.IndexIVFFlat(quantizer, d, nlist, faiss.METRIC_INNER_PRODUCT)
        index.referenced_objects = [quantizer]
        index.nprobe = min(nprobe, nlist)
    if gpu:
        index = _to_gpu(index, faiss)
    if index_type == "ivf":
        sample = np.arange(n)
        if n > train_size:
            sample = np.sort(np.random.default_rng(seed).choice(n, size=train_size, replace=False))
        index.train(_as_queries(vectors[sample]))
    for start in range(0, n, chunk):
        index.add(_as_queries(vectors[start : start + chunk]))
    return index


def search_vectors(index: Any, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` inner-product search of a FAISS index.

    Args:
        index: a FAISS index (from :func:`make_index` or :meth:`SearchIndex.index`).
        queries: (Q, D) or (D,) float vectors.
        k: neighbours per query (capped at the index size).
    Returns:
        ``(scores, ids)``: (Q, k') float32 inner products in descending order and (Q, k') int64 gallery ids,
        ``k' = min(k, index.ntotal)``; an approximate index may return id -1 where it found fewer.
    """
    if k < 1:
        raise BadValue(f"k must be at least 1, got {k}")
    q = _as_queries(queries)
    if q.shape[1] != index.d:
        raise ValueError(f"query dimension {q.shape[1]} does not match the index dimension {index.d}")
    k = min(int(k), int(index.ntotal))
    if k == 0:
        return np.zeros((len(q), 0), np.float32), np.zeros((len(q), 0), np.int64)
    scores, ids = index.search(q, k)
    return scores.astype(np.float32, copy=False), ids.astype(np.int64, copy=False)


def exact_search(gallery: np.ndarray, queries: np.ndarray, k: int, chunk: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Brute-force NumPy top-``k`` by inner product (matmul + argpartition): the reference for the indexes.

    Args:
        gallery: (N, D) float32 vectors.
        queries: (Q, D) or (D,) float32 vectors.
        k: neighbours per query (capped at N).
        chunk: queries scored at once (bounds the (chunk, N) score matrix).
    Returns:
        ``(scores, ids)`` as :func:`search_vectors`; ties are broken by the lower id.
    """
    q = _as_queries(queries)
    gallery = np.asarray(gallery, dtype=np.float32)
    k = min(int(k), len(gallery))
    scores_out = np.empty((len(q), k), np.float32)
    ids_out = np.empty((len(q), k), np.int64)
    for start in range(0, len(q), chunk):
        s = q[start : start + chunk] @ gallery.T  # (c, N)
        if k < s.shape[1]:
            part = np.argpartition(-s, k - 1, axis=1)[:, :k]  # (c, k) unordered top-k
        else:
            part = np.broadcast_to(np.arange(s.shape[1]), s.shape).copy()
        ps = np.take_along_axis(s, part, axis=1)
        # argpartition keeps an arbitrary few of the candidates tied with the k-th score: where more than k reach
        # it, keep the lowest ids among the tied (rare: only such rows are redone)
        kth = ps.min(axis=1, keepdims=True)  # (c, 1)
        for r in np.flatnonzero((s >= kth).sum(axis=1) > k):
            reach = np.flatnonzero(s[r] >= kth[r, 0])  # ids ascending
            part[r] = reach[np.argsort(-s[r, reach], kind="stable")[:k]]
            ps[r] = s[r, part[r]]
        order = np.lexsort((part, -ps), axis=1)  # by score descending, then id ascending
        ids_out[start : start + chunk] = np.take_along_axis(part, order, axis=1)
        scores_out[start : start + chunk] = np.take_along_axis(ps, order, axis=1)
    return scores_out, ids_out
