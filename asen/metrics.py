"""Mean average precision for attribute-specific retrieval (ASEN++ Sec. IV-A, "Evaluation").

Semantics of the reference: every query ranks *all* candidates (of its attribute) by similarity; the AP of
a query is the mean over the ranks r of its relevant candidates of (relevant in the top r) / r; a query
with no relevant candidate scores 0 and still counts; the overall MAP is the mean over all queries, i.e.
weighted by the number of queries per attribute. Everything here is vectorised over candidates.

Ranking: descending score. Exact score ties (rare with float features, common with quantised ones) are
ordered by ``ties``: ``"stable"`` (the default) keeps candidate order, as ``np.argsort(-s, kind="stable")``;
``"reference"`` puts the later candidate first: the authors' ``np.argsort(s)[::-1]`` with the ascending sort
made stable (NumPy's default sort fixes no tie order: NumPy 2.4 with its AVX2 sort reorders equal scores
even among 12 candidates, so the authors' own tie order depends on their machine). Either way the order is
exact and reproducible: a float32 row is sorted on one unique int64 key per candidate (the score's
order-preserving bits, then the candidate index), which is faster than a stable argsort and lets NumPy use
its fastest (unstable) sort.
"""
from __future__ import annotations

from typing import Literal

import numpy as np

_CHUNK = 1024  # queries ranked at once (bounds memory at large galleries)
TIES = ("stable", "reference")
Ties = Literal["stable", "reference"]


def _check_ties(ties: str) -> None:
    if ties not in TIES:
        raise ValueError(f"ties={ties!r}: expected one of {', '.join(TIES)}")


def rank_order(scores: np.ndarray, ties: Ties = "stable") -> np.ndarray:
    """Candidate indices of each score row, best first.

    Args:
        scores: (q, C) scores; NaN is an error. float32 rows (what the models give) are sorted on a unique
            int64 key per candidate; other dtypes keep their precision and use NumPy's stable argsort.
        ties: ``"stable"`` - equal scores in candidate order; ``"reference"`` - equal scores in reversed
            candidate order (the authors' ``np.argsort(s)[::-1]`` with a stable ascending sort).
    Returns:
        (q, C) int64 indices; row ``i`` equals ``np.argsort(-scores[i], kind="stable")`` for ``"stable"`` and
        ``np.argsort(scores[i], kind="stable")[::-1]`` for ``"reference"``.
    """
    _check_ties(ties)
    scores = np.asarray(scores)
    if np.isnan(scores).any():
        raise ValueError("scores contain NaN: cannot rank (check the embeddings)")
    n = scores.shape[1]
    if scores.dtype != np.float32:
        if ties == "stable":
            return np.argsort(-scores, axis=1, kind="stable")
        return np.ascontiguousarray(np.argsort(scores, axis=1, kind="stable")[:, ::-1])
    s = np.ascontiguousarray(scores) + np.float32(0.0)  # -0.0 -> +0.0 (they compare equal, so they tie)
    bits = s.view(np.int32)
    ordered = bits ^ ((bits >> 31) & np.int32(0x7FFFFFFF))  # int32 with the float's order
    desc = (np.int64(2**31 - 1) - ordered.astype(np.int64)).astype(np.uint64)  # in [0, 2^32): best first
    index = np.arange(n, dtype=np.uint64) if ties == "stable" else np.arange(n - 1, -1, -1, dtype=np.uint64)
    key = (desc << np.uint64(32)) | index  # (q, C) unique within a row, so any sort gives the one order
    key.sort(axis=1)
    low = (key & np.uint64(0xFFFFFFFF)).astype(np.int64)
    return low if ties == "stable" else (n - 1) - low


def average_precisions(
    queries: np.ndarray, candidates: np.ndarray, query_labels: np.ndarray, candidate_labels: np.ndarray,
    ties: Ties = "stable",
) -> np.ndarray:
    """AP of each query against all candidates, ranked by dot product.

    Args:
        queries: (Q, D) embeddings (L2-normalise them first for cosine ranking).
        candidates: (C, D) embeddings.
        query_labels: (Q,) labels; a candidate is relevant when its label equals the query's.
        candidate_labels: (C,) labels.
        ties: order of exactly tied scores, ``"stable"`` or ``"reference"`` (see :func:`rank_order`).
    Returns:
        (Q,) float64 APs in [0, 1].
    """
    _check_ties(ties)
    queries, candidates = np.asarray(queries), np.asarray(candidates)
    query_labels, candidate_labels = np.asarray(query_labels), np.asarray(candidate_labels)
    if queries.ndim != 2 or candidates.ndim != 2 or queries.shape[1] != candidates.shape[1]:
        raise ValueError(f"expected (Q, D) and (C, D) arrays, got {queries.shape} and {candidates.shape}")
    if len(query_labels) != len(queries) or len(candidate_labels) != len(candidates):
        raise ValueError("one label per query and per candidate is expected")
    out = np.zeros(len(queries), dtype=np.float64)
    if len(candidates) == 0:
        return out
    if not (np.issubdtype(query_labels.dtype, np.integer) and np.issubdtype(candidate_labels.dtype, np.integer)):
        codes = np.unique(np.concatenate([query_labels, candidate_labels]), return_inverse=True)[1]
        query_labels, candidate_labels = codes[: len(query_labels)], codes[len(query_labels):]
    query_labels, candidate_labels = query_labels.astype(np.int64), candidate_labels.astype(np.int64)
    for start in range(0, len(queries), _CHUNK):
        stop = min(start + _CHUNK, len(queries))
        scores = queries[start:stop] @ candidates.T  # (q, C); the same float32 product as a per-query loop
        order = rank_order(scores, ties)  # (q, C)
        rel = candidate_labels[order] == query_labels[start:stop, None]  # (q, C) bool, in ranked order
        # Only the relevant ranks contribute: the k-th relevant candidate of a query, at rank r, adds k / r.
        rows, cols = np.nonzero(rel)  # row-major, so each query's relevant ranks come in increasing order
        n_rel = rel.sum(axis=1)
        first = np.cumsum(n_rel) - n_rel  # index in (rows, cols) of each query's first relevant candidate
        k = np.arange(1, len(rows) + 1) - first[rows]
        precision_sum = np.bincount(rows, weights=k / (cols + 1.0), minlength=stop - start)
        out[start:stop] = np.divide(precision_sum, n_rel, out=np.zeros(stop - start), where=n_rel > 0)
    return out


