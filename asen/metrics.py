"""Mean average precision for attribute-specific retrieval (ASEN++ Sec. IV-A, "Evaluation").

Semantics of the reference: every query ranks *all* candidates (of its attribute) by similarity; the AP of
a query is the mean over the ranks r of its relevant candidates of (relevant in the top r) / r; a query
with no relevant candidate scores 0 and still counts; the overall MAP is the mean over all queries, i.e.
weighted by the number of queries per attribute. Everything here is vectorised over candidates.
"""
from __future__ import annotations

import numpy as np
import torch

_CHUNK = 1024  # queries ranked at once (bounds memory at large galleries)


def average_precisions(
    queries: np.ndarray, candidates: np.ndarray, query_labels: np.ndarray, candidate_labels: np.ndarray
) -> np.ndarray:
    """AP of each query against all candidates, ranked by dot product.

    Args:
        queries: (Q, D) embeddings (L2-normalise them first for cosine ranking).
        candidates: (C, D) embeddings.
        query_labels: (Q,) labels; a candidate is relevant when its label equals the query's.
        candidate_labels: (C,) labels.
    Returns:
        (Q,) float64 APs in [0, 1].
    """
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
    cand_labels = torch.from_numpy(np.ascontiguousarray(candidate_labels))
    for start in range(0, len(queries), _CHUNK):
        stop = min(start + _CHUNK, len(queries))
        scores = queries[start:stop] @ candidates.T  # (q, C); the same float32 product as a per-query loop
        # descending, ties in candidate order (= np.argsort(-scores, kind="stable")); torch sorts rows in parallel
        order = torch.sort(torch.from_numpy(np.ascontiguousarray(scores)), dim=1, descending=True,
                           stable=True).indices
        q_labels = torch.from_numpy(np.ascontiguousarray(query_labels[start:stop]))
        rel = (cand_labels[order] == q_labels[:, None]).numpy()  # (q, C) bool, in ranked order
        # Only the relevant ranks contribute: the k-th relevant candidate of a query, at rank r, adds k / r.
        rows, cols = np.nonzero(rel)  # row-major, so each query's relevant ranks come in increasing order
        n_rel = rel.sum(axis=1)
        first = np.cumsum(n_rel) - n_rel  # index in (rows, cols) of each query's first relevant candidate
        k = np.arange(1, len(rows) + 1) - first[rows]
        precision_sum = np.bincount(rows, weights=k / (cols + 1.0), minlength=stop - start)
        out[start:stop] = np.divide(precision_sum, n_rel, out=np.zeros(stop - start), where=n_rel > 0)
    return out


def mean_average_precision(
    queries: np.ndarray, candidates: np.ndarray, query_labels: np.ndarray, candidate_labels: np.ndarray
) -> float:
    """MAP as a fraction in [0, 1].

    Labels may be (N,) values (one attribute: every candidate is ranked) or (N, 2) ``(attribute, value)``
    rows, in which case each query ranks only the candidates of its attribute and the result is the mean
    over all queries (weighted by query count per attribute), as in the paper.
    """
    query_labels, candidate_labels = np.asarray(query_labels), np.asarray(candidate_labels)
    if query_labels.ndim == 1:
        aps = average_precisions(queries, candidates, query_labels, candidate_labels)
        return float(aps.mean()) if len(aps) else 0.0
    per_attr = map_per_attribute(queries, candidates, query_labels, candidate_labels)
    total = sum(n for _, n in per_attr.values())
    return float(sum(m * n for m, n in per_attr.values()) / total) if total else 0.0


def map_per_attribute(
    queries: np.ndarray, candidates: np.ndarray, query_labels: np.ndarray, candidate_labels: np.ndarray,
    exclude_values: dict[int, set[int]] | None = None,
) -> dict[int, tuple[float, int]]:
    """Per-attribute MAP with ``(attribute, value)`` labels.

    Args:
        exclude_values: optional ``{attr: {values}}`` whose *queries* are left out (e.g. "Invisible");
            the candidates stay in the ranked list.
    Returns:
        ``{attribute: (MAP fraction, number of queries)}``.
    """
    queries, candidates = np.asarray(queries), np.asarray(candidates)
    out: dict[int, tuple[float, int]] = {}
    for attr in np.unique(query_labels[:, 0]):
        qmask = query_labels[:, 0] == attr
        if exclude_values and int(attr) in exclude_values:
            qmask &= ~np.isin(query_labels[:, 1], list(exclude_values[int(attr)]))
        cmask = candidate_labels[:, 0] == attr
        if not qmask.any():
            continue
        aps = average_precisions(queries[qmask], candidates[cmask], query_labels[qmask, 1], candidate_labels[cmask, 1])
        out[int(attr)] = (float(aps.mean()), int(qmask.sum()))
    return out
