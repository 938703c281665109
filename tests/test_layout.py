"""asen.layout: the split-file layout's names, its writer, its reader and its checker agree with one another."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

try:
    from fixtures_real import jpeg_bytes, write_corrupt, write_jpeg
except ImportError:  # tests/ imported as a package
    from tests.fixtures_real import jpeg_bytes, write_corrupt, write_jpeg

from asen import config, data, layout
from asen.layout import (
    EVAL_SPLITS, SPLIT_FILES, SPLITS, DataError, Layout, check_folder, image_problem, image_problems, layout_texts,
    load_split_files, meta_dict, read_filenames, read_manifest, resolve_attribute, seeded_split, split_mode,
    write_counts, write_files, write_manifest, write_split_files,
)

META = meta_dict("Tiny", ["colour", "shape"], [3, 2], [["red", "green", "blue"], ["round", "square"]])


def tiny_layout() -> Layout:
    """12 train images (two labels each), 6 valid and 6 test (2 queries, 4 candidates)."""
    sizes = {"train": 12, "valid": 6, "test": 6}
    lay = Layout(filenames={s: [f"img/{s}_{i}.jpg" for i in range(n)] for s, n in sizes.items()})
    lay.train_labels = [(i, [(0, i % 3), (1, i % 2)]) for i in range(12)]
    for s in EVAL_SPLITS:
        lay.queries[s] = [(0, 0, 0), (1, 1, 0)]
        lay.candidates[s] = [(2, 0, 0), (3, 0, 1), (4, 1, 0), (5, 1, 1)]
    return lay


def write_tiny(root: Path, images: bool = True) -> Path:
    lay = tiny_layout()
    write_split_files(root, lay, META)
    if images:
        for names in lay.filenames.values():
            for i, name in enumerate(names):
                write_jpeg(root / name, seed=i)
    return root


# ------------------------------------------------------------------------------------------------- names
def test_one_set_of_names():
    assert SPLITS == ("train", "valid", "test") and EVAL_SPLITS == ("valid", "test")
    assert config.SPLITS is EVAL_SPLITS and config.CHOICES["eval.split"] is EVAL_SPLITS
    assert SPLIT_FILES == (
        "filenames_train.txt", "filenames_valid.txt", "filenames_test.txt", "label_train.txt",
        "query_valid.txt", "candidate_valid.txt", "query_test.txt", "candidate_test.txt",
    )
    # the reading names stay importable from asen.data, as the same objects
    for name in ("DataError", "Meta", "SplitFiles", "load_meta", "load_split_files", "read_items", "seeded_split"):
        assert getattr(data, name) is getattr(layout, name), name


# --------------------------------------------------------------------------------------------- round trip
def test_write_read_check_round_trip(tmp_path):
    root = write_tiny(tmp_path / "Tiny")
    written = sorted(p.name for p in root.iterdir() if p.is_file())
    assert written == sorted(["meta.json", *SPLIT_FILES])  # no temporary file left behind
    sf = load_split_files(root)
    lay = tiny_layout()
    assert sf.meta.name == "Tiny" and sf.meta.attributes == ("colour", "shape") and sf.meta.num_values == (3, 2)
    assert sf.meta.value_names == (("red", "green", "blue"), ("round", "square"))
    assert sf.filenames == lay.filenames
    assert sf.train_labels.tolist() == [[i, a, v] for i, pairs in lay.train_labels for a, v in pairs]
    for s in EVAL_SPLITS:
        assert sf.queries[s].tolist() == [list(t) for t in lay.queries[s]]
        assert sf.candidates[s].tolist() == [list(t) for t in lay.candidates[s]]
    assert layout.layout_from_split_files(sf) == lay
    report = check_folder(root, progress=False)
    assert report.ok and report.errors == [] and report.warnings == [], report.errors + report.warnings
    assert report.images == {"train": 12, "valid": 6, "test": 6} and report.images_checked == 24
    assert report.counts[1] == {"attribute": "shape", "num_values": 2, "train": 12, "query_valid": 1,
                                "candidate_valid": 2, "query_test": 1, "candidate_test": 2}


def test_written_bytes():
    texts = layout_texts(tiny_layout())
    assert list(texts) == list(SPLIT_FILES)
    assert texts["label_train.txt"].startswith("0 0 0 1 0\n1 0 1 1 1\n2 0 2 1 0\n")
    assert texts["query_test.txt"] == "0 0 0\n1 1 0\n" and texts["filenames_valid.txt"].endswith("img/valid_5.jpg\n")
    assert layout.meta_json({"name": "é"}) == '{\n "name": "é"\n}\n'
    assert layout.meta_json({"a": [1]}, indent=2) == '{\n  "a": [\n    1\n  ]\n}\n'


@pytest.mark.parametrize("line,message", [
    ("3 0 x", "expected integers, got '3 0 x'"),
    ("3 0 1 1", "expected 'image_id attr value [attr value ...]', got '3 0 1 1'"),
    ("3 2 0", "attribute 2 out of range 0..1"),
    ("3 1 2", "value 2 out of range for attribute 1 'shape' (0..1)"),
    ("12 0 0", "image id 12 out of range 0..11"),
])
def test_a_bad_line_is_named_with_file_and_line_by_reader_and_checker(tmp_path, line, message):
    root = write_tiny(tmp_path / "Tiny", images=False)
    path = root / "label_train.txt"
    lines = path.read_text().splitlines()
    lines[4] = line
    path.write_text("\n".join(lines) + "\n")
    expected = f"{path}, line 5: {message}"
    with pytest.raises(DataError) as exc:
        load_split_files(root)
    assert str(exc.value) == expected
    report = check_folder(root, check_images=False, progress=False)
    assert report.errors == [f"{path}: 1 bad line(s):\n    {expected}"]
    assert report.counts[0]["train"] == 11  # the good lines still count


def test_empty_filename_line_by_reader_and_checker(tmp_path):
    root = write_tiny(tmp_path / "Tiny")
    path = root / "filenames_test.txt"
    path.write_text(path.read_text().replace("img/test_2.jpg\n", "\n"))
    expected = f"{path}, line 3: empty line (every line must name an image)"
    with pytest.raises(DataError, match="line 3: empty line"):
        read_filenames(path)
    problems: list[str] = []
    assert read_filenames(path, problems=problems)[2] == "" and problems == [expected]
    report = check_folder(root, progress=False)
    assert report.errors == [f"{path}: 1 empty line(s) (they shift every image id):\n    {expected}"]
    assert report.images_total == 23  # the empty line is not checked as an image


def test_checker_names_missing_files_and_images(tmp_path):
    root = write_tiny(tmp_path / "FashionAI")
    (root / "candidate_valid.txt").unlink()
    (root / "img/train_3.jpg").unlink()
    write_corrupt(root / "img/valid_1.jpg")
    report = check_folder(root, progress=False)
    assert report.errors[0].startswith(f"missing file(s) in {root}: candidate_valid.txt (prepare it with `python -m "
                                       "data_scripts.prepare_fashionai`")
    assert f"{root / 'filenames_train.txt'}, line 4: {root / 'img/train_3.jpg'}" in report.errors[1]
    assert f"{root / 'filenames_valid.txt'}, line 2: cannot read image {root / 'img/valid_1.jpg'}: cannot decode" \
        in report.errors[2]
    assert (report.images_missing, report.images_unreadable) == (1, 1)
    assert not check_folder(tmp_path / "nowhere").ok


# ------------------------------------------------------------------------------------------------- images
def test_image_problem(tmp_path):
    good = write_jpeg(tmp_path / "good.jpg")
    bad = write_corrupt(tmp_path / "bad.jpg")
    assert image_problem(good) is None and image_problem(str(good)) is None
    assert image_problem(tmp_path / "gone.jpg") == "missing"
    assert image_problem(tmp_path) == "not a file"
    assert image_problem(bad).startswith("cannot decode (")
    assert image_problem(jpeg_bytes(1)) is None
    assert image_problem(b"") == "empty body"
    assert image_problem(b"<html>no</html>").startswith("cannot decode (UnidentifiedImageError")
    found = image_problems([good, bad, tmp_path / "gone.jpg"], workers=2, progress=False)
    assert found[::2] == [None, "missing"] and found[1] == image_problem(bad) and found[1].startswith("cannot decode (")


# --------------------------------------------------------------------------------------------- attributes
def test_one_attribute_resolver():
    names = ("colour", "shape")
    assert [resolve_attribute(a, names) for a in ("shape", "Shape", 0, "1", np.int64(1))] == [1, 1, 0, 1, 1]
    with pytest.raises(DataError, match=r"unknown attribute 'size' \(known: 0:colour, 1:shape\)"):
        resolve_attribute("size", names)
    with pytest.raises(DataError, match=r"attribute index 2 out of range 0\.\.1"):
        resolve_attribute(2, names)
    meta = layout.Meta("Tiny", names, (3, 2), (("r", "g", "b"), ("o", "s")))
    assert meta.attribute_index("shape") == 1
    from asen.search import attributes as search_attributes
    from asen.synth import attributes as synth_attributes

    assert search_attributes.resolve_attribute is resolve_attribute
    assert synth_attributes.attribute_index("collar_design") == 4
    with pytest.raises(ValueError, match="out of range"):
        synth_attributes.attribute_index(8)


# ------------------------------------------------------------------------------------------- other files
def test_counts_manifest_and_texts_as_given(tmp_path):
    write_counts(tmp_path, {"dataset": "Tiny"}, {"mode": split_mode(3)})
    assert seeded_split(tmp_path) == "seed 3"
    write_counts(tmp_path, {"dataset": "Tiny"}, {"mode": split_mode(None)})
    assert seeded_split(tmp_path) is None and seeded_split(tmp_path / "nowhere") is None
    written = write_files(tmp_path, {"a.txt": "x\n", "b.bin": b"\x00"})
    assert written == {"a.txt": b"x\n", "b.bin": b"\x00"} and (tmp_path / "a.txt").read_text() == "x\n"
    digests = {rel: (hashlib.sha256(d).hexdigest(), len(d)) for rel, d in written.items()}
    write_manifest(tmp_path, digests)
    assert read_manifest(tmp_path) == {rel: {"sha256": d, "bytes": n} for rel, (d, n) in digests.items()}
    assert json.loads((tmp_path / "manifest.json").read_text())["algorithm"] == "sha256"


@pytest.mark.parametrize("sep", ["\x0c", "\x1c", "\x85", "\u2028"])
def test_image_ids_are_text_mode_lines(tmp_path, sep):
    """An image id is the 0-based line of filenames_<split>.txt, lines as a text-mode file gives them (the
    authors' ``for l in f``, and read_items here): \\n, \\r\\n or \\r end a line, Unicode's other line
    separators (form feed, U+001C, U+0085, U+2028, ...) are part of a path and must not shift every later id."""
    root = write_tiny(tmp_path / "Tiny", images=False)
    path = root / "filenames_test.txt"
    names = path.read_text(encoding="utf-8").split("\n")[:-1]
    names[1] = f"img/odd{sep}name.jpg"
    path.write_bytes(("\n".join(names) + "\n").encode("utf-8"))
    assert read_filenames(path) == names  # 6 names, the odd one whole
    sf = load_split_files(root)
    assert sf.filenames["test"][5] == "img/test_5.jpg"  # candidate id 5 still names its own image
