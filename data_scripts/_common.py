"""Code shared by the three prepare scripts: writing the split-file layout, seeded stratified splits,
image checks and placement, reading the authors' split files, counting and reporting problems.

The layout written here is exactly what :func:`asen.data.load_split_files` reads: every writer ends by
reading the files back with it, so a layout that the training code would reject is never left behind
silently.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import sys
import tarfile
import tempfile
import zipfile
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Callable, Iterable, Sequence, TypeVar

import numpy as np
from PIL import Image
from tqdm import tqdm

from asen.data import DataError, SplitFiles, load_split_files

T = TypeVar("T")

SPLITS = ("train", "valid", "test")
EVAL_SPLITS = ("valid", "test")
LAYOUT_FILES = (
    "filenames_train.txt",
    "filenames_valid.txt",
    "filenames_test.txt",
    "label_train.txt",
    "query_valid.txt",
    "candidate_valid.txt",
    "query_test.txt",
    "candidate_test.txt",
)
LINK_MODES = ("symlink", "copy", "none")
SKIP_HINT = "rerun with --skip-bad to skip such entries (they are counted and reported)"


class PrepareError(DataError):
    """Bad input for a prepare script. The message names the file (and line) and what was expected."""


# ------------------------------------------------------------------------------------------ problems
class Problems:
    """Bad input entries: an error by default, or skipped and counted by reason with ``--skip-bad``.

    ``bad`` is for line-level problems (raises at once unless skipping); ``defer`` collects problems that
    are cheaper to report together (missing or corrupt images) and ``flush`` then raises one error that
    names the first few and the total, unless skipping.
    """

    def __init__(self, skip_bad: bool, max_examples: int = 5) -> None:
        self.skip_bad = skip_bad
        self.max_examples = max_examples
        self.counts: Counter[str] = Counter()
        self.examples: dict[str, list[str]] = defaultdict(list)
        self.pending: list[tuple[str, str]] = []
        self.notes: list[str] = []

    def _count(self, reason: str, message: str) -> None:
        self.counts[reason] += 1
        if len(self.examples[reason]) < self.max_examples:
            self.examples[reason].append(message)

    def bad(self, reason: str, message: str) -> None:
        """Raise :class:`PrepareError` with ``message``, or count it under ``reason`` when skipping."""
        if not self.skip_bad:
            raise PrepareError(f"{message} ({SKIP_HINT})")
        self._count(reason, message)

    def defer(self, reason: str, message: str) -> None:
        """Collect a problem; :meth:`flush` raises for all of them together unless skipping."""
        self.pending.append((reason, message))

    def flush(self) -> None:
        """Raise for the collected problems (strict), or count them (``--skip-bad``)."""
        pending, self.pending = self.pending, []
        if not pending:
            return
        if not self.skip_bad:
            by_reason = Counter(r for r, _ in pending)
            head = "; ".join(f"{n} {r}" for r, n in by_reason.items())
            shown = "\n  ".join(m for _, m in pending[:10])
            more = f"\n  ... and {len(pending) - 10} more" if len(pending) > 10 else ""
            raise PrepareError(f"{len(pending)} problem(s) ({head}):\n  {shown}{more}\n({SKIP_HINT})")
        for reason, message in pending:
            self._count(reason, message)

    def note(self, message: str) -> None:
        """Record an informational line for the final report (never an error)."""
        self.notes.append(message)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def report(self) -> str:
        """Human-readable summary: every skip reason with its count and a few examples."""
        lines = []
        if self.counts:
            lines.append(f"skipped {self.total} bad entr{'y' if self.total == 1 else 'ies'} (--skip-bad):")
            for reason, n in sorted(self.counts.items()):
                lines.append(f"  {reason}: {n}")
                for ex in self.examples[reason]:
                    lines.append(f"      e.g. {ex}")
        lines.extend(self.notes)
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {"skipped": dict(self.counts), "examples": dict(self.examples), "notes": list(self.notes)}


# -------------------------------------------------------------------------------------------- layout
@dataclass
class Layout:
    """The content of the split files before writing (ids are positions in ``filenames[split]``)."""

    filenames: dict[str, list[str]] = field(default_factory=lambda: {s: [] for s in SPLITS})
    train_labels: list[tuple[int, list[tuple[int, int]]]] = field(default_factory=list)
    queries: dict[str, list[tuple[int, int, int]]] = field(default_factory=lambda: {s: [] for s in EVAL_SPLITS})
    candidates: dict[str, list[tuple[int, int, int]]] = field(
        default_factory=lambda: {s: [] for s in EVAL_SPLITS}
    )


def meta_dict(name: str, attributes: Sequence[str], num_values: Sequence[int], value_names: Sequence[Sequence[str]]) -> dict:
    """The ``meta.json`` content accepted by :func:`asen.data.load_meta`."""
    if not (len(attributes) == len(num_values) == len(value_names)):
        raise ValueError("attributes, num_values and value_names must have the same length")
    return {
        "name": name,
        "attributes": list(attributes),
        "num_values": [int(n) for n in num_values],
        "value_names": [list(v) for v in value_names],
    }


def write_meta(out: Path, meta: dict) -> Path:
    """Write ``meta.json`` into ``out``."""
    path = Path(out) / "meta.json"
    path.write_text(json.dumps(meta, indent=1, ensure_ascii=False) + "\n")
    return path


def _write_lines(path: Path, lines: Iterable[str]) -> None:
    text = "".join(f"{line}\n" for line in lines)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def write_layout(out: str | Path, layout: Layout, meta: dict) -> SplitFiles:
    """Write the eight split files and ``meta.json`` into ``out``, then read them back with
    :func:`asen.data.load_split_files` (which validates every line) and return the result."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    write_meta(out, meta)
    for split in SPLITS:
        _write_lines(out / f"filenames_{split}.txt", layout.filenames[split])
    _write_lines(
        out / "label_train.txt",
        (f"{img} " + " ".join(f"{a} {v}" for a, v in pairs) for img, pairs in layout.train_labels),
    )
    for split in EVAL_SPLITS:
        _write_lines(out / f"query_{split}.txt", (f"{i} {a} {v}" for i, a, v in layout.queries[split]))
        _write_lines(out / f"candidate_{split}.txt", (f"{i} {a} {v}" for i, a, v in layout.candidates[split]))
    try:
        return load_split_files(out)
    except DataError as exc:
        raise PrepareError(f"the layout written to {out} does not read back: {exc}") from exc


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


