"""How much a trained model's attribute-specific embedding encodes a nuisance attribute (SynthFashion only).

CSN's premise is that one shared embedding mixes the notions of similarity of different attributes, and
that a mask per attribute removes the others. This probe measures that mixing directly: on the skirt- and
pant-length images of a split, whose garments also carry a random sleeve length (the generator draws it
independently of the label), it ranks each query's candidates with the model's skirt/pant-length embedding
and scores the ranking against the *sleeve* class instead of the label. A model that ignores sleeves scores
like random embeddings; the more the embedding encodes sleeves, the higher the nuisance MAP. Images whose
label is Invisible are left out.

    .venv/bin/python tools/nuisance_probe.py runs/synthfashion data/SynthFashion [--split valid]

prints, for every stage-1 Triplet / CSN / ASEN run found, the MAP on the label and on the nuisance, next to
random embeddings (mean of 20 draws). The sleeve class of an image is recovered by replaying the generator's random streams for
that image (no rendering), so the probe needs the same generator version and seed as the dataset.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from asen.data import load_split_files
from asen.metrics import mean_average_precision
from asen.reproduce import evaluate_checkpoint
from asen.synth import render as R
from asen.synth.attributes import ATTRIBUTE_NAMES
from asen.synth.layout import image_rng

PROBED = ("skirt_length", "pant_length")
RANDOM_DRAWS = 20  # random-embedding baseline: mean over this many draws


def sleeve_class(seed: int, split: str, index: int, attribute: str) -> int:
    """The sleeve-length value (1-8, as in ``SLEEVE_ENDS``) of image ``index`` of a length attribute other than
    sleeve length, replayed from the image's ``outfit`` stream (:func:`asen.synth.render.split_streams`)."""
    outfit = R._sample_outfit(attribute, R.split_streams(image_rng(seed, split, int(index)))["outfit"])
    t = outfit.top.sleeve
    if t is None:
        return 1
    ends = {k: v for k, v in R.SLEEVE_ENDS.items() if v is not None}
    return min(ends, key=lambda k: abs(ends[k] - t))


def probe(ckpt: Path, files, root: str, split: str, seed: int) -> dict[str, tuple[float, float, float]]:
    """``{attribute: (MAP on the label, MAP on the nuisance sleeve class, the latter for random embeddings,
    averaged over RANDOM_DRAWS draws)}``."""
    r = evaluate_checkpoint(ckpt, files, torch.device("cpu"), split=split, progress=False,
                            overrides=[f"data.root={root}"])
    qi, ci = r["items"]["query"], r["items"]["candidate"]
    qf, cf = r["features"]["query"]["global"], r["features"]["candidate"]["global"]
    out = {}
    for name in PROBED:
        a = ATTRIBUTE_NAMES.index(name)
        qm, cm = (qi[:, 1] == a) & (qi[:, 2] > 0), (ci[:, 1] == a) & (ci[:, 2] > 0)
        qn = np.array([sleeve_class(seed, split, i, name) for i in qi[qm, 0]])
        cn = np.array([sleeve_class(seed, split, i, name) for i in ci[cm, 0]])
        rng = np.random.default_rng(0)
        rnd = [rng.standard_normal((int(qm.sum() + cm.sum()), qf.shape[1])).astype(np.float32) for _ in range(RANDOM_DRAWS)]
        out[name] = (
            100 * mean_average_precision(qf[qm], cf[cm], qi[qm, 2], ci[cm, 2]),
            100 * mean_average_precision(qf[qm], cf[cm], qn, cn),
            100 * float(np.mean([mean_average_precision(r[: qm.sum()], r[qm.sum():], qn, cn) for r in rnd])),
        )
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("runs", help="runs folder (e.g. runs/synthfashion)")
    p.add_argument("data", help="SynthFashion folder the runs were trained on")
    p.add_argument("--split", default="valid", choices=("valid", "test"))
    args = p.parse_args(argv)
    meta = json.loads((Path(args.data) / "meta.json").read_text())
    seed = int(meta["generator"]["seed"])
    files = load_split_files(args.data, splits=("train", args.split))
    print(f"{'run':28s} {'attribute':14s} {'MAP label':>9s} {'MAP sleeve':>10s} {'random':>7s}")
    for method in ("triplet", "csn", "asen"):
        for ckpt in sorted(Path(args.runs).glob(f"{method}_s1_seed*/checkpoints/best.pt")):
            for name, (own, nuisance, rand) in probe(ckpt, files, args.data, args.split, seed).items():
                print(f"{ckpt.parts[-3]:28s} {name:14s} {own:9.2f} {nuisance:10.2f} {rand:7.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
