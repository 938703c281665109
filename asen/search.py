"""Attribute-specific search over large galleries with FAISS, and attribute-specific reranking.

Two uses of a trained ASEN / ASEN++ model beyond the MAP protocol of ASEN++ Sec. IV-A:

* **Search.** :func:`build_index` embeds a gallery once per attribute and writes one FAISS index per
  attribute; :func:`search` embeds a query image under one attribute and returns its nearest gallery
  images. Features are L2-normalised; for a model with a local branch (ASEN++) they are the fused
  ``[sqrt(beta) g ; sqrt(1 - beta) l]`` of :func:`asen.evaluate.fuse`, so the inner product that FAISS
  maximises is ``beta cos_global + (1 - beta) cos_local``, the similarity of the paper's evaluation.
  ``flat`` (``IndexFlatIP``) is exact; ``hnsw`` (``IndexHNSWFlat``) and ``ivf`` (``IndexIVFFlat``) are
  approximate. :func:`search_vectors` is the pure-array search, :func:`exact_search` its NumPy reference.
* **Reranking** (ASEN++ Sec. V, "Application: fashion reranking"). :func:`rerank` reorders a given
  result list (e.g. from a general, attribute-agnostic similarity search) by attribute-specific
  similarity to the query, optionally blended with the original scores:
  ``score = alpha * s_attr + (1 - alpha) * s_original``.

The global backbone does not depend on the attribute (the attribute enters at the attention modules), so
:func:`embed_images` runs it once per image and only the attention heads (and, for ASEN++, the local
branch on the attribute-dependent crop) once per attribute.

An index folder holds::

    index.json      attribute names, indexed attributes, dims, index type and parameters,
                    embedding settings (sizes, beta, crop threshold), checkpoint path, config hash,
                    the SHA-256 of the model's weights and of every file below
    gallery.txt     one image path per line; line i is id i in every per-attribute index
    attr_<a>.faiss  one FAISS index per indexed attribute a
    features_<a>.npy  the gallery features (only with ``keep_features``)

An index answers only for the weights it was built with: a query embedded by a model whose weights differ
(another checkpoint, even of the same config) or a changed ``gallery.txt`` / ``attr_<a>.faiss`` is refused
(:class:`IndexMismatchError`) instead of returning scores that mean nothing.

FAISS is imported lazily (``pip install faiss-cpu``); GPU indexes are used when asked for and
``faiss.get_num_gpus() > 0``. The ``asen index build``, ``asen search`` and ``asen rerank`` commands are
defined here (``add_*_arguments`` / ``run_*``).
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import math
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from .config import Config
from .data import DataError, ImageSet, collate_images, load_meta

# asen.model / asen.roi / asen.evaluate (and torchvision) are imported where used, so that building the
# `asen` command line (which imports this module for its arguments) stays fast.

INDEX_TYPES = ("flat", "hnsw", "ivf")
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".gif", ".tif", ".tiff")
INDEX_FORMAT = "asen-search-index"
INDEX_VERSION = 2  # 2: weight and file fingerprints


class IndexMismatchError(DataError):
    """An index folder does not belong to the model, or one of its files changed since it was built."""


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file's bytes (read in 1 MiB chunks).

    Args:
        path: the file.
    Returns:
        The hex digest.
    """
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()

ImageLike = str | Path | Image.Image


# ----------------------------------------------------------------------------------------------- faiss
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
        raise ValueError(f"k must be at least 1, got {k}")
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
        order = np.lexsort((part, -ps), axis=1)  # by score descending, then id ascending
        ids_out[start : start + chunk] = np.take_along_axis(part, order, axis=1)
        scores_out[start : start + chunk] = np.take_along_axis(ps, order, axis=1)
    return scores_out, ids_out


# ------------------------------------------------------------------------------------------ attributes
def resolve_attribute(attribute: str | int, names: Sequence[str]) -> int:
    """Index of an attribute given by name or index.

    Args:
        attribute: a name (``"collar_design"``) or an index (``3`` or ``"3"``).
        names: all attribute names, in index order.
    Returns:
        The attribute index.
    Raises:
        DataError: unknown name or index out of range; the message lists the known names.
    """
    known = ", ".join(f"{i}:{n}" for i, n in enumerate(names))
    if isinstance(attribute, (int, np.integer)) or (isinstance(attribute, str) and attribute.strip().isdigit()):
        idx = int(attribute)
        if not 0 <= idx < len(names):
            raise DataError(f"attribute index {idx} out of range 0..{len(names) - 1} (known: {known})")
        return idx
    name = str(attribute).strip()
    if name in names:
        return list(names).index(name)
    lower = [n.lower() for n in names]
    if name.lower() in lower:
        return lower.index(name.lower())
    raise DataError(f"unknown attribute '{attribute}' (known: {known})")