def drop_images(layout: Layout, keep: dict[str, Sequence[bool]]) -> tuple[Layout, dict[str, int]]:
    """Remove the images whose ``keep`` flag is False and renumber the ids of the rest consistently.

    Returns the new layout and, per split file, how many lines (images or items) were excluded.
    """
    new_id: dict[str, dict[int, int]] = {}
    out = Layout()
    excluded: dict[str, int] = {}
    for split in SPLITS:
        flags = keep[split]
        mapping: dict[int, int] = {}
        for old, (name, ok) in enumerate(zip(layout.filenames[split], flags)):
            if ok:
                mapping[old] = len(out.filenames[split])
                out.filenames[split].append(name)
        new_id[split] = mapping
        excluded[f"filenames_{split}.txt"] = len(layout.filenames[split]) - len(mapping)
    ids = new_id["train"]
    out.train_labels = [(ids[i], pairs) for i, pairs in layout.train_labels if i in ids]
    excluded["label_train.txt"] = len(layout.train_labels) - len(out.train_labels)
    for split in EVAL_SPLITS:
        ids = new_id[split]
        for kind, src, dst in (("query", layout.queries, out.queries), ("candidate", layout.candidates, out.candidates)):
            dst[split] = [(ids[i], a, v) for i, a, v in src[split] if i in ids]
            excluded[f"{kind}_{split}.txt"] = len(src[split]) - len(dst[split])
    return out, excluded


# --------------------------------------------------------------------------------------------- splits
def parse_ratio(text: str, parts: int, option: str) -> tuple[int, ...]:
    """Parse ``"8:1:1"`` into positive integers (``parts`` of them), with a clear error otherwise."""
    try:
        nums = tuple(int(t) for t in text.split(":"))
    except ValueError:
        raise PrepareError(f"{option}: expected {parts} integers separated by ':', got {text!r}") from None
    if len(nums) != parts or any(n <= 0 for n in nums):
        raise PrepareError(f"{option}: expected {parts} positive integers separated by ':', got {text!r}")
    return nums


