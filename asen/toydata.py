"""A tiny dataset in the split-file layout for the tests and the benchmarks, made in seconds (no downloads).

Two attributes: ``colour`` (value = the colour of a square) and ``position`` (value = where the square is,
0 "Invisible": no square at all). The other property of each image is random, so attribute-agnostic
similarity is not attribute-specific similarity.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

COLOURS = [(220, 40, 40), (40, 180, 40), (40, 60, 220)]
META = {
    "name": "Toy",
    "attributes": ["colour", "position"],
    "num_values": [3, 3],
    "value_names": [["red", "green", "blue"], ["Invisible", "left", "right"]],
}


def draw(colour: int, position: int, rng: np.random.Generator, size: int = 64) -> Image.Image:
    """A noisy square; ``position`` 0 draws no square."""
    arr = rng.integers(90, 160, size=(size, size, 3), dtype=np.uint8)
    img = Image.fromarray(arr)
    if position:
        d = ImageDraw.Draw(img)
        s = size // 3
        x = int(rng.integers(2, size // 2 - s)) if position == 1 else int(rng.integers(size // 2, size - s - 2))
        y = int(rng.integers(2, size - s - 2))
        d.rectangle([x, y, x + s, y + s], fill=COLOURS[colour])
    return img


def make_toy_dataset(root: str | Path, n_train: int = 120, n_query: int = 12, n_cand: int = 48,
                     seed: int = 0, size: int = 64) -> Path:
    """Write the layout to ``root``. Returns the folder."""
    root = Path(root)
    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "meta.json").write_text(json.dumps(META))

    def make(split: str, n: int) -> list[tuple[int, int, int]]:
        names, items = [], []
        for i in range(n):
            attr = i % 2
            colour = int(rng.integers(0, 3))
            position = int(rng.integers(1, 3))
            if attr == 1:
                position = int(rng.integers(0, 3))
            rel = f"images/{split}_{i:04d}.png"
            draw(colour, position, rng, size).save(root / rel)
            names.append(rel)
            items.append((i, attr, colour if attr == 0 else position))
        (root / f"filenames_{split}.txt").write_text("\n".join(names) + "\n")
        return items

    train = make("train", n_train)
    (root / "label_train.txt").write_text("".join(f"{i} {a} {v}\n" for i, a, v in train))
    for split in ("valid", "test"):
        items = make(split, n_query + n_cand)
        (root / f"query_{split}.txt").write_text("".join(f"{i} {a} {v}\n" for i, a, v in items[:n_query]))
        (root / f"candidate_{split}.txt").write_text("".join(f"{i} {a} {v}\n" for i, a, v in items[n_query:]))
    return root
