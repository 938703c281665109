"""Is an attribute's value readable at the global input, and in a crop of the attribute's region? (SynthFashion)

ASEN++'s local branch (Sec. III-C) rests on a premise about the data: each attribute has a region the global
branch can find at its input resolution, and values that differ in details too small to read there but legible
once that region is cut from the original and zoomed. This probe measures both halves on a SynthFashion folder,
per attribute, without training any embedding:

* **global view**: the image as the model's global branch sees it (:func:`asen.data.global_view`, the
  protocol's ``global_size``);
* **region crop**: the crop an ideal attention map would give -- a mask of the attribute's region (which the
  generator knows, :func:`asen.synth.render.attribute_region`, replayed from the image's random streams)
  at the global resolution goes through the local branch's own box code (:func:`asen.roi.crop_box`,
  threshold 0.1), and the box is cut from the stored image and resized to ``local_size`` (bilinear, black
  outside the frame, as :func:`asen.roi.zoom_per_image`).

Each view is described by histograms of oriented gradients (8 px cells at 4 px stride, 9 unsigned orientations,
on the grey levels) plus a 16 x 16 colour thumbnail, and a linear classifier (scikit-learn's ridge classifier on
standardised features, balanced class weights, the penalty chosen by leave-one-out on the training images) is
trained on the train split's images of the attribute and scored on its validation images (queries and
candidates). Invisible (value 0) is left out: the premise concerns the visible values' details. The score is
balanced accuracy against its chance level ``1/K`` (K visible values), and a control with the training labels
shuffled gives the empirical chance of the same pipeline.

    .venv/bin/python tools/readability_probe.py data/SynthFashion [--design 1|2] [--train 500] [--test 250]
        [--json out.json]

The folder's design (:data:`asen.synth.DESIGNS`) is read from its ``meta.json`` (the generator version);
``--design`` checks that the folder holds the one meant. A design-2 folder is written by
``asen synth --out data/SynthFashion`` (design 2, the default); a design-1 folder by ``asen synth --design 1 --out data/SynthFashion1``.

Measured on ``small`` (seed 0, 224 px renders; 500 training and 250 validation images per attribute, visible
values only; 80-110 s wall on 2 shared cores of an AMD EPYC, ``lscpu`` model name), balanced accuracy in %
(chance = 100/K; shuffled = the shuffled-label control on the global view), design 1 (generator 1.0.0) then
design 2 (generator 2.0.0)::

    design 1          K  chance  global   crop  shuffled     design 2         global   crop  shuffled
    skirt_length      5    20.0    66.7   86.4      21.1                         66.5   85.7      21.5
    sleeve_length     8    12.5    16.3   38.8      15.1                         15.7   37.9      15.1
    coat_length       7    14.3    39.7   64.9      13.0                         37.7   64.9      12.6
    pant_length       5    20.0    53.4   78.5      17.9                         54.7   78.5      17.9
    collar_design     4    25.0    29.5   92.8      29.6                         47.9  100.0      30.0
    lapel_design      4    25.0    35.7   82.3      26.9                         61.7   88.7      24.9
    neckline_design   9    11.1    40.2   94.1       7.0                         40.2   94.1       7.0
    neck_design       4    25.0    28.7   86.7      24.7                         30.7   94.7      24.3

Design 2's table is generator 2.0.0's. Generator 2.1.0 draws the neck-design piece about twice as large (wider,
reaching over the chest, 3 px ink) and changes nothing else; its neck design, measured alone (``--attributes
neck_design``, same machine): global 35.7, crop 99.4, shuffled 28.9.

Generator 2.2.0 (design 2 since 2026-12-01) binds every neckline's edge in a contrasting colour (3 px at 224) and
bands the coat's hem in the lapels' facing colour; the whole probe on its ``small`` (same machine, 120 s while a
training run shared the cores), global / crop / shuffled::

    skirt_length  66.3 / 85.2 / 21.5    sleeve_length  16.1 / 37.1 / 15.4    coat_length  42.2 / 69.0 / 14.2
    pant_length   52.7 / 79.1 / 17.9    collar_design  47.9 / 100.0 / 30.0   lapel_design 62.8 / 89.7 / 24.2
    neckline_design  50.2 / 97.8 / 7.9  neck_design  35.7 / 99.4 / 24.9

Against 2.1.0 the neckline is read better in both views (global 40.2 -> 50.2, crop 94.1 -> 97.8) and the coat
length too (37.7 -> 42.2, 64.9 -> 69.0); the other attributes move by at most 2.0 points from the 2.0.0 / 2.1.0
figures above (bindings and hem bands also appear on the other attributes' garments).

The lapel region runs down to the top button (``nb + 0.25``, the same in both designs); with the earlier, shorter
region (``nb + 0.20``, which cut off the lapels' lower ends) design 1's lapel crop measured 84.6.

Design 1 draws collar and neck pieces mostly in the garment's own fabric with 1 px outlines: the design values
are near chance at 64 px and legible in a crop of their region, but the probe is *given* the region, and at 64 px
there is little for an attention map to find. Design 2 makes the region findable (the pieces contrast with the
garment for every value) and the values differ in 2 px shapes: the crop reads them almost perfectly (collar 100,
neck design 94.7), while the global view reads collar and lapel values better than before (47.9 and 61.7
against chance 25: a contrasting piece's outline survives the downsampling better than 1 px lines on the same
fabric) -- still 52 and 27 points below the crop. The length attributes are read better in the crop because the
region fixes the garment's position; lengths and necklines were drawn the same in both designs until 2.2.0 (the
small changes in the table come from the random collars and coats drawn on length images).

The probe is a lower bound on what a network could read; it is meant for comparing views and generator versions
with the same probe.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image

from asen.data import global_view, load_split_files, open_image
from asen.roi import crop_box
from asen.synth.attributes import ATTRIBUTE_NAMES
from asen.synth.layout import GENERATOR_VERSIONS, dataset_design, image_rng
from asen.synth.render import attribute_region

GLOBAL_SIZE = 64  # asen/configs/synthfashion_cpu.yaml, data.global_size
LOCAL_SIZE = 64  # data.local_size
THRESHOLD = 0.1  # eval.crop_threshold / train.crop_threshold (stage 2)


# ------------------------------------------------------------------------------------------ views
def region_mask(region: Sequence[float], image_size: tuple[int, int], global_size: int) -> np.ndarray:
    """A (G, G) map that is 1 on the global-input pixels whose centres fall inside ``region`` and 0 elsewhere.

    Args:
        region: ``(left, top, right, bottom)`` in original-image pixels.
        image_size: the original image's ``(width, height)``.
        global_size: side G of the global input (short side resized to G, centre-cropped).

    Returns:
        float32 array of shape (G, G).
    """
    w, h = image_size
    s = min(w, h)
    ox, oy = (w - s) // 2, (h - s) // 2  # the centre crop's offset, as in asen.data.global_view
    centres = (np.arange(global_size) + 0.5) * s / global_size
    x0, y0, x1, y1 = region
    xs = (centres + ox >= x0) & (centres + ox < x1)
    ys = (centres + oy >= y0) & (centres + oy < y1)
    return (ys[:, None] & xs[None, :]).astype(np.float32)


def views(
    img: Image.Image,
    region: Sequence[float],
    global_size: int = GLOBAL_SIZE,
    local_size: int = LOCAL_SIZE,
    threshold: float = THRESHOLD,
) -> tuple[Image.Image, Image.Image, tuple[int, int, int, int]]:
    """The global input and the region crop of one image.

    Args:
        img: the stored image (RGB).
        region: the attribute's region in the image's pixels.
        global_size: side of the global input.
        local_size: side of the local input.
        threshold: the crop threshold of :func:`asen.roi.crop_box`.

    Returns:
        ``(global view, crop, box)`` with ``box`` = ``(left, top, right, bottom)`` in original pixels.
    """
    mask = region_mask(region, img.size, global_size)
    box = crop_box(mask, img.size, threshold, global_size)
    crop = img.crop(box).resize((local_size, local_size), Image.BILINEAR)
    return global_view(img, global_size), crop, box


# ------------------------------------------------------------------------------------------ features
def hog(gray: np.ndarray, cell: int = 8, stride: int = 4, bins: int = 9) -> np.ndarray:
    """Histograms of unsigned gradient orientations over overlapping square cells, each L2-normalised.

    Args:
        gray: (H, W) float image.
        cell: cell side in pixels.
        stride: step between cells.
        bins: orientation bins over [0, pi).

    Returns:
        1-D float32 feature vector.
    """
    gy, gx = np.gradient(gray.astype(np.float32))
    mag = np.hypot(gx, gy)
    ori = np.mod(np.arctan2(gy, gx), math.pi)
    idx = np.minimum((ori / math.pi * bins).astype(np.int64), bins - 1)
    planes = np.zeros((bins,) + gray.shape, np.float32)
    for b in range(bins):
        planes[b] = np.where(idx == b, mag, 0.0)
    # box sums over each cell via an integral image
    ii = np.pad(planes.cumsum(1).cumsum(2), ((0, 0), (1, 0), (1, 0)))
    h, w = gray.shape
    ys = np.arange(0, h - cell + 1, stride)
    xs = np.arange(0, w - cell + 1, stride)
    sums = (
        ii[:, ys[:, None] + cell, xs[None, :] + cell]
        - ii[:, ys[:, None], xs[None, :] + cell]
        - ii[:, ys[:, None] + cell, xs[None, :]]
        + ii[:, ys[:, None], xs[None, :]]
    )  # (bins, ny, nx)
    norm = np.sqrt((sums**2).sum(0, keepdims=True) + 1e-3)
    return (sums / norm).ravel().astype(np.float32)


def features(img: Image.Image) -> np.ndarray:
    """HOG of the grey levels plus a 16 x 16 colour thumbnail (values in [0, 1]).

    Args:
        img: an RGB view (global input or crop).

    Returns:
        1-D float32 feature vector.
    """
    arr = np.asarray(img, dtype=np.float32) / 255.0
    gray = arr @ np.array([0.299, 0.587, 0.114], np.float32)
    thumb = np.asarray(img.resize((16, 16), Image.BILINEAR), dtype=np.float32).ravel() / 255.0
    return np.concatenate([hog(gray), thumb])


# ------------------------------------------------------------------------------------------ probe
def fit_score(
    x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray
) -> dict[str, float]:
    """Train the linear probe on one view and score it on held-out images.

    Args:
        x_train: (N, D) training features.
        y_train: (N,) training values.
        x_test: (M, D) test features.
        y_test: (M,) test values.

    Returns:
        ``{"balanced_accuracy", "accuracy"}`` in [0, 1].
    """
    from sklearn.linear_model import RidgeClassifierCV
    from sklearn.metrics import balanced_accuracy_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    # alpha by efficient leave-one-out on the training images (closed form, one SVD)
    model = make_pipeline(StandardScaler(), RidgeClassifierCV(alphas=np.logspace(0, 5, 11), class_weight="balanced"))
    model.fit(x_train, y_train)
    pred = model.predict(x_test)
    accuracy = float(np.mean(pred == y_test))
    return {"balanced_accuracy": float(balanced_accuracy_score(y_test, pred)), "accuracy": accuracy}


def _items(files, split: str, a: int) -> np.ndarray:
    """(image id, value) rows of attribute ``a`` with a visible value, in one split."""
    if split == "train":
        rows = files.train_labels
    else:
        rows = np.concatenate([files.queries[split], files.candidates[split]])
    rows = rows[(rows[:, 1] == a) & (rows[:, 2] > 0)]
    return rows[:, [0, 2]]


def view_features(
    root: Path, filenames: Sequence[str], seed: int, split: str, a: int, rows: np.ndarray,
    global_size: int, local_size: int, threshold: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Features of the global view and of the region crop for each ``(image id, value)`` row."""
    g, c = [], []
    for index, value in rows:
        img = open_image(root / filenames[int(index)])
        region = attribute_region(a, int(value), image_rng(seed, split, int(index)), img.size)
        gv, crop, _ = views(img, region, global_size, local_size, threshold)
        g.append(features(gv))
        c.append(features(crop))
    return np.stack(g), np.stack(c)


