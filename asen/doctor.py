"""``asen doctor DATA_DIR``: check a dataset folder in the split-file layout before training on it.

The checks are :func:`asen.layout.check_folder`'s, collecting every problem rather than stopping at the first:

* every layout file is present (``meta.json``, ``filenames_{train,valid,test}.txt``, ``label_train.txt``,
  ``{query,candidate}_{valid,test}.txt``), naming what is missing and how to get it;
* every label/query/candidate line parses and is in range (the rules and messages of :func:`asen.layout.read_items`);
* every referenced image exists and decodes (optionally a limited, evenly spread sample);
* the splits are disjoint where they must be: no image path in train and in valid/test; no valid/test
  image both a query and a candidate for the same attribute;
* every attribute has at least two values with at least two training images (else it cannot form
  triplets; a warning), and other coverage warnings (attributes without queries, queries whose value has
  no candidate, which score AP 0);
* a summary of counts per split and attribute.

Here: the report's text and JSON. Errors make the exit status 1; warnings alone leave it 0. The command is
``asen doctor DATA_DIR`` (its options and output: :mod:`asen.cli.data`); :func:`doctor` returns the
:class:`DoctorReport`.
"""
from __future__ import annotations

from pathlib import Path

from .layout import FolderCheck, check_folder


class DoctorReport(FolderCheck):
    """What :func:`doctor` found (:class:`asen.layout.FolderCheck`): errors (exit 1), warnings, and counts."""

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


def doctor(
    root: str | Path,
    check_images: bool = True,
    max_images: int | None = None,
    progress: bool = True,
    workers: int = 4,
) -> DoctorReport:
    """Check the dataset folder ``root`` (see the module docstring); never raises for bad data."""
    return check_folder(root, check_images=check_images, max_images=max_images, progress=progress, workers=workers,
                        report=DoctorReport(Path(root)))

