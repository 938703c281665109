"""The configs' comments say what a value means and why; measured figures live in reference_results/."""
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted((ROOT / "asen" / "configs").glob("*.yaml"))


def comments(path: Path) -> str:
    return "\n".join(line.partition("#")[2] for line in path.read_text().splitlines() if "#" in line)


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_config_comments_hold_no_measured_figures(path):
    text = comments(path)
    assert not re.search(r"[Mm]easured\b[^.]*\d", text), "a measured figure in a config comment: move it to " \
        "reference_results/protocol_measurements.md (with where it came from) and point there"
    assert not re.search(r"\d+(\.\d+)? ?/ ?\d+\.\d+ ?/ ?\d+\.\d+", text), "per-seed figures in a config comment"
    for ref in (r.rstrip(".") for r in re.findall(r"reference_results/([\w.*]+)", text)):
        assert list((ROOT / "reference_results").glob(ref)), f"{path.name} points at reference_results/{ref}"


def test_the_cpu_protocol_configs_point_at_their_measurements():
    doc = (ROOT / "reference_results" / "protocol_measurements.md").read_text()
    for name in ("synthfashion_cpu", "synthfashion_cpu_pretrain", "synthfashion_cpu_s2"):
        assert "reference_results/protocol_measurements.md" in comments(ROOT / "asen" / "configs" / f"{name}.yaml")
        assert f"`{name}.yaml`" in doc
    assert "generator 1.0.0" in doc
