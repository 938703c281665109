"""Prepare FashionAI (attribute release of the FashionAI Global Challenge 2018) in the split-file layout.

Input: one or more release folders, each holding ``Annotations/label.csv`` and ``Images/<attribute_key>/*.jpg``.
``label.csv`` has one line per image, ``image_path,attribute_key,label_string``: the path is relative to
the release folder, the key one of the eight ``*_labels`` keys below, and the label string has one
character per value of that attribute (``y`` = the value, ``m`` = maybe, ``n`` = no). The value index is
the position of the single ``y``.

Output (``--out``, default ``data/FashionAI``): ``filenames_{train,valid,test}.txt``, ``label_train.txt``,
``{query,candidate}_{valid,test}.txt``, ``meta.json`` and ``counts.json``, readable by
:func:`asen.layout.load_split_files`. Two modes:

* default: a seeded split. Per attribute, 80/10/10 % (``--ratio``) of its images go to train/valid/test,
  stratified by value; within valid and test, queries:candidates = 1:4 (``--query-ratio``), stratified by
  value (a value with a single image in a split is a candidate, so that no query lacks a relevant
  candidate). The per-attribute proportions then follow the data, as in the authors' split.
* ``--splits FILE_OR_FOLDER``: the authors' split files (a folder, ``.zip`` or ``.tar.gz``) are copied and
  every image they name is checked against the release folders (a path that does not exist as written is
  looked up by its last two components, ``<attribute_key>/<file>``).

Images are referenced in place: ``--link symlink`` (default) creates ``OUT/<path>`` symlinks, ``copy``
copies, ``none`` writes the image paths relative to ``OUT``.

Bad input stops with an error naming the file, line and text; ``--skip-bad`` skips such lines instead and
reports them counted by reason (malformed line, unknown attribute, bad label string, duplicate image,
missing image, corrupt image with ``--verify-images``).

Example::

    python -m data_scripts.prepare_fashionai data/raw/fashionAI/base data/raw/fashionAI/web --out data/FashionAI
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

if not __package__:  # run as a file, where `data_scripts` cannot be imported
    sys.exit("error: run it from the repository root as a module: python -m data_scripts.prepare_fashionai [...]")

import numpy as np
from tqdm import tqdm

from asen.layout import EVAL_SPLITS, SPLITS, Layout, meta_dict, split_mode
from data_scripts._common import (
    PrepareError, Problems, add_common_arguments, decode_line, defer_undecodable, image_finder,
    install_authors_splits, make_output_folder, pattern_from_ratio, place_image, prepare_options, print_summary,
    read_split_source, run_main, safe_relpath, script_parser, stratified_cycle, write_layout, write_result,
)

DATASET = "FashionAI"
ATTRIBUTE_KEYS = (
    "skirt_length_labels",
    "sleeve_length_labels",
    "coat_length_labels",
    "pant_length_labels",
    "collar_design_labels",
    "lapel_design_labels",
    "neckline_design_labels",
    "neck_design_labels",
)
VALUE_NAMES: dict[str, tuple[str, ...]] = {
    "skirt_length": ("Invisible", "Short Length", "Knee Length", "Midi Length", "Ankle Length", "Floor Length"),
    "sleeve_length": (
        "Invisible", "Sleeveless", "Cup Sleeves", "Short Sleeves", "Elbow Sleeves", "3/4 Sleeves",
        "Wrist Length", "Long Sleeves", "Extra Long Sleeves",
    ),
    "coat_length": (
        "Invisible", "High Waist Length", "Regular Length", "Long Length", "Micro Length", "Knee Length",
        "Midi Length", "Ankle&Floor Length",
    ),
    "pant_length": ("Invisible", "Short Pant", "Mid Length", "3/4 Length", "Cropped Pant", "Full Length"),
    "collar_design": ("Invisible", "Shirt Collar", "Peter Pan", "Puritan Collar", "Rib Collar"),
    "lapel_design": ("Invisible", "Notched", "Collarless", "Shawl Collar", "Plus Size Shawl"),
    "neckline_design": (
        "Invisible", "Strapless Neck", "Deep V Neckline", "Straight Neck", "V Neckline", "Square Neckline",
        "Off Shoulder", "Round Neckline", "Sweat Heart Neck", "One Shoulder Neckline",
    ),
    "neck_design": ("Invisible", "Turtle Neck", "Ruffle Semi-High Collar", "Low Turtle Neck", "Draped Collar"),
}
ATTRIBUTES = tuple(k[: -len("_labels")] for k in ATTRIBUTE_KEYS)
NUM_VALUES = tuple(len(VALUE_NAMES[a]) for a in ATTRIBUTES)  # 6, 9, 8, 6, 5, 5, 10, 5


def fashionai_meta() -> dict:
    """``meta.json`` for FashionAI: 8 attributes, 54 values, value 0 of each is "Invisible"."""
    return meta_dict(DATASET, ATTRIBUTES, NUM_VALUES, [VALUE_NAMES[a] for a in ATTRIBUTES])


@dataclass(frozen=True)
class Record:
    """One labelled image of ``label.csv``."""

    source: Path  # release folder
    rel: str  # image path relative to the release folder, as in label.csv
    attr: int
    value: int
    where: str  # "label.csv, line N" for messages

    @property
    def path(self) -> Path:
        return self.source / self.rel


class BadLine(Exception):
    """A malformed input line: ``reason`` (the skip-count key) and ``message``."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason, self.message = reason, message


