"""Code shared by the three prepare scripts: seeded stratified splits, image placement, reading the authors' split
files, counting and reporting problems, and the scripts' command-line plumbing.

The layout is written by :mod:`asen.layout` (:func:`asen.layout.write_split_files`, the SynthFashion generator's
writer too), and every writer here ends by reading the files back with :func:`asen.layout.load_split_files`, so a
layout that the training code would reject is never left behind silently.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tarfile
import tempfile
import zipfile
from collections import Counter, defaultdict
from pathlib import Path, PurePosixPath
from typing import Callable, Sequence, TypeVar

import numpy as np
from tqdm import tqdm

from asen.layout import (
    EVAL_SPLITS,
    META_FILE,
    SPLIT_FILES,
    SPLITS,
    DataError,
    Layout,
    SplitFiles,
    filenames_file,
    image_problems,
    layout_from_split_files,
    load_split_files,
    meta_json,
    write_counts,
    write_files,
    write_split_files,
)

T = TypeVar("T")

LAYOUT_FILES = SPLIT_FILES  # the eight split files a source of the authors' splits must hold
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
def write_layout(out: str | Path, layout: Layout, meta: dict) -> SplitFiles:
    """Write the eight split files and ``meta.json`` into ``out`` (:func:`asen.layout.write_split_files`), then read
    them back with :func:`asen.layout.load_split_files` (which validates every line) and return the result."""
    write_split_files(out, layout, meta)
    try:
        return load_split_files(out)
    except DataError as exc:
        raise PrepareError(f"the layout written to {out} does not read back: {exc}") from exc


def make_output_folder(out: Path) -> None:
    """Create the output folder ``out`` (and its parents), or a one-line :class:`PrepareError` saying why not."""
    if out.exists() and not out.is_dir():
        raise PrepareError(f"--out {out} is a file, not a folder: choose another --out")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PrepareError(f"cannot create the output folder {out}: {exc.strerror or exc} (choose another --out)") from None


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
def decode_line(raw: bytes, lineno: int) -> str | None:
    """One line of a release's text file as text (UTF-8; a byte-order mark allowed on line 1), without its line
    end; ``None`` when it is not UTF-8, for the caller to report with the file and line (never replaced)."""
    try:
        return raw.decode("utf-8-sig" if lineno == 1 else "utf-8").rstrip("\r\n")
    except UnicodeDecodeError:
        return None


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
    * ``copy``: ``src`` is copied to ``out/rel`` (through a temporary name); a symlink left there by an earlier
      ``symlink`` run is replaced by the copy (kept, it would break when the release folder is removed);
    * ``none``: nothing is created; the returned path is ``src`` relative to ``out`` (may contain ``..``).
    """
    if mode == "none":
        return Path(os.path.relpath(os.path.abspath(src), os.path.abspath(out))).as_posix()
    if mode not in LINK_MODES:
        raise PrepareError(f"unknown --link mode {mode!r} (choose from {', '.join(LINK_MODES)})")
    dest = out / rel
    if dest.exists() or dest.is_symlink():
        if dest.exists() and os.path.samefile(dest, src) and not (mode == "copy" and dest.is_symlink()):
            return rel
        if dest.is_symlink():
            dest.unlink()
        elif mode == "copy" and dest.is_file():
            pass  # overwritten below through a temporary name
        else:
            raise PrepareError(f"refusing to replace {dest}: it exists and is not {src} (remove it or choose another --out)")
    try:
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
    except OSError as exc:  # a file system without symlinks (exFAT, some network shares), a full disk, ...
        other = "--link copy or --link none" if mode == "symlink" else "--link symlink or --link none, or free space"
        raise PrepareError(f"cannot {'symlink' if mode == 'symlink' else 'copy'} {src} to {dest}: "
                           f"{exc.strerror or exc} (rerun with {other})") from None
    return rel