def resolve_attributes(attributes: str | int | Sequence[str | int] | None, names: Sequence[str]) -> list[int]:
    """Attribute indices from ``"all"`` / ``None``, a comma-separated string, or a list of names or indices."""
    if attributes is None or (isinstance(attributes, str) and attributes.strip().lower() == "all"):
        return list(range(len(names)))
    if isinstance(attributes, (int, np.integer)):
        attributes = [int(attributes)]
    elif isinstance(attributes, str):
        attributes = [a for a in attributes.split(",") if a.strip()]
    out: list[int] = []
    for a in attributes:
        idx = resolve_attribute(a, names)
        if idx not in out:
            out.append(idx)
    if not out:
        raise DataError(f"no attribute given (known: {', '.join(names)})")
    return out


def load_attribute_names(num_attributes: int, cfg: Config | None = None, meta: str | Path | None = None) -> list[str]:
    """Attribute names for a model: from ``meta`` (a ``meta.json`` or its folder), else from the config's
    dataset folder (``cfg.data.root``), else ``"0" .. "n-1"`` (with a warning naming where it looked).

    Raises:
        DataError: an explicit ``meta`` that cannot be read, or one (or the config's dataset folder's) whose
            attribute count differs from the model's.
    """
    if meta is not None:
        path = Path(meta)
        m = load_meta(path.parent if path.suffix == ".json" else path)
        if m.num_attributes != num_attributes:
            raise DataError(f"{meta}: {m.num_attributes} attributes, but the model has {num_attributes}")
        return list(m.attributes)
    if cfg is not None:
        try:
            m = load_meta(cfg.data.root)
        except DataError:
            m = None
        if m is not None:
            if m.num_attributes == num_attributes:
                return list(m.attributes)
            raise DataError(f"{cfg.data.root}/meta.json has {m.num_attributes} attributes but the model has "
                            f"{num_attributes}: the data folder in the checkpoint's config is not the one it was "
                            f"trained on (give --meta of its dataset)")
        else:
            warnings.warn(f"no meta.json in the checkpoint's dataset folder {cfg.data.root}; attributes are named "
                          f"by index 0..{num_attributes - 1} (give --meta for names)")
    return [str(i) for i in range(num_attributes)]


# ------------------------------------------------------------------------------------------- embedding
@dataclass(frozen=True)
class EmbedSettings:
    """How images are embedded (stored in ``index.json`` so that queries are embedded the same way)."""

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


def _as_dataset(images: ImageSet | Sequence[ImageLike], settings: EmbedSettings) -> tuple[ImageSet, list[str]]:
    if isinstance(images, ImageSet):
        paths = [str(images.root / f) for f in images.filenames] if not isinstance(images, ImageList) \
            else list(images.filenames)
        return images, paths
    if isinstance(images, (str, Path, Image.Image)):
        images = [images]
    ds = ImageList(images, settings.global_size)
    return ds, list(ds.filenames)


def _shares_backbone(model: torch.nn.Module) -> bool:
    from .model import ASEN

    return isinstance(model, ASEN) and type(model).forward is ASEN.forward


