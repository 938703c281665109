"""The embedder: images -> L2-normalised attribute-specific features (ASEN++ Sec. III), used by evaluation,
search, reranking and the chapters.

One batch goes through :func:`embed_batch`: the global branch (its backbone runs once per image, however many
attributes it is embedded under, when the model's forward is :class:`asen.model.ASEN`'s), and with a local branch
the zoom-in crop of each attribute's attention map (:func:`asen.roi.local_inputs`) through the local branch.
:func:`fuse` joins the two as ``[sqrt(beta) g ; sqrt(1 - beta) l]``, so that the dot product of fused features
is ``beta cos_global + (1 - beta) cos_local``. :class:`EmbedSettings` names the sizes, crop and beta.

Two drivers: :func:`extract_features` embeds ``(image, attribute, value)`` items, each under its own attribute
(the MAP protocol, global and local features kept apart, sharded across processes), and :func:`embed_images`
embeds images under each of several attributes (fused; :mod:`asen.search` streams it to disk).
"""
from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm
from tqdm.auto import tqdm as auto_tqdm

from .config import Config
from .data import ImageSet, collate_images
from .errors import BadValue

# asen.roi (and torchvision) and asen.distributed are imported where used, so that importing this module (as the
# `asen` command line does through asen.search) stays fast.

ImageLike = str | Path | Image.Image


@dataclass(frozen=True)
class EmbedSettings:
    """How images are embedded (stored in a search index's ``index.json`` so queries are embedded the same way)."""

    global_size: int = 224  # global input side (resize short side, centre crop)
    local_size: int = 112  # local crop side (ASEN++)
    crop_threshold: float = 0.1  # attention threshold of the zoom-in crop (ASEN++)
    beta: float = 0.6  # weight of the global branch in the fused similarity (ASEN++)
    crop_mode: str = "batched"  # "batched" (roi_align on the device) or "per_image" (PIL)
    crop_sampling_ratio: int = 2  # batched crops: roi_align samples per pixel and axis

    @classmethod
    def from_config(cls, cfg: Config, beta: float | None = None) -> "EmbedSettings":
        """Sizes, crop threshold and beta of a config's data/eval sections (``beta`` overrides)."""
        return cls(global_size=cfg.data.global_size, local_size=cfg.data.local_size,
                   crop_threshold=cfg.eval.crop_threshold, beta=cfg.eval.beta if beta is None else float(beta),
                   crop_mode=cfg.data.crop_mode, crop_sampling_ratio=cfg.data.crop_sampling_ratio)


def fuse(global_feat: np.ndarray, local_feat: np.ndarray, beta: float) -> np.ndarray:
    """``[sqrt(beta) g ; sqrt(1 - beta) l]`` of normalised features (dot product = weighted cosine), in the
    features' own precision: float32 features give float32 (the reference's ``torch.sqrt`` of a float32 beta),
    so the fused scores, and their near-ties, are the reference's."""
    if not 0.0 <= beta <= 1.0:
        raise BadValue(f"beta must be in [0, 1], got {beta}")
    dtype = np.result_type(global_feat.dtype, local_feat.dtype)
    weight_g, weight_l = np.sqrt(np.asarray([beta, 1.0 - beta], dtype=dtype))
    return np.concatenate([weight_g * global_feat, weight_l * local_feat], axis=1)


def has_local_branch(model: torch.nn.Module) -> bool:
    """True for a model with a local (zoom-in) branch: ASEN++."""
    return getattr(model, "local_branch", None) is not None


def _shares_backbone(model: torch.nn.Module) -> bool:
    from .model import ASEN

    return isinstance(model, ASEN) and type(model).forward is ASEN.forward


