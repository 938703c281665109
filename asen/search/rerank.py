"""Attribute-specific reranking (ASEN++ Sec. V, "Application: fashion reranking"): reorder a result list by
attribute-specific similarity to the query, optionally blended with the original scores."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch
from PIL import Image

from ..embed import EmbedSettings, ImageLike, embed_images
from ..errors import BadValue
from .attributes import resolve_attribute


def rerank_order(
    model: torch.nn.Module,
    query_image: ImageLike,
    result_paths: Sequence[ImageLike],
    attribute: str | int,
    device: torch.device | str,
    alpha: float = 1.0,
    original_scores: Sequence[float] | np.ndarray | None = None,
    *,
    attribute_names: Sequence[str] | None = None,
    settings: EmbedSettings | None = None,
    batch_size: int = 64,
    num_workers: int = 0,
    progress: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Reorder a result list by attribute-specific similarity to the query, as arrays (:func:`rerank` labels them).

    Args:
        model: an ASEN / ASEN++ model.
        query_image: the query (path or PIL image).
        result_paths: the results to reorder (e.g. the top of a general-similarity search).
        attribute: the attribute of interest, by name (needs ``attribute_names``) or index.
        device: where the model runs.
        alpha: weight of the attribute-specific similarity; ``score = alpha * s_attr + (1 - alpha) * s_orig``.
            ``1`` (default) ranks by the attribute-specific similarity alone; below 1 needs ``original_scores``
            (on a comparable scale, e.g. cosine similarities).
        original_scores: the results' original scores, one per result.
        attribute_names: all attribute names (default ``"0".."n-1"``).
        settings: embedding settings (sizes, crop, beta), e.g. ``EmbedSettings.from_config(cfg)``.
        batch_size: images per forward pass.
        num_workers: DataLoader workers.
        progress: tqdm bar.
    Returns:
        ``(order, scores)``: (N,) int64 positions in ``result_paths``, best first (equal scores keep their
        original order), and (N,) float64 final scores indexed like ``result_paths``.
    """
    if not 0.0 <= alpha <= 1.0:
        raise BadValue(f"alpha must be in [0, 1], got {alpha}")
    if original_scores is not None and len(original_scores) != len(result_paths):
        raise ValueError(f"{len(original_scores)} original scores for {len(result_paths)} results")
    if alpha < 1.0 and original_scores is None:
        raise ValueError("alpha < 1 blends with the original scores: give original_scores")
    names = list(attribute_names) if attribute_names is not None else \
        [str(i) for i in range(int(getattr(model, "num_attributes")))]
    a = resolve_attribute(attribute, names)
    if len(result_paths) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.float64)
    settings = settings or EmbedSettings()
    q = embed_images(model, [query_image], [a], device, settings)[a][0]  # (D,)
    r = embed_images(model, list(result_paths), [a], device, settings, batch_size, num_workers, progress)[a]
    score = r.astype(np.float64) @ q.astype(np.float64)  # (N,) attribute-specific (fused) cosine
    if original_scores is not None and alpha < 1.0:
        score = alpha * score + (1.0 - alpha) * np.asarray(original_scores, dtype=np.float64)
    return np.argsort(-score, kind="stable"), score


def rerank(model: torch.nn.Module, query_image: ImageLike, result_paths: Sequence[ImageLike], *args: Any,
           **kwargs: Any) -> list[tuple[str, float]]:
    """Reorder a result list by attribute-specific similarity to the query (ASEN++ Sec. V, fashion reranking).

    Args:
        model, query_image, result_paths, *args, **kwargs: as :func:`rerank_order` (the attribute, the device,
            ``alpha`` and ``original_scores`` to blend with, and the keyword-only embedding options).
    Returns:
        ``[(path, score)]`` best first; equal scores keep their original order. A PIL image among the results is
        named ``<image i>`` by its position.
    """
    order, score = rerank_order(model, query_image, result_paths, *args, **kwargs)
    labels = [f"<image {i}>" if isinstance(p, Image.Image) else str(p) for i, p in enumerate(result_paths)]
    return [(labels[i], float(score[i])) for i in order]