def mean_average_precision(
    queries: np.ndarray, candidates: np.ndarray, query_labels: np.ndarray, candidate_labels: np.ndarray,
    ties: Ties = "stable",
) -> float:
    """MAP as a fraction in [0, 1].

    Labels may be (N,) values (one attribute: every candidate is ranked) or (N, 2) ``(attribute, value)``
    rows, in which case each query ranks only the candidates of its attribute and the result is the mean
    over all queries (weighted by query count per attribute), as in the paper. ``ties`` orders exactly tied
    scores (:func:`rank_order`).
    """
    query_labels, candidate_labels = np.asarray(query_labels), np.asarray(candidate_labels)
    if query_labels.ndim == 1:
        aps = average_precisions(queries, candidates, query_labels, candidate_labels, ties)
        return float(aps.mean()) if len(aps) else 0.0
    return overall_map(map_per_attribute(queries, candidates, query_labels, candidate_labels, ties=ties))


def overall_map(per_attribute: dict[int, tuple[float, int]], scale: float = 1.0) -> float:
    """The paper's overall MAP from per-attribute ``{attribute: (MAP, number of queries)}``: the mean over all
    queries, i.e. the per-attribute MAPs weighted by their query counts (0 with no query); ``scale=100`` gives
    percent (scaled before the division, as the MAP tables have always been)."""
    total = sum(n for _, n in per_attribute.values())
    return float(scale * sum(m * n for m, n in per_attribute.values()) / total) if total else 0.0


def map_per_attribute(
    queries: np.ndarray, candidates: np.ndarray, query_labels: np.ndarray, candidate_labels: np.ndarray,
    exclude_values: dict[int, set[int]] | None = None, ties: Ties = "stable",
) -> dict[int, tuple[float, int]]:
    """Per-attribute MAP with ``(attribute, value)`` labels.

    Args:
        exclude_values: optional ``{attr: {values}}`` whose *queries* are left out (e.g. "Invisible");
            the candidates stay in the ranked list.
        ties: order of exactly tied scores, ``"stable"`` or ``"reference"`` (see :func:`rank_order`).
    Returns:
        ``{attribute: (MAP fraction, number of queries)}``.
    """
    _check_ties(ties)
    queries, candidates = np.asarray(queries), np.asarray(candidates)
    out: dict[int, tuple[float, int]] = {}
    for attr in np.unique(query_labels[:, 0]):
        qmask = query_labels[:, 0] == attr
        if exclude_values and int(attr) in exclude_values:
            qmask &= ~np.isin(query_labels[:, 1], list(exclude_values[int(attr)]))
        cmask = candidate_labels[:, 0] == attr
        if not qmask.any():
            continue
        aps = average_precisions(queries[qmask], candidates[cmask], query_labels[qmask, 1], candidate_labels[cmask, 1],
                                  ties)
        out[int(attr)] = (float(aps.mean()), int(qmask.sum()))
    return out


def expected_random_ap(n_relevant: int, n_candidates: int) -> float:
    """Expected AP of a uniformly random ranking of ``n_candidates`` with ``n_relevant`` relevant ones.

    With ``R`` relevant among ``N`` and ``H_N = sum_{k<=N} 1/k``: ``E[AP] = (R-1)/(N-1) + (N-R) H_N / (N(N-1))``
    (0 when ``R = 0``, 1 when ``N = 1``); it tends to ``R/N`` for large ``N``. Chapter 1 derives it.

    Raises:
        ValueError: ``n_relevant`` outside ``0..n_candidates`` or ``n_candidates < 1``.
    """
    r, n = int(n_relevant), int(n_candidates)
    if n < 1 or not 0 <= r <= n:
        raise ValueError(f"need 0 <= n_relevant <= n_candidates and n_candidates >= 1, got {r} of {n}")
    if r == 0:
        return 0.0
    if n == 1:
        return 1.0
    harmonic = float(np.sum(1.0 / np.arange(1, n + 1)))
    return (r - 1) / (n - 1) + (n - r) * harmonic / (n * (n - 1))


def predicted_random_map(query_labels: np.ndarray, candidate_labels: np.ndarray) -> dict[int, tuple[float, int]]:
    """Per-attribute MAP that random embeddings are expected to reach, from the value counts alone.

    Args:
        query_labels, candidate_labels: ``(n, 2)`` ``(attribute, value)`` labels, as for :func:`map_per_attribute`.
    Returns:
        ``{attribute: (expected MAP fraction, number of queries)}``, the shape of :func:`map_per_attribute`'s
        result (so :func:`overall_map` weights it the same way).
    """
    query_labels, candidate_labels = np.asarray(query_labels), np.asarray(candidate_labels)
    out: dict[int, tuple[float, int]] = {}
    for attr in np.unique(query_labels[:, 0]):
        cand = candidate_labels[candidate_labels[:, 0] == attr, 1]
        values = query_labels[query_labels[:, 0] == attr, 1]
        aps = [expected_random_ap(int((cand == v).sum()), len(cand)) for v in values]
        out[int(attr)] = (float(np.mean(aps)), len(values))
    return out