def parse_label_line(fields: Sequence[str]) -> tuple[str, int, int]:
    """Parse the fields of one ``label.csv`` line into ``(image_path, attribute index, value index)``.

    Raises:
        BadLine: wrong field count, unknown attribute key, or a label string of the wrong length, with
            a character other than y/m/n, or without exactly one ``y``.
    """
    if len(fields) != 3:
        raise BadLine(
            "malformed line",
            f"expected 3 comma-separated fields 'image_path,attribute_key,label_string', got {len(fields)}",
        )
    rel, key, label = (f.strip() for f in fields)
    if key not in ATTRIBUTE_KEYS:
        raise BadLine("unknown attribute", f"unknown attribute key {key!r} (known: {', '.join(ATTRIBUTE_KEYS)})")
    attr = ATTRIBUTE_KEYS.index(key)
    n = NUM_VALUES[attr]
    if len(label) != n:
        raise BadLine("bad label string", f"label string {label!r} has {len(label)} characters, {key} has {n} values")
    if set(label) - set("ymn"):
        raise BadLine("bad label string", f"label string {label!r} may only hold 'y', 'm' and 'n'")
    ys = label.count("y")
    if ys != 1:
        raise BadLine("bad label string", f"label string {label!r} has {'no' if ys == 0 else ys} 'y' (exactly one expected)")
    if not rel:
        raise BadLine("malformed line", "empty image path")
    return rel, attr, label.index("y")


def read_label_csv(source: Path, problems: Problems, progress: bool = True) -> list[Record]:
    """Read ``source/Annotations/label.csv`` into records; bad lines raise or are counted (``problems``)."""
    path = source / "Annotations" / "label.csv"
    if not path.is_file():
        raise PrepareError(
            f"missing file: {path} (expected a FashionAI attribute release folder with Annotations/label.csv "
            "and Images/<attribute_key>/*.jpg; see data_scripts/README.md)"
        )
    records: list[Record] = []
    seen: dict[str, int] = {}
    # Read line by line, not with the csv module: the file has no quoting, and a stray quote would make csv swallow
    # the lines after it (or stop at its field-size limit with a traceback); a line that is not UTF-8 is named.
    with open(path, "rb") as fh:
        for lineno, raw in enumerate(tqdm(fh, desc=f"reading {path.name}", disable=not progress, unit=" lines"), 1):
            text = decode_line(raw, lineno)
            if text is None:
                problems.bad("malformed line", f"{path}, line {lineno}: not UTF-8 text: {raw[:80]!r}")
                continue
            if not text.strip():
                continue
            if '"' in text:
                problems.bad("malformed line", f"{path}, line {lineno}: a quote character; label.csv lines are "
                                               f"'image_path,attribute_key,label_string' without quoting: {text!r}")
                continue
            fields = text.split(",")
            try:
                rel, attr, value = parse_label_line(fields)
                rel = safe_relpath(rel, f"{path}, line {lineno}")
            except BadLine as exc:
                problems.bad(exc.reason, f"{path}, line {lineno}: {exc.message}: {text!r}")
                continue
            except PrepareError as exc:
                problems.bad("malformed line", str(exc))
                continue
            if rel in seen:
                problems.bad("duplicate image", f"{path}, line {lineno}: image {rel} already listed on line {seen[rel]}: {text!r}")
                continue
            seen[rel] = lineno
            records.append(Record(source, rel, attr, value, f"{path}, line {lineno}"))
    return records


def check_record_images(
    records: list[Record], problems: Problems, verify: bool, workers: int, progress: bool
) -> list[Record]:
    """Keep the records whose image exists (and decodes, with ``verify``); others raise or are counted."""
    ok = []
    for rec in tqdm(records, desc="checking images exist", unit=" img", disable=not progress):
        if rec.path.is_file():
            ok.append(rec)
        else:
            problems.defer("missing image", f"{rec.where}: image not found: {rec.path}")
    if verify:
        usable = defer_undecodable([(r.where, r.path) for r in ok], problems, workers, progress)
        ok = [rec for rec, good in zip(ok, usable) if good]
    problems.flush()
    return ok


