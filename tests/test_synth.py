"""Tests for SynthFashion (asen.synth): layout, determinism, caching, preview and the local-detail premise's
region cue (design pieces contrast with the garment; the values differ only inside the region)."""

from __future__ import annotations

import collections
import hashlib
import itertools
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from asen.synth import ATTRIBUTES, SIZES, __version__, generate_dataset, render_image, save_preview
from asen.synth.attributes import CANDIDATE_COUNTS, QUERY_COUNTS, random_map_estimate
from asen.synth.layout import allocate, split_plan
from asen.synth.preview import CAPTION_HEIGHT, HEADER_HEIGHT, MAX_COLUMNS, PAD, preview_geometry
from asen.synth.render import render_with_info

TINY = SIZES["tiny"]
EVAL_SPLITS = ("valid", "test")


def _read_items(path: Path) -> list[tuple[int, int, int]]:
    rows = []
    for line in path.read_text().splitlines():
        parts = line.split(" ")
        assert len(parts) == 3, f"{path.name}: bad line {line!r}"
        rows.append(tuple(int(p) for p in parts))
    return rows


def _manifest_bytes(root: Path) -> bytes:
    return (root / "manifest.json").read_bytes()


def _mtimes(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in root.rglob("*")}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("synth") / "SynthFashion"
    out = generate_dataset(root, "tiny", seed=0, workers=2, progress=False)
    assert out == root
    return root


# ------------------------------------------------------------------------------------------ layout
def test_layout_files_present_and_parseable(tiny: Path) -> None:
    for name in [
        "meta.json",
        "manifest.json",
        "label_train.txt",
        *(f"filenames_{s}.txt" for s in ("train", "valid", "test")),
        *(f"{k}_{s}.txt" for s in EVAL_SPLITS for k in ("query", "candidate")),
    ]:
        assert (tiny / name).is_file(), name
    meta = json.loads((tiny / "meta.json").read_text())
    assert meta["name"] == "SynthFashion"
    assert meta["attributes"] == [name for name, _ in ATTRIBUTES]
    assert meta["num_values"] == [6, 9, 8, 6, 5, 5, 10, 5]
    assert meta["value_names"] == [list(values) for _, values in ATTRIBUTES]
    assert all(v[0] == "Invisible" for v in meta["value_names"])
    gen = meta["generator"]
    assert gen["version"] == __version__ and gen["seed"] == 0 and gen["size"] == "tiny"
    assert gen["image_size"] == list(TINY.image_size)
    for split in ("train", "valid", "test"):
        names = (tiny / f"filenames_{split}.txt").read_text().splitlines()
        assert len(set(names)) == len(names)
        for rel in names[:5] + names[-3:]:
            with Image.open(tiny / rel) as img:
                assert img.format == "JPEG" and img.size == TINY.image_size and img.mode == "RGB"
                assert not img.info.get("exif")


def test_counts_match_size_table(tiny: Path) -> None:
    n = {s: len((tiny / f"filenames_{s}.txt").read_text().splitlines()) for s in ("train", "valid", "test")}
    assert n["train"] == TINY.train == len(_read_items(tiny / "label_train.txt"))
    for split in EVAL_SPLITS:
        q = _read_items(tiny / f"query_{split}.txt")
        c = _read_items(tiny / f"candidate_{split}.txt")
        assert len(q) == getattr(TINY, f"{split}_queries")
        assert len(c) == getattr(TINY, f"{split}_candidates")
        assert n[split] == len(q) + len(c)
    assert sum(n.values()) == TINY.total_images


def test_ids_in_range_and_each_image_in_exactly_one_role(tiny: Path) -> None:
    train = _read_items(tiny / "label_train.txt")
    assert sorted(i for i, _, _ in train) == list(range(TINY.train))
    for split in EVAL_SPLITS:
        n = len((tiny / f"filenames_{split}.txt").read_text().splitlines())
        q = [i for i, _, _ in _read_items(tiny / f"query_{split}.txt")]
        c = [i for i, _, _ in _read_items(tiny / f"candidate_{split}.txt")]
        assert all(0 <= i < n for i in q + c)
        assert not set(q) & set(c)
        assert sorted(q + c) == list(range(n))


def test_query_candidate_ratio_per_attribute(tiny: Path) -> None:
    for split in EVAL_SPLITS:
        q = collections.Counter(a for _, a, _ in _read_items(tiny / f"query_{split}.txt"))
        c = collections.Counter(a for _, a, _ in _read_items(tiny / f"candidate_{split}.txt"))
        for a in range(len(ATTRIBUTES)):
            assert q[a] >= 1
            assert abs(c[a] - 4 * q[a]) <= 4, (split, a, q[a], c[a])