def pattern_from_ratio(names: Sequence[str], ratio: Sequence[int]) -> list[str]:
    """``(train, valid, test), (8, 1, 1)`` -> ``[train]*8 + [valid, test]``."""
    return [name for name, n in zip(names, ratio) for _ in range(n)]


def stratified_cycle(
    items: Sequence[T],
    key: Callable[[T], int],
    pattern: Sequence[str],
    rng: np.random.Generator,
    singletons_to: str | None = None,
) -> dict[str, list[T]]:
    """Seeded systematic sampling stratified by ``key``.

    The items are shuffled, stably sorted by ``key`` (the value), and dealt out along ``pattern``
    (e.g. ``[query, candidate x4]``) from a random offset, so every value is split in the pattern's
    proportions up to one item, and the totals follow the pattern exactly up to one cycle. Each output
    list keeps the shuffled order (ids are not sorted by value).

    ``singletons_to``: a value with a single item goes there directly (used for candidates, so that
    no query lacks a candidate of its value: such a query would score AP 0). With a pattern holding at most
    one query in a row, every query then has at least one candidate of its value.
    """
    order = rng.permutation(len(items))
    ranked = sorted(range(len(items)), key=lambda r: key(items[order[r]]))  # stable: shuffled within value
    offset = int(rng.integers(len(pattern))) if pattern else 0
    picked: dict[str, list[int]] = {name: [] for name in dict.fromkeys(pattern)}
    sizes = Counter(key(it) for it in items) if singletons_to is not None else Counter()
    pos = 0
    for r in ranked:
        if singletons_to is not None and sizes[key(items[order[r]])] == 1:
            picked.setdefault(singletons_to, []).append(r)
            continue
        picked[pattern[(pos + offset) % len(pattern)]].append(r)
        pos += 1
    return {name: [items[order[r]] for r in sorted(rs)] for name, rs in picked.items()}


# --------------------------------------------------------------------------------------------- images
def check_image(path: str | Path) -> str | None:
    """None when ``path`` is a readable image; otherwise the reason (``missing``, ``cannot decode ...``).

    Uses PIL ``verify()`` (structure) and then ``load()`` (full decode, which catches truncation).
    """
    path = Path(path)
    if not path.is_file():
        return "missing" if not path.exists() else "not a file"
    try:
        with Image.open(path) as img:
            img.verify()
        with Image.open(path) as img:
            img.load()
    except Exception as exc:  # PIL raises many types for bad files; all mean "not a usable image"
        return f"cannot decode ({type(exc).__name__}: {exc})"
    return None


def check_image_bytes(data: bytes) -> str | None:
    """Like :func:`check_image` for bytes in memory."""
    if not data:
        return "empty body"
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.verify()
        with Image.open(io.BytesIO(data)) as img:
            img.load()
    except Exception as exc:
        return f"cannot decode ({type(exc).__name__}: {exc})"
    return None


def check_images(
    paths: Sequence[Path], workers: int = 4, progress: bool = True, desc: str = "verifying images"
) -> list[str | None]:
    """:func:`check_image` for many paths in a thread pool (PIL decodes outside the GIL), with tqdm."""
    if not paths:
        return []
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        return list(tqdm(pool.map(check_image, paths, chunksize=64), total=len(paths), desc=desc, disable=not progress))


def safe_relpath(rel: str, where: str) -> str:
    """Check that ``rel`` is a relative path that stays inside its folder (no ``..``, not absolute)."""
    p = PurePosixPath(rel.replace("\\", "/"))
    if not rel or p.is_absolute() or ".." in p.parts or rel.startswith("~"):
        raise PrepareError(f"{where}: unsafe image path {rel!r} (must be relative, without '..')")
    return p.as_posix()


