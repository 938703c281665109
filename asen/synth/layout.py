"""Dataset sizes, split plans and generation for SynthFashion.

The dataset is written in the split-file layout shared by FashionAI / DARN / DeepFashion (the images here, the
text files and ``meta.json`` by :func:`asen.layout.write_split_files`, the prepare scripts' writer too)::

    <out>/images/{train,valid,test}/000123.jpg
    <out>/filenames_{train,valid,test}.txt     one image path per line (line number = image id)
    <out>/label_train.txt                      image_id attr value
    <out>/query_{valid,test}.txt               image_id attr value
    <out>/candidate_{valid,test}.txt           image_id attr value
    <out>/meta.json                            attributes, value names, generator settings (version = design)
    <out>/manifest.json                        sha256 and size of every other file

Sizes are frozen :class:`SizeSpec` records in :data:`SIZES` (add one there to add a size).
Per-attribute shares follow FashionAI's test split; within an attribute, values follow
:data:`~asen.synth.attributes.VALUE_WEIGHTS` after a guaranteed minimum (2 training images per
value, every value among each split's candidates).

Designs: the design attributes' details are drawn in one of :data:`~asen.synth.render.DESIGNS` (2, the default,
or 1; see :mod:`asen.synth.render`). The design is recorded as the major number of ``meta.json``'s generator
version (:data:`GENERATOR_VERSIONS`), so a dataset of one design is never reused for the other, and runs (whose
data fingerprint hashes ``meta.json``) trained on one are not reused on the other. Design 1 writes exactly the
bytes generator 1.0.0 always wrote, design 2 those of 2.2.0.

Determinism: the split plan depends only on ``seed``; each image is rendered from its own
``numpy.random.SeedSequence(seed, spawn_key=(split, index))``, so the bytes written do not depend on
the number of worker processes or their scheduling.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import multiprocessing as mp
import os
import shutil
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Iterator, Mapping, Sequence

import numpy as np
from tqdm import tqdm

from ..errors import BadValue, OutputExists
from ..layout import (
    EVAL_SPLITS,
    META_FILE,
    MANIFEST_FILE,
    SPLIT_FILES,
    SPLITS,
    Layout,
    dataset_entry,
    find_meta,
    meta_dict,
    write_manifest,
    write_split_files,
)
from .attributes import ATTRIBUTE_NAMES, ATTRIBUTES, CANDIDATE_COUNTS, NUM_VALUES, QUERY_COUNTS, VALUE_WEIGHTS
from .render import DEFAULT_DESIGN, check_design, check_image_size, render_image

GENERATOR_VERSIONS: Mapping[int, str] = MappingProxyType({1: "1.0.0", 2: "2.2.0"})
"""Per design, the generator version recorded in ``meta.json``; its major number is the design. Bump the minor or
patch number of a design whenever the bytes written for a given (seed, size, design) change."""

GENERATOR_VERSION = GENERATOR_VERSIONS[DEFAULT_DESIGN]
"""The default design's generator version."""

DATASET_NAME = "SynthFashion"
SPLIT_CODES: Mapping[str, int] = MappingProxyType({"train": 0, "valid": 1, "test": 2})
JPEG_SETTINGS: Mapping[str, object] = MappingProxyType(
    {"format": "JPEG", "quality": 92, "subsampling": "4:2:0", "optimize": False, "progressive": False}
)
_LAYOUT_TAG = 0x5EED  # spawn-key tag for the split shuffles (images use the split codes 0..2)


@dataclass(frozen=True)
class SizeSpec:
    """One dataset size.

    Attributes:
        name: size name used on the command line.
        train: number of training images (one attribute label each).
        valid_queries / valid_candidates / test_queries / test_candidates: split sizes.
        image_size: default render size ``(width, height)``.
        queries_per_attribute / candidates_per_attribute: exact per-attribute counts (used for
            both valid and test) or ``None`` to derive them from FashionAI's shares with 1:4
            query:candidate per attribute.
        description: one line for help texts.
    """

    name: str
    train: int
    valid_queries: int
    valid_candidates: int
    test_queries: int
    test_candidates: int
    image_size: tuple[int, int] = (224, 224)
    queries_per_attribute: tuple[int, ...] | None = None
    candidates_per_attribute: tuple[int, ...] | None = None
    description: str = ""

    def __post_init__(self) -> None:
        for split in ("valid", "test"):
            q, c = getattr(self, f"{split}_queries"), getattr(self, f"{split}_candidates")
            if self.queries_per_attribute is None and c != 4 * q:
                raise ValueError(f"size {self.name!r}: {split} candidates ({c}) must be 4 x queries ({q})")
            if self.queries_per_attribute is not None and (
                sum(self.queries_per_attribute) != q or sum(self.candidates_per_attribute or ()) != c
            ):
                raise ValueError(f"size {self.name!r}: per-attribute counts do not add up to the {split} split")

    @property
    def total_images(self) -> int:
        """Images over all splits."""
        return self.train + self.valid_queries + self.valid_candidates + self.test_queries + self.test_candidates


