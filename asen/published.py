"""Published MAP figures, as data: what the book may print beside its own numbers.

Source of truth: ``shared/reference/published_results.md`` (ASEN++, Dong et al., IEEE TIP 2021, Sec. IV;
ASEN, Ma et al., AAAI 2020). Two kinds of rows:

* **Verified** rows, read from their sources: RPF (SIGIR 2023, HuiGuanLab/RPF README) overall and per
  attribute on FashionAI, DARN and DeepFashion; AG-MAN (arXiv 2301.13014, abstract) on FashionAI and
  DeepFashion; ASENet_V2 (the "advanced ASEN" of the Maryeon/asen README, Feb 2020) on FashionAI.
  They are later or related work on the *real* datasets, context for a reader with real data, never a
  target for SynthFashion.
* **Unverified** slots for the ASEN++ paper's own comparison (Random, Triplet network, CSN, ASEN, ASEN++ on
  FashionAI, DARN, DeepFashion) and its FashionAI ablations. The paper's tables could not be read where this project was built, so
  every value is ``None`` and the source names the table; a maintainer with the PDF fills them in (and
  flips ``verified``). :func:`format_map` prints ``None`` as an em dash, never as a number.

Attribute names follow the datasets' ``meta.json`` (FashionAI as in SynthFashion; DARN and DeepFashion in
snake case). Query counts are the FashionAI test split of the authors' split files.

Usage::

    from asen.published import rows, format_map
    for row in rows("FashionAI"):
        print(row["method"], format_map(row["overall"]), row["source"])
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DATASETS = ("FashionAI", "DARN", "DeepFashion")

ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "FashionAI": ("skirt_length", "sleeve_length", "coat_length", "pant_length", "collar_design", "lapel_design",
                  "neckline_design", "neck_design"),
    "DARN": ("category", "button", "color", "length", "pattern", "shape", "collar", "sleeve_length",
             "sleeve_shape"),
    "DeepFashion": ("texture", "fabric", "shape", "part", "style"),
}

# Number of values per attribute (FashionAI and DARN: attributes; DeepFashion: attribute types).
NUM_VALUES: dict[str, tuple[int, ...]] = {
    "FashionAI": (6, 9, 8, 6, 5, 5, 10, 5),
    "DARN": (20, 13, 55, 7, 28, 11, 26, 8, 17),
    "DeepFashion": (156, 218, 180, 216, 230),
}


@dataclass(frozen=True)
class SplitStats:
    """One FashionAI attribute in the authors' split files."""

    values: int
    test_queries: int
    test_candidates: int
    valid_queries: int


FASHIONAI_SPLIT: dict[str, SplitStats] = {
    "skirt_length": SplitStats(6, 422, 1703, 439),
    "sleeve_length": SplitStats(9, 623, 2383, 596),
    "coat_length": SplitStats(8, 535, 2088, 515),
    "pant_length": SplitStats(6, 422, 1722, 419),
    "collar_design": SplitStats(5, 341, 1401, 356),
    "lapel_design": SplitStats(5, 289, 1269, 330),
    "neckline_design": SplitStats(10, 703, 2734, 668),
    "neck_design": SplitStats(5, 265, 1100, 277),
}
FASHIONAI_TEST_QUERIES = sum(s.test_queries for s in FASHIONAI_SPLIT.values())  # 3600
DARN_DOWNLOADABLE_IMAGES = 214_619  # as used by the authors (many source URLs are dead)


@dataclass(frozen=True)
class Published:
    """One method on one dataset: MAP (%) overall and per attribute, where it comes from, and whether the
    source was read (``verified``). ``None`` means "not known here", never zero."""

    method: str
    dataset: str
    overall: float | None
    source: str
    verified: bool
    per_attribute: dict[str, float | None] = field(default_factory=dict)
    note: str = ""
    decimals: int = 2  # as many as the source gives

    def to_row(self) -> dict[str, Any]:
        return {"method": self.method, "dataset": self.dataset, "overall": self.overall,
                "per_attribute": dict(self.per_attribute), "source": self.source, "verified": self.verified,
                "note": self.note, "decimals": self.decimals}


def _per(dataset: str, values: tuple[float, ...]) -> dict[str, float]:
    names = ATTRIBUTES[dataset]
    if len(values) != len(names):
        raise ValueError(f"{dataset}: {len(values)} values for {len(names)} attributes")
    return dict(zip(names, values))


RPF_SOURCE = "RPF (SIGIR 2023, arXiv 2305.10260), HuiGuanLab/RPF README"
AGMAN_SOURCE = "AG-MAN (arXiv 2301.13014), paper abstract"
ASENET_V2_SOURCE = "ASENet_V2 ('advanced ASEN', AAAI code), Maryeon/asen README, Feb 2020"

VERIFIED: tuple[Published, ...] = (
    Published("RPF", "FashionAI", 70.11, RPF_SOURCE, True,
              _per("FashionAI", (66.75, 67.86, 59.65, 73.23, 75.72, 73.18, 74.40, 75.01))),
    Published("RPF", "DARN", 58.80, RPF_SOURCE, True,
              _per("DARN", (45.18, 54.92, 55.08, 63.51, 57.04, 63.54, 41.20, 86.95, 62.43))),
    Published("RPF", "DeepFashion", 10.22, RPF_SOURCE, True,
              _per("DeepFashion", (15.62, 8.30, 15.02, 7.38, 4.77))),
    Published("AG-MAN", "FashionAI", 62.88, AGMAN_SOURCE, True, note="abstract gives 62.8788"),
    Published("AG-MAN", "DeepFashion", 8.98, AGMAN_SOURCE, True, note="abstract gives 8.9804"),
    Published("ASENet_V2", "FashionAI", 60.3, ASENET_V2_SOURCE, True, decimals=1),
)