def probe(
    root: str | Path,
    attributes: Sequence[str] = ATTRIBUTE_NAMES,
    n_train: int = 500,
    n_test: int = 250,
    split: str = "valid",
    global_size: int = GLOBAL_SIZE,
    local_size: int = LOCAL_SIZE,
    threshold: float = THRESHOLD,
    seed: int = 0,
    design: int | None = None,
) -> dict[str, dict[str, float]]:
    """Readability of each attribute's visible values in the global view and in the region crop.

    Args:
        root: a SynthFashion folder (its ``meta.json`` gives the generator seed the regions are replayed with).
        attributes: attribute names to probe.
        n_train: at most this many training images per attribute (a random subset).
        n_test: at most this many evaluation images per attribute (a random subset of ``split``).
        split: evaluation split, ``valid`` or ``test``.
        global_size: side of the global input.
        local_size: side of the crop.
        threshold: crop threshold.
        seed: seed of the subsets and of the shuffled control.
        design: the design the folder must hold (``None``: whichever its ``meta.json`` records).

    Returns:
        ``{attribute: {"design", "values", "n_train", "n_test", "chance", "global", "crop", "shuffled",
        "global_accuracy", "crop_accuracy"}}``; scores are balanced accuracies in [0, 1]
        (``shuffled``: the global view with shuffled training labels), ``design`` the folder's.

    Raises:
        ValueError: not a SynthFashion folder, an unknown attribute, split or generator version, or a folder of
            another design than ``design``.
    """
    root = Path(root)
    if split not in ("valid", "test"):
        raise ValueError(f"split must be 'valid' or 'test', got {split!r}")
    files = load_split_files(root, splits=("train", split))
    generator = json.loads((root / "meta.json").read_text()).get("generator")
    if not isinstance(generator, dict) or "seed" not in generator:
        raise ValueError(f"{root / 'meta.json'}: no generator seed; the probe needs a SynthFashion folder")
    gen_seed = int(generator["seed"])
    held = dataset_design({"generator": generator})
    if held is None:
        known = ", ".join(f"{v} (design {d})" for d, v in GENERATOR_VERSIONS.items())
        raise ValueError(f"{root / 'meta.json'}: generator version {generator.get('version')!r}; expected {known}")
    if design is not None and design != held:
        raise ValueError(f"{root / 'meta.json'}: the folder holds design {held} (generator "
                         f"{GENERATOR_VERSIONS[held]}), not design {design}")
    rng = np.random.default_rng(seed)
    out = {}
    for name in attributes:
        if name not in ATTRIBUTE_NAMES:
            raise ValueError(f"unknown attribute {name!r}; expected one of {', '.join(ATTRIBUTE_NAMES)}")
        a = ATTRIBUTE_NAMES.index(name)
        tr, te = _items(files, "train", a), _items(files, split, a)
        tr = tr[np.sort(rng.permutation(len(tr))[:n_train])]
        te = te[np.sort(rng.permutation(len(te))[:n_test])]
        common = (global_size, local_size, threshold)
        g_tr, c_tr = view_features(root, files.filenames["train"], gen_seed, "train", a, tr, *common)
        g_te, c_te = view_features(root, files.filenames[split], gen_seed, split, a, te, *common)
        y_tr, y_te = tr[:, 1], te[:, 1]
        k = len(np.unique(np.concatenate([y_tr, y_te])))
        glob = fit_score(g_tr, y_tr, g_te, y_te)
        crop = fit_score(c_tr, y_tr, c_te, y_te)
        shuffled = fit_score(g_tr, rng.permutation(y_tr), g_te, y_te)
        out[name] = {
            "design": held,
            "values": k,
            "n_train": len(tr),
            "n_test": len(te),
            "chance": 1.0 / k,
            "global": glob["balanced_accuracy"],
            "crop": crop["balanced_accuracy"],
            "shuffled": shuffled["balanced_accuracy"],
            "global_accuracy": glob["accuracy"],
            "crop_accuracy": crop["accuracy"],
        }
    return out