SIZES: Mapping[str, SizeSpec] = MappingProxyType(
    {
        "tiny": SizeSpec("tiny", 300, 30, 120, 40, 160, (96, 96), description="~650 images at 96 px, for tests"),
        "small": SizeSpec("small", 6000, 400, 1600, 800, 3200, (224, 224), description="12k images, the CPU default"),
        "fashionai": SizeSpec(
            "fashionai",
            144000,
            3600,
            14400,
            3600,
            14400,
            (224, 224),
            queries_per_attribute=QUERY_COUNTS,
            candidates_per_attribute=CANDIDATE_COUNTS,
            description="FashionAI's split sizes (180k images)",
        ),
    }
)
"""Registered dataset sizes."""


@dataclass(frozen=True)
class Item:
    """One image of a split plan."""

    attr: int
    value: int
    role: str  # "train" | "query" | "candidate"


# ------------------------------------------------------------------------------------------ plans
def allocate(total: int, weights: Sequence[float], minimum: int = 0) -> list[int]:
    """Split ``total`` into integer parts proportional to ``weights`` with a floor per part.

    Largest-remainder rounding, deterministic (ties go to the lower index).

    Args:
        total: number to split.
        weights: non-negative relative weights, one per part.
        minimum: every part gets at least this much.

    Returns:
        Integer parts summing to ``total``.

    Raises:
        ValueError: ``total`` is smaller than ``minimum * len(weights)``.
    """
    n = len(weights)
    if total < minimum * n:
        raise ValueError(f"cannot split {total} into {n} parts of at least {minimum}")
    rest = total - minimum * n
    z = float(sum(weights))
    exact = [rest * w / z for w in weights]
    parts = [int(math.floor(e)) for e in exact]
    left = rest - sum(parts)
    order = sorted(range(n), key=lambda i: (-(exact[i] - parts[i]), i))
    for i in order[:left]:
        parts[i] += 1
    return [p + minimum for p in parts]


def _query_shares() -> list[float]:
    return [float(q) for q in QUERY_COUNTS]


def _split_counts(spec: SizeSpec, split: str) -> tuple[list[int], list[int]]:
    """Per-attribute (queries, candidates) of a valid/test split."""
    if spec.queries_per_attribute is not None and spec.candidates_per_attribute is not None:
        return list(spec.queries_per_attribute), list(spec.candidates_per_attribute)
    total_q = getattr(spec, f"{split}_queries")
    # enough queries that 4x covers every value among the candidates
    minimum = max(math.ceil(n / 4) for n in NUM_VALUES)
    queries = allocate(total_q, _query_shares(), minimum)
    for a, n in enumerate(NUM_VALUES):
        if 4 * queries[a] < n:  # pragma: no cover - guarded by `minimum`
            raise ValueError(f"size {spec.name!r}: too few {split} queries for {ATTRIBUTE_NAMES[a]}")
    return queries, [4 * q for q in queries]


def split_plan(spec: SizeSpec, seed: int) -> dict[str, list[Item]]:
    """The labelled items of every split, in image-id order.

    Args:
        spec: dataset size.
        seed: dataset seed (only the order within a split depends on it).

    Returns:
        ``{"train": [...], "valid": [...], "test": [...]}``; the index of an item is its image id.

    Raises:
        ValueError: the size is too small to give every value its minimum.
    """
    plan: dict[str, list[Item]] = {}
    shares = [q + c for q, c in zip(QUERY_COUNTS, CANDIDATE_COUNTS)]
    train_attr = allocate(spec.train, shares, max(2 * n for n in NUM_VALUES))
    items: list[Item] = []
    for a, count in enumerate(train_attr):
        for v, k in enumerate(allocate(count, VALUE_WEIGHTS[a], 2)):
            items += [Item(a, v, "train")] * k
    plan["train"] = items
    for split in ("valid", "test"):
        queries, candidates = _split_counts(spec, split)
        items = []
        for a in range(len(ATTRIBUTES)):
            for v, k in enumerate(allocate(queries[a], VALUE_WEIGHTS[a], 0)):
                items += [Item(a, v, "query")] * k
            for v, k in enumerate(allocate(candidates[a], VALUE_WEIGHTS[a], 1)):
                items += [Item(a, v, "candidate")] * k
        plan[split] = items
    for split in SPLITS:
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(_LAYOUT_TAG, SPLIT_CODES[split])))
        order = rng.permutation(len(plan[split]))
        plan[split] = [plan[split][i] for i in order]
    return plan


