"""Small fixtures in the real datasets' raw formats (FashionAI label.csv, DeepFashion Anno/ lists, DARN URL
lists), written into temporary folders, for the tests of ``data_scripts/`` and ``asen.doctor``."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]

from data_scripts import prepare_fashionai as pf

_JPEG_CACHE: dict[tuple[int, int], bytes] = {}


def jpeg_bytes(seed: int = 0, size: int = 32) -> bytes:
    """A small valid JPEG (a few distinct ones, cached)."""
    key = (seed % 16, size)
    if key not in _JPEG_CACHE:
        rng = np.random.default_rng(key[0])
        arr = rng.integers(0, 256, size=(size, size, 3), dtype=np.uint8)
        buf = io.BytesIO()
        Image.fromarray(arr).save(buf, format="JPEG")
        _JPEG_CACHE[key] = buf.getvalue()
    return _JPEG_CACHE[key]


def write_jpeg(path: Path, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(jpeg_bytes(seed))
    return path


def write_corrupt(path: Path) -> Path:
    """A file named like a JPEG that is not a decodable image (a truncated JPEG)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = jpeg_bytes(3)
    path.write_bytes(data[: len(data) // 3])
    return path


def label_string(n_values: int, value: int, rng: np.random.Generator) -> str:
    """A FashionAI label string: 'y' at ``value``, 'n' or (sometimes) 'm' elsewhere."""
    chars = ["m" if rng.random() < 0.15 else "n" for _ in range(n_values)]
    chars[value] = "y"
    return "".join(chars)


def make_fashionai_release(root: Path, per_value: int = 10, seed: int = 0, attributes: int | None = None) -> dict[str, tuple[int, int]]:
    """Write a FashionAI release folder: ``Annotations/label.csv`` and ``Images/<key>/*.jpg``.

    Every value of every attribute gets ``per_value`` images. Returns ``{rel_path: (attr, value)}``.
    """
    rng = np.random.default_rng(seed)
    truth: dict[str, tuple[int, int]] = {}
    lines = []
    keys = pf.ATTRIBUTE_KEYS[: attributes or len(pf.ATTRIBUTE_KEYS)]
    for a, key in enumerate(keys):
        n = pf.NUM_VALUES[a]
        for v in range(n):
            for i in range(per_value):
                rel = f"Images/{key}/{root.name}_{a}_{v}_{i:03d}.jpg"
                write_jpeg(root / rel, seed=a * 7 + v + i)
                lines.append(f"{rel},{key},{label_string(n, v, rng)}")
                truth[rel] = (a, v)
    order = rng.permutation(len(lines))
    (root / "Annotations").mkdir(parents=True, exist_ok=True)
    (root / "Annotations" / "label.csv").write_text("".join(lines[i] + "\n" for i in order))
    return truth


def append_lines(path: Path, *lines: str) -> int:
    """Append lines to a text file; returns the line number of the first appended line."""
    text = path.read_text()
    first = text.count("\n") + 1
    path.write_text(text + "".join(line + "\n" for line in lines))
    return first


# ------------------------------------------------------------------------------------------ DeepFashion
DF_TYPES = {1: "texture", 2: "fabric", 3: "shape", 4: "part", 5: "style"}


def make_deepfashion(
    root: Path, n_images: int = 60, per_type: int = 3, seed: int = 0, absent: str = "-1"
) -> tuple[list[tuple[str, int]], dict[str, list[int]]]:
    """Write ``Anno/list_attr_cloth.txt``, ``Anno/list_attr_img.txt`` and ``img/<folder>/*.jpg``.

    ``per_type`` attributes of each of the five types, interleaved (so a type's value index is not its
    column). Every image has at least one attribute of every type. Returns the attribute list
    ``[(name, type)]`` and ``{image_path: [present column indices]}``.
    """
    rng = np.random.default_rng(seed)
    attrs = [(f"{DF_TYPES[t]} attr {k}", t) for k in range(per_type) for t in range(1, 6)]
    anno = root / "Anno"
    anno.mkdir(parents=True, exist_ok=True)
    width = max(len(n) for n, _ in attrs) + 4
    cloth = [str(len(attrs)), "attribute_name  attribute_type"]
    cloth += [f"{name:<{width}}{t}" for name, t in attrs]
    (anno / "list_attr_cloth.txt").write_text("\n".join(cloth) + "\n")
    truth: dict[str, list[int]] = {}
    rows = [str(n_images), "image_name  attribute_labels"]
    for i in range(n_images):
        rel = f"img/Folder_{i % 4}/img_{i:08d}.jpg"
        write_jpeg(root / rel, seed=i)
        present = []
        for t in range(1, 6):
            cols = [c for c, (_, tt) in enumerate(attrs) if tt == t]
            present.append(cols[(i + t) % len(cols)])
            if rng.random() < 0.2:
                present.append(cols[int(rng.integers(len(cols)))])
        present = sorted(set(present))
        vals = [("1" if c in present else absent) for c in range(len(attrs))]
        rows.append(f"{rel:<40}" + " ".join(vals))
        truth[rel] = present
    (anno / "list_attr_img.txt").write_text("\n".join(rows) + "\n")
    return attrs, truth
