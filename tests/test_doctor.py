"""asen.doctor: checks of a dataset folder in the split-file layout."""
from __future__ import annotations

import json
from pathlib import Path

try:
    from fixtures_real import write_corrupt, write_jpeg
except ImportError:  # tests/ imported as a package
    from tests.fixtures_real import write_corrupt, write_jpeg

from asen import doctor as doc
from asen.cli import main

META = {
    "name": "Tiny",
    "attributes": ["colour", "shape"],
    "num_values": [3, 2],
    "value_names": [["red", "green", "blue"], ["round", "square"]],
}


def write_layout(root: Path) -> Path:
    """A clean small dataset: 12 train images, 6 valid, 6 test."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "meta.json").write_text(json.dumps(META))
    names = {s: [f"img/{s}_{i}.jpg" for i in range(n)] for s, n in (("train", 12), ("valid", 6), ("test", 6))}
    for split, files in names.items():
        for i, f in enumerate(files):
            write_jpeg(root / f, seed=i)
        (root / f"filenames_{split}.txt").write_text("\n".join(files) + "\n")
    (root / "label_train.txt").write_text("".join(f"{i} 0 {i % 3} 1 {i % 2}\n" for i in range(12)))
    for split in ("valid", "test"):
        (root / f"query_{split}.txt").write_text("0 0 0\n1 1 0\n")
        (root / f"candidate_{split}.txt").write_text("2 0 0\n3 0 1\n4 1 0\n5 1 1\n1 0 2\n0 1 1\n")
    return root


def run_cli(argv, capsys):
    rc = main(["doctor", *(str(a) for a in argv), "--no-progress"])
    return rc, capsys.readouterr().out


def test_clean_dataset(tmp_path, capsys):
    root = write_layout(tmp_path / "Tiny")
    report = doc.doctor(root, progress=False)
    assert report.ok and report.errors == [] and report.warnings == []
    assert report.images == {"train": 12, "valid": 6, "test": 6}
    assert (report.images_checked, report.images_total) == (24, 24)
    assert report.counts[0] == {
        "attribute": "colour", "num_values": 3, "train": 12,
        "query_valid": 1, "candidate_valid": 3, "query_test": 1, "candidate_test": 3,
    }
    rc, out = run_cli([root, "--json", tmp_path / "r.json"], capsys)
    assert rc == 0 and "result: OK" in out and "colour (3)" in out and "checked 24 of 24" in out
    assert json.loads((tmp_path / "r.json").read_text())["ok"] is True
    assert main(["doctor", str(root), "--no-progress", "--max-images", "5"]) == 0
    assert "checked 5 of 24" in capsys.readouterr().out


def test_missing_files_named_with_how_to_get_them(tmp_path, capsys):
    root = write_layout(tmp_path / "FashionAI")
    (root / "query_test.txt").unlink()
    (root / "filenames_valid.txt").unlink()
    rc, out = run_cli([root], capsys)
    assert rc == 1
    assert "missing file(s) in" in out and "filenames_valid.txt, query_test.txt" in out
    assert "data_scripts.prepare_fashionai" in out  # how to get it
    rc, out = run_cli([tmp_path / "nowhere"], capsys)
    assert rc == 1 and "dataset folder not found" in out
    (root / "meta.json").unlink()
    report = doc.doctor(root, progress=False)
    assert any("meta.json" in e for e in report.errors)


def test_every_bad_line_is_reported(tmp_path):
    root = write_layout(tmp_path / "Tiny")
    lines = (root / "label_train.txt").read_text().splitlines()
    lines[2] = "2 0 7"  # value out of range
    lines[5] = "5 zero 1"  # not an integer
    lines[8] = "99 0 1"  # image id out of range
    (root / "label_train.txt").write_text("\n".join(lines) + "\n")
    (root / "query_test.txt").write_text("0 0 0\n1 5 0\n")  # attribute out of range
    report = doc.doctor(root, check_images=False, progress=False)
    assert not report.ok
    text = "\n".join(report.errors)
    label = root / "label_train.txt"
    assert f"{label}: 3 bad line(s)" in text
    assert f"{label}, line 3: value 7 out of range" in text
    assert f"{label}, line 6: expected integers" in text
    assert f"{label}, line 9: image id 99 out of range" in text
    assert f"{root / 'query_test.txt'}, line 2: attribute 5 out of range" in text
    assert report.counts[0]["train"] == 9  # the good lines still count


def test_missing_and_corrupt_images(tmp_path, capsys):
    root = write_layout(tmp_path / "Tiny")
    (root / "img/train_3.jpg").unlink()
    write_corrupt(root / "img/test_1.jpg")
    report = doc.doctor(root, progress=False)
    assert (report.images_missing, report.images_unreadable) == (1, 1)
    text = "\n".join(report.errors)
    assert f"{root / 'filenames_train.txt'}, line 4: {root / 'img/train_3.jpg'}" in text
    assert f"{root / 'filenames_test.txt'}, line 2: cannot read image" in text
    rc, _ = run_cli([root], capsys)
    assert rc == 1
    rc, out = run_cli([root, "--no-images"], capsys)
    assert rc == 0 and "result: OK" in out


def test_split_leaks(tmp_path):
    root = write_layout(tmp_path / "Tiny")
    names = (root / "filenames_test.txt").read_text().splitlines()
    names[0] = "img/./train_5.jpg"  # the same file as a training image
    (root / "filenames_test.txt").write_text("\n".join(names) + "\n")
    (root / "candidate_valid.txt").write_text("0 0 0\n2 0 0\n3 0 1\n4 1 0\n5 1 1\n1 0 2\n0 1 1\n")
    report = doc.doctor(root, check_images=False, progress=False)
    text = "\n".join(report.errors)
    assert "1 image(s) are in both filenames_train.txt and filenames_test.txt" in text and "img/train_5.jpg" in text
    assert "valid: 1 image(s) are both a query and a candidate for the same attribute" in text
    assert "image id 0, attribute 0 (colour)" in text


def test_coverage_warnings(tmp_path, capsys):
    root = write_layout(tmp_path / "Tiny")
    # shape: value 1 only on one training image -> fewer than 2 usable values
    (root / "label_train.txt").write_text(
        "".join(f"{i} 0 {i % 3} 1 {1 if i == 0 else 0}\n" for i in range(11))  # image 11 has no line
    )
    (root / "query_test.txt").write_text("0 0 0\n")  # no test query for shape
    report = doc.doctor(root, check_images=False, progress=False)
    assert report.ok
    text = "\n".join(report.warnings)
    assert "attribute shape: only 1 value(s) with >= 2 training images" in text
    assert "1 training image(s) have no line in label_train.txt" in text
    assert "test: attribute shape has 0 queries and 3 candidates" in text
    (root / "query_valid.txt").write_text("0 0 1\n1 1 0\n")  # a green query, and no green candidate below
    (root / "candidate_valid.txt").write_text("2 0 0\n4 1 0\n5 1 1\n")
    report = doc.doctor(root, check_images=False, progress=False)
    assert any("valid: 1 quer(y/ies) have no candidate with their value" in w for w in report.warnings)
    rc, out = run_cli([root, "--no-images"], capsys)
    assert rc == 0 and "warnings (" in out


def test_empty_line_in_filenames(tmp_path):
    root = write_layout(tmp_path / "Tiny")
    names = (root / "filenames_valid.txt").read_text().splitlines()
    names.insert(2, "")
    (root / "filenames_valid.txt").write_text("\n".join(names) + "\n")
    report = doc.doctor(root, check_images=False, progress=False)
    assert any(f"{root / 'filenames_valid.txt'}, line 3: empty line" in e for e in report.errors)
