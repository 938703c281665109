"""The tables' numbers and text: mean +- std over seeds, paired gaps, zoom gains, markdown and JSON files, and
the tracked reference tables a rerun is compared against."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..evaluate import MapTable
from ..runs import write_json


def _stats(values: Sequence[float]) -> dict[str, Any]:
    arr = np.asarray(values, dtype=float)
    return {"mean": float(arr.mean()), "std": float(arr.std(ddof=1)) if len(arr) > 1 else 0.0,
            "values": [float(v) for v in arr]}


def aggregate(tables: Sequence[MapTable]) -> dict[str, Any]:
    """Mean +- std over seeds of overall and per-attribute MAP (with and without Invisible)."""
    attrs = [a for a in tables[0].attributes if a in tables[0].per_attribute]
    out = {
        "overall": _stats([t.overall for t in tables]),
        "per_attribute": {a: _stats([t.per_attribute[a] for t in tables]) for a in attrs},
        "queries": tables[0].queries,
    }
    if tables[0].overall_visible is not None:
        out["overall_without_invisible"] = _stats([t.overall_visible for t in tables])
        out["per_attribute_without_invisible"] = {
            a: _stats([t.per_attribute_visible[a] for t in tables]) for a in attrs if a in tables[0].per_attribute_visible}
    return out


def paired_gap(results: dict[str, Any], a: str, b: str, key: str = "overall") -> dict[str, Any]:
    """Method ``b`` minus method ``a`` of a results dict, paired by seed: each seed trained both, so the
    difference is taken per seed, then its mean and standard error over the seeds both rows have.

    Returns:
        ``{"from", "to", "seeds", "mean", "se", "clear"}``; ``se`` is NaN with one common seed, and ``clear``
        says whether ``|mean| > 2 se`` (never with one seed).
    Raises:
        ValueError: the two rows share no seed.
    """
    def by_seed(m: str) -> dict[int, float]:
        row = results["methods"][m]
        return dict(zip(row.get("seeds", results["seeds"]), row[key]["values"]))

    va, vb = by_seed(a), by_seed(b)
    common = [s for s in vb if s in va]
    if not common:
        raise ValueError(f"{a} and {b} share no seed ({sorted(va)} vs {sorted(vb)}): no paired gap")
    d = np.array([vb[s] - va[s] for s in common])
    se = float(d.std(ddof=1) / np.sqrt(len(d))) if len(d) > 1 else float("nan")
    return {"from": a, "to": b, "seeds": common, "mean": float(d.mean()), "se": se,
            "clear": bool(len(d) > 1 and abs(d.mean()) > 2 * se)}


REFERENCE_DIR = Path(__file__).resolve().parents[2] / "reference_results"
"""The tracked reference tables of a source checkout (absent from an installed wheel)."""


def load_reference(stem: str, results: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """The tracked reference table ``reference_results/synthfashion_<stem>.json`` (``main_table``,
    ``ablations``), or None when this is not a source checkout or, given ``results``, when the reference was
    measured on another dataset or version of it (``data_version``, SynthFashion's generator), profile or
    protocol (so the two are not comparable)."""
    path = REFERENCE_DIR / f"synthfashion_{stem}.json"
    if not path.is_file():
        return None
    ref = json.loads(path.read_text())
    keys = ("dataset", "data_version", "profile", "protocol")
    if results is not None and any(ref.get(k) != results.get(k) for k in keys):
        return None
    return ref


def reference_comparison(results: dict[str, Any], reference: dict[str, Any]) -> list[dict[str, Any]]:
    """Per method present in both: this run's overall mean and the reference's, and the difference
    (``{"method", "label", "ours", "reference", "diff", "ref_std"}``)."""
    rows = []
    for m, row in results["methods"].items():
        ref = reference["methods"].get(m)
        if ref is None:
            continue
        ours, theirs = row["overall"]["mean"], ref["overall"]["mean"]
        rows.append({"method": m, "label": row["label"], "ours": ours, "reference": theirs, "diff": ours - theirs,
                     "ref_std": ref["overall"]["std"]})
    return rows


def format_stat(stat: dict[str, Any] | None) -> str:
    """``mean ± std`` of an :func:`aggregate` statistic (the mean alone for one seed; ``–`` for none)."""
    if stat is None:
        return "–"
    return f"{stat['mean']:.2f} ± {stat['std']:.2f}" if len(stat["values"]) > 1 else f"{stat['mean']:.2f}"


def markdown_table(results: dict[str, Any], title: str) -> str:
    """The main table as markdown: methods x (attributes, overall, overall w/o Invisible)."""
    attrs = results["attributes"]
    head = ["method", *attrs, "overall", "overall w/o Invisible"]
    lines = [f"### {title}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for key, res in results["methods"].items():
        cells = [res["label"], *(format_stat(res["per_attribute"].get(a)) for a in attrs), format_stat(res["overall"]),
                 format_stat(res.get("overall_without_invisible"))]
        lines.append("| " + " | ".join(cells) + " |")
    seeds = results["seeds"]
    fewer = "".join(f" {results['methods'][m]['label']}: seed(s) {s} only (no spread when one)."
                    for m, s in (results.get("method_seeds") or {}).items() if m in results["methods"])
    version = f" (generator {results['data_version']})" if results.get("data_version") else ""
    lines += ["", f"MAP (%) on the {results['split']} split of {results['dataset']}{version}, mean ± std over "
              f"{len(seeds)} seed(s) {seeds}.{fewer} {results['protocol']}"]
    return "\n".join(lines)


def write_results(results: dict[str, Any], out_dir: Path, stem: str, title: str) -> tuple[Path, Path]:
    """Write ``<stem>.json`` and ``<stem>.md`` into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json(out_dir / f"{stem}.json", results)
    md = out_dir / f"{stem}.md"
    md.write_text(markdown_table(results, title) + "\n")
    return out_dir / f"{stem}.json", md


def attribute_groups(attributes: Sequence[str]) -> dict[str, list[str]]:
    """FashionAI's two kinds of attribute, in the given order: ``"length"`` (``*_length``, read from the
    silhouette) and ``"design"`` (the others, read from a small region)."""
    length = [a for a in attributes if a.endswith("_length")]
    return {"length": length, "design": [a for a in attributes if a not in length]}


def zoom_gains(results: dict[str, Any]) -> dict[str, dict[str, float]]:
    """What the zoom adds, from an ablation (or main-table) results dict holding ``"asen"`` (the stage-1 global
    branch) and ``"asenpp"`` (and ``"no_zoom"`` when present): per row, its mean MAP minus the stage-1 model's,
    averaged over the design attributes and over the length attributes (``{"design": .., "length": ..}``; None
    for a group the dataset does not have)."""
    res, groups = results["methods"], attribute_groups(results["attributes"])

    def gain(m: str, names: list[str]) -> float | None:
        return float(np.mean([res[m]["per_attribute"][a]["mean"] - res["asen"]["per_attribute"][a]["mean"]
                              for a in names])) if names else None

    return {m: {g: gain(m, names) for g, names in groups.items()} for m in ("asenpp", "no_zoom") if m in res}
