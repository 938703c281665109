"""Datasets in the split-file layout shared by FashionAI, DARN, DeepFashion and SynthFashion: images, image sets,
caches and triplet samplers.

Implements the data side of the paper's protocol (ASEN++ Sec. IV-A/B): image loading with "resize the short side,
centre crop, ImageNet normalisation", and the two triplet samplers:

* :class:`RandomTripletSampler` - the published one: attribute uniformly at random, two distinct values,
  anchor and positive two distinct images with the first value, the negative with the second (and the AAAI
  code's variant: the anchor's value uniform, the negative uniform over the attribute's other images).
* :class:`InBatchSampler` - a CPU-budget departure: batches grouped by attribute (a few attributes, many
  images each), every valid triplet inside the batch is used by the loss.

The layout itself (file names, reading, writing, checking) is :mod:`asen.layout`'s; the names most callers read a
dataset with stay importable from here: :class:`DataError`, :class:`Meta`, :class:`SplitFiles`, :func:`load_meta`,
:func:`load_split_files`, :func:`read_items`, :func:`seeded_split`.
"""
from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Hashable, Iterator, Sequence

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch.utils.data import Dataset
from torchvision.transforms import functional as TF

from .errors import BadValue
from .layout import (  # noqa: F401 - the reading names, re-exported for the many callers that import them from here
    DataError, Meta, SplitFiles, load_meta, load_split_files, read_items, seeded_split,
)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


# ----------------------------------------------------------------------------------------------- images
def open_image(path: str | Path) -> Image.Image:
    """Open an image as RGB, with an error naming the path when it is missing or unreadable."""
    path = Path(path)
    try:
        with Image.open(path) as img:
            return img.convert("RGB")
    except FileNotFoundError:
        raise DataError(f"image not found: {path}") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise DataError(f"cannot read image {path}: {exc}") from exc


def global_view(img: Image.Image, size: int) -> Image.Image:
    """Resize the short side to ``size`` (bilinear) and centre-crop ``size x size`` (the paper's input).

    torchvision's own ``Resize(size)`` + ``CenterCrop(size)``, as the reference applies them: the long side
    becomes ``int(size * long / short)`` and the crop's offset ``round((long - size) / 2)``.
    """
    img = TF.resize(img, size, interpolation=TF.InterpolationMode.BILINEAR)
    return TF.center_crop(img, [size, size])


def to_tensor(img: Image.Image) -> torch.Tensor:
    """PIL RGB -> float tensor (3, H, W) in [0, 1]."""
    arr = np.asarray(img, dtype=np.uint8)
    return torch.from_numpy(arr.copy()).permute(2, 0, 1).float().div_(255.0)


def normalize(x: torch.Tensor) -> torch.Tensor:
    """ImageNet mean/std normalisation of a (..., 3, H, W) tensor in [0, 1]."""
    mean = torch.tensor(IMAGENET_MEAN, device=x.device, dtype=x.dtype).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=x.device, dtype=x.dtype).view(3, 1, 1)
    return (x - mean) / std


class DecodedCache:
    """Decoded images (uint8 arrays) or normalised views (tensors) by key, bounded in bytes: an entry that would
    pass ``max_bytes`` is not kept (nothing is evicted)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes, self.bytes = max_bytes, 0
        self.store: dict[Hashable, np.ndarray | torch.Tensor] = {}

    def get(self, key: Hashable) -> np.ndarray | torch.Tensor | None:
        return self.store.get(key)

    def put(self, key: Hashable, arr: np.ndarray | torch.Tensor) -> None:
        if self.bytes + arr.nbytes <= self.max_bytes:
            self.store[key] = arr
            self.bytes += arr.nbytes


class ImageCache:
    """The decoded images of :class:`ImageSet` objects that share it, and their normalised global views.

    Decoding dominates a small CPU model's step, and without augmentation the resize and normalisation of a
    global view cost about as much again; with a cache each image is decoded once, and each view made once,
    per owner of the cache. Two budgets: ``image_bytes`` of decoded images (keyed by path) and ``view_bytes``
    of views (keyed by path and size), each filled until full (nothing is evicted); a config's are
    ``data.cache_bytes`` and ``data.view_cache_bytes`` (:meth:`sized`).

    Whoever builds the ImageSets owns the cache and decides how far it is shared: :func:`asen.train.train` and
    :func:`asen.evaluate.evaluate` make one for their run (:meth:`for_run`) unless handed one; ``asen
    reproduce`` (its :class:`~asen.reproduce.Protocol`, and each of its worker processes) and the book
    (:class:`asen.book.BookContext`) hand theirs to every run they train and evaluate, so that the runs of one
    process decode each image once. Keys are full paths, so one cache serves several datasets.
    """

    def __init__(self, image_bytes: int, view_bytes: int) -> None:
        self.images = DecodedCache(image_bytes)
        self.views = DecodedCache(view_bytes)

    @classmethod
    def sized(cls, data) -> "ImageCache":
        """An empty cache of the sizes of a config's ``data`` section (``cache_bytes``, ``view_cache_bytes``)."""
        return cls(data.cache_bytes, data.view_cache_bytes)

    @classmethod
    def for_run(cls, data, shared: "ImageCache | None" = None) -> "ImageCache | None":
        """The cache of a run's ImageSets: None unless its ``data.cache_images``; else ``shared`` (its owner's,
        as it is) or, when none is handed over, a new one of the config's sizes (:meth:`sized`)."""
        if not data.cache_images:
            return None
        return shared if shared is not None else cls.sized(data)


