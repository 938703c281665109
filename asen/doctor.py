"""``asen doctor DATA_DIR``: check a dataset folder in the split-file layout before training on it.

Checks, collecting every problem rather than stopping at the first:

* every layout file is present (``meta.json``, ``filenames_{train,valid,test}.txt``, ``label_train.txt``,
  ``{query,candidate}_{valid,test}.txt``), naming what is missing and how to get it;
* every label/query/candidate line parses and is in range (the rules of :func:`asen.data.read_items`);
* every referenced image exists and decodes (optionally a limited, evenly spread sample);
* the splits are disjoint where they must be: no image path in train and in valid/test; no valid/test
  image both a query and a candidate for the same attribute;
* every attribute has at least two values with at least two training images (else it cannot form
  triplets; a warning), and other coverage warnings (attributes without queries, queries whose value has
  no candidate, which score AP 0);
* a summary of counts per split and attribute.

Errors make the exit status 1; warnings alone leave it 0. The command is ``asen doctor DATA_DIR`` (its options
and output: :mod:`asen.cli.data`); :func:`doctor` returns the :class:`DoctorReport`.
"""
from __future__ import annotations

import os
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
from tqdm import tqdm

from asen.data import DATA_HELP, DataError, Meta, load_meta, open_image, read_filenames, read_items

SPLITS = ("train", "valid", "test")
EVAL_SPLITS = ("valid", "test")
MAX_LISTED = 10  # problems listed per kind before "... and N more"


def _hint(root: Path) -> str:
    return DATA_HELP.get(root.name, "see the README, 'Real datasets', or run `asen synth` for synthetic data")


def _listing(items: Sequence[str], limit: int = MAX_LISTED) -> str:
    shown = "\n    ".join(items[:limit])
    more = f"\n    ... and {len(items) - limit} more" if len(items) > limit else ""
    return f"\n    {shown}{more}"


@dataclass
class DoctorReport:
    """What :func:`doctor` found: errors (exit 1), warnings, and counts."""

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

    def to_dict(self) -> dict:
        return {
            "root": str(self.root),
            "ok": self.ok,
            "errors": self.errors,
            "warnings": self.warnings,
            "images": self.images,
            "counts": self.counts,
            "images_checked": self.images_checked,
            "images_total": self.images_total,
            "images_missing": self.images_missing,
            "images_unreadable": self.images_unreadable,
        }

    def format(self) -> str:
        """The report as readable text."""
        lines = [f"asen doctor: {self.root}"]
        if self.meta is not None:
            m = self.meta
            lines.append(f"dataset {m.name}: {m.num_attributes} attributes, {sum(m.num_values)} values")
        if self.images:
            lines.append("images per split: " + ", ".join(f"{s} {n}" for s, n in self.images.items()))
        if self.images_total:
            lines.append(
                f"image files: checked {self.images_checked} of {self.images_total}: "
                f"{self.images_missing} missing, {self.images_unreadable} unreadable"
            )
        if self.counts:
            cols = ["train", "query_valid", "candidate_valid", "query_test", "candidate_test"]
            heads = ["train img", "valid q", "valid c", "test q", "test c"]
            width = max(len(f"{c['attribute']} ({c['num_values']})") for c in self.counts) + 2
            lines.append("")
            lines.append(f"{'attribute (values)':<{width}}" + "".join(f"{h:>11}" for h in heads))
            for c in self.counts:
                label = f"{c['attribute']} ({c['num_values']})"
                lines.append(f"{label:<{width}}" + "".join(f"{c.get(col, 0):>11}" for col in cols))
        lines.append("")
        if self.warnings:
            lines.append(f"warnings ({len(self.warnings)}):")
            lines.extend(f"  - {w}" for w in self.warnings)
        if self.errors:
            lines.append(f"errors ({len(self.errors)}):")
            lines.extend(f"  - {e}" for e in self.errors)
        lines.append("result: OK" if self.ok else f"result: {len(self.errors)} problem(s) found")
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------------- parsing
def _read_filenames_all(path: Path, report: DoctorReport) -> list[str] | None:
    """Filenames of one split; every empty line is reported (ids are kept aligned with line numbers)."""
    if not path.exists():
        return None
    try:
        return read_filenames(path)
    except DataError:
        lines = path.read_text().splitlines()
        empty = [f"{path}, line {i}: empty line (every line must name an image)" for i, n in enumerate(lines, 1) if not n.strip()]
        report.error(f"{path}: {len(empty)} empty line(s) (they shift every image id):" + _listing(empty))
        return [n.strip() for n in lines]


