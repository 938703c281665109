"""The split-file dataset layout shared by FashionAI, DARN, DeepFashion and SynthFashion: its file names, reading
it, writing it and checking it. The one owner of what lies on disk; the rest of the library goes through here.

Layout (every image id is the 0-based line number of that split's ``filenames_<split>.txt``)::

    filenames_{train,valid,test}.txt   image path per line, relative to the dataset folder
    label_train.txt                    image_id attr value [attr value ...]
    {query,candidate}_{valid,test}.txt image_id attr value
    meta.json                          attribute names, number of values, value names
    counts.json                        (prepare scripts) counts per split and attribute, how the split was made
    manifest.json                      (SynthFashion) sha256 and size of every other file

Four parts, used by the whole library:

* reading: :func:`load_meta`, :func:`read_filenames`, :func:`read_items`, :func:`load_split_files` (training,
  evaluation, ``asen doctor``), each error naming the file, line and text (:class:`DataError`);
* writing: :func:`write_split_files` (``meta.json`` and the eight split files, from a :class:`Layout`) and
  :func:`write_files` (texts as given), used by the SynthFashion generator and the prepare scripts alike;
* checking: :func:`check_folder`, what ``asen doctor`` reports, built on the reader (``problems=``) so that the
  checker and the training code word a bad line the same way;
* :func:`image_problem`, whether an image file (or a body just downloaded) is usable, and
  :func:`resolve_attribute`, an attribute given by name or index.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np
from PIL import Image
from tqdm import tqdm

from .errors import UserError

# ------------------------------------------------------------------------------------------------- names
SPLITS: tuple[str, ...] = ("train", "valid", "test")
EVAL_SPLITS: tuple[str, ...] = ("valid", "test")  # the splits with queries and candidates
ITEM_KINDS: tuple[str, ...] = ("query", "candidate")
META_FILE = "meta.json"
LABEL_FILE = "label_train.txt"
COUNTS_FILE = "counts.json"
MANIFEST_FILE = "manifest.json"


def filenames_file(split: str) -> str:
    """``filenames_<split>.txt``: the image paths of a split."""
    return f"filenames_{split}.txt"


def items_file(kind: str, split: str) -> str:
    """``query_<split>.txt`` / ``candidate_<split>.txt``: the evaluation items of a split."""
    return f"{kind}_{split}.txt"


SPLIT_FILES: tuple[str, ...] = (
    *(filenames_file(s) for s in SPLITS),
    LABEL_FILE,
    *(items_file(k, s) for s in EVAL_SPLITS for k in ITEM_KINDS),
)
"""The eight text files of a dataset folder, in the order they are written."""

DATA_HELP = {
    "FashionAI": "prepare it with `python -m data_scripts.prepare_fashionai` (see the README, 'Real datasets')",
    "DARN": "prepare it with `python -m data_scripts.prepare_darn` (see the README, 'Real datasets')",
    "DeepFashion": "prepare it with `python -m data_scripts.prepare_deepfashion` (see the README, 'Real datasets')",
    "SynthFashion": "generate it with `asen synth --out data/SynthFashion --size small`",
}


def data_help(dataset: str | None) -> str:
    """How to get the dataset named ``dataset`` (a folder's name), for messages about missing files."""
    return DATA_HELP.get(dataset or "", "see the README, 'Real datasets', or run `asen synth` for synthetic data")


class DataError(UserError, ValueError):
    """Bad or missing data; the message names the file (and line) and what was expected."""


def _missing(path: Path, dataset: str | None = None) -> DataError:
    return DataError(f"missing file: {path} ({data_help(dataset)})")


def not_a_folder(root: Path) -> str | None:
    """Why ``root`` cannot be a dataset folder where it is a file (the user gave a file's path, e.g. meta.json),
    or ``None`` where it is a folder or is missing (each caller says how to get a missing dataset)."""
    if root.exists() and not root.is_dir():
        return f"{root} is a file, not a folder: give the dataset folder (the one holding {META_FILE})"
    return None


def read_text(path: Path) -> str:
    """A text file of a dataset folder, decoded as UTF-8 (the layout's encoding, whatever the locale).

    Raises:
        DataError: the file is not UTF-8; the message names the file, the line and what to do.
    """
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise DataError(f"{path}, line {line}: not UTF-8 text (byte {data[exc.start]:#04x}); save the file as "
                        f"UTF-8") from None


# ------------------------------------------------------------------------------------------- attributes
def resolve_attribute(attribute: str | int, names: Sequence[str]) -> int:
    """Index of an attribute given by name or index.

    Args:
        attribute: a name (``"collar_design"``, any case when unambiguous) or an index (``3`` or ``"3"``).
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


# ------------------------------------------------------------------------------------------------- meta
@dataclass(frozen=True)
class Meta:
    """Attribute names, number of values per attribute, and value names."""

    name: str
    attributes: tuple[str, ...]
    num_values: tuple[int, ...]
    value_names: tuple[tuple[str, ...], ...]

    @property
    def num_attributes(self) -> int:
        return len(self.attributes)

    def attribute_index(self, name_or_index: str | int) -> int:
        """Index of an attribute given by name or index, with a clear error otherwise (:func:`resolve_attribute`)."""
        return resolve_attribute(name_or_index, self.attributes)


def meta_dict(
    name: str, attributes: Sequence[str], num_values: Sequence[int], value_names: Sequence[Sequence[str]]
) -> dict:
    """The ``meta.json`` content :func:`load_meta` reads (a writer may add keys after these four)."""
    if not (len(attributes) == len(num_values) == len(value_names)):
        raise ValueError("attributes, num_values and value_names must have the same length")
    return {
        "name": name,
        "attributes": list(attributes),
        "num_values": [int(n) for n in num_values],
        "value_names": [list(v) for v in value_names],
    }


def _count(path: Path, key: str, value: object) -> int:
    """A whole number of ``meta.json`` (``key`` names it, e.g. ``num_values[2]``); ``"6"`` and ``6.0`` are read
    as 6. Raises DataError naming the file and the key otherwise."""
    if not isinstance(value, bool):
        try:
            number = float(value)
            if number.is_integer() and number >= 0:
                return int(number)
        except (TypeError, ValueError):
            pass
    raise DataError(f"{path}: '{key}' must be a whole number >= 0 (the attribute's value count); got {value!r}")


def find_meta(root: str | Path) -> Path | None:
    """The ``meta.json`` a dataset folder uses: its own, else the one a level up (None when neither exists)."""
    root = Path(root)
    return next((p for p in (root / META_FILE, root.parent / META_FILE) if p.exists()), None)


def dataset_entry(raw: object, root: str | Path) -> object:
    """A ``meta.json``'s content for the dataset folder ``root``: the whole file, or, in one ``meta.json`` for
    several datasets (``{"FashionAI": {...}, "DARN": {...}}``), the entry named after the folder."""
    name = Path(root).name
    if isinstance(raw, dict) and name in raw and isinstance(raw[name], dict):
        return raw[name]
    return raw


def parse_value_counts(text: object) -> tuple[int, ...] | None:
    """``data.attribute_values`` as numbers: ``"6,9,8"`` -> ``(6, 9, 8)``, ``""`` -> ``()``; ``None`` when it is not
    a comma-separated list of whole numbers >= 1."""
    if not isinstance(text, str):
        return None
    if not text.strip():
        return ()
    parts = [t.strip() for t in text.split(",")]
    if not all(t.isdigit() and int(t) >= 1 for t in parts):
        return None
    return tuple(int(t) for t in parts)


def check_value_counts(expected: str, meta: Meta, root: str | Path) -> None:
    """Refuse a dataset whose attributes do not have the values a config expects, before any work.

    Args:
        expected: ``data.attribute_values`` (``"6,9,8,6,5,5,10,5"``, e.g. from the authors' DATA.ATTRIBUTES.NUM;
            ``""``: nothing to check).
        meta: the dataset's ``meta.json``.
        root: the dataset folder (for the message).
    Raises:
        DataError: another number of attributes or of values; the message names both lists and what to do.
    """
    want = list(parse_value_counts(expected) or ())
    if want and want != list(meta.num_values):
        raise DataError(f"{root}: its meta.json has {len(meta.num_values)} attributes with {list(meta.num_values)} "
                        f"values, but the config expects {len(want)} with {want} (data.attribute_values, the "
                        f"authors' DATA.ATTRIBUTES.NUM): the config is for another dataset; set data.root to that "
                        f"dataset's folder, or give the config of this one")


def load_meta(root: str | Path) -> Meta:
    """Read ``meta.json`` from the dataset folder (or one level up, :func:`find_meta`).

    Accepted schema: ``{"name", "attributes": [names], "num_values": [ints], "value_names": [[names]]}``;
    ``attributes`` may also be a list of ``{"name": ..., "values": [...]}`` objects.
    """
    root = Path(root)
    path = find_meta(root)
    if path is None:
        raise _missing(root / META_FILE, root.name)
    try:
        raw = json.loads(read_text(path))
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: not valid JSON ({exc})") from exc
    raw = dataset_entry(raw, root)
    try:
        attrs = raw["attributes"]
        if attrs and isinstance(attrs[0], dict):
            names = [a["name"] for a in attrs]
            value_names = [list(a["values"]) for a in attrs]
            num_values = [len(v) for v in value_names]
        else:
            names = list(attrs)
            num_values = [_count(path, f"num_values[{i}]", n) for i, n in enumerate(raw["num_values"])]
            value_names = raw.get("value_names") or [[str(v) for v in range(n)] for n in num_values]
    except (KeyError, TypeError, IndexError) as exc:
        raise DataError(
            f"{path}: expected {{'attributes': [...], 'num_values': [...], 'value_names': [[...]]}} ({exc!r})"
        ) from exc
    if len(num_values) != len(names) or len(value_names) != len(names):
        raise DataError(f"{path}: attributes, num_values and value_names must have the same length")
    for name, n, vals in zip(names, num_values, value_names):
        if len(vals) != n:
            raise DataError(f"{path}: attribute '{name}' has num_values {n} but {len(vals)} value names")
    return Meta(
        name=str(raw.get("name", root.name)),
        attributes=tuple(names),
        num_values=tuple(num_values),
        value_names=tuple(tuple(v) for v in value_names),
    )


# ------------------------------------------------------------------------------------------------ reading
def read_filenames(path: str | Path, dataset: str | None = None, problems: list[str] | None = None) -> list[str]:
    """One relative image path per line; blank lines are an error (they would shift every id).

    With ``problems`` every blank line is appended there (its message) instead of raising, and the names are
    returned all the same (blanks included, so that ids stay line numbers).
    """
    path = Path(path)
    if not path.exists():
        raise _missing(path, dataset)
    # the lines as a text-mode file gives them (as read_items reads, and the authors' ``for l in f``): str.splitlines
    # would also end a line at a form feed, U+001C..U+001E, U+0085 or U+2028/9 inside a path, shifting every later id
    with io.StringIO(read_text(path), newline=None) as fh:
        names = [line.rstrip("\n") for line in fh]
    for lineno, name in enumerate(names, 1):
        if not name.strip():
            message = f"{path}, line {lineno}: empty line (every line must name an image)"
            if problems is None:
                raise DataError(message)
            problems.append(message)
    return [n.strip() for n in names]


def parse_ints(path: Path, lineno: int, line: str, expect_pairs: bool) -> list[int]:
    """Parse one label line into integers, with an error naming file, line and text when malformed."""
    try:
        nums = [int(tok) for tok in line.split()]
    except ValueError:
        raise DataError(f"{path}, line {lineno}: expected integers, got {line!r}") from None
    if expect_pairs:
        ok = len(nums) >= 3 and len(nums) % 2 == 1
        shape = "image_id attr value [attr value ...]"
    else:
        ok = len(nums) == 3
        shape = "image_id attr value"
    if not ok:
        raise DataError(f"{path}, line {lineno}: expected '{shape}', got {line!r}")
    return nums


def check_label(path: Path, lineno: int, meta: Meta, n_images: int, img: int, attr: int, value: int) -> None:
    """Check an (image, attribute, value) triple against the split size and meta.json, naming what is wrong."""
    if not 0 <= img < n_images:
        raise DataError(f"{path}, line {lineno}: image id {img} out of range 0..{n_images - 1}")
    if not 0 <= attr < meta.num_attributes:
        raise DataError(f"{path}, line {lineno}: attribute {attr} out of range 0..{meta.num_attributes - 1}")
    if not 0 <= value < meta.num_values[attr]:
        raise DataError(
            f"{path}, line {lineno}: value {value} out of range for attribute {attr} "
            f"'{meta.attributes[attr]}' (0..{meta.num_values[attr] - 1})"
        )


def read_items(
    path: str | Path, meta: Meta, n_images: int, multi: bool = False, dataset: str | None = None,
    problems: list[str] | None = None,
) -> np.ndarray:
    """Read label/query/candidate lines into an ``(N, 3)`` int64 array of ``(image_id, attr, value)``.

    Args:
        path: the text file.
        meta: attribute and value counts to validate against.
        n_images: number of images in the split (ids must be below it).
        multi: lines may hold several ``attr value`` pairs (``label_train.txt``).
        problems: if given, a bad line is appended here (its message) and skipped instead of raising, so that
            a checker can report every bad line (``asen doctor``); the good lines are returned.
    Raises:
        DataError: naming the file, line number and offending text; or a file with no items at all.
    """
    path = Path(path)
    if not path.exists():
        raise _missing(path, dataset)
    rows: list[tuple[int, int, int]] = []
    with io.StringIO(read_text(path), newline=None) as fh:  # the lines as a text-mode file gives them
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                nums = parse_ints(path, lineno, line.rstrip("\n"), expect_pairs=multi)
                img = nums[0]
                for attr, value in zip(nums[1::2], nums[2::2]):
                    check_label(path, lineno, meta, n_images, img, attr, value)
            except DataError as exc:
                if problems is None:
                    raise
                problems.append(str(exc))
                continue
            rows.extend((img, attr, value) for attr, value in zip(nums[1::2], nums[2::2]))
    if not rows and not problems:
        raise DataError(f"{path}: no items (expected lines of 'image_id attr value')")
    return np.asarray(rows, dtype=np.int64).reshape(-1, 3)


@dataclass
class SplitFiles:
    """The parsed text files of one dataset folder."""

    root: Path
    meta: Meta
    filenames: dict[str, list[str]]  # split -> relative paths
    train_labels: np.ndarray  # (N, 3) image_id, attr, value
    queries: dict[str, np.ndarray]  # split -> (Q, 3)
    candidates: dict[str, np.ndarray]  # split -> (C, 3)


def load_split_files(root: str | Path, splits: Sequence[str] = SPLITS) -> SplitFiles:
    """Read and validate every text file of a dataset folder (images are not opened here)."""
    root = Path(root)
    if (problem := not_a_folder(root)) is not None:
        raise DataError(problem)
    if not root.is_dir():
        raise DataError(
            f"dataset folder not found: {root} "
            f"({DATA_HELP.get(root.name, 'generate SynthFashion with `asen synth` or see the README, Real datasets')})"
        )
    meta = load_meta(root)
    filenames = {s: read_filenames(root / filenames_file(s), root.name) for s in splits}
    labels = np.zeros((0, 3), np.int64)
    if "train" in splits:
        labels = read_items(root / LABEL_FILE, meta, len(filenames["train"]), multi=True, dataset=root.name)
    queries, candidates = {}, {}
    for s in splits:
        if s == "train":
            continue
        queries[s] = read_items(root / items_file("query", s), meta, len(filenames[s]), dataset=root.name)
        candidates[s] = read_items(root / items_file("candidate", s), meta, len(filenames[s]), dataset=root.name)
    return SplitFiles(root, meta, filenames, labels, queries, candidates)


def split_mode(seed: int | None) -> str:
    """How a prepared real dataset was split, as ``counts.json`` records it: ``"splits"`` (the authors' split files,
    ``seed`` None) or ``"seed <seed>"`` (a seeded split by a prepare script)."""
    return "splits" if seed is None else f"seed {seed}"


def seeded_split(root: str | Path) -> str | None:
    """How a prepared real dataset was split, when it is not the authors' split files: the ``mode`` the prepare
    scripts record in ``counts.json`` (e.g. ``"seed 0"``, :func:`split_mode`); ``None`` for the authors' splits or
    no record."""
    path = Path(root) / COUNTS_FILE
    try:
        mode = json.loads(path.read_text()).get("mode")
    except (OSError, ValueError, AttributeError):
        return None
    return mode if isinstance(mode, str) and mode.startswith("seed") else None


def read_manifest(folder: str | os.PathLike) -> dict[str, dict]:
    """The ``files`` table of a dataset's ``manifest.json``: ``{relative path: {"sha256": ..., "bytes": ...}}``.

    Raises:
        FileNotFoundError: no manifest.
    """
    with open(Path(folder) / MANIFEST_FILE, encoding="utf-8") as f:
        return json.load(f)["files"]


# ------------------------------------------------------------------------------------------------ writing
@dataclass
class Layout:
    """The content of the split files before writing (ids are positions in ``filenames[split]``)."""

    filenames: dict[str, list[str]] = field(default_factory=lambda: {s: [] for s in SPLITS})
    train_labels: list[tuple[int, list[tuple[int, int]]]] = field(default_factory=list)  # image, its (attr, value)s
    queries: dict[str, list[tuple[int, int, int]]] = field(default_factory=lambda: {s: [] for s in EVAL_SPLITS})
    candidates: dict[str, list[tuple[int, int, int]]] = field(
        default_factory=lambda: {s: [] for s in EVAL_SPLITS}
    )


def layout_from_split_files(sf: SplitFiles) -> Layout:
    """Turn parsed split files back into a :class:`Layout` (train pairs grouped per image, in order)."""
    grouped: dict[int, list[tuple[int, int]]] = {}
    for img, attr, value in sf.train_labels.tolist():
        grouped.setdefault(img, []).append((attr, value))
    return Layout(
        filenames={s: list(sf.filenames[s]) for s in SPLITS},
        train_labels=list(grouped.items()),
        queries={s: [tuple(r) for r in sf.queries[s].tolist()] for s in EVAL_SPLITS},
        candidates={s: [tuple(r) for r in sf.candidates[s].tolist()] for s in EVAL_SPLITS},
    )


def _lines(lines: Iterable[str]) -> str:
    return "".join(f"{line}\n" for line in lines)


def layout_texts(layout: Layout) -> dict[str, str]:
    """The eight split files' texts (:data:`SPLIT_FILES`, in that order) of a :class:`Layout`."""
    texts = {filenames_file(s): _lines(layout.filenames[s]) for s in SPLITS}
    texts[LABEL_FILE] = _lines(f"{img} " + " ".join(f"{a} {v}" for a, v in pairs) for img, pairs in layout.train_labels)
    for s in EVAL_SPLITS:
        for kind, items in zip(ITEM_KINDS, (layout.queries[s], layout.candidates[s])):
            texts[items_file(kind, s)] = _lines(f"{i} {a} {v}" for i, a, v in items)
    return texts


def meta_json(meta: Mapping, indent: int = 1) -> str:
    """``meta.json``'s text. SynthFashion's has always been written with ``indent=2``, the prepare scripts' with 1:
    both are kept, so that a folder written before keeps its bytes (and runs their data fingerprint)."""
    return json.dumps(meta, indent=indent, ensure_ascii=False) + "\n"


def write_files(root: str | Path, files: Mapping[str, str | bytes]) -> dict[str, bytes]:
    """Write ``{relative path: text or bytes}`` into ``root`` (text as UTF-8), each file through a temporary name, so
    that none is ever half-written; returns the bytes written per path (a writer's manifest hashes them)."""
    root = Path(root)
    written: dict[str, bytes] = {}
    for rel, content in files.items():
        data = content.encode("utf-8") if isinstance(content, str) else bytes(content)
        path = root / rel
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
        written[rel] = data
    return written


def write_split_files(root: str | Path, layout: Layout, meta: Mapping, meta_indent: int = 1) -> dict[str, bytes]:
    """Write ``meta.json`` (:func:`meta_json`) and the eight split files of ``layout`` into ``root`` (created when
    needed); returns the bytes written per file name. The one writer of the layout: the SynthFashion generator and
    the prepare scripts both call it."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    return write_files(root, {META_FILE: meta_json(meta, meta_indent), **layout_texts(layout)})


def write_counts(root: str | Path, counts: Mapping, extra: Mapping | None = None) -> Path:
    """Write ``counts.json`` (a prepare script's count table plus ``extra``: the skip report, ``mode``, ...)."""
    path = Path(root) / COUNTS_FILE
    path.write_text(json.dumps({**counts, **(extra or {})}, indent=1, ensure_ascii=False) + "\n")
    return path


def write_manifest(root: str | Path, files: Mapping[str, tuple[str, int]]) -> Path:
    """Write ``manifest.json``: ``{relative path: (sha256 hex digest, bytes)}`` of every other file, sorted."""
    manifest = {
        "algorithm": "sha256",
        "files": {rel: {"sha256": d, "bytes": n} for rel, (d, n) in sorted(files.items())},
    }
    path = Path(root) / MANIFEST_FILE
    path.write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return path


# ------------------------------------------------------------------------------------------------- images
MISSING = "missing"


def image_problem(source: str | os.PathLike | bytes) -> str | None:
    """Whether an image is usable: ``None`` when ``source`` (a path, or the bytes of a file) decodes; otherwise why
    not: ``"missing"``, ``"not a file"``, ``"empty body"`` (no bytes) or ``"cannot decode (<error>)"``.

    PIL's ``verify()`` checks the structure, then ``load()`` decodes every pixel (which catches truncation).
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        if not len(source):
            return "empty body"
        data = bytes(source)

        def opened() -> Image.Image:
            return Image.open(io.BytesIO(data))
    else:
        path = Path(source)
        if not path.is_file():
            return MISSING if not path.exists() else "not a file"

        def opened() -> Image.Image:
            return Image.open(path)
    try:
        with opened() as img:
            img.verify()
        with opened() as img:
            img.load()
    except Exception as exc:  # PIL raises many types for bad files; all mean "not a usable image"
        return f"cannot decode ({type(exc).__name__}: {exc})"
    return None


def image_problems(
    paths: Sequence[str | os.PathLike], workers: int = 4, progress: bool = True, desc: str = "verifying images"
) -> list[str | None]:
    """:func:`image_problem` of many paths in a thread pool (PIL decodes outside the GIL), with a progress bar."""
    if not paths:
        return []
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        results = pool.map(image_problem, paths, chunksize=32)
        return list(tqdm(results, total=len(paths), desc=desc, disable=not progress))


# ----------------------------------------------------------------------------------------------- checking
MAX_LISTED = 10  # problems listed per kind before "... and N more"


def listing(items: Sequence[str], limit: int = MAX_LISTED) -> str:
    """Indented lines, the first ``limit`` of ``items`` and how many more."""
    shown = "\n    ".join(items[:limit])
    more = f"\n    ... and {len(items) - limit} more" if len(items) > limit else ""
    return f"\n    {shown}{more}"


@dataclass
class FolderCheck:
    """What :func:`check_folder` found: errors, warnings, and counts."""

    root: Path
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    meta: Meta | None = None
    images: dict[str, int] = field(default_factory=dict)  # split -> number of images
    counts: list[dict] = field(default_factory=list)  # per attribute
    images_checked: int = 0
    images_total: int = 0
    images_missing: int = 0
    images_unreadable: int = 0

    @property
    def ok(self) -> bool:
        return not self.errors

    def error(self, message: str) -> None:
        self.errors.append(message)

    def warn(self, message: str) -> None:
        self.warnings.append(message)


def _all_filenames(path: Path, report: FolderCheck) -> list[str] | None:
    """Filenames of one split (``None`` when the file is missing); every empty line is reported."""
    if not path.exists():
        return None
    problems: list[str] = []
    try:
        names = read_filenames(path, problems=problems)
    except DataError as exc:  # not UTF-8: no line can be trusted
        report.error(str(exc))
        return None
    if problems:
        report.error(f"{path}: {len(problems)} empty line(s) (they shift every image id):" + listing(problems))
    return names


def _all_items(path: Path, meta: Meta, n_images: int, multi: bool, report: FolderCheck) -> np.ndarray | None:
    """Items of one label/query/candidate file; on a bad file, every bad line is reported and the good lines are
    kept."""
    if not path.exists():
        return None
    problems: list[str] = []
    try:
        rows = read_items(path, meta, n_images, multi=multi, problems=problems)
    except DataError as exc:  # a file with no items at all
        problems.append(str(exc))
        rows = np.zeros((0, 3), np.int64)
    if problems:
        report.error(f"{path}: {len(problems)} bad line(s):" + listing(problems))
    return rows


def _check_images(
    root: Path, filenames: dict[str, list[str]], report: FolderCheck, max_images: int | None, progress: bool,
    workers: int,
) -> None:
    """Every named image (or ``max_images`` of them, evenly spread) exists and decodes (:func:`image_problem`)."""
    refs = [(s, i, name) for s in SPLITS for i, name in enumerate(filenames.get(s) or []) if name]
    report.images_total = len(refs)
    if max_images is not None and 0 <= max_images < len(refs):
        pick = np.linspace(0, len(refs) - 1, num=max_images).round().astype(int) if max_images else []
        refs = [refs[i] for i in sorted(set(int(p) for p in pick))]
    report.images_checked = len(refs)
    paths = [root / name for _, _, name in refs]
    missing, unreadable = [], []
    for (split, i, _), path, res in zip(refs, paths, image_problems(paths, workers, progress, "checking images")):
        where = f"{root / filenames_file(split)}, line {i + 1}"
        if res == MISSING:
            missing.append(f"{where}: {path}")
        elif res is not None:
            unreadable.append(f"{where}: cannot read image {path}: {res}")
    report.images_missing, report.images_unreadable = len(missing), len(unreadable)
    if missing:
        report.error(f"{len(missing)} image(s) not found:" + listing(missing))
    if unreadable:
        report.error(f"{len(unreadable)} image(s) cannot be decoded:" + listing(unreadable))


def _check_disjoint(filenames: dict[str, list[str] | None], report: FolderCheck) -> None:
    """No image in train and in valid/test (an error); images listed twice, or in valid and test (warnings)."""
    sets = {s: {os.path.normpath(n) for n in names} for s, names in filenames.items() if names is not None}
    for split, names in filenames.items():
        if names is None:
            continue
        dup = [n for n, c in Counter(os.path.normpath(n) for n in names).items() if c > 1]
        if dup:
            report.warn(f"{filenames_file(split)} lists {len(dup)} image(s) more than once (different ids, same file), "
                        f"e.g. {dup[0]}")
    if "train" in sets:
        for split in EVAL_SPLITS:
            if split in sets:
                both = sorted(sets["train"] & sets[split])
                if both:
                    report.error(f"{len(both)} image(s) are in both {filenames_file('train')} and "
                                 f"{filenames_file(split)} (train/{split} leak):" + listing(both))
    if "valid" in sets and "test" in sets:
        both = sorted(sets["valid"] & sets["test"])
        if both:
            report.warn(f"{len(both)} image(s) are in both {filenames_file('valid')} and {filenames_file('test')}, "
                        f"e.g. {both[0]}")


def _check_eval(meta: Meta, split: str, queries: np.ndarray, candidates: np.ndarray, report: FolderCheck) -> None:
    """No image both a query and a candidate for one attribute (an error); coverage warnings."""
    q_keys = Counter((int(i), int(a)) for i, a, _ in queries.tolist())
    c_keys = Counter((int(i), int(a)) for i, a, _ in candidates.tolist())
    both = sorted(set(q_keys) & set(c_keys))
    if both:
        ex = [f"image id {i}, attribute {a} ({meta.attributes[a]})" for i, a in both]
        report.error(f"{split}: {len(both)} image(s) are both a query and a candidate for the same attribute "
                     f"({items_file('query', split)} / {items_file('candidate', split)}):" + listing(ex))
    for kind, keys in zip(ITEM_KINDS, (q_keys, c_keys)):
        dup = sum(1 for c in keys.values() if c > 1)
        if dup:
            report.warn(f"{items_file(kind, split)}: {dup} (image, attribute) pair(s) listed more than once")
    cand_values = {(int(a), int(v)) for _, a, v in candidates.tolist()}
    orphan = Counter(meta.attributes[a] for _, a, v in queries.tolist() if (a, v) not in cand_values)
    if orphan:
        report.warn(f"{split}: {sum(orphan.values())} quer(y/ies) have no candidate with their value (they score AP 0): "
                    + ", ".join(f"{a} {n}" for a, n in orphan.items()))
    for a, name in enumerate(meta.attributes):
        nq = int((queries[:, 1] == a).sum())
        nc = int((candidates[:, 1] == a).sum())
        if nq == 0 or nc == 0:
            report.warn(f"{split}: attribute {name} has {nq} queries and {nc} candidates (it cannot be evaluated)")


def _check_train_coverage(meta: Meta, labels: np.ndarray, n_train: int, report: FolderCheck) -> None:
    """Every attribute has two values with two training images each (else it forms no triplet); warnings."""
    for a, name in enumerate(meta.attributes):
        sel = labels[labels[:, 1] == a]
        per_value = [len(np.unique(sel[sel[:, 2] == v, 0])) for v in range(meta.num_values[a])]
        usable = [v for v, n in enumerate(per_value) if n >= 2]
        if len(usable) < 2:
            report.warn(f"attribute {name}: only {len(usable)} value(s) with >= 2 training images (needs 2 to form "
                        "triplets)")
        thin = [meta.value_names[a][v] for v, n in enumerate(per_value) if n < 2]
        if thin and len(usable) >= 2:
            report.warn(f"attribute {name}: {len(thin)} of {meta.num_values[a]} values have fewer than 2 training images "
                        f"(left out of triplet sampling): {', '.join(thin[:8])}{' ...' if len(thin) > 8 else ''}")
    unlabelled = n_train - len(np.unique(labels[:, 0])) if len(labels) else n_train
    if unlabelled > 0:
        report.warn(f"{unlabelled} training image(s) have no line in {LABEL_FILE} (never used)")


def _count_rows(meta: Meta, labels: np.ndarray | None, queries: dict, candidates: dict) -> list[dict]:
    """Per attribute: labelled training images and evaluation items per split."""
    rows = []
    for a, name in enumerate(meta.attributes):
        row = {"attribute": name, "num_values": meta.num_values[a]}
        if labels is not None:
            row["train"] = int(len(np.unique(labels[labels[:, 1] == a, 0])))
        for s in EVAL_SPLITS:
            for kind, arrs in zip(ITEM_KINDS, (queries, candidates)):
                if arrs.get(s) is not None:
                    row[f"{kind}_{s}"] = int((arrs[s][:, 1] == a).sum())
        rows.append(row)
    return rows


def check_folder(
    root: str | Path,
    check_images: bool = True,
    max_images: int | None = None,
    progress: bool = True,
    workers: int = 4,
    report: FolderCheck | None = None,
) -> FolderCheck:
    """Check a dataset folder, collecting every problem rather than stopping at the first; never raises for bad data.

    * every layout file is present, naming what is missing and how to get it;
    * every label/query/candidate line parses and is in range (:func:`read_items`'s rules and messages);
    * every referenced image exists and decodes (:func:`image_problem`; optionally ``max_images`` of them);
    * the splits are disjoint where they must be: no image path in train and in valid/test; no valid/test image
      both a query and a candidate for the same attribute;
    * coverage (warnings): every attribute has two values with two training images each, every attribute has
      queries and candidates, every query's value has a candidate (else AP 0);
    * counts per split and attribute.

    Args:
        report: the object to fill (a :class:`FolderCheck` or a subclass, e.g. ``asen doctor``'s report); a new
            :class:`FolderCheck` by default.
    """
    root = Path(root)
    report = FolderCheck(root) if report is None else report
    if not root.is_dir():
        report.error(not_a_folder(root) or f"dataset folder not found: {root} ({data_help(root.name)})")
        return report
    try:
        meta = report.meta = load_meta(root)
    except DataError as exc:
        report.error(str(exc))
        meta = None
    missing = [n for n in SPLIT_FILES if not (root / n).exists()]
    if missing:
        report.error(f"missing file(s) in {root}: {', '.join(missing)} ({data_help(root.name)})")

    filenames = {s: _all_filenames(root / filenames_file(s), report) for s in SPLITS}
    report.images = {s: len(n) for s, n in filenames.items() if n is not None}

    labels, queries, candidates = None, {}, {}
    if meta is not None:
        if filenames["train"] is not None:
            labels = _all_items(root / LABEL_FILE, meta, len(filenames["train"]), True, report)
        for s in EVAL_SPLITS:
            if filenames[s] is not None:
                queries[s] = _all_items(root / items_file("query", s), meta, len(filenames[s]), False, report)
                candidates[s] = _all_items(root / items_file("candidate", s), meta, len(filenames[s]), False, report)

    _check_disjoint(filenames, report)
    if meta is not None:
        if labels is not None:
            _check_train_coverage(meta, labels, len(filenames["train"] or []), report)
        for s in EVAL_SPLITS:
            if queries.get(s) is not None and candidates.get(s) is not None:
                _check_eval(meta, s, queries[s], candidates[s], report)
        report.counts = _count_rows(meta, labels, queries, candidates)
    if check_images:
        _check_images(root, {s: n for s, n in filenames.items() if n is not None}, report, max_images, progress, workers)
    return report


def data_fingerprint(root: str | Path) -> str | None:
    """A short hash of a dataset's split files (``*.txt``) and, where present, ``meta.json`` / ``manifest.json``
    (SynthFashion's checksums of every image); ``None`` when ``root`` is not a folder. Runs record it so that a
    run trained on other data under the same path is not silently reused."""
    root = Path(root)
    if not root.is_dir():
        return None
    h = hashlib.sha256()
    for f in sorted([*root.glob("*.txt"), *(root / n for n in (META_FILE, MANIFEST_FILE) if (root / n).exists())]):
        h.update(f.name.encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()[:16]
