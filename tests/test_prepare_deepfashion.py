"""data_scripts/prepare_deepfashion.py on a small benchmark in the real format (Anno/ lists + img/)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

try:
    from fixtures_real import make_deepfashion, write_corrupt
except ImportError:  # tests/ imported as a package
    from tests.fixtures_real import make_deepfashion, write_corrupt

from asen.layout import load_split_files
from asen.doctor import doctor
from data_scripts import prepare_deepfashion as pdf

N_IMAGES = 60
PER_TYPE = 3


def run(argv, capsys):
    rc = pdf.main([str(a) for a in argv] + ["--no-progress"])
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.fixture(scope="module")
def _template(tmp_path_factory):
    root = tmp_path_factory.mktemp("df") / "bench"
    return root, make_deepfashion(root, n_images=N_IMAGES, per_type=PER_TYPE)


@pytest.fixture
def bench(tmp_path, _template):
    template, (attrs, truth) = _template
    root = tmp_path / "bench"
    shutil.copytree(template, root)
    return root, attrs, truth


def expected_pairs(attrs, cols):
    """(type index, value index) pairs of present columns, as the script maps them."""
    col_map, _ = pdf.type_maps(attrs)
    return sorted(col_map[c] for c in cols)


def test_seeded_split(bench, tmp_path, capsys):
    root, attrs, truth = bench
    out = tmp_path / "DeepFashion"
    rc, stdout, _ = run([root, "--out", out], capsys)
    assert rc == 0
    sf = load_split_files(out)
    # meta: the five types; a type's values are its attribute names in file order (names with spaces)
    assert sf.meta.attributes == ("texture", "fabric", "shape", "part", "style")
    assert sf.meta.num_values == (PER_TYPE,) * 5
    assert sf.meta.value_names[0] == tuple(f"texture attr {k}" for k in range(PER_TYPE))
    assert sf.meta.value_names[4][2] == "style attr 2"
    # split by image 80/10/10, every image once
    assert [len(sf.filenames[s]) for s in ("train", "valid", "test")] == [48, 6, 6]
    names = [n for s in ("train", "valid", "test") for n in sf.filenames[s]]
    assert sorted(names) == sorted(truth)
    # a training image carries all its (type, value) pairs on one line
    lines = (out / "label_train.txt").read_text().splitlines()
    assert len(lines) == 48
    for line in lines:
        nums = list(map(int, line.split()))
        pairs = sorted(zip(nums[1::2], nums[2::2]))
        assert pairs == expected_pairs(attrs, truth[sf.filenames["train"][nums[0]]])
    assert any(len(line.split()) > 11 for line in lines)  # some image has two values of one type
    # valid/test: every (image, type) exactly once, with one of the image's values of that type
    for split in ("valid", "test"):
        items = np.concatenate([sf.queries[split], sf.candidates[split]]).tolist()
        seen = set()
        for img, t, v in items:
            assert (img, t) not in seen
            seen.add((img, t))
            assert (t, v) in expected_pairs(attrs, truth[sf.filenames[split][img]])
        assert len(seen) == 5 * len(sf.filenames[split])  # every image has every type here
        q = sf.queries[split]
        for t in range(5):
            assert 1 <= int((q[:, 1] == t).sum()) <= 2  # ~1:4 of 6 items
        cand = {(t, v) for _, t, v in sf.candidates[split].tolist()}
        assert all((t, v) in cand for _, t, v in q.tolist())
    assert "values per type [3, 3, 3, 3, 3] differ from the published [156, 218, 180, 216, 230]" in stdout
    assert (out / sf.filenames["test"][0]).is_symlink()
    counts = json.loads((out / "counts.json").read_text())
    assert counts["images"] == {"train": 48, "valid": 6, "test": 6}
    assert doctor(out, progress=False).ok


def test_old_release_with_zero_for_absent(tmp_path, capsys):
    root = tmp_path / "bench0"
    make_deepfashion(root, n_images=N_IMAGES, per_type=PER_TYPE, absent="0")
    assert run([root, "--out", tmp_path / "out", "--link", "none"], capsys)[0] == 0
    assert len(load_split_files(tmp_path / "out").filenames["train"]) == 48


def _img_lines(root: Path) -> list[str]:
    return (root / "Anno" / "list_attr_img.txt").read_text().splitlines()


def _set_img_lines(root: Path, lines: list[str]) -> None:
    (root / "Anno" / "list_attr_img.txt").write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize(
    "edit, reason, message",
    [
        (lambda l: l.rsplit(" ", 1)[0], "wrong number of values", "expected 15 values after the image path, got 14"),
        (lambda l: l[: -2] + " 2", "bad value", "value(s) 2 not in {-1, 0, 1}"),
    ],
)
def test_bad_image_line(bench, tmp_path, capsys, edit, reason, message):
    root, _, _ = bench
    lines = _img_lines(root)
    lines[9] = edit(lines[9])  # line 10 of the file
    _set_img_lines(root, lines)
    path = root / "Anno" / "list_attr_img.txt"
    rc, _, err = run([root, "--out", tmp_path / "out"], capsys)
    assert rc == 2 and f"{path}, line 10: {message}" in err and "--skip-bad" in err and "Traceback" not in err
    rc, stdout, _ = run([root, "--out", tmp_path / "out", "--skip-bad"], capsys)
    assert rc == 0 and f"{reason}: 1" in stdout
    assert sum(len(v) for v in load_split_files(tmp_path / "out").filenames.values()) == N_IMAGES - 1


def test_an_image_listed_twice_is_an_error_naming_both_lines(bench, tmp_path, capsys):
    """A second line for the same image (here with other attributes) was kept as a second image: the image was
    listed twice in the layout, possibly once in train and once in test."""
    root, _, _ = bench
    lines = _img_lines(root)
    rel, vals = lines[4].split(None, 1)  # line 5 of the file
    lines[0] = str(int(lines[0]) + 1)
    lines.append(f"{rel} " + " ".join("1" if v == "-1" else "-1" for v in vals.split()))
    _set_img_lines(root, lines)
    path = root / "Anno" / "list_attr_img.txt"
    rc, _, err = run([root, "--out", tmp_path / "out"], capsys)
    assert rc == 2 and "Traceback" not in err and "--skip-bad" in err
    assert f"{path}, line {len(lines)}: image {rel} already listed on line 5" in err
    rc, stdout, _ = run([root, "--out", tmp_path / "out", "--skip-bad"], capsys)
    assert rc == 0 and "duplicate image: 1" in stdout
    names = [n for v in load_split_files(tmp_path / "out").filenames.values() for n in v]
    assert names.count(rel) == 1 and len(names) == N_IMAGES


def test_the_archive_given_instead_of_the_unpacked_folder_says_so(bench, tmp_path, capsys):
    root, _, _ = bench
    archive = shutil.make_archive(str(tmp_path / "Category_and_Attribute"), "zip", root)
    rc, _, err = run([archive, "--out", tmp_path / "out"], capsys)
    assert rc == 2 and err.startswith(f"error: {archive} is a file, not the benchmark folder: unpack it")


def test_header_count_mismatch_and_missing_image(bench, tmp_path, capsys):
    root, _, truth = bench
    lines = _img_lines(root)
    lines[0] = str(N_IMAGES + 1)
    _set_img_lines(root, lines)
    path = root / "Anno" / "list_attr_img.txt"
    rc, _, err = run([root, "--out", tmp_path / "out"], capsys)
    assert rc == 2 and f"{path}, line 1: header says {N_IMAGES + 1} images but {N_IMAGES} image lines follow" in err
    rel = sorted(truth)[4]
    (root / rel).unlink()
    rc, stdout, _ = run([root, "--out", tmp_path / "out", "--skip-bad"], capsys)
    assert rc == 0 and "header count mismatch: 1" in stdout and "missing image: 1" in stdout
    lines[0] = str(N_IMAGES)
    _set_img_lines(root, lines)
    rc, _, err = run([root, "--out", tmp_path / "out"], capsys)
    assert rc == 2 and f"image not found: {root / rel}" in err and f"{path}, line " in err


def test_corrupt_image(bench, tmp_path, capsys):
    root, _, truth = bench
    rel = sorted(truth)[2]
    write_corrupt(root / rel)
    rc, _, err = run([root, "--out", tmp_path / "out", "--verify-images"], capsys)
    assert rc == 2 and str(root / rel) in err and "cannot decode" in err
    rc, stdout, _ = run([root, "--out", tmp_path / "out", "--verify-images", "--skip-bad"], capsys)
    assert rc == 0 and "corrupt image: 1" in stdout


@pytest.mark.parametrize(
    "line, message",
    [
        ("texture attr 9   7", "line 17: attribute type 7 not in 1..5"),
        ("texture attr nine", "line 17: expected '<attribute name> <type 1..5>'"),
    ],
)
def test_bad_attribute_list_is_always_an_error(bench, tmp_path, capsys, line, message):
    root, _, _ = bench
    path = root / "Anno" / "list_attr_cloth.txt"
    lines = path.read_text().splitlines()
    lines[16] = line  # the last attribute line (2 header lines + 15 attributes)
    path.write_text("\n".join(lines) + "\n")
    rc, _, err = run([root, "--out", tmp_path / "out", "--skip-bad"], capsys)
    assert rc == 2 and f"{path}, {message}" in err


def test_lines_that_are_not_utf8_are_named_never_replaced(bench, tmp_path, capsys):
    """A byte that is not UTF-8 is reported with its file and line (it was silently replaced before): an error in
    list_attr_cloth.txt, whose every line sets a column; a bad line of list_attr_img.txt, skipped with --skip-bad."""
    root, _, _ = bench
    img = root / "Anno" / "list_attr_img.txt"
    raw = img.read_bytes().split(b"\n")
    raw[9] = raw[9].replace(b"img/", b"img/\xe9", 1)
    img.write_bytes(b"\n".join(raw))
    rc, _, err = run([root, "--out", tmp_path / "out"], capsys)
    assert rc == 2 and f"{img}, line 10: not UTF-8 text" in err and "Traceback" not in err
    rc, stdout, _ = run([root, "--out", tmp_path / "out", "--skip-bad"], capsys)
    assert rc == 0 and "bad line: 1" in stdout
    assert sum(len(v) for v in load_split_files(tmp_path / "out").filenames.values()) == N_IMAGES - 1
    cloth = root / "Anno" / "list_attr_cloth.txt"
    cloth.write_bytes(cloth.read_bytes().replace(b"texture", b"t\xe9xture", 1))
    rc, _, err = run([root, "--out", tmp_path / "out", "--skip-bad"], capsys)
    assert rc == 2 and f"{cloth}, line " in err and "not UTF-8 text" in err


def test_the_current_release_folder_anno_coarse_reads_the_same(bench, tmp_path, capsys):
    """The current release ships the 1,000-attribute files in Anno_coarse/ (Anno/ in the first): same result."""
    root, _, _ = bench
    assert run([root, "--out", tmp_path / "a", "--seed", 3], capsys)[0] == 0
    (root / "Anno").rename(root / "Anno_coarse")
    assert run([root, "--out", tmp_path / "b", "--seed", 3], capsys)[0] == 0
    a, b = load_split_files(tmp_path / "a"), load_split_files(tmp_path / "b")
    assert a.filenames == b.filenames and (a.train_labels == b.train_labels).all()
    (root / "Anno_coarse").rename(root / "Anno_fine")
    rc, _, err = run([root, "--out", tmp_path / "c"], capsys)
    assert rc == 2 and "Anno_coarse/ in its current release" in err


def test_attribute_count_mismatch(bench, tmp_path, capsys):
    root, _, _ = bench
    path = root / "Anno" / "list_attr_cloth.txt"
    lines = path.read_text().splitlines()
    path.write_text("\n".join(["16"] + lines[1:]) + "\n")
    rc, _, err = run([root, "--out", tmp_path / "out"], capsys)
    assert rc == 2 and f"{path}, line 1: header says 16 attributes but 15 attribute lines follow" in err


def test_splits_reused_and_checked(bench, tmp_path, capsys):
    root, attrs, truth = bench
    authors = tmp_path / "authors"
    assert run([root, "--out", authors, "--link", "none", "--seed", 5], capsys)[0] == 0
    for name in list(authors.iterdir()):  # keep only the split files, with paths like the release's
        if name.name.startswith("filenames_"):
            name.write_text("".join(l.split("bench/", 1)[1] + "\n" for l in name.read_text().splitlines()))
        elif not name.name.endswith(".txt"):
            name.unlink()
    ref = {f.name: f.read_text() for f in authors.iterdir()}
    out = tmp_path / "DeepFashion"
    rc, stdout, _ = run([root, "--out", out, "--splits", authors], capsys)
    assert rc == 0 and "excluded: nothing" in stdout
    for name, text in ref.items():
        assert (out / name).read_text() == text
    assert load_split_files(out).meta.value_names[1][0] == "fabric attr 0"
    gone = ref["filenames_valid.txt"].splitlines()[2]
    (root / gone).unlink()
    rc, _, err = run([root, "--out", out, "--splits", authors], capsys)
    assert rc == 2 and f"filenames_valid.txt, line 3: image not found: {gone}" in err
    rc, stdout, _ = run([root, "--out", out, "--splits", authors, "--skip-bad"], capsys)
    assert rc == 0 and "filenames_valid.txt: 1 line(s) excluded" in stdout
    sf = load_split_files(out)
    assert gone not in sf.filenames["valid"] and len(sf.filenames["valid"]) == 5
    for split in ("valid", "test"):
        for img, t, v in np.concatenate([sf.queries[split], sf.candidates[split]]).tolist():
            assert (t, v) in expected_pairs(attrs, truth[sf.filenames[split][img]])
