"""The rows of the tables: which methods, their labels, and the config overlays each one trains with."""
from __future__ import annotations

from typing import Sequence

MAIN_METHODS = ("random", "triplet", "csn", "asen_aaai", "asen_v2", "asen", "asenpp")
# "asen" is ASEN++'s global branch trained alone (its stage 1); the AAAI paper's ASEN is "asen_aaai"
METHOD_LABELS = {
    "random": "Random embeddings", "triplet": "Triplet network", "csn": "CSN", "asen_aaai": "ASEN (AAAI ASENet)",
    "asen_v2": "ASEN_v2 (AAAI ASENet_V2)", "asen": "ASEN++ global branch (stage 1)",
    "asenpp": "ASEN++ (global + local)", "no_asa": "ASEN++ w/o ASA", "no_aca": "ASEN++ w/o ACA",
    "global_only": "ASEN++ global branch only", "local_only": "ASEN++ local branch only",
    "no_zoom": "ASEN++ without the zoom (crop threshold 0)",
}
# stage-1 overlays per method; ASEN++ continues ASEN's stage-1 run with the stage-2 config
STAGE1_OVERLAYS = {"triplet": ["method_triplet"], "csn": ["method_csn"], "asen_aaai": ["method_asen_aaai"],
                   "asen_v2": ["method_asen_v2"], "asen": [], "no_asa": ["ablation_no_asa"],
                   "no_aca": ["ablation_no_aca"], "no_zoom": []}
# stage-2 overrides per method: the no-zoom control trains and tests its local branch on the whole image (crop
# threshold 0: the box keeps every location), continuing the same stage-1 run as ASEN++ ("asen")
STAGE2_OVERRIDES = {"no_zoom": ["train.crop_threshold=0", "eval.crop_threshold=0"]}
STAGE1_OF = {"asenpp": "asen", "no_zoom": "asen"}
"""Methods whose stage 2 continues another method's stage-1 run."""

ABLATION_ROWS = ("asenpp", "no_asa", "no_aca", "global_only", "local_only", "no_zoom", "asen")
"""Rows of :func:`asen.reproduce.run_ablations`, in order: ASEN++ and its ablations, then the stage-1 model both
stage-2 runs start from (``"asen"``, the reference the zoom's gain is measured against)."""


def stage1_of(method: str) -> str:
    """The method whose stage-1 run ``method`` trains or continues (:data:`STAGE1_OF`, else itself)."""
    return STAGE1_OF.get(method, method)


def stage1_methods(methods: Sequence[str] = MAIN_METHODS) -> list[str]:
    """The stage-1 runs (method keys) that main-table ``methods`` need, in order: Random needs none, and ASEN++
    continues the stage-1 run of its global branch (``"asen"``)."""
    return list(dict.fromkeys(stage1_of(m) for m in methods if m != "random"))
