"""Feature extraction and attribute-specific retrieval evaluation (ASEN++ Sec. IV-A).

Extraction (a model, a split's items -> L2-normalised embeddings: :func:`asen.embed.extract_features`) is kept
apart from the metric (:mod:`asen.metrics`). With a local branch, each item also gets a local embedding from the
zoomed crop, and the fused feature ``[sqrt(beta) g ; sqrt(1 - beta) l]`` makes the dot product equal to
``beta cos_global + (1 - beta) cos_local``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from .config import Config
from .data import ImageCache, ImageSet, Meta, SplitFiles
from .embed import EmbedSettings, extract_features, fuse, has_local_branch
from .metrics import map_per_attribute, overall_map

__all__ = ["MapTable", "evaluate", "extract_features", "fuse", "invisible_values", "map_table", "random_features"]


def invisible_values(meta: Meta) -> dict[int, set[int]]:
    """``{attr: {values named "Invisible"}}`` (FashionAI's value 0), for MAP without them."""
    return {a: {v for v, name in enumerate(names) if name.lower() == "invisible"}
            for a, names in enumerate(meta.value_names)
            if any(n.lower() == "invisible" for n in names)}


@dataclass
class MapTable:
    """Per-attribute MAP (percent) with query counts, overall weighted by queries; also without Invisible."""

    attributes: list[str]
    per_attribute: dict[str, float]
    queries: dict[str, int]
    overall: float
    per_attribute_visible: dict[str, float] = field(default_factory=dict)
    overall_visible: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "overall": self.overall, "per_attribute": self.per_attribute, "queries": self.queries,
            "overall_without_invisible": self.overall_visible,
            "per_attribute_without_invisible": self.per_attribute_visible,
        }

    def format(self, title: str = "MAP (%)") -> str:
        """A plain-text table."""
        width = max(len(a) for a in self.attributes + ["overall"])
        has_vis = bool(self.per_attribute_visible)
        head = f"{'attribute':<{width}}  {'queries':>7}  {'MAP':>6}" + ("  MAP w/o Invisible" if has_vis else "")
        lines = [title, head, "-" * len(head)]
        for a in self.attributes:
            if a not in self.per_attribute:
                continue
            row = f"{a:<{width}}  {self.queries[a]:>7}  {self.per_attribute[a]:6.2f}"
            if has_vis and a in self.per_attribute_visible:
                row += f"  {self.per_attribute_visible[a]:6.2f}"
            lines.append(row)
        row = f"{'overall':<{width}}  {sum(self.queries.values()):>7}  {self.overall:6.2f}"
        if has_vis and self.overall_visible is not None:
            row += f"  {self.overall_visible:6.2f}"
        lines.append(row)
        return "\n".join(lines)


def map_table(meta: Meta, q: np.ndarray, c: np.ndarray, q_items: np.ndarray, c_items: np.ndarray,
              ties: str = "stable") -> MapTable:
    """Per-attribute and overall MAP (percent) of features ``q``/``c`` for the given items (``ties``: how exact
    score ties are ranked, see :func:`asen.metrics.rank_order`)."""
    ql, cl = q_items[:, 1:3], c_items[:, 1:3]
    per = map_per_attribute(q, c, ql, cl, ties=ties)
    invisible = invisible_values(meta)
    vis = map_per_attribute(q, c, ql, cl, exclude_values=invisible, ties=ties) if invisible else {}
    names = list(meta.attributes)
    return MapTable(
        attributes=names,
        per_attribute={names[a]: 100.0 * m for a, (m, _) in per.items()},
        queries={names[a]: n for a, (_, n) in per.items()},
        overall=overall_map(per, scale=100.0),
        per_attribute_visible={names[a]: 100.0 * m for a, (m, _) in vis.items()},
        overall_visible=overall_map(vis, scale=100.0) if vis else None,
    )


def _limit(items: np.ndarray, n: int) -> np.ndarray:
    return items[:n] if n and n > 0 else items


def evaluate(
    model: torch.nn.Module, files: SplitFiles, cfg: Config, device: torch.device | str,
    split: str | None = None, progress: bool = True, betas: tuple[float, ...] = (),
    image_cache: ImageCache | None = None,
) -> dict[str, Any]:
    """Evaluate a model on a split: global MAP, and with a local branch local and fused (beta) MAP.

    With ``data.cache_images`` the split's images are decoded into ``image_cache`` (its owner's, e.g. the
    training run's or ``asen reproduce``'s), or into a cache of this call's own when none is given.

    Returns:
        ``{"global": MapTable, "local": MapTable, "fused": MapTable, "beta": {beta: overall}, "features": {...}}``;
        ``"main"`` is the fused table for ASEN++ and the global one otherwise.
    """
    split = split or cfg.eval.split
    if split not in files.queries:
        raise ValueError(f"split '{split}' not loaded (have {', '.join(files.queries)})")
    images = ImageSet(files.root, files.filenames[split], cfg.data.global_size,
                      skip_bad_images=cfg.data.skip_bad_images, cache=ImageCache.for_run(cfg.data, image_cache))
    has_local = has_local_branch(model)
    q_items = _limit(files.queries[split], cfg.data.max_eval_queries)
    c_items = files.candidates[split]
    kw = dict(device=device, settings=EmbedSettings.from_config(cfg), batch_size=cfg.data.eval_batch_size,
              num_workers=cfg.data.num_workers, progress=progress)
    qf = extract_features(model, images, q_items, desc=f"{split} queries", **kw)
    cf = extract_features(model, images, c_items, desc=f"{split} candidates", **kw)
    result: dict[str, Any] = {"split": split, "features": {"query": qf, "candidate": cf},
                              "items": {"query": q_items, "candidate": c_items}}
    ties = cfg.eval.ties
    result["global"] = map_table(files.meta, qf["global"], cf["global"], q_items, c_items, ties)
    result["main"] = result["global"]
    if has_local:
        result["local"] = map_table(files.meta, qf["local"], cf["local"], q_items, c_items, ties)
        beta = cfg.eval.beta
        result["fused"] = map_table(files.meta, fuse(qf["global"], qf["local"], beta),
                                    fuse(cf["global"], cf["local"], beta), q_items, c_items, ties)
        result["main"] = result["fused"]
        result["beta"] = {b: map_table(files.meta, fuse(qf["global"], qf["local"], b),
                                       fuse(cf["global"], cf["local"], b), q_items, c_items, ties).overall
                          for b in betas}
    if images.bad:
        result["skipped_images"] = list(images.bad)
    return result


def random_features(n: int, dim: int, seed: int) -> np.ndarray:
    """Random unit vectors: the "Random embeddings" baseline (its MAP is set by the value counts)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)
