"""The tracked reference results have the schema of `asen reproduce`, and the README shows exactly them."""
import json
from pathlib import Path

from asen.reproduce import MAIN_METHODS, METHOD_LABELS, markdown_table

ROOT = Path(__file__).resolve().parent.parent


def test_main_table_reference_matches_the_readme():
    res = json.loads((ROOT / "reference_results" / "synthfashion_main_table.json").read_text())
    assert list(res["methods"]) == list(MAIN_METHODS) and res["seeds"] == [0, 1, 2] and res["profile"] == "cpu"
    assert res["machine"]["cpu"] and res["machine"]["cores"] >= 1 and res["machine"]["torch"].startswith("2.")
    for key, row in res["methods"].items():
        assert row["label"] == METHOD_LABELS[key] and len(row["overall"]["values"]) == 3 and row["seeds"] == [0, 1, 2]
        assert set(row["per_attribute"]) == set(res["attributes"])
    rows = [line for line in markdown_table(res, "x").splitlines() if line.startswith("| ") and "---" not in line]
    readme = (ROOT / "README.md").read_text()
    for line in rows:  # the header and one line per method, digit for digit
        assert line in readme, line


def test_ablations_reference_has_the_schema_and_its_readme_numbers():
    from asen.reproduce import ABLATION_ROWS, zoom_gains

    res = json.loads((ROOT / "reference_results" / "synthfashion_ablations.json").read_text())
    main = json.loads((ROOT / "reference_results" / "synthfashion_main_table.json").read_text())
    assert list(res["methods"]) == list(ABLATION_ROWS) and res["seeds"] == [0, 1, 2] and res["profile"] == "cpu"
    assert res["machine"]["cpu"] and res["machine"]["cores"] >= 1
    for key, row in res["methods"].items():
        assert row["label"] == METHOD_LABELS[key] and len(row["overall"]["values"]) == 3
        assert set(row["per_attribute"]) == set(res["attributes"])
    # the same runs as the main table: its ASEN++ and stage-1 rows are the ablations' ones
    for key in ("asenpp", "asen"):
        assert res["methods"][key]["overall"] == main["methods"][key]["overall"]
    assert res["zoom_gains"] == zoom_gains(res)
    readme = (ROOT / "README.md").read_text()
    for key in ("asenpp", "no_asa", "no_aca", "global_only", "local_only", "no_zoom"):
        o = res["methods"][key]["overall"]
        assert f"{o['mean']:.2f} ± {o['std']:.2f}" in readme, key


def test_references_were_measured_on_the_current_synthfashion():
    """Both reference tables name the generator version of their data, and it is today's default design's: a new
    generator version needs the tables re-measured (a rerun is compared with a reference of its own version only,
    asen.reproduce.load_reference)."""
    from asen.synth import DEFAULT_DESIGN, GENERATOR_VERSIONS

    for stem in ("main_table", "ablations"):
        res = json.loads((ROOT / "reference_results" / f"synthfashion_{stem}.json").read_text())
        assert res["data_version"] == GENERATOR_VERSIONS[DEFAULT_DESIGN], stem


def test_cross_cpu_rerun_is_comparable_with_the_reference_and_matches_the_readme():
    """The Zen 4 rerun of the main table (chapter 8 shows it beside the reference) was measured on the reference's
    data, profile and protocol, on another CPU kind, and the README's figures for it are these files'."""
    from asen.reproduce import load_reference, reference_comparison

    ref = load_reference("main_table")
    rerun = load_reference("main_table_zen4", ref)
    assert rerun is not None, "synthfashion_main_table_zen4.json is not comparable with the reference: re-measure it"
    assert rerun["machine"]["cpu_id"] == "family 25, model 17" != ref["machine"]["cpu_id"]
    assert list(rerun["methods"]) == list(MAIN_METHODS) and rerun["seeds"] == ref["seeds"]
    diffs = {r["method"]: r["diff"] for r in reference_comparison(rerun, ref)}
    seed_max = max(abs(x - y) for m in diffs for x, y in zip(rerun["methods"][m]["overall"]["values"],
                                                             ref["methods"][m]["overall"]["values"]))
    text = " ".join((ROOT / "README.md").read_text().split())
    assert f"within {max(map(abs, diffs.values())):.2f} points" in text
    assert f"ASEN++ {diffs['asenpp']:.2f}".replace("-", "−") in text and f"up to {seed_max:.1f} points" in text