@torch.no_grad()
def embed_batch(model: torch.nn.Module, batch: dict, attributes: Sequence[int | torch.Tensor],
                device: torch.device | str, settings: EmbedSettings) -> list[dict[str, np.ndarray]]:
    """Embed one collated batch under each entry of ``attributes``.

    Args:
        model: an ASEN / ASEN++ model (or any module with ASEN's ``forward(images, attributes, branch)``).
        batch: from :func:`asen.data.collate_images`; with a local branch it holds ``original`` and ``size``.
        attributes: per entry, an attribute index for every image, or a (B,) tensor of one attribute per image.
        device: where the model runs.
        settings: the crop's threshold, sizes and mode (``global_size`` is that of the batch's views).
    Returns:
        Per entry ``{"global": (B, D)}``, and with a local branch ``"local": (B, D)`` and ``"boxes": (B, 4)``:
        float32, L2-normalised, not fused.
    """
    from .roi import local_inputs

    x = batch["image"].to(device, non_blocking=True)
    b = x.shape[0]
    local = has_local_branch(model)
    feat = None
    if _shares_backbone(model):  # the same code path as ASEN.forward, with the backbone run once
        xin = x.contiguous(memory_format=torch.channels_last) if model.cfg.channels_last else x
        feat = model.global_branch.backbone(xin)  # (B, C, h, w), attribute-independent
    out = []
    for a in attributes:
        at = a.to(x.device) if isinstance(a, torch.Tensor) else torch.full((b,), int(a), dtype=torch.long,
                                                                            device=x.device)
        g, maps = model.embed_features(feat, at, branch="global") if feat is not None else \
            model(x, at, branch="global")  # (B, D), (B, h, w)
        f = {"global": F.normalize(g.float(), dim=1).cpu().numpy()}
        if local:
            crops, boxes = local_inputs(maps, batch["original"], batch["size"], settings.crop_threshold,
                                        settings.global_size, settings.local_size, mode=settings.crop_mode,
                                        sampling_ratio=settings.crop_sampling_ratio)
            loc, _ = model(crops, at, branch="local")
            f["local"] = F.normalize(loc.float(), dim=1).cpu().numpy()
            f["boxes"] = boxes.cpu().numpy()
        out.append(f)
    return out


def _for_model(images: ImageSet, model: torch.nn.Module) -> ImageSet:
    """A shallow copy of ``images`` that returns the originals exactly when the model crops them (the caller's
    own ImageSet is left as it was)."""
    view = copy.copy(images)
    view.keep_original = has_local_branch(model)
    return view


# ------------------------------------------------------------------------------------- items (MAP protocol)
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
    settings: EmbedSettings | None = None,
    batch_size: int = 64,
    num_workers: int = 0,
    progress: bool = True,
    desc: str = "features",
) -> dict[str, np.ndarray]:
    """Embed every ``(image_id, attr, value)`` item under its own attribute; with several processes
    (:mod:`asen.distributed`) each embeds a contiguous shard and the rows are gathered in order.

    Args:
        model: an ASEN / ASEN++ model (put in eval mode); a local branch adds local features.
        images: the split's images (not changed; their ``global_size`` is the global input side).
        items: (N, 3) ``image_id, attribute, value`` rows.
        device: where the model runs.
        settings: the crop's threshold, local size and mode (default :class:`EmbedSettings`; beta is not used).
        batch_size: items per forward pass.
        num_workers: DataLoader workers.
        progress: tqdm bar (on the first process).
        desc: the bar's label.
    Returns:
        ``{"global": (N, D)}`` (and ``"local": (N, D)``, ``"boxes": (N, 4)`` with a local branch), L2-normalised
        float32.
    """
    from .distributed import dist_info, gather_rows

    model.eval()
    settings = dataclasses.replace(settings or EmbedSettings(), global_size=images.global_size)
    images = _for_model(images, model)
    rank, world = dist_info()
    bounds = np.linspace(0, len(items), world + 1).astype(int)  # contiguous shards, gathered in rank order
    all_items, items = items, items[bounds[rank]:bounds[rank + 1]]
    progress = progress and rank == 0
    loader = DataLoader(ItemSet(images, items), batch_size=batch_size, shuffle=False,
                        num_workers=num_workers, collate_fn=_collate_items)
    out: dict[str, list[np.ndarray]] = {"global": [], "local": [], "boxes": []}
    for batch in tqdm(loader, desc=desc, disable=not progress, leave=False):
        (f,) = embed_batch(model, batch, [batch["attribute"]], device, settings)
        for k, v in f.items():
            out[k].append(v)
    result = {k: np.concatenate(v) for k, v in out.items() if v}
    if world > 1:
        result = gather_rows(result)
        if len(result["global"]) != len(all_items):
            raise RuntimeError(f"gathered {len(result['global'])} features for {len(all_items)} items")
    return result


