"""A decoded-image store and on-device batch assembly: the paper's inputs (ASEN++ Sec. IV-B, "resize the short
side, centre crop, ImageNet normalisation", and the full-resolution originals the local branch of Sec. III-C
crops from) without decoding a JPEG per step.

Decoding and resizing JPEGs costs a few milliseconds of CPU per image; with 2 CPU cores that caps training
far below what a GPU does. The store decodes every image of a split **once**, with the same PIL code as
:class:`asen.data.ImageSet` (:func:`asen.data.global_view`), and writes one uint8 file:

    [ N global views, (N, 3, G, G), the PIL-resized centre crops ][ originals, (3, h_i, w_i) each, back to back ]

next to a JSON index (per image: byte offset, width, height; the dataset's signature). Loading maps the file
(``torch.from_file``, nothing is read until used); a batch indexes it on the CPU (a memory copy), moves the
uint8 bytes to the device and converts and normalises there. Batches hold exactly the tensors of
``collate_images([ImageSet(..., keep_original=True)[i] for i in ids])``: ``image`` (B, 3, G, G) normalised,
``index`` (B,), ``original`` (B, 3, H, W) uint8 zero-padded to the largest image, ``size`` (B, 2) width, height;
on the CPU they are bit-identical (tested), on a GPU the conversion runs there.

A store built with ``originals=False`` holds the global views only (``<split>_<G>px_views.u8``, 3 G^2 bytes an
image, e.g. 150 kB at 224 px): enough for stage 1 and global-branch extraction, and far smaller on real datasets
whose originals are large. Not covered: ``data.augment`` (a random crop of the original before the resize
cannot be cached). Decoding on the GPU (``torchvision.io.decode_jpeg(..., device="cuda")``) is not used here:
nvJPEG and a tensor resize do not reproduce PIL's bytes, while the store's batches are exactly the PIL path's.

A store records its dataset's signature (:func:`asen.layout.data_fingerprint` of the split files and the byte
size of every image of the split); a store that no longer matches, or a truncated file, is an error naming the
file, never silently used.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import queue
import threading
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import torch
from tqdm import tqdm

from .data import DataError, ImageSet, global_view, normalize

STORE_VERSION = 1


def store_path(root: str | Path, split: str, global_size: int, cache_dir: str | Path | None = None,
               originals: bool = True) -> Path:
    """Default location of a split's store: ``<cache_dir or root/.asen_store>/<split>_<G>px[_views].u8``.

    Args:
        root: the dataset folder.
        split: ``train``, ``valid`` or ``test``.
        global_size: side of the global view (``data.global_size``).
        cache_dir: another folder (e.g. a local disk when the dataset is on a slow or read-only one).
        originals: a store with the originals (False: global views only, the ``_views`` file).
    Returns:
        The data file's path; the index is the same path with ``.json``.
    """
    folder = Path(cache_dir) if cache_dir is not None else Path(root) / ".asen_store"
    return folder / f"{split}_{global_size}px{'' if originals else '_views'}.u8"


def _index_path(path: Path) -> Path:
    return path.with_suffix(".json")


def dataset_signature(root: str | Path, filenames: Sequence[str]) -> str:
    """A hash of the dataset's split files and of each listed image's name and byte size.

    Args:
        root: the dataset folder.
        filenames: the split's image paths, relative to ``root``.
    Returns:
        A 16-hex-digit string; it changes when a split file or an image's size changes (a missing image
        counts as size -1: with ``skip_bad_images`` it is stored grey, as the PIL path shows it).
    """
    from .layout import data_fingerprint

    root = Path(root)
    h = hashlib.sha256(str(data_fingerprint(root)).encode())
    for name in filenames:
        try:
            size = (root / name).stat().st_size
        except FileNotFoundError:
            size = -1
        h.update(f"{name}\0{size}\0".encode())
    return h.hexdigest()[:16]


def build_store(
    root: str | Path, filenames: Sequence[str], global_size: int, path: str | Path,
    skip_bad_images: bool = False, progress: bool = True, originals: bool = True,
) -> Path:
    """Decode every image once and write the store (atomically: a crash leaves no partial store behind).

    Args:
        root: the dataset folder.
        filenames: the split's image paths, relative to ``root`` (store index = position in this list).
        global_size: side of the global view.
        path: the data file to write (its index goes to ``path`` with ``.json``).
        skip_bad_images: replace an unreadable image by a grey one, as :class:`asen.data.ImageSet` does.
        progress: show a tqdm bar.
        originals: store the originals too (False: global views only; enough for stage 1).
    Returns:
        ``path``.
    Raises:
        DataError: an unreadable image (without ``skip_bad_images``), naming it.
    """
    path, root = Path(path), Path(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    images = ImageSet(root, filenames, global_size, skip_bad_images=skip_bad_images)
    n, g = len(images), global_size
    view_bytes = 3 * g * g
    offsets, sizes = np.zeros(n, np.int64), np.zeros((n, 2), np.int64)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")  # per process: builders never share a file
    try:
        with open(tmp, "wb") as fh:
            end = n * view_bytes  # originals start after the block of global views
            for i in tqdm(range(n), desc=f"image store {path.name}", disable=not progress, unit="img"):
                img = images.load(i)
                view = np.asarray(global_view(img, g), dtype=np.uint8).transpose(2, 0, 1)  # (3, G, G)
                orig = np.asarray(img, dtype=np.uint8).transpose(2, 0, 1)  # (3, h, w)
                fh.seek(i * view_bytes)
                fh.write(np.ascontiguousarray(view).tobytes())
                sizes[i] = (orig.shape[2], orig.shape[1])
                if originals:
                    fh.seek(end)
                    fh.write(np.ascontiguousarray(orig).tobytes())
                    offsets[i] = end
                    end += orig.size
            fh.flush()
            os.fsync(fh.fileno())
        index = {
            "version": STORE_VERSION, "global_size": g, "count": n, "bytes": int(end), "originals": originals,
            "signature": dataset_signature(root, filenames), "root": str(root),
            "offsets": offsets.tolist(), "sizes": sizes.tolist(), "bad_images": images.bad,
        }
        os.replace(tmp, path)
        tmp_index = _index_path(path).with_name(f"{_index_path(path).name}.{os.getpid()}.tmp")
        tmp_index.write_text(json.dumps(index))
        os.replace(tmp_index, _index_path(path))  # written last: an index means a complete data file
    finally:
        tmp.unlink(missing_ok=True)
    return path


class ImageStore:
    """A built store, memory-mapped; :meth:`batch` assembles a batch on any device.

    Args:
        path: the data file (see :func:`store_path`).
        root: the dataset folder (checked against the signature recorded at build time).
        filenames: the split's image paths (the same list the store was built from).
        global_size: expected side of the global view.
    Raises:
        DataError: missing index, other global size, stale (the dataset changed) or truncated store, naming
            the file and what to do.
    """

    def __init__(self, path: str | Path, root: str | Path, filenames: Sequence[str], global_size: int) -> None:
        self.path = Path(path)
        index_file = _index_path(self.path)
        if not self.path.exists() or not index_file.exists():
            raise DataError(f"image store not found: {self.path} (and its index {index_file.name}); "
                            f"build it with asen.device_images.build_store or open_store(..., build=True)")
        try:
            index = json.loads(index_file.read_text())
            version, g, n, total = index["version"], index["global_size"], index["count"], index["bytes"]
            offsets, sizes, self.has_originals = index["offsets"], index["sizes"], bool(index["originals"])
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise DataError(f"{index_file}: not an image store index ({exc!r}); delete {self.path} and its "
                            f"index to rebuild") from exc
        rebuild = f"delete {self.path} and {index_file.name} to rebuild it"
        if version != STORE_VERSION:
            raise DataError(f"image store {self.path}: format version {version}, expected {STORE_VERSION}; {rebuild}")
        if g != global_size:
            raise DataError(f"image store {self.path}: global size {g} px, expected {global_size} px "
                            f"(data.global_size); use store_path(..., global_size={global_size})")
        if n != len(filenames):
            raise DataError(f"image store {self.path} is stale: it holds {n} images, the split lists "
                            f"{len(filenames)}; {rebuild}")
        actual = self.path.stat().st_size
        if actual != total:
            raise DataError(f"image store {self.path} is truncated: {actual:,} bytes, expected {total:,}; {rebuild}")
        if index["signature"] != dataset_signature(root, filenames):
            raise DataError(f"image store {self.path} is stale: the dataset at {root} changed since it was built "
                            f"(split files or image sizes differ); {rebuild}")
        self.global_size, self.count, self.bad_images = g, n, list(index.get("bad_images", []))
        self.data = torch.from_file(str(self.path), shared=False, size=total, dtype=torch.uint8)  # mapped
        self.views = self.data[: n * 3 * g * g].view(n, 3, g, g)  # (N, 3, G, G) uint8
        self.offsets = torch.tensor(offsets, dtype=torch.long)  # (N,)
        self.sizes = torch.tensor(sizes, dtype=torch.long).view(n, 2)  # (N, 2) width, height

    def __len__(self) -> int:
        return self.count

    def gather(self, indices: Sequence[int] | np.ndarray | torch.Tensor, pin: bool = False,
               keep_original: bool = True) -> dict:
        """The CPU half of a batch: uint8 global views and the originals' bytes, one contiguous copy each.

        Args:
            indices: (B,) image ids of the split.
            pin: put the copies in page-locked memory (for an asynchronous copy to a GPU).
            keep_original: gather the originals too (the local branch needs them; stage 1 does not).
        Returns:
            ``{"index": (B,), "view": (B, 3, G, G) uint8}`` and with ``keep_original``
            ``"flat": (sum 3 h w,) uint8, "size": (B, 2)``.
        """
        idx = torch.as_tensor(np.asarray(indices), dtype=torch.long).view(-1)
        if len(idx) and (int(idx.min()) < 0 or int(idx.max()) >= self.count):
            raise IndexError(f"image ids must be in 0..{self.count - 1}, got {idx.tolist()}")
        view = torch.index_select(self.views, 0, idx)  # (B, 3, G, G) copy (10x faster than views[idx])
        if keep_original and not self.has_originals:
            raise DataError(f"image store {self.path} holds the global views only (built with originals=False); "
                            f"the local branch needs the originals: use store_path(..., originals=True)")
        if not keep_original:
            return {"index": idx, "view": view.pin_memory() if pin else view}
        sizes = self.sizes[idx]  # (B, 2)
        lengths = (3 * sizes[:, 0] * sizes[:, 1]).tolist()
        flat = torch.cat([self.data[o: o + n] for o, n in zip(self.offsets[idx].tolist(), lengths)]) \
            if len(idx) else torch.zeros(0, dtype=torch.uint8)
        if pin:
            view, flat = view.pin_memory(), flat.pin_memory()
        return {"index": idx, "view": view, "flat": flat, "size": sizes}

    @staticmethod
    def assemble(part: dict, device: torch.device | str) -> dict:
        """The device half: move a :meth:`gather` result and convert it there.

        Args:
            part: from :meth:`gather`.
            device: where the batch goes.
        Returns:
            ``{"image": (B, 3, G, G) float32 normalised, "index": (B,)}`` and, when gathered,
            ``"original": (B, 3, H, W) uint8 zero-padded, "size": (B, 2)``, with ``image`` and ``original`` on
            ``device`` (``index`` and ``size`` stay on the CPU, as from :func:`asen.data.collate_images`).
        """
        device = torch.device(device)
        view = part["view"].to(device, non_blocking=True)
        image = normalize(view.float().div_(255.0))  # (B, 3, G, G), the ops of to_tensor + normalize
        if "flat" not in part:
            return {"image": image, "index": part["index"]}
        flat = part["flat"].to(device, non_blocking=True)
        sizes = part["size"]
        ws, hs = sizes[:, 0].tolist(), sizes[:, 1].tolist()
        b = len(ws)
        if b and len(set(ws)) == 1 and len(set(hs)) == 1:
            original = flat.view(b, 3, hs[0], ws[0])  # one size: no padding, no copy
        else:
            original = torch.zeros(b, 3, max(hs, default=0), max(ws, default=0), dtype=torch.uint8, device=device)
            start = 0
            for i, (w, h) in enumerate(zip(ws, hs)):
                original[i, :, :h, :w] = flat[start: start + 3 * h * w].view(3, h, w)
                start += 3 * h * w
        return {"image": image, "index": part["index"], "original": original, "size": sizes}

    def batch(self, indices: Sequence[int] | np.ndarray | torch.Tensor, device: torch.device | str = "cpu",
              keep_original: bool = True) -> dict:
        """One batch, the tensors of :func:`asen.data.collate_images` (see :meth:`gather`, :meth:`assemble`)."""
        device = torch.device(device)
        return self.assemble(self.gather(indices, device.type == "cuda", keep_original), device)


def open_store(
    root: str | Path, split: str, filenames: Sequence[str], global_size: int,
    cache_dir: str | Path | None = None, build: bool = True, skip_bad_images: bool = False, progress: bool = True,
    originals: bool = True,
) -> ImageStore:
    """Open a split's store, building it first when there is none (a stale or truncated one is an error).

    Args:
        root: the dataset folder.
        split: the split's name (used in the file name).
        filenames: the split's image paths.
        global_size: side of the global view.
        cache_dir: folder of the store (default ``root/.asen_store``).
        build: build a missing store (False: a missing store is an error).
        skip_bad_images: see :func:`build_store`.
        progress: tqdm bar while building.
        originals: the store with originals (False: the global views only, for stage 1).
    Returns:
        The :class:`ImageStore`.
    """
    path = store_path(root, split, global_size, cache_dir, originals)
    if build:
        with _build_lock(path):  # runs trained in parallel processes build a missing store once, the others wait
            if not path.exists() and not _index_path(path).exists():
                build_store(root, filenames, global_size, path, skip_bad_images=skip_bad_images,
                            progress=progress, originals=originals)
    return ImageStore(path, root, filenames, global_size)


@contextlib.contextmanager
def _build_lock(path: Path) -> Iterator[None]:
    """An exclusive lock on ``<path>.lock`` across processes (``fcntl.flock``; no lock where there is no fcntl)."""
    try:
        import fcntl
    except ImportError:  # not POSIX: one process at a time is the caller's job
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


class StoreLoader:
    """Drop-in for the training loop's ``DataLoader(ImageSet, batch_sampler=..., collate_fn=collate_images)``.

    A background thread gathers the next ``prefetch`` batches on the CPU (pinned for a GPU) while the device
    works on the current one; the main thread moves each to ``device`` and converts it there.

    Args:
        store: the split's :class:`ImageStore`.
        batches: image ids of each batch, in order.
        device: where batches go.
        prefetch: batches gathered ahead (0: gather in the main thread).
        keep_original: include ``original`` and ``size`` (the local branch needs them).
    """

    def __init__(self, store: ImageStore, batches: Sequence[Sequence[int]], device: torch.device | str,
                 prefetch: int = 2, keep_original: bool = True) -> None:
        self.store, self.batches = store, [np.asarray(b, dtype=np.int64) for b in batches]
        self.device, self.prefetch, self.keep_original = torch.device(device), prefetch, keep_original

    def __len__(self) -> int:
        return len(self.batches)

    def __iter__(self) -> Iterator[dict]:
        pin = self.device.type == "cuda"
        if self.prefetch <= 0:
            for ids in self.batches:
                yield self.store.assemble(self.store.gather(ids, pin, self.keep_original), self.device)
            return
        ready: queue.Queue = queue.Queue(maxsize=self.prefetch)
        stop = threading.Event()

        def work() -> None:
            try:
                for ids in self.batches:
                    part = self.store.gather(ids, pin, self.keep_original)
                    while not stop.is_set():
                        try:
                            ready.put(part, timeout=0.1)
                            break
                        except queue.Full:
                            continue
                    if stop.is_set():
                        return
                ready.put(None)
            except BaseException as exc:  # handed to the consumer, raised there
                ready.put(exc)

        thread = threading.Thread(target=work, daemon=True, name="asen-store-loader")
        thread.start()
        try:
            while True:
                part = ready.get()
                if part is None:
                    return
                if isinstance(part, BaseException):
                    raise part
                yield self.store.assemble(part, self.device)
        finally:
            stop.set()
            while thread.is_alive():  # unblock a producer waiting on a full queue
                try:
                    ready.get_nowait()
                except queue.Empty:
                    thread.join(timeout=0.1)