def _read_items_all(path: Path, meta: Meta, n_images: int, multi: bool, report: DoctorReport) -> np.ndarray | None:
    """Items of one label/query/candidate file; on a bad file, every bad line is reported and the good
    lines are kept."""
    if not path.exists():
        return None
    problems: list[str] = []
    try:
        rows = read_items(path, meta, n_images, multi=multi, problems=problems)
    except DataError as exc:  # a file with no items at all
        problems.append(str(exc))
        rows = np.zeros((0, 3), np.int64)
    if problems:
        report.error(f"{path}: {len(problems)} bad line(s):" + _listing(problems))
    return rows


# ----------------------------------------------------------------------------------------------- images
def _check_one(path: Path) -> str | None:
    if not path.exists():
        return "missing"
    try:
        open_image(path)  # full decode to RGB
    except DataError as exc:
        return str(exc)
    return None


def _check_images(
    root: Path, filenames: dict[str, list[str]], report: DoctorReport, max_images: int | None, progress: bool, workers: int
) -> None:
    refs = [(s, i, name) for s in SPLITS for i, name in enumerate(filenames.get(s) or [])]
    report.images_total = len(refs)
    if max_images is not None and 0 <= max_images < len(refs):
        pick = np.linspace(0, len(refs) - 1, num=max_images).round().astype(int) if max_images else []
        refs = [refs[i] for i in sorted(set(int(p) for p in pick))]
    report.images_checked = len(refs)
    if not refs:
        return
    paths = [root / name for _, _, name in refs]
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        results = list(tqdm(pool.map(_check_one, paths, chunksize=32), total=len(paths), desc="checking images", disable=not progress))
    missing, unreadable = [], []
    for (split, i, name), path, res in zip(refs, paths, results):
        if res is None:
            continue
        where = f"{root / f'filenames_{split}.txt'}, line {i + 1}"
        if res == "missing":
            missing.append(f"{where}: {path}")
        else:
            unreadable.append(f"{where}: {res}")
    report.images_missing, report.images_unreadable = len(missing), len(unreadable)
    if missing:
        report.error(f"{len(missing)} image(s) not found:" + _listing(missing))
    if unreadable:
        report.error(f"{len(unreadable)} image(s) cannot be decoded:" + _listing(unreadable))


# ------------------------------------------------------------------------------------------ consistency
def _norm(name: str) -> str:
    return os.path.normpath(name)


def _check_disjoint(root: Path, filenames: dict[str, list[str]], report: DoctorReport) -> None:
    sets = {s: {_norm(n) for n in names} for s, names in filenames.items() if names is not None}
    for split, names in filenames.items():
        if names is None:
            continue
        dup = [n for n, c in Counter(_norm(n) for n in names).items() if c > 1]
        if dup:
            report.warn(f"filenames_{split}.txt lists {len(dup)} image(s) more than once (different ids, same file), e.g. {dup[0]}")
    if "train" in sets:
        for split in EVAL_SPLITS:
            if split in sets:
                both = sorted(sets["train"] & sets[split])
                if both:
                    report.error(f"{len(both)} image(s) are in both filenames_train.txt and filenames_{split}.txt (train/{split} leak):" + _listing(both))
    if "valid" in sets and "test" in sets:
        both = sorted(sets["valid"] & sets["test"])
        if both:
            report.warn(f"{len(both)} image(s) are in both filenames_valid.txt and filenames_test.txt, e.g. {both[0]}")


def _check_eval(root: Path, meta: Meta, split: str, queries: np.ndarray, candidates: np.ndarray, report: DoctorReport) -> None:
    q_keys = Counter((int(i), int(a)) for i, a, _ in queries.tolist())
    c_keys = Counter((int(i), int(a)) for i, a, _ in candidates.tolist())
    both = sorted(set(q_keys) & set(c_keys))
    if both:
        ex = [f"image id {i}, attribute {a} ({meta.attributes[a]})" for i, a in both]
        report.error(f"{split}: {len(both)} image(s) are both a query and a candidate for the same attribute "
                     f"(query_{split}.txt / candidate_{split}.txt):" + _listing(ex))
    for kind, keys in (("query", q_keys), ("candidate", c_keys)):
        dup = sum(1 for c in keys.values() if c > 1)
        if dup:
            report.warn(f"{kind}_{split}.txt: {dup} (image, attribute) pair(s) listed more than once")
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