def build_layout(
    records: list[Record],
    out_names: dict[Record, str],
    seed: int,
    ratio: Sequence[int] = (8, 1, 1),
    query_ratio: Sequence[int] = (1, 4),
) -> Layout:
    """Seeded split: per attribute, train/valid/test by ``ratio`` stratified by value; in valid and test,
    query/candidate by ``query_ratio`` stratified by value. Depends only on the set of records and the seed."""
    rng = np.random.default_rng(seed)
    split_pattern = pattern_from_ratio(SPLITS, ratio)
    qc_pattern = pattern_from_ratio(("query", "candidate"), query_ratio)
    layout = Layout()
    by_attr: dict[int, list[Record]] = {a: [] for a in range(len(ATTRIBUTES))}
    for rec in sorted(records, key=lambda r: (r.attr, out_names[r])):
        by_attr[rec.attr].append(rec)
    for attr, recs in by_attr.items():
        if not recs:
            continue
        parts = stratified_cycle(recs, lambda r: r.value, split_pattern, rng)
        for split in SPLITS:
            items = []
            for rec in parts.get(split, []):
                img = len(layout.filenames[split])
                layout.filenames[split].append(out_names[rec])
                items.append((img, attr, rec.value))
            if split == "train":
                layout.train_labels.extend((img, [(a, v)]) for img, a, v in items)
            elif items:
                qc = stratified_cycle(items, lambda it: it[2], qc_pattern, rng, singletons_to="candidate")
                layout.queries[split].extend(qc.get("query", []))
                layout.candidates[split].extend(qc.get("candidate", []))
    for split in EVAL_SPLITS:
        layout.queries[split].sort()
        layout.candidates[split].sort()
    return layout


def _source_prefixes(sources: Sequence[Path]) -> list[str]:
    """Output sub-folder per source: none for one source, the folder name for several."""
    if len(sources) == 1:
        return [""]
    names = [s.resolve().name for s in sources]
    if len(set(names)) != len(names):
        raise PrepareError(f"release folders must have distinct names when several are given: {', '.join(map(str, sources))}")
    return [f"{n}/" for n in names]


def prepare(
    sources: Sequence[str | Path],
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
    """Write the FashionAI layout into ``out``; returns ``{"counts", "problems", "excluded"}``.

    Raises:
        PrepareError: bad input (file + line named), unless ``skip_bad`` where that is possible.
    """
    sources = [Path(s) for s in sources]
    out = Path(out)
    for s in sources:
        if s.is_file():  # e.g. the downloaded archive itself
            raise PrepareError(f"{s} is a file, not a release folder: unpack it and pass the folder holding "
                               "Annotations/label.csv and Images/")
        if not s.is_dir():
            raise PrepareError(f"release folder not found: {s}")
    make_output_folder(out)
    problems = Problems(skip_bad)
    meta = fashionai_meta()
    excluded: dict[str, int] = {}
    if splits is not None:
        texts, origin = read_split_source(splits, DATASET)
        sf, excluded = install_authors_splits(
            texts, origin, out, meta, problems, image_finder(out, sources),
            link=link, verify=verify_images, workers=workers, progress=progress,
        )
    else:
        records: list[Record] = []
        for source in sources:
            records.extend(read_label_csv(source, problems, progress))
        records = check_record_images(records, problems, verify_images, workers, progress)
        if not records:
            raise PrepareError("no usable labelled images (every line was skipped)")
        prefix = dict(zip(sources, _source_prefixes(sources)))
        out_names = {}
        for rec in tqdm(records, desc=f"placing images ({link})", disable=not progress):
            out_names[rec] = place_image(rec.path, out, prefix[rec.source] + rec.rel, link)
        layout = build_layout(records, out_names, seed, ratio, query_ratio)
        sf = write_layout(out, layout, meta)
    return write_result(out, sf, problems, excluded, mode=split_mode(seed if splits is None else None))


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser(
        "prepare_fashionai.py", "Write FashionAI (attribute release) in the split-file layout of asen.layout."
    )
    parser.add_argument(
        "sources", nargs="+", type=Path, metavar="RELEASE_DIR",
        help="FashionAI release folder(s) holding Annotations/label.csv and Images/ (several: e.g. base web)",
    )
    parser.add_argument("--out", type=Path, default=Path("data/FashionAI"), help="output dataset folder")
    parser.add_argument(
        "--splits", type=Path, default=None,
        help="the authors' split files (folder, .zip or .tar.gz) to reuse instead of a seeded split",
    )
    add_common_arguments(parser)
    return parser


def _run(args: argparse.Namespace) -> int:
    print_summary(prepare(args.sources, args.out, **prepare_options(args)), args.out, args.splits is not None)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status (2 on bad input)."""
    return run_main(build_parser, _run, argv)


if __name__ == "__main__":
    sys.exit(main())
