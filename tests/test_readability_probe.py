"""tools/readability_probe.py: the region crop goes through asen.roi's box code, the features and the linear probe
separate an obviously readable label from shuffled labels, and the probe runs end to end on a tiny SynthFashion."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from asen.synth import generate_dataset, render_with_info
from asen.synth.layout import image_rng

spec = importlib.util.spec_from_file_location(
    "readability_probe", Path(__file__).parent.parent / "tools" / "readability_probe.py"
)
probe = importlib.util.module_from_spec(spec)
spec.loader.exec_module(probe)


def test_region_mask_by_hand() -> None:
    # 100 x 100 image, G = 10: global pixel i covers [10 i, 10 i + 10), centre 10 i + 5
    m = probe.region_mask((20, 40, 50, 61), (100, 100), 10)
    assert m.shape == (10, 10)
    assert np.array_equal(np.nonzero(m.any(0))[0], [2, 3, 4])  # centres 25, 35, 45
    assert np.array_equal(np.nonzero(m.any(1))[0], [4, 5])  # centres 45, 55
    assert m.sum() == 6
    # a wide image is centre-cropped: 200 x 100 -> offset 50 px along x
    assert np.array_equal(probe.region_mask((70, 40, 100, 61), (200, 100), 10), m)


def test_views_crop_the_region_square() -> None:
    img, info = render_with_info("collar_design", 2, np.random.default_rng(3))
    g, crop, box = probe.views(img, info["region"], 64, 64, 0.1)
    assert g.size == (64, 64) and crop.size == (64, 64)
    left, top, right, bottom = box
    assert right - left == bottom - top  # asen.roi's square box
    x0, y0, x1, y1 = info["region"]
    slack = 224 / 64 + 1  # one global pixel
    assert left <= x0 + slack and top <= y0 + slack and right >= x1 - slack and bottom >= y1 - slack
    assert right - left <= max(x1 - x0, y1 - y0) + 2 * slack  # a zoom, not the whole frame
    # the crop is the box cut from the image, resized
    ref = img.crop(box).resize((64, 64), Image.BILINEAR)
    assert np.array_equal(np.asarray(ref), np.asarray(crop))


def test_hog_sees_orientation() -> None:
    vertical = np.tile((np.arange(32) % 8 < 4).astype(np.float32), (32, 1))
    f_v, f_h = probe.hog(vertical), probe.hog(vertical.T)
    assert f_v.shape == f_h.shape == (7 * 7 * 9,)
    bins_v = f_v.reshape(9, -1).sum(1)
    bins_h = f_h.reshape(9, -1).sum(1)
    assert bins_v.argmax() == 0 and bins_h.argmax() == 4  # gradients along x (0 rad) vs along y (pi/2)


def test_probe_separates_a_readable_label_from_shuffled_labels() -> None:
    """Short vs floor-length skirts are obvious at 64 px; with the labels shuffled the same probe is at chance."""
    x, y = [], []
    for i in range(120):
        v = 1 if i % 2 else 5
        img, info = render_with_info("skirt_length", v, image_rng(7, "train", i), 96)
        g, _, _ = probe.views(img, info["region"], 64, 64, 0.1)
        x.append(probe.features(g))
        y.append(v)
    x, y = np.stack(x), np.array(y)
    real = probe.fit_score(x[:80], y[:80], x[80:], y[80:])
    shuffled = probe.fit_score(x[:80], np.random.default_rng(0).permutation(y[:80]), x[80:], y[80:])
    assert real["balanced_accuracy"] >= 0.85, real
    assert shuffled["balanced_accuracy"] <= 0.7, shuffled


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_dataset(tmp_path_factory.mktemp("probe") / "SynthFashion", "tiny", seed=0, workers=1,
                            progress=False)


def test_probe_end_to_end_on_tiny(tiny: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r.json"
    assert probe.main([str(tiny), "--attributes", "collar_design", "skirt_length", "--train", "30", "--test", "20",
                       "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "collar_design" in text and "skirt_length" in text
    r = json.loads(out.read_text())
    assert set(r) == {"collar_design", "skirt_length"}
    assert r["collar_design"]["values"] == 4 and r["collar_design"]["chance"] == 0.25  # Invisible left out
    for row in r.values():
        assert row["design"] == 2  # read from meta.json (the default design)
        assert row["n_train"] <= 30 and row["n_test"] <= 20
        for k in ("global", "crop", "shuffled"):
            assert 0.0 <= row[k] <= 1.0


def test_probe_refuses_a_folder_without_generator(
    tiny: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = tmp_path / "other"
    shutil.copytree(tiny, other)
    meta = json.loads((other / "meta.json").read_text())
    del meta["generator"]
    (other / "meta.json").write_text(json.dumps(meta))
    assert probe.main([str(other), "--train", "5", "--test", "5"]) == 2
    assert "meta.json: no generator seed" in capsys.readouterr().err


def test_probe_checks_the_design(tiny: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert probe.main([str(tiny), "--design", "1", "--attributes", "neck_design", "--train", "5", "--test", "5"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith("meta.json: the folder holds design 2 (generator 2.2.0), not design 1")
    assert len(err.splitlines()) == 1
    r = probe.probe(tiny, ["neck_design"], 10, 10, design=2)
    assert r["neck_design"]["design"] == 2