def format_table(results: dict[str, dict[str, float]]) -> str:
    """The results as the text table of the module docstring (balanced accuracies in %)."""
    lines = [f"{'attribute':16s} {'K':>2s} {'chance':>7s} {'global':>7s} {'crop':>6s} {'shuffled':>9s}"]
    for name, r in results.items():
        lines.append(
            f"{name:16s} {r['values']:2d} {100 * r['chance']:7.1f} {100 * r['global']:7.1f} "
            f"{100 * r['crop']:6.1f} {100 * r['shuffled']:9.1f}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("data", help="SynthFashion folder (e.g. data/SynthFashion)")
    p.add_argument("--attributes", nargs="+", default=list(ATTRIBUTE_NAMES), choices=ATTRIBUTE_NAMES)
    p.add_argument("--train", type=int, default=500, help="training images per attribute (default 500)")
    p.add_argument("--test", type=int, default=250, help="evaluation images per attribute (default 250)")
    p.add_argument("--split", default="valid", choices=("valid", "test"))
    p.add_argument("--global-size", type=int, default=GLOBAL_SIZE)
    p.add_argument("--local-size", type=int, default=LOCAL_SIZE)
    p.add_argument("--threshold", type=float, default=THRESHOLD)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--design", type=int, default=None,
                   help="the design the folder must hold (default: whichever its meta.json records)")
    p.add_argument("--json", help="also write the results to this JSON file")
    args = p.parse_args(argv)
    if args.train < 2 or args.test < 1:
        p.error(f"--train must be >= 2 and --test >= 1, got {args.train} and {args.test}")
    t0 = time.perf_counter()
    try:
        results = probe(args.data, args.attributes, args.train, args.test, args.split, args.global_size,
                        args.local_size, args.threshold, args.seed, args.design)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    held = next(iter(results.values()))["design"]
    print(f"{args.data}: design {held} (generator {GENERATOR_VERSIONS[held]})")
    print(format_table(results))
    print(f"({time.perf_counter() - t0:.0f} s)")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