def _check_train_coverage(meta: Meta, labels: np.ndarray, n_train: int, report: DoctorReport) -> None:
    for a, name in enumerate(meta.attributes):
        sel = labels[labels[:, 1] == a]
        per_value = [len(np.unique(sel[sel[:, 2] == v, 0])) for v in range(meta.num_values[a])]
        usable = [v for v, n in enumerate(per_value) if n >= 2]
        if len(usable) < 2:
            report.warn(f"attribute {name}: only {len(usable)} value(s) with >= 2 training images (needs 2 to form triplets)")
        thin = [meta.value_names[a][v] for v, n in enumerate(per_value) if n < 2]
        if thin and len(usable) >= 2:
            report.warn(f"attribute {name}: {len(thin)} of {meta.num_values[a]} values have fewer than 2 training images "
                        f"(left out of triplet sampling): {', '.join(thin[:8])}{' ...' if len(thin) > 8 else ''}")
    unlabelled = n_train - len(np.unique(labels[:, 0])) if len(labels) else n_train
    if unlabelled > 0:
        report.warn(f"{unlabelled} training image(s) have no line in label_train.txt (never used)")


# ------------------------------------------------------------------------------------------------- main
def doctor(
    root: str | Path,
    check_images: bool = True,
    max_images: int | None = None,
    progress: bool = True,
    workers: int = 4,
) -> DoctorReport:
    """Check the dataset folder ``root`` (see the module docstring); never raises for bad data."""
    root = Path(root)
    report = DoctorReport(root)
    if not root.is_dir():
        report.error(f"dataset folder not found: {root} ({_hint(root)})")
        return report
    try:
        meta = load_meta(root)
        report.meta = meta
    except DataError as exc:
        report.error(str(exc))
        meta = None
    required = [f"filenames_{s}.txt" for s in SPLITS] + ["label_train.txt"]
    required += [f"{k}_{s}.txt" for s in EVAL_SPLITS for k in ("query", "candidate")]
    missing = [n for n in required if not (root / n).exists()]
    if missing:
        report.error(f"missing file(s) in {root}: {', '.join(missing)} ({_hint(root)})")

    filenames: dict[str, list[str] | None] = {s: _read_filenames_all(root / f"filenames_{s}.txt", report) for s in SPLITS}
    report.images = {s: len(n) for s, n in filenames.items() if n is not None}

    labels = queries = candidates = None
    if meta is not None:
        if filenames["train"] is not None:
            labels = _read_items_all(root / "label_train.txt", meta, len(filenames["train"]), True, report)
        queries, candidates = {}, {}
        for s in EVAL_SPLITS:
            if filenames[s] is not None:
                queries[s] = _read_items_all(root / f"query_{s}.txt", meta, len(filenames[s]), False, report)
                candidates[s] = _read_items_all(root / f"candidate_{s}.txt", meta, len(filenames[s]), False, report)

    _check_disjoint(root, filenames, report)
    if meta is not None:
        if labels is not None:
            _check_train_coverage(meta, labels, len(filenames["train"] or []), report)
        for s in EVAL_SPLITS:
            if queries.get(s) is not None and candidates.get(s) is not None:
                _check_eval(root, meta, s, queries[s], candidates[s], report)
        for a, name in enumerate(meta.attributes):
            row = {"attribute": name, "num_values": meta.num_values[a]}
            if labels is not None:
                row["train"] = int(len(np.unique(labels[labels[:, 1] == a, 0])))
            for s in EVAL_SPLITS:
                for kind, arrs in (("query", queries), ("candidate", candidates)):
                    if arrs.get(s) is not None:
                        row[f"{kind}_{s}"] = int((arrs[s][:, 1] == a).sum())
            report.counts.append(row)
    if check_images:
        _check_images(root, {s: n for s, n in filenames.items() if n is not None}, report, max_images, progress, workers)
    return report