class ImageIndex:
    """Find an image by its last ``depth`` path components under some folders (built lazily, once).

    Used when the authors' split files name images with a different prefix than the local copy
    (e.g. ``test/Images/skirt_length_labels/x.jpg`` vs ``base/Images/skirt_length_labels/x.jpg``).
    """

    def __init__(self, roots: Sequence[Path], depth: int = 2, suffixes: Sequence[str] = (".jpg", ".jpeg", ".png")) -> None:
        self.roots, self.depth, self.suffixes = list(roots), depth, tuple(s.lower() for s in suffixes)
        self._index: dict[str, Path | None] | None = None
        self._ambiguous: dict[str, set[Path]] = {}
        self.prepared: list[Path] = []  # prepared dataset folders found inside a root, not searched

    def _build(self) -> dict[str, Path | None]:
        index: dict[str, Path | None] = {}
        for root in self.roots:
            for dirpath, dirs, files in os.walk(root, followlinks=False):
                if "filenames_train.txt" in files and Path(dirpath) != Path(root):
                    # a dataset prepared inside the release folder: its images (copies with --link copy) are not
                    # the release's, and would make every image ambiguous
                    self.prepared.append(Path(dirpath))
                    dirs[:] = []
                    continue
                for f in files:
                    if f.lower().endswith(self.suffixes):
                        p = Path(dirpath) / f
                        key = "/".join(p.parts[-self.depth :])
                        if key in index and (index[key] is None or os.path.realpath(index[key]) != os.path.realpath(p)):
                            if index[key] is not None:
                                self._ambiguous[key] = {index[key]}
                            self._ambiguous[key].add(p)
                            index[key] = None  # two different files: ambiguous, not guessed
                        elif key not in index:
                            index[key] = p
        return index

    def _entries(self) -> dict[str, Path | None]:
        if self._index is None:
            self._index = self._build()
        return self._index

    def find(self, rel: str) -> Path | None:
        return self._entries().get(self._key(rel))

    def _key(self, rel: str) -> str:
        return "/".join(PurePosixPath(rel).parts[-self.depth :])

    def why_missing(self, rel: str) -> str:
        """Why :meth:`find` gave nothing for ``rel``: not found, or several different files end in its key."""
        self._entries()  # builds the index, and the ambiguous keys with it
        found = sorted(map(str, self._ambiguous.get(self._key(rel), ())))
        if found:
            return (f"image ambiguous: {len(found)} different files end in {self._key(rel)} ({', '.join(found[:3])}); "
                    "give only the release folder that holds it")
        if self.prepared:
            return f"image not found (not searched: prepared dataset folder(s) {', '.join(map(str, self.prepared[:3]))})"
        return "image not found"


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
        for cand in (src / member for member in _meta_members(chosen)):
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
            for member in _meta_members(chosen):
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
            for member in _meta_members(chosen):
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


def _meta_members(chosen: str) -> list[str]:
    """Where an authors' ``meta.json`` may lie for split files in folder ``chosen`` of a release: in that folder
    or any folder above it, nearest first (their ``data.zip`` holds ``data/meta.json`` beside ``data/<D>/``)."""
    parts = PurePosixPath(chosen).parts if chosen else ()
    return [PurePosixPath(*parts[:k], "meta.json").as_posix() for k in range(len(parts), -1, -1)]


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


def defer_undecodable(
    entries: Sequence[tuple[str, Path]],
    problems: Problems,
    workers: int,
    progress: bool,
    desc: str = "verifying images",
) -> list[bool]:
    """Decode every ``(where, path)`` image (:func:`asen.layout.image_problem`, in threads); each one that does not
    decode is deferred to ``problems`` as a "corrupt image" (``where: path: reason``). Returns which are usable."""
    reasons = image_problems([path for _, path in entries], workers, progress, desc)
    for (where, path), reason in zip(entries, reasons):
        if reason is not None:
            problems.defer("corrupt image", f"{where}: {path}: {reason}")
    return [reason is None for reason in reasons]


def install_authors_splits(
    texts: dict[str, str],
    origin: str,
    out: Path,
    meta: dict,
    problems: Problems,
    resolve: Callable[[str], Path | None],
    link: str = "symlink",
    verify: bool = False,
    workers: int = 4,
    progress: bool = True,
) -> tuple[SplitFiles, dict[str, int]]:
    """The authors' split files (:func:`read_split_source`) into ``out`` (:func:`install_split_files`), their images
    found with ``resolve``, placed, or excluded (:func:`resolve_split_images`). Returns the split files written and
    the lines excluded per file."""
    sf = parse_split_files(texts, out, meta, origin)
    return resolve_split_images(sf, resolve, out, meta, problems, link, verify, workers, progress, origin)