def image_rng(seed: int, split: str, index: int) -> np.random.Generator:
    """The generator that renders image ``index`` of ``split`` (independent of worker layout).

    Args:
        seed: dataset seed.
        split: ``train`` / ``valid`` / ``test``.
        index: image id within the split.

    Returns:
        A fresh ``numpy.random.Generator``.
    """
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(SPLIT_CODES[split], index)))


def image_path(split: str, index: int) -> str:
    """Relative path of an image inside the dataset folder."""
    return f"images/{split}/{index:06d}.jpg"


def plan_layout(plan: Mapping[str, list[Item]]) -> Layout:
    """The split files' content of a split plan (:func:`split_plan`): image ``i`` of a split is ``image_path(split,
    i)``, labelled in ``label_train.txt`` (train) or ``query_/candidate_<split>.txt`` (valid, test) by its role."""
    layout = Layout(filenames={s: [image_path(s, i) for i in range(len(plan[s]))] for s in SPLITS})
    layout.train_labels = [(i, [(it.attr, it.value)]) for i, it in enumerate(plan["train"])]
    for split in EVAL_SPLITS:
        for role, items in (("query", layout.queries[split]), ("candidate", layout.candidates[split])):
            items.extend((i, it.attr, it.value) for i, it in enumerate(plan[split]) if it.role == role)
    return layout