class ImageSet(Dataset):
    """Images of one split, returned as the global-branch input (and optionally the original).

    Each item is a dict: ``image`` (3, G, G) normalised, ``index`` (int), and with ``keep_original``
    ``original`` (3, H, W) uint8 - the full-resolution picture the local branch crops from.
    With ``cache`` (an :class:`ImageCache`, which may be shared with other ImageSets) decoded images, and
    without augmentation their global views, are kept in it. Training augmentation: ``augment`` (:func:`jitter`:
    flip and crop, the CPU protocol's) or ``hflip`` (a random horizontal flip only, the AAAI code's).
    """

    def __init__(
        self,
        root: str | Path,
        filenames: Sequence[str],
        global_size: int,
        keep_original: bool = False,
        skip_bad_images: bool = False,
        cache: ImageCache | None = None,
        augment: bool = False,
        hflip: bool = False,
    ) -> None:
        if cache is not None and not isinstance(cache, ImageCache):
            raise TypeError(f"cache must be an asen.data.ImageCache or None, got {cache!r} (ImageCache.for_run "
                            "makes one from a config's data section)")
        self.root = Path(root)
        self.filenames = list(filenames)
        self.global_size = global_size
        self.keep_original = keep_original
        self.skip_bad_images = skip_bad_images
        self.cache = cache
        self.augment = augment
        self.hflip = hflip
        self.bad: list[str] = []

    def __len__(self) -> int:
        return len(self.filenames)

    def load(self, index: int) -> Image.Image:
        path = self.root / self.filenames[index]
        if self.cache is not None and (arr := self.cache.images.get(str(path))) is not None:
            return Image.fromarray(arr)
        try:
            img = open_image(path)
        except DataError as exc:
            if not self.skip_bad_images:  # one bad image of many: say how to find them all, or go on without them
                raise DataError(f"{exc} (`asen doctor {self.root}` lists every unreadable image; "
                                f"--set data.skip_bad_images=true replaces them with grey images)") from exc
            self.bad.append(f"{path}: {exc}")
            warnings.warn(f"skipping unreadable image (replaced by a grey image): {exc}")
            return Image.new("RGB", (self.global_size, self.global_size), (128, 128, 128))
        if self.cache is not None:
            self.cache.images.put(str(path), np.asarray(img))
        return img

    def __getitem__(self, index: int) -> dict:
        path = str(self.root / self.filenames[index])
        reuse = self.cache is not None and not (self.augment or self.hflip)  # the same view every epoch
        view = self.cache.views.get((path, self.global_size)) if reuse else None
        if view is not None and not self.keep_original:
            return {"image": view, "index": index}
        img = self.load(index)
        flip = False
        if self.augment:
            img = jitter(img)
        else:  # the AAAI code's RandomHorizontalFlip, after its Resize and CenterCrop (jitter flips on its own)
            flip = self.hflip and bool(torch.rand(()) < 0.5)
        if view is None:
            view = normalize(to_tensor(global_view(img, self.global_size)))
            if reuse and self.cache.images.get(path) is not None:  # decoded fine and within the cache's budget
                self.cache.views.put((path, self.global_size), view)
        if flip:  # the view flipped as cut, and the original with it (a local branch crops the same picture)
            view, img = view.flip(-1), img.transpose(Image.FLIP_LEFT_RIGHT)
        item = {"image": view, "index": index}
        if self.keep_original:
            item["original"] = torch.from_numpy(np.asarray(img, dtype=np.uint8).copy()).permute(2, 0, 1)
        return item