def parse_split_files(texts: dict[str, str], out: Path, meta: dict, origin: str) -> SplitFiles:
    """Parse the authors' split files (validated, with our ``meta.json``) in a scratch folder beside ``out``, which
    is removed again: nothing reaches ``out`` before every image is found (:func:`resolve_split_images`), so a
    run that stops leaves ``out`` as it was. An error names the authors' file (under ``origin``)."""
    make_output_folder(out)
    scratch = Path(tempfile.mkdtemp(prefix=f".{out.name}.splits-", dir=out.parent))
    try:
        ended = {name: texts[name] + ("" if texts[name].endswith("\n") or not texts[name] else "\n")
                 for name in LAYOUT_FILES}
        write_files(scratch, {META_FILE: meta_json(meta), **ended})
        try:
            return load_split_files(scratch)
        except DataError as exc:
            raise PrepareError(str(exc).replace(str(scratch), origin)) from exc
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


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
    origin: str | None = None,
) -> tuple[SplitFiles, dict[str, int]]:
    """Check every image named by parsed split files, place the found ones (see :func:`place_image`),
    drop the missing or unreadable ones (``--skip-bad``; ids renumbered) and write the layout into ``out``.
    Problems name the line of the split file under ``origin`` (default ``out``).

    Returns the re-read split files and the number of excluded lines per split file.
    """
    layout = layout_from_split_files(sf)
    sources: dict[str, list[Path | None]] = {}
    why_missing = getattr(resolve, "why_missing", lambda name: "image not found")
    listings = {split: f"{origin}/{filenames_file(split)}" if origin else out / filenames_file(split)
                for split in SPLITS}
    for split in SPLITS:
        listing = listings[split]
        found: list[Path | None] = []
        for lineno, name in enumerate(tqdm(layout.filenames[split], desc=f"locating {split} images", disable=not progress), 1):
            if link != "none":
                safe_relpath(name, f"{listing}, line {lineno}")
            path = resolve(name)
            if path is None:
                problems.defer("missing image", f"{listing}, line {lineno}: {why_missing(name)}: {name}")
            found.append(path)
        sources[split] = found
    if verify:
        for split in SPLITS:
            listing = listings[split]
            idx = [i for i, p in enumerate(sources[split]) if p is not None]
            entries = [(f"{listing}, line {i + 1}", sources[split][i]) for i in idx]
            usable = defer_undecodable(entries, problems, workers, progress, f"verifying {split} images")
            for i, good in zip(idx, usable):
                if not good:
                    sources[split][i] = None
    problems.flush()
    keep = {s: [p is not None for p in sources[s]] for s in SPLITS}
    for split in SPLITS:
        for i, path in enumerate(sources[split]):
            if path is not None:
                layout.filenames[split][i] = place_image(path, out, layout.filenames[split][i], link)
    layout, excluded = drop_images(layout, keep)
    return write_layout(out, layout, meta), excluded


def image_finder(out: Path, sources: Sequence[Path], depth: int = 2) -> Callable[[str], Path | None]:
    """The ``resolve`` of :func:`resolve_split_images` for images under ``sources``: a split file's name as written
    under ``out`` or one of ``sources``, else looked up by its last ``depth`` components (:class:`ImageIndex`)."""
    index = ImageIndex(sources, depth=depth)
    roots = [out, *sources]

    def resolve(name: str) -> Path | None:
        for root in roots:
            if (root / name).is_file():
                return root / name
        return index.find(name)

    resolve.why_missing = index.why_missing  # type: ignore[attr-defined]  # read by resolve_split_images
    return resolve


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


def write_result(out: Path, sf: SplitFiles, problems: Problems, excluded: dict[str, int], **extra: object) -> dict:
    """A prepare script's last step: ``counts.json`` (the :func:`count_table` of what was written, the skip report,
    the lines excluded and ``extra``) and the result ``{"counts", "problems", "excluded"}``."""
    counts = count_table(sf)
    write_counts(out, counts, {"problems": problems.to_dict(), "excluded": excluded, **extra})
    return {"counts": counts, "problems": problems, "excluded": excluded}


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


# ------------------------------------------------------------------------------------------------ CLI
def script_parser(prog: str, description: str) -> argparse.ArgumentParser:
    """A prepare script's argument parser (defaults shown in ``--help``)."""
    return argparse.ArgumentParser(
        prog=prog, description=description, formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )


def add_common_arguments(parser: argparse.ArgumentParser, link: bool = True, split_options: bool = True) -> None:
    """Options shared by the prepare scripts."""
    if split_options:
        parser.add_argument("--seed", type=int, default=0, help="seed of the split (an integer >= 0)")
        parser.add_argument(
            "--ratio", default="8:1:1", help="train:valid:test proportions of the seeded split"
        )
        parser.add_argument(
            "--query-ratio", default="1:4", help="query:candidate proportions within valid and test"
        )
    parser.add_argument(
        "--skip-bad",
        action="store_true",
        help="skip malformed lines and missing/corrupt images, counting them by reason (without it: stop with an error)",
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
            help="how the output folder reaches the images: symlink each, copy each, or none "
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


def prepare_options(args: argparse.Namespace) -> dict:
    """The keyword arguments of a seeded-split script's ``prepare()`` (FashionAI, DeepFashion) from its options
    (:func:`add_common_arguments` and ``--splits``)."""
    if args.seed < 0:  # numpy's generators take no negative seed (a ValueError deep in the split otherwise)
        raise PrepareError(f"--seed: expected an integer >= 0, got {args.seed}")
    return {
        "splits": args.splits,
        "link": args.link,
        "seed": args.seed,
        "ratio": parse_ratio(args.ratio, 3, "--ratio"),
        "query_ratio": parse_ratio(args.query_ratio, 2, "--query-ratio"),
        "skip_bad": args.skip_bad,
        "verify_images": args.verify_images,
        "workers": args.workers,
        "progress": not args.no_progress,
    }


def run_main(build_parser: Callable[[], argparse.ArgumentParser], body: Callable[[argparse.Namespace], int],
             argv: Sequence[str] | None) -> int:
    """A script's ``main``: parse ``argv`` with ``build_parser()`` and run ``body`` (:func:`run_cli`)."""
    return run_cli(body, build_parser().parse_args(argv))