def place_image(src: Path, out: Path, rel: str, mode: str) -> str:
    """Make ``src`` reachable from the dataset folder ``out`` and return the path to write in
    ``filenames_*.txt`` (relative to ``out``).

    * ``symlink``: ``out/rel`` becomes a symlink to the absolute ``src`` (nothing is done when ``out/rel``
      already is ``src``, e.g. when the dataset was extracted into ``out``);
    * ``copy``: ``src`` is copied to ``out/rel`` (through a temporary name);
    * ``none``: nothing is created; the returned path is ``src`` relative to ``out`` (may contain ``..``).
    """
    if mode == "none":
        return Path(os.path.relpath(os.path.abspath(src), os.path.abspath(out))).as_posix()
    if mode not in LINK_MODES:
        raise PrepareError(f"unknown --link mode {mode!r} (choose from {', '.join(LINK_MODES)})")
    dest = out / rel
    if dest.exists() or dest.is_symlink():
        if dest.exists() and os.path.samefile(dest, src):
            return rel
        if dest.is_symlink():
            dest.unlink()
        elif mode == "copy" and dest.is_file():
            pass  # overwritten below through a temporary name
        else:
            raise PrepareError(f"refusing to replace {dest}: it exists and is not {src} (remove it or choose another --out)")
    dest.parent.mkdir(parents=True, exist_ok=True)
    if mode == "symlink":
        os.symlink(os.path.abspath(src), dest)
    else:
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
        os.close(fd)
        try:
            shutil.copyfile(src, tmp)
            os.replace(tmp, dest)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    return rel


class ImageIndex:
    """Find an image by its last ``depth`` path components under some folders (built lazily, once).

    Used when the authors' split files name images with a different prefix than the local copy
    (e.g. ``test/Images/skirt_length_labels/x.jpg`` vs ``base/Images/skirt_length_labels/x.jpg``).
    """

    def __init__(self, roots: Sequence[Path], depth: int = 2, suffixes: Sequence[str] = (".jpg", ".jpeg", ".png")) -> None:
        self.roots, self.depth, self.suffixes = list(roots), depth, tuple(s.lower() for s in suffixes)
        self._index: dict[str, Path | None] | None = None

    def _build(self) -> dict[str, Path | None]:
        index: dict[str, Path | None] = {}
        for root in self.roots:
            for dirpath, _dirs, files in os.walk(root, followlinks=False):
                for f in files:
                    if f.lower().endswith(self.suffixes):
                        p = Path(dirpath) / f
                        key = "/".join(p.parts[-self.depth :])
                        if key in index and (index[key] is None or os.path.realpath(index[key]) != os.path.realpath(p)):
                            index[key] = None  # two different files: ambiguous, not guessed
                        elif key not in index:
                            index[key] = p
        return index

    def find(self, rel: str) -> Path | None:
        if self._index is None:
            self._index = self._build()
        key = "/".join(PurePosixPath(rel).parts[-self.depth :])
        return self._index.get(key)


# ------------------------------------------------------------------------------ authors' split files
def _folder(path: str | PurePosixPath) -> str:
    """A folder inside a source as a posix string, ``""`` for the top level."""
    text = PurePosixPath(path).as_posix()
    return "" if text in (".", "") else text


def _choose_dir(candidates: list[str], dataset: str, src: Path) -> str:
    if not candidates:
        raise PrepareError(f"{src}: no filenames_train.txt found (expected the split files: {', '.join(LAYOUT_FILES)})")
    if len(candidates) == 1:
        return candidates[0]
    named = [c for c in candidates if dataset.lower() in c.lower()]
    if len(named) == 1:
        return named[0]
    raise PrepareError(
        f"{src}: several folders hold split files ({', '.join(c or '.' for c in candidates)}); "
        f"none or several of them name {dataset!r}; extract the right one and pass that folder"
    )