def test_values_in_range_and_covered(tiny: Path) -> None:
    meta = json.loads((tiny / "meta.json").read_text())
    nv = meta["num_values"]
    train = _read_items(tiny / "label_train.txt")
    per_value = collections.Counter((a, v) for _, a, v in train)
    for _, a, v in train:
        assert 0 <= a < len(nv) and 0 <= v < nv[a]
    for a, n in enumerate(nv):
        for v in range(n):
            assert per_value[(a, v)] >= 2, (a, v)
    for split in EVAL_SPLITS:
        for kind in ("query", "candidate"):
            for _, a, v in _read_items(tiny / f"{kind}_{split}.txt"):
                assert 0 <= a < len(nv) and 0 <= v < nv[a]
        cands = {(a, v) for _, a, v in _read_items(tiny / f"candidate_{split}.txt")}
        assert cands == {(a, v) for a, n in enumerate(nv) for v in range(n)}, split


def test_no_value_dominates_and_random_map_is_fashionai_like() -> None:
    plan = split_plan(SIZES["small"], seed=0)
    by_attr = collections.defaultdict(collections.Counter)
    for it in plan["test"]:
        if it.role == "candidate":
            by_attr[it.attr][it.value] += 1
    for a, counts in by_attr.items():
        assert max(counts.values()) / sum(counts.values()) < 0.3, ATTRIBUTES[a][0]
    assert 0.14 < random_map_estimate() < 0.2