def jitter(img: Image.Image, min_scale: float = 0.85) -> Image.Image:
    """Training augmentation (a CPU-protocol departure; the paper uses none): a random horizontal flip and a
    random crop of 85-100% of each side, applied to the original so that global views and local crops agree.
    Draws from torch's RNG (seeded per run and restored on resume)."""
    if torch.rand(()) < 0.5:
        img = img.transpose(Image.FLIP_LEFT_RIGHT)
    w, h = img.size
    scale = min_scale + (1.0 - min_scale) * float(torch.rand(()))
    cw, ch = max(1, round(w * scale)), max(1, round(h * scale))
    x, y = int(torch.randint(0, w - cw + 1, ())), int(torch.randint(0, h - ch + 1, ()))
    return img.crop((x, y, x + cw, y + ch))


def collate_images(batch: list[dict]) -> dict:
    """Stack global inputs; pad originals of different sizes into one uint8 batch (with their sizes)."""
    out = {
        "image": torch.stack([b["image"] for b in batch]),
        "index": torch.tensor([b["index"] for b in batch], dtype=torch.long),
    }
    if "original" in batch[0]:
        hs = [b["original"].shape[1] for b in batch]
        ws = [b["original"].shape[2] for b in batch]
        orig = torch.zeros(len(batch), 3, max(hs), max(ws), dtype=torch.uint8)
        for i, b in enumerate(batch):
            orig[i, :, : hs[i], : ws[i]] = b["original"]
        out["original"] = orig
        out["size"] = torch.tensor(list(zip(ws, hs)), dtype=torch.long)  # (B, 2) width, height
    return out


# ---------------------------------------------------------------------------------------------- samplers
def group_by_value(labels: np.ndarray, meta: Meta, warn: bool = True) -> dict[int, dict[int, np.ndarray]]:
    """attr -> value -> image ids, keeping only values with at least two images (one warning names the rest)."""
    groups: dict[int, dict[int, np.ndarray]] = {}
    dropped = []
    for attr in range(meta.num_attributes):
        sel = labels[labels[:, 1] == attr]
        groups[attr] = {}
        for value in range(meta.num_values[attr]):
            ids = np.unique(sel[sel[:, 2] == value, 0])
            if len(ids) >= 2:
                groups[attr][value] = ids
            elif len(ids) == 1:
                dropped.append(f"{meta.attributes[attr]}={meta.value_names[attr][value]} (1 image)")
        if len(groups[attr]) < 2:
            if groups[attr]:
                dropped.append(f"attribute {meta.attributes[attr]} (fewer than two usable values)")
            groups.pop(attr)
    if dropped and warn:
        warnings.warn(
            "excluded from triplet sampling (a value needs at least two training images): " + ", ".join(dropped)
        )
    if not groups:
        raise DataError("no attribute has two values with two images each: cannot form any triplet")
    return groups