def _heads(model: torch.nn.Module, feat: torch.Tensor, attributes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The global branch of :meth:`ASEN.forward` after its backbone (same code path, backbone features given)."""
    return model.embed_features(feat, attributes, branch="global")


@torch.no_grad()
def _embed_batch(model: torch.nn.Module, batch: dict, attrs: Sequence[int], device: torch.device | str,
                 settings: EmbedSettings) -> dict[int, np.ndarray]:
    """One collated batch -> ``{attr: (B, D') float32}`` L2-normalised (fused for a local branch)."""
    from .evaluate import fuse
    from .roi import local_inputs

    x = batch["image"].to(device, non_blocking=True)
    b = x.shape[0]
    local = getattr(model, "local_branch", None) is not None
    feat = None
    if _shares_backbone(model):
        xin = x.contiguous(memory_format=torch.channels_last) if model.cfg.channels_last else x
        feat = model.global_branch.backbone(xin)  # (B, C, h, w), attribute-independent
    out: dict[int, np.ndarray] = {}
    for a in attrs:
        at = torch.full((b,), int(a), dtype=torch.long, device=x.device)
        g, maps = _heads(model, feat, at) if feat is not None else model(x, at, branch="global")
        g = F.normalize(g.float(), dim=1).cpu().numpy()
        if not local:
            out[int(a)] = g
            continue
        crops, _ = local_inputs(maps, batch["original"], batch["size"], settings.crop_threshold,
                                settings.global_size, settings.local_size, mode=settings.crop_mode,
                                sampling_ratio=settings.crop_sampling_ratio)
        loc, _ = model(crops, at, branch="local")
        loc = F.normalize(loc.float(), dim=1).cpu().numpy()
        out[int(a)] = fuse(g, loc, settings.beta).astype(np.float32)
    return out


def _iter_embeddings(model: torch.nn.Module, dataset: ImageSet, attrs: Sequence[int], device: torch.device | str,
                     settings: EmbedSettings, batch_size: int, num_workers: int, progress: bool, desc: str,
                     ) -> Iterator[tuple[int, dict[int, np.ndarray]]]:
    model.eval()
    keep = dataset.keep_original
    dataset.keep_original = getattr(model, "local_branch", None) is not None
    try:
        loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=num_workers,
                            collate_fn=collate_images, pin_memory=torch.device(device).type == "cuda")
        start = 0
        for batch in tqdm(loader, desc=desc, disable=not progress, leave=False):
            feats = _embed_batch(model, batch, attrs, device, settings)
            yield start, feats
            start += len(batch["image"])
    finally:
        dataset.keep_original = keep


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
    """Embed images under each of several attributes (in memory; :func:`build_index` streams to disk).

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
    dataset, _ = _as_dataset(images, settings)
    settings = dataclasses.replace(settings, global_size=dataset.global_size)
    parts: dict[int, list[np.ndarray]] = {int(a): [] for a in attributes}
    for _, feats in _iter_embeddings(model, dataset, attributes, device, settings, batch_size, num_workers,
                                     progress, "embed"):
        for a, f in feats.items():
            parts[a].append(f)
    return {a: np.concatenate(v) if v else np.zeros((0, 0), np.float32) for a, v in parts.items()}


# ---------------------------------------------------------------------------------------------- index
@dataclass
class SearchIndex:
    """A loaded index folder (per-attribute FAISS indexes are read on first use)."""

    root: Path
    info: dict[str, Any]
    paths: list[str]
    use_gpu: bool = False
    _indexes: dict[int, Any] = field(default_factory=dict, repr=False)

    @property
    def attribute_names(self) -> list[str]:
        """All attribute names of the model (indexed or not)."""
        return list(self.info["attribute_names"])

    @property
    def attributes(self) -> list[int]:
        """Indices of the attributes that have an index."""
        return [int(e["index"]) for e in self.info["attributes"]]

    @property
    def settings(self) -> EmbedSettings:
        return EmbedSettings(**self.info["settings"])

    @property
    def dim(self) -> int:
        return int(self.info["dim"])

    def attribute_index(self, attribute: str | int) -> int:
        """Resolve a name or index, and check that the attribute was indexed.

        Raises:
            DataError: unknown attribute, or one not indexed (the message lists the indexed ones).
        """
        a = resolve_attribute(attribute, self.attribute_names)
        if a not in self.attributes:
            have = ", ".join(self.attribute_names[i] for i in self.attributes)
            raise DataError(f"attribute '{self.attribute_names[a]}' is not indexed in {self.root} (indexed: {have})")
        return a

    def index(self, attribute: str | int) -> Any:
        """The FAISS index of one attribute (loaded and cached on first use)."""
        a = self.attribute_index(attribute)
        if a not in self._indexes:
            faiss = require_faiss()
            entry = next(e for e in self.info["attributes"] if int(e["index"]) == a)
            path = self.root / entry["file"]
            if not path.exists():
                raise FileNotFoundError(f"index file missing: {path} (rebuild the index with `asen index build`)")
            if file_sha256(path) != entry.get("sha256"):
                raise IndexMismatchError(f"{path} is not the file this index was built with (its SHA-256 differs "
                                         f"from the one in index.json); rebuild the index with `asen index build`")
            index = faiss.read_index(str(path))
            params = self.info.get("index_params", {})
            if self.info["index_type"] == "hnsw" and "ef_search" in params:
                index.hnsw.efSearch = int(params["ef_search"])
            if self.info["index_type"] == "ivf" and "nprobe" in params:
                index.nprobe = int(params["nprobe"])
            if self.use_gpu and self.info["index_type"] != "hnsw" and faiss_gpu_available():
                index = _to_gpu(index, faiss)
            self._indexes[a] = index
        return self._indexes[a]

    def search_vectors(self, attribute: str | int, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """:func:`search_vectors` on one attribute's index."""
        return search_vectors(self.index(attribute), queries, k)

    def check_model(self, model: torch.nn.Module, checkpoint: str | Path | None = None) -> None:
        """Refuse a model other than the one the index was built with (its weights' fingerprint differs).

        Args:
            model: the model about to embed queries.
            checkpoint: where it was loaded from (for the message).
        Raises:
            IndexMismatchError: another attribute count or other weights; the message names both files.
        """
        from .checkpoint import state_fingerprint

        n = int(getattr(model, "num_attributes", len(self.attribute_names)))
        what = checkpoint or "the model"
        if n != len(self.attribute_names):
            raise IndexMismatchError(f"{what} has {n} attributes but the index {self.root} was built for "
                                     f"{len(self.attribute_names)} (with {self.info.get('checkpoint')})")
        if state_fingerprint(model) != self.info.get("weights_sha256"):
            raise IndexMismatchError(f"{what} has other weights than the model the index {self.root} was built "
                                     f"with ({self.info.get('checkpoint')}): its scores would be wrong; search with "
                                     f"that checkpoint, or rebuild the index with `asen index build`")


def _write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    tmp.replace(path)


def build_index(
    model: torch.nn.Module,
    gallery_images: ImageSet | Sequence[ImageLike],
    attributes: str | Sequence[str | int] | None,
    out_dir: str | Path,
    device: torch.device | str,
    batch_size: int = 64,
    beta: float | None = None,
    *,
    attribute_names: Sequence[str] | None = None,
    config: Config | None = None,
    checkpoint: str | Path | None = None,
    settings: EmbedSettings | None = None,
    index_type: str = "flat",
    index_params: dict[str, Any] | None = None,
    use_gpu: bool = False,
    num_workers: int = 0,
    keep_features: bool = False,
    progress: bool = True,
) -> Path:
    """Embed a gallery once per attribute and write one FAISS index per attribute.

    Features go to ``features_<a>.npy`` memory maps while the gallery is embedded (the global backbone runs
    once per image), then each attribute's index is built and written in turn, so memory holds one
    attribute's index at a time.

    Args:
        model: an ASEN / ASEN++ model.
        gallery_images: image paths (absolute or relative to the current folder) or an ImageSet.
        attributes: ``"all"``/``None``, or attribute names or indices.
        out_dir: the index folder (created; existing index files are replaced).
        device: where the model runs.
        batch_size: images per forward pass.
        beta: global weight of the fused ASEN++ feature (default: the config's ``eval.beta``, else 0.6).
        attribute_names: all attribute names in index order (default: from the config's dataset folder, else
            ``"0".."n-1"``).
        config: the model's configuration: embedding settings, dataset meta, and its hash in ``index.json``.
        checkpoint: the checkpoint path, recorded in ``index.json``.
        settings: embedding settings (default from ``config``; an ImageSet's ``global_size`` wins).
        index_type: ``flat`` (exact), ``hnsw`` or ``ivf`` (approximate).
        index_params: keyword arguments of :func:`make_index` (``hnsw_m``, ``ef_search``, ``nlist``, ``nprobe``...).
        use_gpu: build FAISS indexes on the GPU when FAISS has GPU support.
        num_workers: DataLoader workers.
        keep_features: keep ``features_<a>.npy`` (e.g. to build another index type without re-embedding).
        progress: tqdm bars.
    Returns:
        The index folder.
    """
    faiss = require_faiss()
    if index_type not in INDEX_TYPES:
        raise ValueError(f"index type must be one of {', '.join(INDEX_TYPES)}, got {index_type!r}")
    num_attributes = int(getattr(model, "num_attributes"))
    names = list(attribute_names) if attribute_names is not None else load_attribute_names(num_attributes, config)
    if len(names) != num_attributes:
        raise DataError(f"{len(names)} attribute names given but the model has {num_attributes} attributes")
    attrs = resolve_attributes(attributes, names)
    if settings is None:
        settings = EmbedSettings.from_config(config, beta) if config is not None else \
            EmbedSettings(beta=0.6 if beta is None else float(beta))
    elif beta is not None:
        settings = dataclasses.replace(settings, beta=float(beta))
    if not 0.0 <= settings.beta <= 1.0:
        raise ValueError(f"beta must be in [0, 1], got {settings.beta}")
    dataset, paths = _as_dataset(gallery_images, settings)
    settings = dataclasses.replace(settings, global_size=dataset.global_size)
    if len(dataset) == 0:
        raise DataError("the gallery is empty")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "index.json").unlink(missing_ok=True)  # no valid index.json until the new one is complete

    t0 = time.time()
    memmaps: dict[int, np.ndarray] = {}
    for start, feats in _iter_embeddings(model, dataset, attrs, device, settings, batch_size, num_workers,
                                         progress, f"embedding {len(dataset)} images x {len(attrs)} attributes"):
        for a, f in feats.items():
            if a not in memmaps:
                memmaps[a] = np.lib.format.open_memmap(out / f"features_{a}.npy", mode="w+", dtype=np.float32,
                                                       shape=(len(dataset), f.shape[1]))
            memmaps[a][start : start + len(f)] = f
    embed_seconds = time.time() - t0
    dim = int(next(iter(memmaps.values())).shape[1])

    params = dict(index_params or {})
    entries = []
    t0 = time.time()
    for a in tqdm(attrs, desc=f"{index_type} indexes", disable=not progress, leave=False):
        feats = memmaps.pop(a)
        feats.flush()
        index = make_index(feats, index_type, use_gpu=use_gpu, **params)
        file = f"attr_{a}.faiss"
        faiss.write_index(_to_cpu(index, faiss), str(out / file))
        del index, feats
        if not keep_features:
            (out / f"features_{a}.npy").unlink()
        entries.append({"index": a, "name": names[a], "file": file, "dim": dim, "sha256": file_sha256(out / file),
                        **({"features": f"features_{a}.npy"} if keep_features else {})})
    index_seconds = time.time() - t0
    if index_type == "hnsw":
        params.setdefault("ef_search", 128)
    if index_type == "ivf":
        params.setdefault("nprobe", 16)

    local = getattr(model, "local_branch", None) is not None
    mcfg = getattr(model, "cfg", None)
    _write_text(out / "gallery.txt", "".join(p + "\n" for p in paths))
    from .checkpoint import state_fingerprint

    info = {
        "format": INDEX_FORMAT,
        "version": INDEX_VERSION,
        "attribute_names": names,
        "attributes": entries,
        "dim": dim,
        "num_items": len(paths),
        "index_type": index_type,
        "metric": "inner_product",
        "index_params": params,
        "feature": "fused [sqrt(beta) g ; sqrt(1-beta) l]" if local else "global",
        "settings": dataclasses.asdict(settings),
        "checkpoint": str(checkpoint) if checkpoint is not None else None,
        "config_hash": config.hash() if config is not None else None,
        "weights_sha256": state_fingerprint(model),
        "gallery_sha256": file_sha256(out / "gallery.txt"),
        "model": {"backbone": getattr(mcfg, "backbone", None), "local_branch": local,
                  "embed_size": getattr(mcfg, "embed_size", None)},
        "seconds": {"embed": round(embed_seconds, 3), "index": round(index_seconds, 3)},
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    _write_text(out / "index.json", json.dumps(info, indent=2) + "\n")
    return out


def load_index(index_dir: str | Path, use_gpu: bool = False) -> SearchIndex:
    """Open an index folder written by :func:`build_index`.

    Raises:
        FileNotFoundError: no such folder, or no ``index.json`` in it.
        DataError: a malformed ``index.json`` or a ``gallery.txt`` that does not match it.
    """
    root = Path(index_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"index folder not found: {root} (build one with `asen index build`)")
    meta = root / "index.json"
    if not meta.exists():
        raise FileNotFoundError(f"no index.json in {root} (not an index folder, or an unfinished "
                                f"`asen index build`; build it again)")
    try:
        info = json.loads(meta.read_text())
    except json.JSONDecodeError as exc:
        raise DataError(f"{meta}: not valid JSON ({exc})") from exc
    if info.get("format") != INDEX_FORMAT:
        raise DataError(f"{meta}: not an asen search index (format {info.get('format')!r})")
    if int(info.get("version", 0)) > INDEX_VERSION:
        raise DataError(f"{meta}: index version {info['version']} is newer than this asen ({INDEX_VERSION})")
    if int(info.get("version", 0)) < INDEX_VERSION or "weights_sha256" not in info:
        raise IndexMismatchError(f"{meta}: index version {info.get('version')} records no fingerprint of the "
                                 f"model's weights, so it cannot be checked against a checkpoint; rebuild it with "
                                 f"`asen index build`")
    gallery = root / "gallery.txt"
    if not gallery.exists():
        raise FileNotFoundError(f"missing {gallery}")
    if file_sha256(gallery) != info.get("gallery_sha256"):
        raise IndexMismatchError(f"{gallery} is not the file this index was built with (its SHA-256 differs from "
                                 f"the one in index.json); rebuild the index with `asen index build`")
    paths = gallery.read_text().splitlines()
    if len(paths) != info["num_items"]:
        raise DataError(f"{gallery}: {len(paths)} lines but index.json says {info['num_items']} images")
    return SearchIndex(root, info, paths, use_gpu=use_gpu)


def search(
    index_dir: str | Path | SearchIndex,
    model: torch.nn.Module,
    query_image_path: ImageLike,
    attribute: str | int,
    k: int,
    device: torch.device | str,
) -> list[tuple[str, float]]:
    """The ``k`` gallery images most similar to a query under one attribute.

    Args:
        index_dir: an index folder (or a loaded :class:`SearchIndex`).
        model: the model the index was built with.
        query_image_path: the query image (a path or a PIL image).
        attribute: attribute name or index.
        k: number of results.
        device: where the model runs.
    Returns:
        ``[(gallery path, score)]`` best first; the score is the (fused) cosine similarity.
    Raises:
        DataError: unknown or unindexed attribute, or a model whose features do not fit the index.
        IndexMismatchError: the model's weights are not those the index was built with, or an index file
            changed since.
    """
    idx = index_dir if isinstance(index_dir, SearchIndex) else load_index(index_dir)
    a = idx.attribute_index(attribute)
    idx.index(a)  # checks the attribute's index file
    idx.check_model(model)
    q = embed_images(model, [query_image_path], [a], device, idx.settings)[a]  # (1, D)
    if q.shape[1] != idx.dim:
        raise DataError(f"the model's features have {q.shape[1]} dimensions but the index in {idx.root} has "
                        f"{idx.dim}: it was built with another model ({idx.info.get('checkpoint')})")
    scores, ids = idx.search_vectors(a, q, k)
    return [(idx.paths[i], float(s)) for s, i in zip(scores[0], ids[0]) if i >= 0]


def rerank(
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
) -> list[tuple[str, float]]:
    """Reorder a result list by attribute-specific similarity to the query (ASEN++ Sec. V, fashion reranking).

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
        ``[(path, score)]`` best first; equal scores keep their original order.
    """
    order, score = rerank_order(model, query_image, result_paths, attribute, device, alpha, original_scores,
                                attribute_names=attribute_names, settings=settings, batch_size=batch_size,
                                num_workers=num_workers, progress=progress)
    labels = [f"<image {i}>" if isinstance(p, Image.Image) else str(p) for i, p in enumerate(result_paths)]
    return [(labels[i], float(score[i])) for i in order]


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
    """:func:`rerank` as arrays (same arguments).

    Returns:
        ``(order, scores)``: (N,) int64 positions in ``result_paths``, best first, and (N,) float64 final scores
        indexed like ``result_paths``.
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
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


# ------------------------------------------------------------------------------------------------- CLI
def _common_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="auto",
                   help="`auto` (CUDA when available, else CPU), `cpu`, `cuda`; default auto")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def _model_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint", required=True, help="a best.pt from `asen train` (or an official checkpoint)")
    p.add_argument("--meta", help="meta.json (or its folder) naming the attributes, when the checkpoint's dataset "
                                  "folder (data.root of its config) is not on this machine")


def add_index_arguments(p: argparse.ArgumentParser) -> None:
    """Arguments of ``asen index`` (sub-command ``build``); dispatch with :func:`run_index`."""
    sub = p.add_subparsers(dest="index_command", required=True, metavar="{build}")
    b = sub.add_parser("build", help="embed a gallery under each attribute and write one FAISS index per attribute",
                       description="Embed every gallery image once per attribute (L2-normalised; ASEN++: the fused "
                                   "global+local feature) and write one FAISS index per attribute, gallery.txt and "
                                   "index.json to --out. Example: asen index build --checkpoint runs/x/checkpoints/"
                                   "best.pt --images data/FashionAI/filenames_test.txt --root data/FashionAI "
                                   "--attributes all --out indexes/fashionai_test")
    _model_arguments(b)
    b.add_argument("--images", required=True,
                   help="a folder (searched recursively for image files) or a text file with one image path per line")
    b.add_argument("--root", help="folder that relative paths in an --images list are relative to (default: the "
                                  "current folder)")
    b.add_argument("--attributes", default="all",
                   help="`all` (default), or comma-separated names or indices, e.g. collar_design,neckline_design")
    b.add_argument("--out", required=True, help="index folder to write")
    b.add_argument("--index-type", choices=INDEX_TYPES, default="flat",
                   help="flat: exact inner product (default; fine up to about 1M images per attribute on a CPU); "
                        "hnsw: approximate graph index (fast queries, slower build); ivf: approximate, inverted lists")
    b.add_argument("--beta", type=float, help="ASEN++: weight of the global branch in the fused feature "
                                              "(default: eval.beta of the checkpoint's config, paper 0.6)")
    b.add_argument("--batch-size", type=int, default=64, help="images per forward pass (default 64)")
    b.add_argument("--num-workers", type=int, default=0, help="image-loading processes (default 0)")
    b.add_argument("--faiss-gpu", action="store_true", help="build the FAISS indexes on the GPU (needs faiss-gpu)")
    b.add_argument("--keep-features", action="store_true", help="also keep the gallery features (features_<a>.npy)")
    b.add_argument("--skip-bad-images", action="store_true",
                   help="index unreadable images as grey images (reported) instead of stopping")
    _common_arguments(b)


def add_search_arguments(p: argparse.ArgumentParser) -> None:
    """Arguments of ``asen search``; run with :func:`run_search`."""
    p.add_argument("--index", required=True, help="index folder written by `asen index build`")
    _model_arguments(p)
    p.add_argument("--image", required=True, help="the query image")
    p.add_argument("--attribute", required=True, help="attribute name or index, e.g. collar_design")
    p.add_argument("-k", type=int, default=10, help="number of results (default 10)")
    p.add_argument("--out", help="also write the results as `path<TAB>score` lines (input of `asen rerank`)")
    p.add_argument("--faiss-gpu", action="store_true", help="search on the GPU (needs faiss-gpu)")
    _common_arguments(p)


def add_rerank_arguments(p: argparse.ArgumentParser) -> None:
    """Arguments of ``asen rerank``; run with :func:`run_rerank`."""
    _model_arguments(p)
    p.add_argument("--image", required=True, help="the query image")
    p.add_argument("--attribute", required=True, help="attribute name or index, e.g. collar_design")
    p.add_argument("--results", required=True,
                   help="text file of results to reorder: one image path per line, optionally `path<TAB>score`")
    p.add_argument("--root", help="folder that relative paths in --results are relative to (default: current folder)")
    p.add_argument("--alpha", type=float, default=1.0,
                   help="weight of the attribute-specific similarity; below 1 blends with the scores of --results "
                        "(score = alpha * attribute + (1 - alpha) * original); default 1")
    p.add_argument("--beta", type=float, help="ASEN++: weight of the global branch (default: eval.beta of the config)")
    p.add_argument("--batch-size", type=int, default=64, help="images per forward pass (default 64)")
    p.add_argument("--out", help="also write the reranked list as `path<TAB>score` lines")
    _common_arguments(p)


def gallery_paths(images: str | Path, root: str | Path | None = None) -> list[str]:
    """Image paths from a folder (recursive, sorted, by extension) or a list file (one path per line).

    Raises:
        FileNotFoundError: ``images`` does not exist.
        DataError: an empty folder or list.
    """
    src = Path(images)
    if not src.exists():
        raise FileNotFoundError(f"--images: no such folder or file: {src}")
    if src.is_dir():
        paths = sorted(str(p) for p in src.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
        if not paths:
            raise DataError(f"no image files ({', '.join(IMAGE_EXTENSIONS)}) under {src}")
        return paths
    base = Path(root) if root else None
    paths = [_resolve(line.strip(), base) for line in src.read_text().splitlines() if line.strip()]
    if not paths:
        raise DataError(f"{src}: no image paths (expected one per line)")
    return paths


def _resolve(path: str, base: Path | None) -> str:
    return str(base / path) if base is not None and not Path(path).is_absolute() else path


def read_results(path: str | Path, root: str | Path | None = None) -> tuple[list[str], list[float] | None]:
    """Read a result list: ``path`` or ``path<TAB>score`` per line (all lines with a score, or none).

    Returns:
        ``(paths, scores or None)``.
    Raises:
        DataError: a bad score, or scores on some lines only (naming the line).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"--results: no such file: {path}")
    base = Path(root) if root else None
    paths: list[str] = []
    scores: list[float | None] = []
    for lineno, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        name, _, score = line.rstrip("\n").partition("\t")
        paths.append(_resolve(name.strip(), base))
        if score.strip():
            try:
                scores.append(float(score))
            except ValueError:
                raise DataError(f"{path}, line {lineno}: expected `path<TAB>score`, got {line!r}") from None
        else:
            scores.append(None)
    if not paths:
        raise DataError(f"{path}: no results (expected one image path per line)")
    have = [s is not None for s in scores]
    if any(have) and not all(have):
        missing = have.index(False) + 1
        raise DataError(f"{path}: some lines have a score and some do not (e.g. result {missing}); "
                        f"give `path<TAB>score` on every line or on none")
    return paths, ([float(s) for s in scores] if all(have) else None)  # type: ignore[arg-type]


def format_results(results: Sequence[tuple[str, float]], extra: Sequence[str] | None = None,
                   extra_name: str = "") -> str:
    """A ranked plain-text table: rank, score, (extra column,) path."""
    head = f"{'rank':>4}  {'score':>8}  " + (f"{extra_name:>8}  " if extra is not None else "") + "path"
    lines = [head, "-" * max(len(head), 40)]
    for r, (path, score) in enumerate(results, 1):
        col = f"{extra[r - 1]:>8}  " if extra is not None else ""
        lines.append(f"{r:>4}  {score:8.4f}  {col}{path}")
    return "\n".join(lines)


def _write_results(path: str | Path, results: Sequence[tuple[str, float]]) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text("".join(f"{p}\t{s:.6f}\n" for p, s in results))


def _load(args: argparse.Namespace) -> tuple[torch.nn.Module, Config, torch.device]:
    from .checkpoint import load_model
    from .runs import resolve_device

    device = resolve_device(args.device)
    model, cfg, _ = load_model(args.checkpoint, device)
    return model, cfg, device


def _cli_errors(fn):  # turn a missing FAISS into a one-line error like the other CLI errors
    def wrapped(args: argparse.Namespace) -> int:
        from .checkpoint import CheckpointError

        try:
            return fn(args)
        except (ImportError, CheckpointError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    wrapped.__name__, wrapped.__doc__ = fn.__name__, fn.__doc__
    return wrapped


@_cli_errors
def run_index(args: argparse.Namespace) -> int:
    """``asen index build``: embed the gallery and write the index folder."""
    if args.index_command != "build":  # pragma: no cover - argparse restricts the choices
        raise ValueError(f"unknown index command {args.index_command!r}")
    require_faiss()
    paths = gallery_paths(args.images, args.root)
    model, cfg, device = _load(args)
    names = load_attribute_names(model.num_attributes, cfg, args.meta)
    attrs = resolve_attributes(args.attributes, names)
    print(f"indexing {len(paths)} images x {len(attrs)} attributes ({args.index_type}) on {device}")
    out = build_index(model, ImageList(paths, cfg.data.global_size, skip_bad_images=args.skip_bad_images), attrs,
                      args.out, device, args.batch_size, args.beta, attribute_names=names, config=cfg,
                      checkpoint=args.checkpoint, index_type=args.index_type, use_gpu=args.faiss_gpu,
                      num_workers=args.num_workers, keep_features=args.keep_features, progress=not args.quiet)
    info = json.loads((out / "index.json").read_text())
    print(f"wrote {out}: {info['num_items']} images, attributes {', '.join(names[a] for a in attrs)}, "
          f"dim {info['dim']} ({info['feature']}), embedding {info['seconds']['embed']:.1f} s, "
          f"indexing {info['seconds']['index']:.1f} s")
    return 0


@_cli_errors
def run_search(args: argparse.Namespace) -> int:
    """``asen search``: print the ranked results of one query under one attribute."""
    idx = load_index(args.index, use_gpu=args.faiss_gpu)
    a = idx.attribute_index(args.attribute)  # fail before loading the model
    idx.index(a)  # and on a changed index file
    model, cfg, device = _load(args)
    idx.check_model(model, args.checkpoint)
    results = search(idx, model, args.image, a, args.k, device)
    print(f"{args.image}: top {len(results)} of {len(idx.paths)} by '{idx.attribute_names[a]}'")
    print(format_results(results))
    if args.out:
        _write_results(args.out, results)
        print(f"wrote {args.out}")
    return 0


@_cli_errors
def run_rerank(args: argparse.Namespace) -> int:
    """``asen rerank``: reorder a result list by attribute-specific similarity to the query."""
    paths, scores = read_results(args.results, args.root)
    if args.alpha < 1.0 and scores is None:
        raise DataError(f"--alpha {args.alpha} blends with the original scores, but {args.results} has none "
                        f"(write `path<TAB>score` lines)")
    model, cfg, device = _load(args)
    names = load_attribute_names(model.num_attributes, cfg, args.meta)
    a = resolve_attribute(args.attribute, names)
    order, final = rerank_order(model, args.image, paths, a, device, alpha=args.alpha, original_scores=scores,
                                attribute_names=names, settings=EmbedSettings.from_config(cfg, args.beta),
                                batch_size=args.batch_size, progress=not args.quiet)
    results = [(paths[i], float(final[i])) for i in order]
    print(f"{args.image}: {len(results)} results reranked by '{names[a]}'"
          + (f" (alpha {args.alpha})" if args.alpha < 1.0 else ""))
    print(format_results(results, [str(i + 1) for i in order], "was"))
    if args.out:
        _write_results(args.out, results)
        print(f"wrote {args.out}")
    return 0