def test_manifest_hashes(tiny: Path) -> None:
    files = json.loads((tiny / "manifest.json").read_text())["files"]
    on_disk = {str(p.relative_to(tiny)) for p in tiny.rglob("*") if p.is_file()} - {"manifest.json"}
    assert set(files) == on_disk
    for rel in sorted(files)[:: max(1, len(files) // 40)] + ["meta.json", "label_train.txt"]:
        data = (tiny / rel).read_bytes()
        assert hashlib.sha256(data).hexdigest() == files[rel]["sha256"] and len(data) == files[rel]["bytes"]


def test_fashionai_split_counts() -> None:
    plan = split_plan(SIZES["fashionai"], seed=0)
    assert len(plan["train"]) == 144000
    for split in EVAL_SPLITS:
        q = collections.Counter(it.attr for it in plan[split] if it.role == "query")
        c = collections.Counter(it.attr for it in plan[split] if it.role == "candidate")
        assert [q[a] for a in range(8)] == list(QUERY_COUNTS)
        assert [c[a] for a in range(8)] == list(CANDIDATE_COUNTS)
    assert allocate(10, [1, 1, 1], 2) == [4, 3, 3]
    with pytest.raises(ValueError):
        allocate(3, [1, 1], 2)


# ------------------------------------------------------------------------------------------ determinism / caching
def test_deterministic_across_worker_counts_and_seed_matters(tiny: Path, tmp_path: Path) -> None:
    one = generate_dataset(tmp_path / "w1", "tiny", seed=0, workers=1, progress=False)
    assert _manifest_bytes(one) == _manifest_bytes(tiny)
    other = generate_dataset(tmp_path / "s1", "tiny", seed=1, workers=2, progress=False)
    a = json.loads(_manifest_bytes(tiny))["files"]
    b = json.loads(_manifest_bytes(other))["files"]
    assert a.keys() == b.keys()
    differing = sum(a[k]["sha256"] != b[k]["sha256"] for k in a if k.startswith("images/"))
    assert differing > 0.95 * TINY.total_images


def test_reuses_complete_dataset_without_writing(tiny: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = _mtimes(tiny)
    out = generate_dataset(tiny, "tiny", seed=0, workers=2, progress=False)
    assert out == tiny
    assert _mtimes(tiny) == before
    assert "reusing" in capsys.readouterr().out


def test_regenerates_incomplete_or_different_dataset_atomically(tiny: Path, tmp_path: Path) -> None:
    root = tmp_path / "ds"
    shutil.copytree(tiny, root)
    victim = root / (root / "filenames_test.txt").read_text().splitlines()[3]
    victim.unlink()
    generate_dataset(root, "tiny", seed=0, workers=2, progress=False)
    assert victim.is_file()
    assert _manifest_bytes(root) == _manifest_bytes(tiny)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]  # no temp/old siblings left
    # same folder, different seed and image size: replaced, not reused
    generate_dataset(root, "tiny", seed=3, workers=2, image_size=64, progress=False)
    gen = json.loads((root / "meta.json").read_text())["generator"]
    assert gen["seed"] == 3 and gen["image_size"] == [64, 64]
    with Image.open(root / "images" / "train" / "000000.jpg") as img:
        assert img.size == (64, 64)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]


def test_refuses_foreign_folder(tmp_path: Path) -> None:
    foreign = tmp_path / "photos"
    foreign.mkdir()
    (foreign / "holiday.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="photos"):
        generate_dataset(foreign, "tiny", progress=False)
    assert (foreign / "holiday.txt").read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photos"]
    a_file = tmp_path / "afile"
    a_file.write_text("x")
    with pytest.raises(FileExistsError, match="afile"):
        generate_dataset(a_file, "tiny", progress=False)


@pytest.mark.parametrize(
    "kwargs, needle",
    [
        ({"size": "huge"}, "huge"),
        ({"image_size": 0}, "image_size"),
        ({"image_size": -96}, "image_size"),
        ({"image_size": (96, 0)}, "image_size"),
        ({"image_size": "big"}, "image_size"),
        ({"seed": "1"}, "seed"),
        ({"seed": 1.5}, "seed"),
        ({"seed": -1}, "seed"),
        ({"seed": True}, "seed"),
        ({"workers": 0}, "workers"),
    ],
)
def test_bad_arguments(tmp_path: Path, kwargs: dict, needle: str) -> None:
    args = {"size": "tiny", "progress": False, **kwargs}
    with pytest.raises(ValueError, match=needle):
        generate_dataset(tmp_path / "x", **args)
    assert not (tmp_path / "x").exists()


def test_render_bad_arguments() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="attribute"):
        render_image(8, 0, rng)
    with pytest.raises(ValueError, match="sleeve_length"):
        render_image("sleeve_length", 9, rng)
    with pytest.raises(ValueError, match="image_size"):
        render_image(0, 0, rng, (0, 0))
    with pytest.raises(ValueError, match="Generator"):
        render_image(0, 0, 123)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------ preview / render
def test_preview_grid(tmp_path: Path) -> None:
    cell = 32
    out = save_preview(tmp_path / "sub" / "preview.png", seed=0, image_size=96, cell=cell)
    assert out.is_file()
    with Image.open(out) as img:
        assert img.size == preview_geometry(cell)
        w, h = img.size
    assert (h - HEADER_HEIGHT - PAD) // (cell + CAPTION_HEIGHT + PAD) == len(ATTRIBUTES) == 8
    assert (h - HEADER_HEIGHT - PAD) % (cell + CAPTION_HEIGHT + PAD) == 0
    assert w > MAX_COLUMNS * cell
    with pytest.raises(ValueError, match="cell"):
        save_preview(tmp_path / "p.png", cell=0)


def test_render_image_size_and_determinism() -> None:
    img = render_image(0, 1, np.random.default_rng(5), (128, 96))
    assert isinstance(img, Image.Image) and img.size == (128, 96) and img.mode == "RGB"
    assert render_image("neck_design", 2, np.random.default_rng(5)).size == (224, 224)
    a = render_image(4, 3, np.random.default_rng(7)).tobytes()
    b = render_image(4, 3, np.random.default_rng(7)).tobytes()
    assert a == b
    assert render_image(4, 3, np.random.default_rng(8)).tobytes() != a


def test_design_pieces_stand_out_from_the_garment() -> None:
    """The region cue every design value shares (generator 2): collar and neck pieces and lapel facings differ
    from the garment's fabric by at least 60-80 grey levels, whatever the value, so the region survives the
    64 px global input. (That the values are ambiguous at 64 px and legible in a crop of the region is
    measured by tools/readability_probe.py, see its docstring.)"""
    from asen.synth.render import sampling
    from asen.synth.render.details import _contrast, _detail_fill
    from asen.synth.render.palette import _lum, _scale

    for seed in range(200):
        out = sampling._sample_outfit("collar_design", np.random.default_rng(seed))
        assert abs(_lum(_detail_fill(out.top)) - _lum(out.top.fabric.base)) >= 80
        base = out.coat.fabric.base if out.coat is not None else out.top.fabric.base
        facing = _contrast(base, _scale(base, 1.6) if _lum(base) < 128 else _scale(base, 0.55), 60.0)
        assert abs(_lum(facing) - _lum(base)) >= 60


def test_design_values_share_the_region_and_differ_inside_it() -> None:
    """Same person, pose and framing (same seed): two values of a design attribute differ, inside the region."""
    for attr in ("collar_design", "lapel_design", "neck_design"):
        img1, info = render_with_info(attr, 1, np.random.default_rng(0))
        img2, info2 = render_with_info(attr, 3, np.random.default_rng(0))
        assert info["region"] == info2["region"]
        diff = np.abs(np.asarray(img1, np.float32) - np.asarray(img2, np.float32)).max(-1) > 30
        ys, xs = np.nonzero(diff)
        assert len(xs) > 50, attr  # a few pixels at 224, not one line
        x0, y0, x1, y1 = info["region"]
        inside = (xs >= x0 - 2) & (xs < x1 + 2) & (ys >= y0 - 2) & (ys < y1 + 2)
        assert inside.mean() >= 0.9, (attr, inside.mean())


def test_invisible_is_varied() -> None:
    """Invisible must not be one recognisable picture: renders of value 0 differ from each other
    about as much as renders of a visible value do."""

    def spread(value: int) -> float:
        imgs = [
            np.asarray(render_image("collar_design", value, np.random.default_rng(s), 64), np.float32) for s in range(8)
        ]
        return float(np.mean([np.abs(p - q).mean() for p, q in itertools.combinations(imgs, 2)]))

    assert spread(0) > 0.7 * spread(1)
