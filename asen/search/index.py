"""Index folders: :func:`build_index` embeds a gallery once per attribute and writes one FAISS index per
attribute; :func:`load_index` opens one (checking every file's SHA-256); :func:`search` answers a query image.

An index answers only for the weights it was built with: a query embedded by a model whose weights differ, or a
changed ``gallery.txt`` / ``attr_<a>.faiss``, is refused (:class:`IndexMismatchError`).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from ..config import Config
from ..data import DataError, ImageSet
from ..embed import EmbedSettings, ImageLike, as_image_set, embed_images, has_local_branch, iter_embeddings
from ..errors import BadValue
from .attributes import load_attribute_names, resolve_attribute, resolve_attributes
from .vectors import (INDEX_TYPES, _to_cpu, _to_gpu, faiss_gpu_available, make_index, require_faiss,
                      search_vectors)

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
        from ..checkpoint import state_fingerprint

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
        raise BadValue(f"beta must be in [0, 1], got {settings.beta}")
    dataset, paths = as_image_set(gallery_images, settings)
    settings = dataclasses.replace(settings, global_size=dataset.global_size)
    if len(dataset) == 0:
        raise DataError("the gallery is empty")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "index.json").unlink(missing_ok=True)  # no valid index.json until the new one is complete

    t0 = time.time()
    memmaps: dict[int, np.ndarray] = {}
    for start, feats in iter_embeddings(model, dataset, attrs, device, settings, batch_size, num_workers,
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

    local = has_local_branch(model)
    mcfg = getattr(model, "cfg", None)
    _write_text(out / "gallery.txt", "".join(p + "\n" for p in paths))
    from ..checkpoint import state_fingerprint

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


_FIELDS = {"version": int, "num_items": int, "dim": int, "index_type": str, "attribute_names": list,
           "attributes": list, "settings": dict}
"""The fields of ``index.json`` that loading and searching read, with their JSON types."""


def _check_fields(meta: Path, info: dict) -> None:
    """Refuse an ``index.json`` (edited by hand, or by another tool) whose fields :class:`SearchIndex` reads are
    missing or of another type, naming the first such field, instead of failing later with a traceback."""
    for key, kind in _FIELDS.items():
        value = info.get(key)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise DataError(f"{meta}: '{key}' must be a JSON {'number' if kind is int else kind.__name__}"
                            f"{'' if kind is not list else ' (array)'}, got {value!r}; rebuild the index with "
                            f"`asen index build`")
    for n, entry in enumerate(info["attributes"]):
        if not (isinstance(entry, dict) and isinstance(entry.get("index"), int) and isinstance(entry.get("file"), str)):
            raise DataError(f"{meta}: attributes[{n}] must be an object with an integer 'index' and a 'file', got "
                            f"{entry!r}; rebuild the index with `asen index build`")


def load_index(index_dir: str | Path, use_gpu: bool = False) -> SearchIndex:
    """Open an index folder written by :func:`build_index`.

    Raises:
        FileNotFoundError: no such folder, or no ``index.json`` in it.
        DataError: a file instead of a folder, a malformed ``index.json`` or a ``gallery.txt`` that does not
            match it.
    """
    root = Path(index_dir)
    if root.exists() and not root.is_dir():
        raise DataError(f"--index {root} is a file, not a folder: give the index folder written by `asen index "
                        f"build` (the one holding index.json)")
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
    if not isinstance(info, dict):
        raise DataError(f"{meta}: not an asen search index (a JSON {type(info).__name__}, not an object); give the "
                        f"folder written by `asen index build`")
    if info.get("format") != INDEX_FORMAT:
        raise DataError(f"{meta}: not an asen search index (format {info.get('format')!r})")
    _check_fields(meta, info)
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