def read_split_source(
    src: str | Path, dataset: str, extra_meta: dict | None = None
) -> tuple[dict[str, str], str]:
    """Read the eight split files from a folder, a ``.zip`` or a ``.tar[.gz]``.

    The files may sit in a sub-folder (the authors' archives hold one folder per dataset); when several
    folders hold split files, the one whose path names ``dataset`` is used. Returns ``(texts, origin)``.
    When ``extra_meta`` is a dict and a ``meta.json`` sits beside the split files (or at the top level),
    its parsed content is stored there under ``"meta"`` (see :func:`authors_value_names`).
    """
    meta_raw: dict = {}
    src = Path(src)
    if not src.exists():
        raise PrepareError(f"split files not found: {src} (pass a folder, .zip or .tar.gz holding {LAYOUT_FILES[0]} ...)")
    texts: dict[str, bytes] = {}
    if src.is_dir():
        cands = []
        for dirpath, dirs, files in os.walk(src):
            depth = len(Path(dirpath).relative_to(src).parts)
            if depth >= 3:
                dirs[:] = []
            dirs[:] = [d for d in dirs if not d.startswith(".") and d.lower() not in ("images", "img")]
            if "filenames_train.txt" in files:
                cands.append(_folder(Path(dirpath).relative_to(src).as_posix()))
        chosen = _choose_dir(sorted(cands), dataset, src)
        base = src / chosen
        for name in LAYOUT_FILES:
            if (base / name).is_file():
                texts[name] = (base / name).read_bytes()
        for cand in (base / "meta.json", src / "meta.json"):
            if cand.is_file():
                meta_raw["meta"] = _load_json_bytes(cand.read_bytes())
                break
        origin = str(base)
    elif zipfile.is_zipfile(src):
        with zipfile.ZipFile(src) as zf:
            names = [n for n in zf.namelist() if not n.endswith("/")]
            cands = sorted({_folder(PurePosixPath(n).parent) for n in names if PurePosixPath(n).name == "filenames_train.txt"})
            chosen = _choose_dir(cands, dataset, src)
            for name in LAYOUT_FILES:
                member = f"{chosen}/{name}" if chosen else name
                if member in names:
                    texts[name] = zf.read(member)
            for member in (f"{chosen}/meta.json" if chosen else "meta.json", "meta.json"):
                if member in names:
                    meta_raw["meta"] = _load_json_bytes(zf.read(member))
                    break
        origin = f"{src}:{chosen}" if chosen else str(src)
    elif tarfile.is_tarfile(src):
        with tarfile.open(src) as tf:
            members = {PurePosixPath(m.name).as_posix(): m for m in tf.getmembers() if m.isfile()}
            cands = sorted({_folder(PurePosixPath(n).parent) for n in members if PurePosixPath(n).name == "filenames_train.txt"})
            chosen = _choose_dir(cands, dataset, src)
            for name in LAYOUT_FILES:
                member = f"{chosen}/{name}" if chosen else name
                if member in members:
                    fh = tf.extractfile(members[member])
                    texts[name] = fh.read() if fh else b""
            for member in (f"{chosen}/meta.json" if chosen else "meta.json", "meta.json"):
                if member in members:
                    fh = tf.extractfile(members[member])
                    meta_raw["meta"] = _load_json_bytes(fh.read() if fh else b"")
                    break
        origin = f"{src}:{chosen}" if chosen else str(src)
    else:
        raise PrepareError(f"{src}: not a folder, zip or tar archive of split files")
    missing = [n for n in LAYOUT_FILES if n not in texts]
    if extra_meta is not None:
        extra_meta.update(meta_raw)
    if missing:
        raise PrepareError(f"{origin}: split files missing: {', '.join(missing)}")
    decoded = {}
    for name, raw in texts.items():
        try:
            decoded[name] = raw.decode("utf-8-sig").replace("\r\n", "\n")
        except UnicodeDecodeError as exc:
            raise PrepareError(f"{origin}/{name}: not UTF-8 text ({exc})") from exc
    return decoded, origin


def _load_json_bytes(raw: bytes) -> object:
    try:
        return json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None  # an unreadable authors' meta.json is ignored: ours is written anyway


def authors_value_names(raw: object, dataset: str, num_values: Sequence[int]) -> list[list[str]] | None:
    """Value names from the authors' ``meta.json`` when it describes the same attributes.

    Accepts the ASEN release format (``{"ATTRIBUTES": [...], "ATTRIBUTES_VALUES": {name: [...]}}``, possibly
    nested under the dataset name) and the format of this project. Returns None unless the number of
    attributes and of values per attribute match ``num_values`` exactly.
    """
    if not isinstance(raw, dict):
        return None
    for key in (dataset, dataset.lower(), dataset.upper()):
        if isinstance(raw.get(key), dict):
            raw = raw[key]
            break
    names: list[list[str]] | None = None
    try:
        if "ATTRIBUTES" in raw and "ATTRIBUTES_VALUES" in raw:
            names = [list(map(str, raw["ATTRIBUTES_VALUES"][a])) for a in raw["ATTRIBUTES"]]
        elif "attributes" in raw and "value_names" in raw:
            names = [list(map(str, v)) for v in raw["value_names"]]
    except (KeyError, TypeError):
        return None
    if names is None or [len(v) for v in names] != list(num_values):
        return None
    return names