# ------------------------------------------------------------------------------ images x attributes (search)
class ImageList(ImageSet):
    """An :class:`asen.data.ImageSet` over image paths (absolute, or relative to the current folder) or
    PIL images, returning the same items (global view, and the original with ``keep_original``)."""

    def __init__(self, images: Sequence[ImageLike], global_size: int, keep_original: bool = False,
                 skip_bad_images: bool = False) -> None:
        names = [f"<image {i}>" if isinstance(im, Image.Image) else str(im) for i, im in enumerate(images)]
        super().__init__(Path("."), names, global_size, keep_original, skip_bad_images)
        self.images = list(images)

    def load(self, index: int) -> Image.Image:
        item = self.images[index]
        if isinstance(item, Image.Image):
            return item.convert("RGB")
        return super().load(index)


def as_image_set(images: ImageSet | Sequence[ImageLike] | ImageLike,
                 settings: EmbedSettings) -> tuple[ImageSet, list[str]]:
    """An ImageSet (as given, or an :class:`ImageList` of ``settings.global_size``) and its images' paths."""
    if isinstance(images, ImageSet):
        paths = [str(images.root / f) for f in images.filenames] if not isinstance(images, ImageList) \
            else list(images.filenames)
        return images, paths
    if isinstance(images, (str, Path, Image.Image)):
        images = [images]
    ds = ImageList(images, settings.global_size)
    return ds, list(ds.filenames)


def iter_embeddings(model: torch.nn.Module, dataset: ImageSet, attrs: Sequence[int], device: torch.device | str,
                    settings: EmbedSettings, batch_size: int, num_workers: int, progress: bool, desc: str,
                    ) -> Iterator[tuple[int, dict[int, np.ndarray]]]:
    """Batch by batch: ``(first row, {attr: (B, D') float32})``, L2-normalised, fused with a local branch."""
    model.eval()
    local = has_local_branch(model)
    loader = DataLoader(_for_model(dataset, model), batch_size=batch_size, shuffle=False, num_workers=num_workers,
                        collate_fn=collate_images, pin_memory=torch.device(device).type == "cuda")
    start = 0
    for batch in auto_tqdm(loader, desc=desc, disable=not progress, leave=False):
        feats = embed_batch(model, batch, [int(a) for a in attrs], device, settings)
        yield start, {int(a): fuse(f["global"], f["local"], settings.beta).astype(np.float32) if local
                      else f["global"] for a, f in zip(attrs, feats)}
        start += len(batch["image"])


def embed_images(
    model: torch.nn.Module,
    images: ImageSet | Sequence[ImageLike] | ImageLike,
    attributes: Sequence[int],
    device: torch.device | str,
    settings: EmbedSettings | None = None,
    batch_size: int = 64,
    num_workers: int = 0,
    progress: bool = False,
) -> dict[int, np.ndarray]:
    """Embed images under each of several attributes (in memory; :func:`asen.search.build_index` streams to disk).

    Args:
        model: an ASEN / ASEN++ model (put in eval mode).
        images: an :class:`~asen.data.ImageSet`, or image paths / PIL images (one or a list).
        attributes: attribute indices.
        device: where the model runs.
        settings: input sizes, crop and beta (default :class:`EmbedSettings`; an ImageSet's own size wins).
        batch_size: images per forward pass.
        num_workers: DataLoader workers.
        progress: tqdm bar.
    Returns:
        ``{attribute: (N, D) float32}``, L2-normalised; ``D`` doubles for a model with a local branch (fused).
    """
    settings = settings or EmbedSettings()
    dataset, _ = as_image_set(images, settings)
    settings = dataclasses.replace(settings, global_size=dataset.global_size)
    parts: dict[int, list[np.ndarray]] = {int(a): [] for a in attributes}
    for _, feats in iter_embeddings(model, dataset, attributes, device, settings, batch_size, num_workers,
                                    progress, "embed"):
        for a, f in feats.items():
            parts[a].append(f)
    return {a: np.concatenate(v) if v else np.zeros((0, 0), np.float32) for a, v in parts.items()}