# ------------------------------------------------------------------------------------------ validation
def check_seed(seed: object) -> int:
    """Validate a dataset seed.

    Args:
        seed: candidate seed.

    Returns:
        The seed as ``int``.

    Raises:
        ValueError: not an int (bools rejected) or negative.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise BadValue(f"seed must be a non-negative int, got {seed!r} ({type(seed).__name__})")
    if int(seed) < 0:
        raise BadValue(f"seed must be a non-negative int, got {seed!r}")
    return int(seed)


def get_size(size: str | SizeSpec) -> SizeSpec:
    """Look up a size by name.

    Args:
        size: a name from :data:`SIZES` or a :class:`SizeSpec`.

    Returns:
        The size record.

    Raises:
        ValueError: unknown name.
    """
    if isinstance(size, SizeSpec):
        return size
    if not isinstance(size, str) or size not in SIZES:
        raise BadValue(f"unknown SynthFashion size {size!r}; expected one of {', '.join(SIZES)}")
    return SIZES[size]


def _check_workers(workers: object) -> int:
    if workers is None:
        try:
            return max(1, len(os.sched_getaffinity(0)))
        except AttributeError:  # pragma: no cover - not Linux
            return max(1, os.cpu_count() or 1)
    if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or int(workers) < 1:
        raise BadValue(f"workers must be None or a positive int, got {workers!r}")
    return int(workers)


# ------------------------------------------------------------------------------------------ writing
def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _render_task(task: tuple[str, str, int, int, int, int, int, int, int]) -> tuple[str, str, int]:
    """Worker: render, encode and write one image; return ``(relpath, sha256, bytes)``."""
    root, split, index, attr, value, seed, w, h, design = task
    img = render_image(attr, value, image_rng(seed, split, index), (w, h), design)
    buf = io.BytesIO()
    img.save(buf, **JPEG_SETTINGS)  # type: ignore[arg-type]
    data = buf.getvalue()
    rel = image_path(split, index)
    with open(os.path.join(root, rel), "wb") as f:
        f.write(data)
    return rel, _sha256(data), len(data)


def _tasks(
    root: Path, plan: Mapping[str, list[Item]], seed: int, size: tuple[int, int], design: int
) -> Iterator[tuple]:
    for split in SPLITS:
        for index, item in enumerate(plan[split]):
            yield (str(root), split, index, item.attr, item.value, seed, size[0], size[1], design)


def _pool_context() -> mp.context.BaseContext:
    # fork is cheap and needs no __main__ guard; workers only use numpy/Pillow
    methods = mp.get_all_start_methods()
    return mp.get_context("fork" if "fork" in methods else "spawn")


def _render_all(
    root: Path,
    plan: Mapping[str, list[Item]],
    seed: int,
    size: tuple[int, int],
    design: int,
    workers: int,
    progress: bool,
    label: str,
) -> dict[str, tuple[str, int]]:
    tasks = list(_tasks(root, plan, seed, size, design))
    results: dict[str, tuple[str, int]] = {}
    bar = tqdm(total=len(tasks), desc=label, unit="img", disable=not progress, file=sys.stderr, dynamic_ncols=True)
    try:
        if workers <= 1:
            for t in tasks:
                rel, digest, n = _render_task(t)
                results[rel] = (digest, n)
                bar.update(1)
        else:
            chunk = max(1, min(64, len(tasks) // (workers * 8)))
            with _pool_context().Pool(workers) as pool:
                for rel, digest, n in pool.imap_unordered(_render_task, tasks, chunksize=chunk):
                    results[rel] = (digest, n)
                    bar.update(1)
    finally:
        bar.close()
    return results


def build_meta(spec: SizeSpec, seed: int, image_size: tuple[int, int], design: int = DEFAULT_DESIGN) -> dict:
    """The ``meta.json`` content of a dataset (deterministic: no paths, times or worker counts).

    Args:
        spec: dataset size.
        seed: dataset seed.
        image_size: render size ``(width, height)``.
        design: the design attributes' drawing, recorded as the generator version (:data:`GENERATOR_VERSIONS`).

    Returns:
        A JSON-serialisable dict.

    Raises:
        ValueError: unknown design.
    """
    counts = {"train": spec.train}
    for split in ("valid", "test"):
        q, c = _split_counts(spec, split)
        counts[split] = {
            "queries": sum(q),
            "candidates": sum(c),
            "queries_per_attribute": q,
            "candidates_per_attribute": c,
        }
    return {
        **meta_dict(DATASET_NAME, ATTRIBUTE_NAMES, NUM_VALUES, [values for _, values in ATTRIBUTES]),
        "generator": {
            "version": GENERATOR_VERSIONS[check_design(design)],
            "seed": seed,
            "size": spec.name,
            "image_size": [image_size[0], image_size[1]],
            "counts": counts,
            "jpeg": {k: v for k, v in JPEG_SETTINGS.items() if k != "format"},
            "value_weights": [list(w) for w in VALUE_WEIGHTS],
            "package": "asen.synth",
        },
    }


def _generator(meta: Mapping) -> Mapping:
    """The ``generator`` record of a ``meta.json`` content (empty when there is none)."""
    g = meta.get("generator", {}) if isinstance(meta, Mapping) else {}
    return g if isinstance(g, Mapping) else {}


def _identity(meta: Mapping) -> tuple:
    g = _generator(meta)
    return (meta.get("name"), g.get("version"), g.get("seed"), g.get("size"), list(g.get("image_size", [])))


def dataset_version(root: str | os.PathLike) -> str | None:
    """The generator version a dataset folder's ``meta.json`` (:func:`asen.layout.find_meta`) records, None for a
    dataset that records none (FashionAI, DARN, DeepFashion) or an unreadable file."""
    path = find_meta(root)
    version = _generator(dataset_entry(_read_json(path) or {}, root)).get("version") if path is not None else None
    return version if isinstance(version, str) else None


def dataset_design(meta: Mapping) -> int | None:
    """The design a dataset was drawn in, from its ``meta.json`` content.

    Args:
        meta: a dataset's meta dict (see :func:`build_meta`).

    Returns:
        The design (the generator version's major number) or ``None`` when the version is not one of
        :data:`GENERATOR_VERSIONS`.
    """
    version = _generator(meta).get("version")
    for design, known in GENERATOR_VERSIONS.items():
        if version == known:
            return design
    return None


def _read_json(path: Path) -> dict | None:
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        return data if isinstance(data, dict) else None
    except (OSError, ValueError):
        return None


def is_complete(folder: str | os.PathLike, expected_meta: Mapping | None = None) -> bool:
    """Whether ``folder`` holds a complete SynthFashion dataset (optionally with a given identity).

    Complete = ``meta.json`` names SynthFashion (and matches ``expected_meta``'s version, seed,
    size and image size), ``manifest.json`` lists ``meta.json`` and every split file, and every
    file it lists exists with the recorded size.

    Args:
        folder: dataset folder.
        expected_meta: meta dict to compare with (see :func:`build_meta`), or ``None``.

    Returns:
        ``True`` if complete.
    """
    root = Path(folder)
    meta = _read_json(root / META_FILE)
    manifest = _read_json(root / MANIFEST_FILE)
    if meta is None or manifest is None or meta.get("name") != DATASET_NAME:
        return False
    if expected_meta is not None and _identity(meta) != _identity(expected_meta):
        return False
    files = manifest.get("files")
    if not isinstance(files, dict):
        return False
    if any(n not in files for n in (META_FILE, *SPLIT_FILES)):
        return False
    for rel, entry in files.items():
        try:
            if (root / rel).stat().st_size != int(entry["bytes"]):
                return False
        except (OSError, KeyError, TypeError, ValueError):
            return False
    return True


def _describe(root: Path) -> str:
    """The SynthFashion dataset at ``root`` in words: its generator version, size, seed and image size (from its
    ``meta.json``), and whether it is incomplete."""
    _, version, seed, size, image_size = _identity(_read_json(root / META_FILE) or {})
    px = "x".join(map(str, image_size)) + " px" if image_size else "unknown image size"
    state = "" if is_complete(root) else "an incomplete "
    return f"{state or 'the '}dataset of generator {version}, size {size}, seed {seed}, {px}"


def _is_synth_folder(root: Path) -> bool:
    meta = _read_json(root / META_FILE)
    return meta is not None and meta.get("name") == DATASET_NAME


def generate_dataset(
    out_dir: str | os.PathLike,
    size: str = "small",
    seed: int = 0,
    workers: int | None = None,
    image_size: int | Sequence[int] | None = None,
    progress: bool = True,
    design: int = DEFAULT_DESIGN,
) -> Path:
    """Generate (or reuse) a SynthFashion dataset.

    If ``out_dir`` already holds a complete dataset with the same generator version (design), seed, size
    and image size, nothing is written. Otherwise the dataset is written into a temporary sibling
    folder and renamed into place, so ``out_dir`` never holds a half-written dataset; a SynthFashion dataset of
    other options (or an incomplete one) already there is replaced, which a printed line says.

    Args:
        out_dir: dataset folder to create.
        size: a name from :data:`SIZES` (``tiny``, ``small``, ``fashionai``).
        seed: non-negative int; same seed + same version = byte-identical files.
        workers: processes to render with (``None``: all usable cores; 1: in-process).
        image_size: ``None`` (the size's default, 224x224 for small/fashionai), one int or ``(W, H)``.
        progress: show a tqdm progress bar (on stderr).
        design: how the design attributes' details are drawn, one of :data:`~asen.synth.render.DESIGNS`: 2 (the
            default, generator 2.2.0) or 1 (generator 1.0.0, see :mod:`asen.synth.render`).

    Returns:
        The dataset folder as a ``Path``.

    Raises:
        ValueError: unknown size or design, bad seed, image size or worker count.
        FileExistsError: ``out_dir`` exists and is not a SynthFashion dataset (or is a file).
    """
    spec = get_size(size)
    seed = check_seed(seed)
    design = check_design(design)
    nworkers = _check_workers(workers)
    img_size = check_image_size(image_size, spec.image_size)
    out = Path(out_dir)
    meta = build_meta(spec, seed, img_size, design)
    version = GENERATOR_VERSIONS[design]

    if out.exists():
        if not out.is_dir():
            raise OutputExists(f"refusing to write SynthFashion to {out}: it exists and is not a folder; give a folder "
                               f"path (new, or holding SynthFashion)")
        if is_complete(out, meta):
            print(
                f"SynthFashion: reusing complete dataset at {out} "
                f"(version {version}, size {spec.name}, seed {seed})"
            )
            return out
        if any(out.iterdir()) and not _is_synth_folder(out):
            raise OutputExists(
                f"refusing to overwrite {out}: it exists, is not empty and is not a SynthFashion dataset "
                f"(no {META_FILE} naming {DATASET_NAME}); remove it or choose another folder"
            )
        if _is_synth_folder(out):  # said, not silent: runs trained on the old data will not be reused
            print(f"SynthFashion: replacing {_describe(out)} at {out} with generator {version}, size {spec.name}, "
                  f"seed {seed}, {img_size[0]}x{img_size[1]} px (regenerate the old one with its own options)")

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        tmp.mkdir()
        for split in SPLITS:
            (tmp / "images" / split).mkdir(parents=True)
        plan = split_plan(spec, seed)
        label = f"SynthFashion {spec.name}" + (f" design {design}" if design != DEFAULT_DESIGN else "")
        files = _render_all(tmp, plan, seed, img_size, design, nworkers, progress, label)
        written = write_split_files(tmp, plan_layout(plan), meta, meta_indent=2)
        files.update((rel, (_sha256(data), len(data))) for rel, data in written.items())
        write_manifest(tmp, files)
        if out.exists():
            old = out.parent / f".{out.name}.old-{os.getpid()}-{uuid.uuid4().hex[:8]}"
            out.rename(old)
            tmp.rename(out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out