def install_split_files(texts: dict[str, str], out: Path, meta: dict, origin: str) -> SplitFiles:
    """Write the authors' split files and our ``meta.json`` into ``out`` and parse them (validated)."""
    out.mkdir(parents=True, exist_ok=True)
    write_meta(out, meta)
    for name in LAYOUT_FILES:
        text = texts[name]
        (out / name).write_text(text if text.endswith("\n") or not text else text + "\n")
    try:
        return load_split_files(out)
    except DataError as exc:
        raise PrepareError(f"{exc} (split file copied from {origin})") from exc


def resolve_split_images(
    sf: SplitFiles,
    resolve: Callable[[str], Path | None],
    out: Path,
    meta: dict,
    problems: Problems,
    link: str = "symlink",
    verify: bool = False,
    workers: int = 4,
    progress: bool = True,
) -> tuple[SplitFiles, dict[str, int]]:
    """Check every image named by parsed split files, place the found ones (see :func:`place_image`),
    drop the missing or unreadable ones (``--skip-bad``; ids renumbered) and rewrite the layout.

    Returns the re-read split files and the number of excluded lines per split file.
    """
    layout = layout_from_split_files(sf)
    sources: dict[str, list[Path | None]] = {}
    for split in SPLITS:
        listing = out / f"filenames_{split}.txt"
        found: list[Path | None] = []
        for lineno, name in enumerate(tqdm(layout.filenames[split], desc=f"locating {split} images", disable=not progress), 1):
            if link != "none":
                safe_relpath(name, f"{listing}, line {lineno}")
            path = resolve(name)
            if path is None:
                problems.defer("missing image", f"{listing}, line {lineno}: image not found: {name}")
            found.append(path)
        sources[split] = found
    if verify:
        for split in SPLITS:
            listing = out / f"filenames_{split}.txt"
            idx = [i for i, p in enumerate(sources[split]) if p is not None]
            reasons = check_images([sources[split][i] for i in idx], workers, progress, f"verifying {split} images")
            for i, reason in zip(idx, reasons):
                if reason is not None:
                    problems.defer("corrupt image", f"{listing}, line {i + 1}: {sources[split][i]}: {reason}")
                    sources[split][i] = None
    problems.flush()
    keep = {s: [p is not None for p in sources[s]] for s in SPLITS}
    for split in SPLITS:
        for i, path in enumerate(sources[split]):
            if path is not None:
                layout.filenames[split][i] = place_image(path, out, layout.filenames[split][i], link)
    layout, excluded = drop_images(layout, keep)
    return write_layout(out, layout, meta), excluded


def format_excluded(excluded: dict[str, int]) -> str:
    """One line per split file: how many lines were excluded."""
    if not any(excluded.values()):
        return "excluded: nothing (every referenced image is present)"
    rows = [f"  {name}: {n} line(s) excluded" for name, n in excluded.items()]
    return "excluded because their image is missing or unreadable (ids renumbered):\n" + "\n".join(rows)


# --------------------------------------------------------------------------------------------- counts
def count_table(sf: SplitFiles) -> dict:
    """Counts per split, attribute and value of parsed split files (what ``counts.json`` holds).

    ``train`` counts labelled (image, attribute) pairs; ``query_<split>`` / ``candidate_<split>`` count
    evaluation items.
    """
    meta = sf.meta
    columns: dict[str, np.ndarray] = {"train": sf.train_labels}
    for split in EVAL_SPLITS:
        if split in sf.queries:
            columns[f"query_{split}"] = sf.queries[split]
            columns[f"candidate_{split}"] = sf.candidates[split]
    attrs = []
    for a, name in enumerate(meta.attributes):
        values = []
        per_col = {}
        for col, arr in columns.items():
            sel = arr[arr[:, 1] == a]
            per_col[col] = np.bincount(sel[:, 2], minlength=meta.num_values[a]).tolist() if len(sel) else [0] * meta.num_values[a]
        for v, vname in enumerate(meta.value_names[a]):
            values.append({"value": vname, **{col: per_col[col][v] for col in columns}})
        attrs.append({"attribute": name, "num_values": meta.num_values[a], **{col: int(sum(per_col[col])) for col in columns}, "values": values})
    return {
        "dataset": meta.name,
        "images": {s: len(names) for s, names in sf.filenames.items()},
        "items": {col: int(len(arr)) for col, arr in columns.items()},
        "attributes": attrs,
    }