# The ASEN++ paper's own comparison: method names as in the paper, our method keys alongside.
PAPER_METHODS: dict[str, str] = {
    "random": "Random baseline", "triplet": "Triplet network", "csn": "CSN", "asen_aaai": "ASEN",
    "asenpp": "ASEN++",
}
# rows of this project's table that the paper's table does not have
NOT_IN_PAPER_TABLE: dict[str, str] = {"asen_v2": "ASEN_v2", "asen": "ASEN++ global branch"}
PAPER_SOURCE = "ASEN++ paper, main comparison table ({dataset}); table number not verified here"
PAPER_NOTE = "not verified here: the paper's tables could not be read; a maintainer with the PDF fills this in"

UNVERIFIED: tuple[Published, ...] = tuple(
    Published(label, dataset, None, PAPER_SOURCE.format(dataset=dataset), False,
              {a: None for a in ATTRIBUTES[dataset]}, PAPER_NOTE)
    for dataset in DATASETS for label in PAPER_METHODS.values()
)

ALL: tuple[Published, ...] = VERIFIED + UNVERIFIED

# The paper's ablations on FashionAI (its attention modules, branches, beta and the crop threshold): not
# verified here either; keys as in asen.reproduce.run_ablations.
PAPER_ABLATIONS: dict[str, str] = {
    "asenpp": "ASEN++", "no_asa": "ASEN++ w/o ASA", "no_aca": "ASEN++ w/o ACA",
    "global_only": "ASEN++ global branch only", "local_only": "ASEN++ local branch only",
}
ABLATION_SOURCE = "ASEN++ paper, ablation study (FashionAI); table number not verified here"
ABLATIONS: tuple[Published, ...] = tuple(
    Published(label, "FashionAI", None, ABLATION_SOURCE, False, {a: None for a in ATTRIBUTES["FashionAI"]},
              PAPER_NOTE)
    for label in PAPER_ABLATIONS.values()
)


def _check_dataset(dataset: str) -> None:
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; published figures exist for {', '.join(DATASETS)}")


def rows(dataset: str, verified: bool | None = None) -> list[dict[str, Any]]:
    """Published rows for one real dataset, as plain dicts (no pandas).

    Args:
        dataset: ``FashionAI``, ``DARN`` or ``DeepFashion``.
        verified: ``True`` only verified rows, ``False`` only the ASEN++ paper's unverified slots, ``None`` both.
    Returns:
        ``[{"method", "dataset", "overall", "per_attribute", "source", "verified", "note", "decimals"}]``, the ASEN++
        paper's methods first (in its order), then the verified later work.
    """
    _check_dataset(dataset)
    out = [p.to_row() for p in UNVERIFIED + VERIFIED if p.dataset == dataset]
    return [r for r in out if verified is None or r["verified"] is verified]


def paper_slot(method: str, dataset: str) -> dict[str, Any]:
    """The ASEN++ paper's slot for one of our method keys (``random``, ``triplet``, ``csn``, ``asen_aaai``,
    ``asenpp``); its values stay ``None`` until verified. Methods the paper's table does not have (``asen_v2``,
    ``asen``: ASEN++'s global branch alone) get an empty row saying so."""
    _check_dataset(dataset)
    if method in NOT_IN_PAPER_TABLE:
        return {"method": NOT_IN_PAPER_TABLE[method], "dataset": dataset, "overall": None, "per_attribute": {},
                "source": "not a row of the ASEN++ paper's main table", "verified": False,
                "note": "not in the paper's table", "decimals": 2}
    if method not in PAPER_METHODS:
        raise ValueError(f"unknown method {method!r}; the paper's table has {', '.join(PAPER_METHODS)}")
    label = PAPER_METHODS[method]
    return next(p.to_row() for p in ALL if p.dataset == dataset and p.method == label)


def ablation_slot(key: str) -> dict[str, Any]:
    """The ASEN++ paper's FashionAI ablation slot for a key of :func:`asen.reproduce.run_ablations`
    (``asenpp``, ``no_asa``, ``no_aca``, ``global_only``, ``local_only``); ``None`` until verified."""
    if key not in PAPER_ABLATIONS:
        raise ValueError(f"unknown ablation {key!r}; expected one of {', '.join(PAPER_ABLATIONS)}")
    return next(p.to_row() for p in ABLATIONS if p.method == PAPER_ABLATIONS[key])


def weighted_overall(per_attribute: dict[str, float], queries: dict[str, int]) -> float:
    """Query-weighted mean of per-attribute MAPs (how "overall" is defined in the paper's protocol;
    :func:`asen.metrics.overall_map` with attribute names)."""
    from .metrics import overall_map

    return overall_map({a: (m, queries[a]) for a, m in per_attribute.items()})


def format_map(value: float | None, digits: int = 2) -> str:
    """A MAP for a table: ``None`` (not known here) as an em dash."""
    return "—" if value is None else f"{value:.{digits}f}"