class RandomTripletSampler:
    """One random triplet at a time, ``num_triplets`` per epoch, in batches of ``batch_size``.

    Two schemes, both with the attribute drawn uniformly:

    * ``"asenpp"`` (the ASEN++ code's): two distinct values drawn uniformly; anchor and positive two distinct
      images of the first, the negative an image of the second (so negatives' values are uniform).
    * ``"aaai"`` (the AAAI-2020 code's, ``data.sampler: aaai``): the anchor's value drawn uniformly, anchor and
      positive two distinct images of it, the negative drawn uniformly among *all* the attribute's images with
      another value (so negatives' values in proportion to their frequency).

    Deterministic given ``(seed, epoch)``, so a resumed run sees the same triplets.
    """

    SCHEMES = ("asenpp", "aaai")

    def __init__(self, labels: np.ndarray, meta: Meta, num_triplets: int, batch_size: int, seed: int,
                 scheme: str = "asenpp") -> None:
        if scheme not in self.SCHEMES:
            raise ValueError(f"scheme must be one of {', '.join(self.SCHEMES)}, got {scheme!r}")
        self.groups = group_by_value(labels, meta)
        self.attrs = np.array(sorted(self.groups))
        self.num_triplets, self.batch_size, self.seed, self.scheme = num_triplets, batch_size, seed, scheme
        # per attribute: every usable image id, grouped by value, and where each value's group starts
        self.pools = {a: np.concatenate([g[v] for v in sorted(g)]) for a, g in self.groups.items()}
        self.starts = {a: np.cumsum([0] + [len(g[v]) for v in sorted(g)]) for a, g in self.groups.items()}

    def __len__(self) -> int:
        return math.ceil(self.num_triplets / self.batch_size)

    def _aaai_negative(self, rng: np.random.Generator, attr: int, value_pos: int) -> int:
        """Uniform over the attribute's images whose value is not the one at position ``value_pos``."""
        start, stop = self.starts[attr][value_pos], self.starts[attr][value_pos + 1]
        r = int(rng.integers(len(self.pools[attr]) - (stop - start)))
        return int(self.pools[attr][r if r < start else r + (stop - start)])

    def epoch(self, epoch: int) -> Iterator[dict[str, np.ndarray]]:
        """Yield batches with ``images`` (3B,) ids ordered anchors|positives|negatives and ``attributes`` (B,)."""
        rng = np.random.default_rng([self.seed, epoch])
        triplets = np.empty((self.num_triplets, 4), np.int64)
        for t in range(self.num_triplets):
            attr = int(rng.choice(self.attrs))
            values = list(self.groups[attr])
            if self.scheme == "asenpp":
                pos_v, neg_v = rng.choice(len(values), size=2, replace=False)
                a, p = rng.choice(self.groups[attr][values[pos_v]], size=2, replace=False)
                n = rng.choice(self.groups[attr][values[neg_v]])
            else:
                pos_v = int(rng.integers(len(values)))
                a, p = rng.choice(self.groups[attr][values[pos_v]], size=2, replace=False)
                n = self._aaai_negative(rng, attr, pos_v)
            triplets[t] = (a, p, n, attr)
        for start in range(0, self.num_triplets, self.batch_size):
            chunk = triplets[start : start + self.batch_size]
            yield {"images": np.concatenate([chunk[:, 0], chunk[:, 1], chunk[:, 2]]), "attributes": chunk[:, 3]}


class InBatchSampler:
    """CPU protocol: each step takes ``attributes_per_batch`` attributes and, for each, images spread over
    its values (at least two per value where possible); the loss then uses every valid triplet in the batch.

    Yields batches with ``images`` (N,) ids, ``attributes`` (N,) and ``values`` (N,) per image.
    """

    def __init__(
        self, labels: np.ndarray, meta: Meta, images_per_batch: int, attributes_per_batch: int, steps: int, seed: int
    ) -> None:
        self.groups = group_by_value(labels, meta)
        self.attrs = np.array(sorted(self.groups))
        self.k = min(attributes_per_batch, len(self.attrs))
        self.per_attr = images_per_batch // self.k
        if self.per_attr < 4:
            raise BadValue(f"data.images_per_batch={images_per_batch} gives {self.per_attr} images to each of "
                             f"{self.k} attributes a step; the in-batch sampler needs at least 4 per attribute (two "
                             f"values x two images): raise data.images_per_batch to {4 * self.k} or more")
        self.steps, self.seed = steps, seed

    def __len__(self) -> int:
        return self.steps

    def epoch(self, epoch: int) -> Iterator[dict[str, np.ndarray]]:
        rng = np.random.default_rng([self.seed, epoch, 1])
        for _ in range(self.steps):
            ids, attrs, vals = [], [], []
            for attr in rng.choice(self.attrs, size=self.k, replace=False):
                values = np.array(sorted(self.groups[int(attr)]))
                n_vals = min(len(values), max(2, self.per_attr // 2))
                chosen = rng.choice(values, size=n_vals, replace=False)
                per_value = np.full(n_vals, self.per_attr // n_vals)
                per_value[: self.per_attr - per_value.sum()] += 1
                for value, count in zip(chosen, per_value):
                    pool = self.groups[int(attr)][int(value)]
                    pick = rng.choice(pool, size=min(int(count), len(pool)), replace=False)
                    ids.extend(pick.tolist())
                    attrs.extend([int(attr)] * len(pick))
                    vals.extend([int(value)] * len(pick))
            yield {"images": np.asarray(ids), "attributes": np.asarray(attrs), "values": np.asarray(vals)}
