"""Prepare DeepFashion (Category and Attribute Prediction benchmark) in the split-file layout.

Input: the benchmark folder, holding

* ``Anno/list_attr_cloth.txt``: line 1 the number N of attributes, line 2 a header
  (``attribute_name  attribute_type``), then N lines ``<attribute name, may contain spaces> <type>`` with
  the type an integer 1..5 at the end of the line (1 texture, 2 fabric, 3 shape, 4 part, 5 style);
* ``Anno/list_attr_img.txt``: line 1 the number M of images, line 2 a header, then M lines
  ``img/<folder>/<file>.jpg`` followed by N values in {-1, 1} (older releases use 0 for absent); 1 means
  the attribute is present;
* the images under ``img/``.

The current release names the annotation folder ``Anno_coarse/`` (read the same way; its ``Anno_fine/`` holds a
different, 26-attribute set).

The N attributes are grouped into ASEN's five attributes, the types: the values of a type are the
attribute names of that type in file order (156, 218, 180, 216, 230 in the published release). Every image
is labelled with every (type, value) it has; images without any attribute are left out (counted).

Output (``--out``, default ``data/DeepFashion``): the split files, ``meta.json`` and ``counts.json``,
readable by :func:`asen.layout.load_split_files`. Two modes:

* default: a seeded split by image, 80/10/10 % (``--ratio``); a training line lists every pair of its
  image (``image_id attr value attr value ...``); in valid and test every (image, type) the image has is
  one evaluation item, queries:candidates = 1:4 per type (``--query-ratio``), stratified by value (a
  value with a single item in a split is a candidate, so that no query lacks a relevant candidate). An
  evaluation item has one value, so when an image has several values of a type one of them is chosen at
  random (seeded) - the layout's limitation, as in the reference.
* ``--splits FILE_OR_FOLDER``: the authors' split files are copied and their images checked.

Bad input: in ``list_attr_img.txt`` a line with the wrong number of values, a value not in {-1, 0, 1},
an image listed twice, a header count that does not match, or a missing image is an error naming the file and
line; with ``--skip-bad`` it is skipped and counted. Problems in ``list_attr_cloth.txt`` are always errors (a skipped
attribute line would shift every column of ``list_attr_img.txt``).

Example::

    python -m data_scripts.prepare_deepfashion data/raw/DeepFashion/Category_and_Attribute --out data/DeepFashion
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

if not __package__:  # run as a file, where `data_scripts` cannot be imported
    sys.exit("error: run it from the repository root as a module: python -m data_scripts.prepare_deepfashion [...]")

import numpy as np
from tqdm import tqdm

from asen.layout import SPLITS, Layout, meta_dict, split_mode
from data_scripts._common import (
    PrepareError, Problems, add_common_arguments, authors_value_names, decode_line, defer_undecodable, image_finder,
    install_authors_splits, make_output_folder, pattern_from_ratio, place_image, prepare_options, print_summary,
    read_split_source, run_main, safe_relpath, script_parser, stratified_cycle, write_layout, write_result,
)

DATASET = "DeepFashion"
TYPES = {1: "texture", 2: "fabric", 3: "shape", 4: "part", 5: "style"}
ATTRIBUTES = tuple(TYPES.values())
PUBLISHED_NUM_VALUES = (156, 218, 180, 216, 230)
ALLOWED = frozenset({"-1", "0", "1"})


def _short(text: str, limit: int = 100) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def _read_count(path: Path, first: str) -> int:
    try:
        return int(first.split()[0])
    except (ValueError, IndexError):
        raise PrepareError(f"{path}, line 1: expected the number of entries, got {_short(first)!r}") from None


ANNOTATION_FOLDERS = ("Anno", "Anno_coarse")
"""Where the benchmark keeps its 1,000-attribute files: ``Anno/`` in the first release, ``Anno_coarse/`` in the
current one (whose ``Anno_fine/`` holds a 26-attribute subset, not the paper's attributes)."""


ANNOTATION_HELP = ("(expected the DeepFashion Category and Attribute Prediction benchmark's Anno/ folder, Anno_coarse/ "
                   "in its current release; Anno_fine/ holds another, 26-attribute set)")
"""What a missing annotation file's message adds."""


def annotation_folder(root: Path) -> Path:
    """The folder of ``root`` holding ``list_attr_cloth.txt`` (:data:`ANNOTATION_FOLDERS`, first found; ``Anno``
    when none does, for the missing-file message)."""
    for name in ANNOTATION_FOLDERS:
        if (root / name / "list_attr_cloth.txt").is_file():
            return root / name
    return root / ANNOTATION_FOLDERS[0]


def read_attr_cloth(path: str | Path) -> list[tuple[str, int]]:
    """``list_attr_cloth.txt`` -> ``[(attribute name, type 1..5)]`` in column order. Every problem is an
    error (file + line): the column positions of ``list_attr_img.txt`` depend on every line."""
    path = Path(path)
    if not path.is_file():
        raise PrepareError(f"missing file: {path} {ANNOTATION_HELP}")
    lines = []
    for lineno, raw in enumerate(path.read_bytes().splitlines(), 1):
        text = decode_line(raw, lineno)
        if text is None:
            raise PrepareError(f"{path}, line {lineno}: not UTF-8 text: {raw[:80]!r}")
        lines.append(text)
    if not lines:
        raise PrepareError(f"{path}: empty file")
    n = _read_count(path, lines[0])
    start = 2 if len(lines) > 1 and lines[1].strip().lower().startswith("attribute_name") else 1
    attrs: list[tuple[str, int]] = []
    for lineno, line in enumerate(lines[start:], start + 1):
        if not line.strip():
            continue
        parts = line.rstrip().rsplit(None, 1)
        if len(parts) != 2 or not parts[1].lstrip("-").isdigit():
            raise PrepareError(f"{path}, line {lineno}: expected '<attribute name> <type 1..5>', got {_short(line)!r}")
        name, typ = parts[0].strip(), int(parts[1])
        if typ not in TYPES:
            raise PrepareError(f"{path}, line {lineno}: attribute type {typ} not in 1..5 ({', '.join(f'{k}={v}' for k, v in TYPES.items())}): {_short(line)!r}")
        attrs.append((name, typ))
    if len(attrs) != n:
        raise PrepareError(f"{path}, line 1: header says {n} attributes but {len(attrs)} attribute lines follow")
    return attrs


def type_maps(attrs: Sequence[tuple[str, int]]) -> tuple[list[tuple[int, int]], list[list[str]]]:
    """Column -> (type index 0..4, value index within the type), and the value names of each type."""
    names: list[list[str]] = [[] for _ in TYPES]
    col_map = []
    for name, typ in attrs:
        t = typ - 1
        col_map.append((t, len(names[t])))
        names[t].append(name)
    return col_map, names


def read_attr_img(
    path: str | Path, n_attrs: int, problems: Problems, progress: bool = True
) -> list[tuple[str, list[int], int]]:
    """``list_attr_img.txt`` -> ``[(image path, present columns, line number)]``. Bad lines (wrong number
    of values, a value not in {-1, 0, 1}, a bad path, an image listed again) and a header count mismatch raise or
    are counted (a repeated line is counted once in the header check, as the file lists it)."""
    path = Path(path)
    if not path.is_file():
        raise PrepareError(f"missing file: {path} {ANNOTATION_HELP}")
    rows: list[tuple[str, list[int], int]] = []
    seen: dict[str, int] = {}  # image path -> line: an image listed twice could land in train and in test
    n_lines = 0
    with open(path, "rb") as fh:
        first = decode_line(fh.readline(), 1)
        if first is None:
            raise PrepareError(f"{path}, line 1: not UTF-8 text (expected the number of images)")
        m = _read_count(path, first)
        lineno = 1
        for raw in tqdm(fh, total=m + 1, desc=f"reading {path.name}", unit=" lines", disable=not progress):
            lineno += 1
            line = decode_line(raw, lineno)
            if line is None:
                problems.bad("bad line", f"{path}, line {lineno}: not UTF-8 text: {raw[:80]!r}")
                continue
            toks = line.split()
            if not toks:
                continue
            if lineno == 2 and toks[0].lower().startswith("image_name"):
                continue
            n_lines += 1
            where = f"{path}, line {lineno}"
            rel, vals = toks[0], toks[1:]
            if len(vals) != n_attrs:
                problems.bad("wrong number of values", f"{where}: expected {n_attrs} values after the image path, got {len(vals)}: {_short(line.strip())!r}")
                continue
            odd = set(vals) - ALLOWED
            if odd:
                problems.bad("bad value", f"{where}: value(s) {', '.join(sorted(odd)[:3])} not in {{-1, 0, 1}}: {_short(line.strip())!r}")
                continue
            try:
                rel = safe_relpath(rel, where)
            except PrepareError as exc:
                problems.bad("bad image path", str(exc))
                continue
            if rel in seen:
                problems.bad("duplicate image",
                             f"{where}: image {rel} already listed on line {seen[rel]}: {_short(line.strip())!r}")
                continue
            seen[rel] = lineno
            rows.append((rel, [i for i, v in enumerate(vals) if v == "1"], lineno))
    if n_lines != m:
        problems.bad("header count mismatch", f"{path}, line 1: header says {m} images but {n_lines} image lines follow")
    return rows


def build_layout(
    images: Sequence[tuple[str, list[tuple[int, int]]]],
    seed: int,
    ratio: Sequence[int] = (8, 1, 1),
    query_ratio: Sequence[int] = (1, 4),
) -> Layout:
    """Seeded split by image; train lines carry every pair; per type, one (random) value per image is an
    evaluation item, split query/candidate by ``query_ratio`` stratified by value."""
    rng = np.random.default_rng(seed)
    ordered = sorted(images)
    parts = stratified_cycle(ordered, lambda _: 0, pattern_from_ratio(SPLITS, ratio), rng)
    qc_pattern = pattern_from_ratio(("query", "candidate"), query_ratio)
    layout = Layout()
    for split in SPLITS:
        per_type: dict[int, list[tuple[int, int, int]]] = {t: [] for t in range(len(TYPES))}
        for name, pairs in parts.get(split, []):
            img = len(layout.filenames[split])
            layout.filenames[split].append(name)
            if split == "train":
                layout.train_labels.append((img, list(pairs)))
                continue
            by_type: dict[int, list[int]] = {}
            for t, v in pairs:
                by_type.setdefault(t, []).append(v)
            for t, values in sorted(by_type.items()):
                v = values[0] if len(values) == 1 else int(rng.choice(values))
                per_type[t].append((img, t, v))
        if split == "train":
            continue
        for t, items in per_type.items():
            if items:
                qc = stratified_cycle(items, lambda it: it[2], qc_pattern, rng, singletons_to="candidate")
                layout.queries[split].extend(qc.get("query", []))
                layout.candidates[split].extend(qc.get("candidate", []))
        layout.queries[split].sort()
        layout.candidates[split].sort()
    return layout


def deepfashion_meta(value_names: Sequence[Sequence[str]]) -> dict:
    """``meta.json``: the five types with their attribute names as values."""
    return meta_dict(DATASET, ATTRIBUTES, [len(v) for v in value_names], value_names)


def prepare(
    root: str | Path,
    out: str | Path,
    *,
    splits: str | Path | None = None,
    link: str = "symlink",
    seed: int = 0,
    ratio: Sequence[int] = (8, 1, 1),
    query_ratio: Sequence[int] = (1, 4),
    skip_bad: bool = False,
    verify_images: bool = False,
    workers: int = 4,
    progress: bool = True,
) -> dict:
    """Write the DeepFashion layout into ``out``; returns ``{"counts", "problems", "excluded"}``."""
    root, out = Path(root), Path(out)
    if root.is_file():  # e.g. the downloaded archive itself
        raise PrepareError(f"{root} is a file, not the benchmark folder: unpack it and pass the folder holding "
                           "Anno/ (or Anno_coarse/) and img/")
    if not root.is_dir():
        raise PrepareError(f"DeepFashion folder not found: {root}")
    make_output_folder(out)
    problems = Problems(skip_bad)
    anno = annotation_folder(root)
    cloth = anno / "list_attr_cloth.txt"
    excluded: dict[str, int] = {}
    if splits is not None:
        extra: dict = {}
        texts, origin = read_split_source(splits, DATASET, extra)
        if cloth.is_file():
            value_names = type_maps(read_attr_cloth(cloth))[1]
        else:
            value_names = authors_value_names(extra.get("meta"), DATASET, PUBLISHED_NUM_VALUES) or [
                [str(v) for v in range(n)] for n in PUBLISHED_NUM_VALUES
            ]
            problems.note(f"{cloth} not found: value names taken from the authors' meta.json or numbered")
        meta = deepfashion_meta(value_names)
        sf, excluded = install_authors_splits(
            texts, origin, out, meta, problems, image_finder(out, [root]),
            link=link, verify=verify_images, workers=workers, progress=progress,
        )
    else:
        attrs = read_attr_cloth(cloth)
        col_map, value_names = type_maps(attrs)
        empty = [ATTRIBUTES[t] for t, v in enumerate(value_names) if not v]
        if empty:
            raise PrepareError(f"{cloth}: no attribute of type(s) {', '.join(empty)}")
        meta = deepfashion_meta(value_names)
        if tuple(len(v) for v in value_names) != PUBLISHED_NUM_VALUES:
            problems.note(
                f"values per type {[len(v) for v in value_names]} differ from the published "
                f"{list(PUBLISHED_NUM_VALUES)} (texture, fabric, shape, part, style)"
            )
        rows = read_attr_img(anno / "list_attr_img.txt", len(attrs), problems, progress)
        no_attr = sum(1 for _, cols, _ in rows if not cols)
        if no_attr:
            problems.note(f"{no_attr} image(s) without any attribute left out")
        rows = [r for r in rows if r[1]]
        found = []
        for rel, cols, lineno in tqdm(rows, desc="checking images exist", unit=" img", disable=not progress):
            if (root / rel).is_file():
                found.append((rel, cols, lineno))
            else:
                problems.defer("missing image", f"{anno / 'list_attr_img.txt'}, line {lineno}: image not found: {root / rel}")
        if verify_images:
            where = anno / "list_attr_img.txt"
            entries = [(f"{where}, line {n}", root / rel) for rel, _, n in found]
            usable = defer_undecodable(entries, problems, workers, progress)
            found = [f for f, good in zip(found, usable) if good]
        problems.flush()
        if not found:
            raise PrepareError("no usable labelled images (every line was skipped or has no attribute)")
        images = []
        for rel, cols, _ in tqdm(found, desc=f"placing images ({link})", disable=not progress):
            name = place_image(root / rel, out, rel, link)
            images.append((name, sorted(col_map[c] for c in cols)))
        sf = write_layout(out, build_layout(images, seed, ratio, query_ratio), meta)
    return write_result(out, sf, problems, excluded, mode=split_mode(seed if splits is None else None))


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser(
        "prepare_deepfashion.py",
        "Write DeepFashion (Category and Attribute Prediction) in the split-file layout of asen.layout.",
    )
    parser.add_argument("root", type=Path, help="benchmark folder holding Anno/ (or Anno_coarse/) list_attr_cloth.txt and list_attr_img.txt, and img/")
    parser.add_argument("--out", type=Path, default=Path("data/DeepFashion"), help="output dataset folder")
    parser.add_argument("--splits", type=Path, default=None, help="the authors' split files (folder, .zip or .tar.gz)")
    parser.add_argument("--print-values", action="store_true", help="print the count table per value too (1000 rows)")
    add_common_arguments(parser)
    return parser


def _run(args: argparse.Namespace) -> int:
    result = prepare(args.root, args.out, **prepare_options(args))
    print_summary(result, args.out, args.splits is not None, per_value=args.print_values, note="; per-value counts in counts.json")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status (2 on bad input)."""
    return run_main(build_parser, _run, argv)


if __name__ == "__main__":
    sys.exit(main())
