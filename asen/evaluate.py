"""Feature extraction and attribute-specific retrieval evaluation (ASEN++ Sec. IV-A).

Extraction (a model, a split's items -> L2-normalised embeddings) is kept apart from the metric
(:mod:`asen.metrics`). With a local branch, each item also gets a local embedding from the zoomed crop,
and the fused feature ``[sqrt(beta) g ; sqrt(1 - beta) l]`` makes the dot product equal to
``beta cos_global + (1 - beta) cos_local``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from .config import Config
from .data import ImageSet, Meta, SplitFiles, collate_images
from .distributed import dist_info, gather_rows
from .metrics import map_per_attribute
from .roi import local_inputs


class ItemSet(Dataset):
    """The (image, attribute) items of a query or candidate file."""

    def __init__(self, images: ImageSet, items: np.ndarray) -> None:
        self.images, self.items = images, items

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict:
        item = self.images[int(self.items[i, 0])]
        item["attribute"] = int(self.items[i, 1])
        return item


def _collate_items(batch: list[dict]) -> dict:
    out = collate_images(batch)
    out["attribute"] = torch.tensor([b["attribute"] for b in batch], dtype=torch.long)
    return out


@torch.no_grad()
def extract_features(
    model: torch.nn.Module,
    images: ImageSet,
    items: np.ndarray,
    device: torch.device | str,
    batch_size: int = 64,
    num_workers: int = 0,
    local: bool = False,
    crop_threshold: float = 0.1,
    local_size: int = 112,
    crop_mode: str = "batched",
    crop_sampling_ratio: int = 2,
    progress: bool = True,
    desc: str = "features",
) -> dict[str, np.ndarray]:
    """Embed every ``(image_id, attr, value)`` item.

    Returns:
        ``{"global": (N, D)}`` (and ``"local": (N, D)``, ``"boxes": (N, 4)`` with ``local``), L2-normalised float32.
    """
    model.eval()
    images.keep_original = local
    rank, world = dist_info()
    bounds = np.linspace(0, len(items), world + 1).astype(int)  # contiguous shards, gathered in rank order
    all_items, items = items, items[bounds[rank]:bounds[rank + 1]]
    progress = progress and rank == 0
    loader = DataLoader(ItemSet(images, items), batch_size=batch_size, shuffle=False,
                        num_workers=num_workers, collate_fn=_collate_items)
    out: dict[str, list[np.ndarray]] = {"global": [], "local": [], "boxes": []}
    for batch in tqdm(loader, desc=desc, disable=not progress, leave=False):
        x = batch["image"].to(device, non_blocking=True)
        attrs = batch["attribute"].to(device)
        g, maps = model(x, attrs, branch="global")  # (B, D), (B, h, w)
        out["global"].append(F.normalize(g.float(), dim=1).cpu().numpy())
        if local:
            crops, boxes = local_inputs(maps, batch["original"], batch["size"], crop_threshold,
                                        images.global_size, local_size, mode=crop_mode,
                                        sampling_ratio=crop_sampling_ratio)
            loc, _ = model(crops, attrs, branch="local")
            out["local"].append(F.normalize(loc.float(), dim=1).cpu().numpy())
            out["boxes"].append(boxes.cpu().numpy())
    result = {k: np.concatenate(v) for k, v in out.items() if v}
    if world > 1:
        result = gather_rows(result)
        if len(result["global"]) != len(all_items):
            raise RuntimeError(f"gathered {len(result['global'])} features for {len(all_items)} items")
    return result


def fuse(global_feat: np.ndarray, local_feat: np.ndarray, beta: float) -> np.ndarray:
    """``[sqrt(beta) g ; sqrt(1 - beta) l]`` of normalised features (dot product = weighted cosine)."""
    if not 0.0 <= beta <= 1.0:
        raise ValueError(f"beta must be in [0, 1], got {beta}")
    return np.concatenate([np.sqrt(beta) * global_feat, np.sqrt(1.0 - beta) * local_feat], axis=1)


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


def _weighted(per: dict[int, tuple[float, int]]) -> float:
    total = sum(n for _, n in per.values())
    return 100.0 * sum(m * n for m, n in per.values()) / total if total else 0.0


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
        overall=_weighted(per),
        per_attribute_visible={names[a]: 100.0 * m for a, (m, _) in vis.items()},
        overall_visible=_weighted(vis) if vis else None,
    )


def _limit(items: np.ndarray, n: int) -> np.ndarray:
    return items[:n] if n and n > 0 else items


def evaluate(
    model: torch.nn.Module, files: SplitFiles, cfg: Config, device: torch.device | str,
    split: str | None = None, progress: bool = True, betas: tuple[float, ...] = (),
) -> dict[str, Any]:
    """Evaluate a model on a split: global MAP, and with a local branch local and fused (beta) MAP.

    Returns:
        ``{"global": MapTable, "local": MapTable, "fused": MapTable, "beta": {beta: overall}, "features": {...}}``;
        ``"main"`` is the fused table for ASEN++ and the global one otherwise.
    """
    split = split or cfg.eval.split
    if split not in files.queries:
        raise ValueError(f"split '{split}' not loaded (have {', '.join(files.queries)})")
    images = ImageSet(files.root, files.filenames[split], cfg.data.global_size, skip_bad_images=cfg.data.skip_bad_images,
                      cache=cfg.data.cache_images)
    has_local = getattr(model, "local_branch", None) is not None
    q_items = _limit(files.queries[split], cfg.data.max_eval_queries)
    c_items = files.candidates[split]
    kw = dict(device=device, batch_size=cfg.data.eval_batch_size, num_workers=cfg.data.num_workers, local=has_local,
              crop_threshold=cfg.eval.crop_threshold, local_size=cfg.data.local_size,
              crop_mode=cfg.data.crop_mode,
              crop_sampling_ratio=cfg.data.crop_sampling_ratio, progress=progress)
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
