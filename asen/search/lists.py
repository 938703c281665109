"""The image and result lists of the search commands: a gallery's image paths (:func:`gallery_paths`), and the
``path<TAB>score`` result lists that ``asen search`` writes and ``asen rerank`` reads (:func:`read_results`,
:func:`write_results`, :func:`format_results`)."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

from ..data import DataError
from ..layout import read_text

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".gif", ".tif", ".tiff")


def gallery_paths(images: str | Path, root: str | Path | None = None) -> list[str]:
    """Image paths from a folder (recursive, sorted, by extension) or a list file (one path per line).

    Raises:
        FileNotFoundError: ``images`` does not exist.
        DataError: an empty folder or list.
    """
    src = Path(images)
    if not src.exists():
        raise FileNotFoundError(f"--images: no such folder or file: {src}")
    if src.is_dir():
        paths = sorted(str(p) for p in src.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
        if not paths:
            raise DataError(f"no image files ({', '.join(IMAGE_EXTENSIONS)}) under {src}")
        return paths
    base = Path(root) if root else None
    paths = [_resolve(line.strip(), base) for line in read_text(src).splitlines() if line.strip()]
    if not paths:
        raise DataError(f"{src}: no image paths (expected one per line)")
    return paths


def _resolve(path: str, base: Path | None) -> str:
    return str(base / path) if base is not None and not Path(path).is_absolute() else path


def read_results(path: str | Path, root: str | Path | None = None) -> tuple[list[str], list[float] | None]:
    """Read a result list: ``path`` or ``path<TAB>score`` per line (all lines with a score, or none).

    Returns:
        ``(paths, scores or None)``.
    Raises:
        DataError: a folder, a file that is not UTF-8, a bad or non-finite score, or scores on some lines only
            (naming the line).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"--results: no such file: {path}")
    if path.is_dir():
        raise DataError(f"--results {path}: a folder, not a file: give the result list (one image path per line, "
                        f"e.g. the --out of `asen search`)")
    base = Path(root) if root else None
    paths: list[str] = []
    scores: list[float | None] = []
    for lineno, line in enumerate(read_text(path).splitlines(), 1):
        if not line.strip():
            continue
        name, _, score = line.rstrip("\n").partition("\t")
        paths.append(_resolve(name.strip(), base))
        if score.strip():
            try:
                value = float(score)
            except ValueError:
                raise DataError(f"{path}, line {lineno}: expected `path<TAB>score`, got {line!r}") from None
            if not math.isfinite(value):  # would make every blended score (--alpha < 1) NaN, silently
                raise DataError(f"{path}, line {lineno}: the score must be a finite number, got {score.strip()!r}")
            scores.append(value)
        else:
            scores.append(None)
    if not paths:
        raise DataError(f"{path}: no results (expected one image path per line)")
    have = [s is not None for s in scores]
    if any(have) and not all(have):
        missing = have.index(False) + 1
        raise DataError(f"{path}: some lines have a score and some do not (e.g. result {missing}); "
                        f"give `path<TAB>score` on every line or on none")
    return paths, ([float(s) for s in scores] if all(have) else None)  # type: ignore[arg-type]


def format_results(results: Sequence[tuple[str, float]], extra: Sequence[str] | None = None,
                   extra_name: str = "") -> str:
    """A ranked plain-text table: rank, score, (extra column,) path."""
    head = f"{'rank':>4}  {'score':>8}  " + (f"{extra_name:>8}  " if extra is not None else "") + "path"
    lines = [head, "-" * max(len(head), 40)]
    for r, (path, score) in enumerate(results, 1):
        col = f"{extra[r - 1]:>8}  " if extra is not None else ""
        lines.append(f"{r:>4}  {score:8.4f}  {col}{path}")
    return "\n".join(lines)


def write_results(path: str | Path, results: Sequence[tuple[str, float]]) -> None:
    """Write ``path<TAB>score`` lines (the input of ``asen rerank``), creating the folder."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text("".join(f"{p}\t{s:.6f}\n" for p, s in results))