def format_counts(counts: dict, per_value: bool = True) -> str:
    """A plain-text table of :func:`count_table` (per attribute, and per value when ``per_value``)."""
    cols = [c for c in ("train", "query_valid", "candidate_valid", "query_test", "candidate_test") if c in counts["items"]]
    heads = {"train": "train", "query_valid": "valid q", "candidate_valid": "valid c", "query_test": "test q", "candidate_test": "test c"}
    rows = []
    for attr in counts["attributes"]:
        rows.append((f"{attr['attribute']} ({attr['num_values']} values)", [attr[c] for c in cols]))
        if per_value:
            for val in attr["values"]:
                rows.append((f"  {val['value']}", [val[c] for c in cols]))
    rows.append(("total", [counts["items"][c] for c in cols]))
    width = max([len(r[0]) for r in rows] + [9])
    lines = [f"{'attribute / value':<{width}}  " + "  ".join(f"{heads[c]:>9}" for c in cols)]
    lines.append("-" * len(lines[0]))
    for label, nums in rows:
        lines.append(f"{label:<{width}}  " + "  ".join(f"{n:>9}" for n in nums))
    imgs = counts["images"]
    lines.append("images: " + ", ".join(f"{s} {n}" for s, n in imgs.items()))
    return "\n".join(lines)


def print_summary(result: dict, out: Path, splits_given: bool, per_value: bool = True, note: str = "") -> None:
    """What a prepare script prints at the end: the count table, what the authors' splits lost (when used),
    every counted skip, and where the output went."""
    print(format_counts(result["counts"], per_value=per_value))
    if splits_given:
        print(format_excluded(result["excluded"]))
    report = result["problems"].report()
    if report:
        print(report)
    print(f"wrote {out} (split files, meta.json, counts.json{note})")
    if not splits_given:
        print(SEEDED_SPLIT_WARNING.format(out=out), file=sys.stderr)


SEEDED_SPLIT_WARNING = (
    "\n*** NOTE: {out} holds a seeded split made by this script, not the authors' split files. Valid and test MAP "
    "measured on it are NOT comparable with the published numbers (other images, other queries). For comparable "
    "figures, rerun with --splits <the authors' split files>. `asen evaluate` repeats this note. ***\n"
)


def write_counts(out: Path, counts: dict, extra: dict | None = None) -> Path:
    """Write ``counts.json`` (the table plus ``extra``, e.g. the skip report) into ``out``."""
    path = Path(out) / "counts.json"
    path.write_text(json.dumps({**counts, **(extra or {})}, indent=1, ensure_ascii=False) + "\n")
    return path


# ------------------------------------------------------------------------------------------------ CLI
def add_common_arguments(parser: argparse.ArgumentParser, link: bool = True, split_options: bool = True) -> None:
    """Options shared by the prepare scripts."""
    if split_options:
        parser.add_argument("--seed", type=int, default=0, help="seed of the split (default 0)")
        parser.add_argument(
            "--ratio", default="8:1:1", help="train:valid:test proportions of the seeded split (default 8:1:1)"
        )
        parser.add_argument(
            "--query-ratio", default="1:4", help="query:candidate proportions within valid and test (default 1:4)"
        )
    parser.add_argument(
        "--skip-bad",
        action="store_true",
        help="skip malformed lines and missing/corrupt images, counting them by reason (default: stop with an error)",
    )
    parser.add_argument(
        "--verify-images", action="store_true", help="decode every image with PIL and treat unreadable ones as bad"
    )
    parser.add_argument("--workers", type=int, default=min(8, os.cpu_count() or 1), help="threads for image checks")
    parser.add_argument("--no-progress", action="store_true", help="no tqdm progress bars")
    if link:
        parser.add_argument(
            "--link",
            choices=LINK_MODES,
            default="symlink",
            help="how the output folder reaches the images: symlink each (default), copy each, or none "
            "(write paths relative to the output folder)",
        )


def run_cli(fn: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """Run a script body; bad input (:class:`DataError`) becomes ``error: ...`` on stderr and exit 2."""
    try:
        return fn(args)
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
