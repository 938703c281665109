"""The published figures in asen/published.py: internal consistency, and agreement with the reference notes."""
import re
from pathlib import Path

import pytest

from asen import published as P

# a copy of the project's reference notes on published figures, kept with the tests
REFERENCE = Path(__file__).parent / "data" / "published_results.md"


def test_rpf_fashionai_weighted_by_test_queries_is_exactly_70_11():
    rpf = next(r for r in P.rows("FashionAI", verified=True) if r["method"] == "RPF")
    queries = {a: s.test_queries for a, s in P.FASHIONAI_SPLIT.items()}
    weighted = P.weighted_overall(rpf["per_attribute"], queries)
    assert round(weighted, 2) == rpf["overall"] == 70.11
    plain = sum(rpf["per_attribute"].values()) / len(rpf["per_attribute"])
    assert plain == pytest.approx(70.725)  # the plain mean of attributes is a different number


def test_fashionai_split_totals():
    assert P.FASHIONAI_TEST_QUERIES == 3600
    assert sum(s.test_candidates for s in P.FASHIONAI_SPLIT.values()) == 14400
    assert sum(s.valid_queries for s in P.FASHIONAI_SPLIT.values()) == 3600
    assert sum(s.values for s in P.FASHIONAI_SPLIT.values()) == 54
    assert tuple(P.FASHIONAI_SPLIT) == P.ATTRIBUTES["FashionAI"]
    assert tuple(s.values for s in P.FASHIONAI_SPLIT.values()) == P.NUM_VALUES["FashionAI"]


@pytest.mark.parametrize("dataset", P.DATASETS)
def test_attribute_lists_match_value_counts(dataset):
    assert len(P.ATTRIBUTES[dataset]) == len(P.NUM_VALUES[dataset])
    assert len(set(P.ATTRIBUTES[dataset])) == len(P.ATTRIBUTES[dataset])


@pytest.mark.parametrize("dataset", P.DATASETS)
def test_verified_per_attribute_rows_are_complete_and_bracket_the_overall(dataset):
    for row in P.rows(dataset, verified=True):
        assert row["overall"] is not None and 0 < row["overall"] < 100
        if row["per_attribute"]:
            per = row["per_attribute"]
            assert tuple(per) == P.ATTRIBUTES[dataset]
            assert all(v is not None and 0 < v < 100 for v in per.values())
            assert min(per.values()) <= row["overall"] <= max(per.values())


def test_darn_overall_is_not_the_plain_mean():
    rpf = next(r for r in P.rows("DARN", verified=True) if r["method"] == "RPF")
    plain = sum(rpf["per_attribute"].values()) / len(rpf["per_attribute"])
    assert round(plain, 2) == 58.87 and rpf["overall"] == 58.80  # weighted by DARN's (unlisted) query counts


def test_every_unverified_slot_is_none_and_names_the_paper():
    unverified = [r for d in P.DATASETS for r in P.rows(d, verified=False)]
    assert len(unverified) == len(P.DATASETS) * len(P.PAPER_METHODS) == 15
    for row in unverified:
        assert row["overall"] is None
        assert set(row["per_attribute"]) == set(P.ATTRIBUTES[row["dataset"]])
        assert all(v is None for v in row["per_attribute"].values())
        assert row["source"].startswith("ASEN++ paper")
        assert "not verified" in row["note"]
        assert P.format_map(row["overall"]) == "—"


def test_ablation_slots_are_none():
    assert len(P.ABLATIONS) == len(P.PAPER_ABLATIONS) == 5
    for key in P.PAPER_ABLATIONS:
        slot = P.ablation_slot(key)
        assert slot["overall"] is None and not slot["verified"] and slot["source"].startswith("ASEN++ paper")
        assert all(v is None for v in slot["per_attribute"].values())
    with pytest.raises(ValueError, match="unknown ablation"):
        P.ablation_slot("beta")


def test_no_verified_row_claims_to_be_the_asenpp_paper():
    for p in P.VERIFIED:
        assert p.verified and not p.source.startswith("ASEN++ paper")
        assert p.method not in P.PAPER_METHODS.values()


def test_rows_order_and_filters():
    rows = P.rows("FashionAI")
    assert [r["method"] for r in rows] == [*P.PAPER_METHODS.values(), "RPF", "AG-MAN", "ASENet_V2"]
    assert [r["method"] for r in P.rows("DARN", verified=True)] == ["RPF"]
    assert [r["method"] for r in P.rows("DeepFashion", verified=True)] == ["RPF", "AG-MAN"]
    assert all(isinstance(r, dict) for r in rows)
    rows[0]["per_attribute"]["skirt_length"] = 1.0  # rows are copies: the data cannot be edited through them
    assert P.rows("FashionAI")[0]["per_attribute"]["skirt_length"] is None


def test_paper_slot_and_errors():
    slot = P.paper_slot("asenpp", "DARN")
    assert slot["method"] == "ASEN++" and slot["overall"] is None and not slot["verified"]
    with pytest.raises(ValueError, match="unknown dataset"):
        P.rows("Zappos50k")
    with pytest.raises(ValueError, match="unknown method"):
        P.paper_slot("rpf", "FashionAI")
    # the paper's "ASEN" is the AAAI model (our asen_aaai), not ASEN++'s global branch (our asen)
    assert P.paper_slot("asen_aaai", "FashionAI")["method"] == "ASEN"
    for key in ("asen", "asen_v2"):
        slot = P.paper_slot(key, "FashionAI")
        assert slot["overall"] is None and slot["note"] == "not in the paper's table"


def test_format_map():
    assert P.format_map(70.11) == "70.11"
    assert P.format_map(60.3, 1) == "60.3"
    assert P.format_map(None) == "—"


def test_numbers_match_the_reference_notes():
    text = REFERENCE.read_text()
    for dataset in P.DATASETS:
        rpf = next(r for r in P.rows(dataset, verified=True) if r["method"] == "RPF")
        line = re.search(rf"RPF per attribute, {dataset} \([^)]*\):\s*([\d.,\s]+)\.", text)
        assert line, dataset
        numbers = [float(x) for x in line.group(1).replace("\n", " ").split(",")]
        assert numbers == list(rpf["per_attribute"].values())
    table = re.search(r"\| RPF [^\n]*\| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \|", text)
    assert [float(x) for x in table.groups()] == [r["overall"] for d in P.DATASETS
                                                  for r in P.rows(d, verified=True) if r["method"] == "RPF"]
    assert "| 62.88 | — | 8.98 |" in text and "| 60.3 | — | — |" in text
    for attr, stats in P.FASHIONAI_SPLIT.items():
        row = f"| {attr} | {stats.values} | {stats.test_queries} | {stats.test_candidates} | {stats.valid_queries} |"
        assert row in text
