"""data_scripts/prepare_fashionai.py on small releases in the real FashionAI format (label.csv + Images/)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from collections import Counter

import numpy as np
import pytest

try:
    from fixtures_real import ROOT, append_lines, make_fashionai_release, write_corrupt
except ImportError:  # tests/ imported as a package
    from tests.fixtures_real import ROOT, append_lines, make_fashionai_release, write_corrupt

from asen.layout import load_split_files, seeded_split
from asen.doctor import doctor
from data_scripts import prepare_fashionai as pf
from data_scripts._common import count_table

PER_VALUE = 20  # 16 train / 2 valid / 2 test per value with the 8:1:1 stratified split


def run(argv, capsys):
    rc = pf.main([str(a) for a in argv] + ["--no-progress"])
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.fixture(scope="module")
def full_release(tmp_path_factory):
    """All eight attributes (1080 images); read-only: tests must not modify it."""
    root = tmp_path_factory.mktemp("full") / "raw" / "base"
    return root, make_fashionai_release(root, per_value=PER_VALUE)


@pytest.fixture(scope="module")
def _small_template(tmp_path_factory):
    root = tmp_path_factory.mktemp("small") / "base"
    return root, make_fashionai_release(root, per_value=PER_VALUE, attributes=2)


@pytest.fixture
def release(tmp_path, _small_template):
    """A fresh copy (tests modify it) of a release with images of two attributes, at tmp_path/raw/base."""
    template, truth = _small_template
    root = tmp_path / "raw" / "base"
    shutil.copytree(template, root)
    return root, truth


def _all_items(sf):
    """(split, filename, attr, value) for every label, query and candidate."""
    rows = [("train", sf.filenames["train"][i], a, v) for i, a, v in sf.train_labels.tolist()]
    for split in ("valid", "test"):
        for arr in (sf.queries[split], sf.candidates[split]):
            rows += [(split, sf.filenames[split][i], a, v) for i, a, v in arr.tolist()]
    return rows


def test_seeded_split_layout(full_release, tmp_path, capsys):
    root, truth = full_release
    out = tmp_path / "FashionAI"
    rc, stdout, stderr = run([root, "--out", out], capsys)
    assert rc == 0
    # the seeded split is announced: its MAP is not comparable with the published one; evaluation repeats it
    assert f"NOTE: {out} holds a seeded split" in stderr and "--splits" in stderr
    assert seeded_split(out) == "seed 0"
    sf = load_split_files(out)
    # meta: the eight attributes, their value counts and names
    assert sf.meta.name == "FashionAI"
    assert sf.meta.attributes == pf.ATTRIBUTES
    assert sf.meta.num_values == (6, 9, 8, 6, 5, 5, 10, 5)
    assert sf.meta.value_names[6][4] == "V Neckline" and sf.meta.value_names[7][2] == "Ruffle Semi-High Collar"
    assert all(v[0] == "Invisible" for v in sf.meta.value_names)
    # every image in exactly one split, all of them used, each once per split
    names = [n for s in ("train", "valid", "test") for n in sf.filenames[s]]
    assert sorted(names) == sorted(truth) and len(set(names)) == len(names)
    # every label is the one of label.csv
    for split, name, a, v in _all_items(sf):
        assert truth[name] == (a, v), (split, name)
    # 80/10/10 per attribute and value (stratified, exact here)
    for a, n in enumerate(pf.NUM_VALUES):
        for split, per in (("train", 16), ("valid", 2), ("test", 2)):
            vals = Counter(truth[x][1] for x in sf.filenames[split] if truth[x][0] == a)
            assert vals == {v: per for v in range(n)}, (a, split)
    # query:candidate ~ 1:4 per attribute; no image both; every query has a candidate of its value
    for split in ("valid", "test"):
        q, c = sf.queries[split], sf.candidates[split]
        assert not {(i, a) for i, a, _ in q.tolist()} & {(i, a) for i, a, _ in c.tolist()}
        assert len(q) + len(c) == len(sf.filenames[split])
        for a, n in enumerate(pf.NUM_VALUES):
            nq, nc = int((q[:, 1] == a).sum()), int((c[:, 1] == a).sum())
            assert abs(nq - (nq + nc) / 5) <= 1, (split, a, nq, nc)
        cand_values = {(a, v) for _, a, v in c.tolist()}
        assert all((a, v) in cand_values for _, a, v in q.tolist())
    # images reached through symlinks to the release
    link = out / sf.filenames["train"][0]
    assert link.is_symlink() and link.resolve() == (root / sf.filenames["train"][0]).resolve()
    # counts printed and written
    counts = json.loads((out / "counts.json").read_text())
    assert counts["attributes"] == count_table(sf)["attributes"]
    assert counts["attributes"][0]["values"][0] == {
        "value": "Invisible", "train": 16, "query_valid": counts["attributes"][0]["values"][0]["query_valid"],
        "candidate_valid": counts["attributes"][0]["values"][0]["candidate_valid"],
        "query_test": counts["attributes"][0]["values"][0]["query_test"],
        "candidate_test": counts["attributes"][0]["values"][0]["candidate_test"],
    }
    assert "skirt_length (6 values)" in stdout and "Extra Long Sleeves" in stdout
    assert counts["problems"]["skipped"] == {}
    report = doctor(out, progress=False)
    assert report.ok, report.format()


def test_seed_determines_split(full_release, tmp_path, capsys):
    root, _ = full_release
    texts = {}
    for name, seed in (("a", 0), ("b", 0), ("c", 1)):
        assert run([root, "--out", tmp_path / name, "--seed", seed, "--link", "none"], capsys)[0] == 0
        texts[name] = {f: (tmp_path / name / f).read_text() for f in ("filenames_train.txt", "query_test.txt")}
    assert texts["a"] == texts["b"]
    assert texts["a"] != texts["c"]


def test_link_modes(release, tmp_path, capsys):
    root, truth = release
    out = tmp_path / "none"
    assert run([root, "--out", out, "--link", "none"], capsys)[0] == 0
    sf = load_split_files(out)
    first = sf.filenames["train"][0]
    assert first.startswith("../raw/base/Images/") and (out / first).is_file()
    assert not (out / "Images").exists()
    out = tmp_path / "copy"
    assert run([root, "--out", out, "--link", "copy"], capsys)[0] == 0
    first = load_split_files(out).filenames["test"][0]
    assert (out / first).is_file() and not (out / first).is_symlink()
    assert (out / first).read_bytes() == (root / first).read_bytes()
    # a rerun into the same folder works (links/copies are reused or replaced)
    assert run([root, "--out", out, "--link", "copy"], capsys)[0] == 0
    # preparing in place (the release is the output folder): nothing to link, paths as in label.csv
    assert run([root, "--out", root], capsys)[0] == 0
    assert load_split_files(root).filenames["train"][0].startswith("Images/")
    assert not any(p.is_symlink() for p in (root / "Images").rglob("*"))


@pytest.mark.parametrize("option, value, message", [
    ("--seed", "-1", "--seed: expected an integer >= 0, got -1"),
    ("--ratio", "8:0:1", "--ratio: expected 3 positive integers separated by ':', got '8:0:1'"),
    ("--ratio", "8:1", "--ratio: expected 3 positive integers separated by ':', got '8:1'"),
    ("--query-ratio", "1.5:4", "--query-ratio: expected 2 integers separated by ':', got '1.5:4'"),
])
def test_a_bad_split_option_is_one_line_before_anything_is_written(release, tmp_path, capsys, option, value, message):
    root, _ = release
    rc, _, err = run([root, "--out", tmp_path / "out", f"{option}={value}"], capsys)
    assert rc == 2 and err == f"error: {message}\n"
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("where", ["a file", "under a file"])
def test_an_output_folder_that_cannot_be_made_is_one_line(release, tmp_path, capsys, where):
    """--out naming a file (e.g. the label.csv given by mistake), or a folder below one: FileExistsError /
    NotADirectoryError tracebacks before."""
    root, _ = release
    label_csv = root / "Annotations" / "label.csv"
    out = label_csv if where == "a file" else label_csv / "FashionAI"
    rc, _, err = run([root, "--out", out], capsys)
    assert rc == 2 and "Traceback" not in err and err.count("\n") == 1
    assert err.startswith("error: ") and str(out) in err and "choose another --out" in err


def test_copy_after_a_symlink_run_replaces_the_links_with_copies(release, tmp_path, capsys):
    """A rerun with --link copy into a folder an earlier (default) symlink run filled: every image becomes a copy;
    a symlink kept because it reaches the same file would break once the release folder is removed."""
    root, _ = release
    out = tmp_path / "FashionAI"
    assert run([root, "--out", out], capsys)[0] == 0
    names = [n for s in load_split_files(out).filenames.values() for n in s]
    assert all((out / n).is_symlink() for n in names)
    assert run([root, "--out", out, "--link", "copy"], capsys)[0] == 0
    assert not any((out / n).is_symlink() for n in names)
    shutil.rmtree(root)
    assert all((out / n).is_file() for n in names)
    assert not list(out.rglob("*.part"))


def test_an_output_file_system_without_symlinks_is_one_line(release, tmp_path, capsys, monkeypatch):
    """os.symlink fails with EPERM on exFAT or some network shares: an OSError traceback before; now one line
    naming the image and the other --link modes, and --link copy works there."""
    import errno

    def no_symlinks(src, dst, *args, **kwargs):
        raise PermissionError(errno.EPERM, "Operation not permitted", str(dst))

    root, _ = release
    monkeypatch.setattr(os, "symlink", no_symlinks)
    rc, _, err = run([root, "--out", tmp_path / "out"], capsys)
    assert rc == 2 and "Traceback" not in err and err.count("\n") == 1
    assert err.startswith(f"error: cannot symlink {root}/Images/") and "Operation not permitted" in err
    assert "rerun with --link copy or --link none" in err
    assert run([root, "--out", tmp_path / "out", "--link", "copy"], capsys)[0] == 0


BAD_LINES = [
    ("Images/skirt_length_labels/x.jpg,skirt_length_labels", "malformed line", "expected 3 comma-separated fields"),
    ("Images/skirt_length_labels/x.jpg,skirt_length_labels,nnyn,extra", "malformed line", "got 4"),
    ("Images/skirt_length_labels/x.jpg,skirt_length_labels,nnynn", "bad label string", "has 5 characters, skirt_length_labels has 6 values"),
    ("Images/skirt_length_labels/x.jpg,skirt_length_labels,nnnnmn", "bad label string", "has no 'y'"),
    ("Images/skirt_length_labels/x.jpg,skirt_length_labels,nynynn", "bad label string", "has 2 'y'"),
    ("Images/skirt_length_labels/x.jpg,skirt_length_labels,nnxynn", "bad label string", "may only hold"),
    ("Images/hat_labels/x.jpg,hat_length_labels,nnynnn", "unknown attribute", "unknown attribute key 'hat_length_labels'"),
    ('Images/skirt_length_labels/"x.jpg,skirt_length_labels,nnynnn', "malformed line", "a quote character"),
]


@pytest.mark.parametrize("line, reason, message", BAD_LINES)
def test_bad_line_is_an_error_naming_file_and_line(release, tmp_path, capsys, line, reason, message):
    root, _ = release
    csv_path = root / "Annotations" / "label.csv"
    lineno = append_lines(csv_path, line)
    rc, _, err = run([root, "--out", tmp_path / "out"], capsys)
    assert rc == 2
    assert err.startswith("error: ") and "Traceback" not in err
    assert f"{csv_path}, line {lineno}: " in err
    assert message in err and repr(line) in err and "--skip-bad" in err
    # --skip-bad: skipped, counted by reason, reported
    rc, stdout, _ = run([root, "--out", tmp_path / "out", "--skip-bad"], capsys)
    assert rc == 0
    assert "skipped 1 bad entry (--skip-bad):" in stdout and f"  {reason}: 1" in stdout
    assert f"line {lineno}" in stdout
    counts = json.loads((tmp_path / "out" / "counts.json").read_text())
    assert counts["problems"]["skipped"] == {reason: 1}


def test_a_stray_quote_or_bytes_that_are_not_utf8_name_their_line(release, tmp_path, capsys):
    """A quote would have made a CSV reader swallow every later line into one field (past 128 KB: a traceback);
    label.csv has no quoting, so the line with it is the bad one, and the lines after it are read. A line that is
    not UTF-8 is named too."""
    root, _ = release
    csv_path = root / "Annotations" / "label.csv"
    assert run([root, "--out", tmp_path / "clean"], capsys)[0] == 0
    lineno = append_lines(csv_path, 'Images/skirt_length_labels/"x.jpg,skirt_length_labels,nnynnn')
    with open(csv_path, "ab") as fh:
        fh.write(b"Images/skirt_length_labels/\xe9.jpg,skirt_length_labels,nnynnn\n" + b"x" * 140_000 + b"\n")
    rc, _, err = run([root, "--out", tmp_path / "out"], capsys)
    assert rc == 2 and "Traceback" not in err and f"{csv_path}, line {lineno}: a quote character" in err
    rc, stdout, _ = run([root, "--out", tmp_path / "out", "--skip-bad"], capsys)
    assert rc == 0 and f"line {lineno + 1}: not UTF-8 text" in stdout
    assert "malformed line: 3" in stdout  # the quote, the non-UTF-8 line, the 140 KB line without commas
    assert load_split_files(tmp_path / "out").filenames == load_split_files(tmp_path / "clean").filenames


def test_duplicate_image_line(release, tmp_path, capsys):
    root, truth = release
    rel = next(iter(truth))
    a, v = truth[rel]
    label = "".join("y" if i == v else "n" for i in range(pf.NUM_VALUES[a]))
    lineno = append_lines(root / "Annotations" / "label.csv", f"{rel},{pf.ATTRIBUTE_KEYS[a]},{label}")
    rc, _, err = run([root, "--out", tmp_path / "out"], capsys)
    assert rc == 2 and f"line {lineno}: image {rel} already listed on line" in err
    rc, stdout, _ = run([root, "--out", tmp_path / "out", "--skip-bad"], capsys)
    assert rc == 0 and "duplicate image: 1" in stdout


def test_missing_image(release, tmp_path, capsys):
    root, truth = release
    rel = sorted(truth)[5]
    (root / rel).unlink()
    rc, _, err = run([root, "--out", tmp_path / "out"], capsys)
    assert rc == 2 and f"image not found: {root / rel}" in err and "label.csv, line " in err
    rc, stdout, _ = run([root, "--out", tmp_path / "out", "--skip-bad"], capsys)
    assert rc == 0 and "missing image: 1" in stdout
    sf = load_split_files(tmp_path / "out")
    assert rel not in [n for s in sf.filenames.values() for n in s]
    assert sum(len(s) for s in sf.filenames.values()) == len(truth) - 1


def test_corrupt_image_needs_verify_images(release, tmp_path, capsys):
    root, truth = release
    rel = sorted(truth)[7]
    write_corrupt(root / rel)
    assert run([root, "--out", tmp_path / "out"], capsys)[0] == 0  # not decoded without --verify-images
    rc, _, err = run([root, "--out", tmp_path / "out", "--verify-images", "--workers", "2"], capsys)
    assert rc == 2 and str(root / rel) in err and "cannot decode" in err and "label.csv, line " in err
    rc, stdout, _ = run([root, "--out", tmp_path / "out", "--verify-images", "--skip-bad"], capsys)
    assert rc == 0 and "corrupt image: 1" in stdout
    sf = load_split_files(tmp_path / "out")
    assert rel not in [n for s in sf.filenames.values() for n in s]


def test_missing_label_csv(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    rc, _, err = run([tmp_path / "empty", "--out", tmp_path / "out"], capsys)
    assert rc == 2 and "Annotations/label.csv" in err


def test_several_release_folders(tmp_path, capsys):
    base = make_fashionai_release(tmp_path / "base", per_value=10, seed=1, attributes=2)
    web = make_fashionai_release(tmp_path / "web", per_value=10, seed=2, attributes=2)
    out = tmp_path / "FashionAI"
    assert run([tmp_path / "base", tmp_path / "web", "--out", out], capsys)[0] == 0
    sf = load_split_files(out)
    names = {n for s in sf.filenames.values() for n in s}
    assert names == {f"base/{r}" for r in base} | {f"web/{r}" for r in web}
    assert all((out / n).is_file() for n in names)


# ------------------------------------------------------------------------------- the authors' split files
def _authors_split(release, tmp_path, capsys, prefix="train/"):
    """Split files like the authors' (paths with another prefix than the local copy), from a seeded run."""
    root, truth = release
    src = tmp_path / "authors_src"
    assert run([root, "--out", src, "--link", "none", "--seed", 3], capsys)[0] == 0
    sf = load_split_files(src)
    folder = tmp_path / "meta_data" / "FashionAI"
    folder.mkdir(parents=True)
    for name in os.listdir(src):
        if name.endswith(".txt"):
            text = (src / name).read_text()
            if name.startswith("filenames_"):
                text = "".join(prefix + line.split("raw/base/", 1)[1] + "\n" for line in text.splitlines())
            (folder / name).write_text(text)
    (folder / "meta.json").write_text(json.dumps({"ATTRIBUTES": list(pf.ATTRIBUTES)}))  # ASEN format: ignored
    other = tmp_path / "meta_data" / "DARN"  # the authors' archive holds several datasets
    other.mkdir()
    for name in os.listdir(folder):
        (other / name).write_text("junk\n")
    return sf, tmp_path / "meta_data"


def _truth_of(name, truth):
    return truth["Images/" + name.split("Images/", 1)[1]]


@pytest.mark.parametrize("kind", ["folder", "zip", "tar"])
def test_splits_reused(release, tmp_path, capsys, kind):
    root, truth = release
    ref, folder = _authors_split(release, tmp_path, capsys)
    if kind == "zip":
        src = tmp_path / "meta_data.zip"
        with zipfile.ZipFile(src, "w") as zf:
            for p in sorted(folder.rglob("*")):
                zf.write(p, p.relative_to(folder.parent).as_posix())
    elif kind == "tar":
        src = tmp_path / "meta_data.tar.gz"
        with tarfile.open(src, "w:gz") as tf:
            tf.add(folder, arcname="meta_data")
    else:
        src = folder
    out = tmp_path / "FashionAI"
    rc, stdout, stderr = run([root, "--out", out, "--splits", src], capsys)
    assert rc == 0, stdout
    assert "seeded split" not in stderr and seeded_split(out) is None
    sf = load_split_files(out)
    assert sf.filenames["train"][0].startswith("train/Images/")  # the authors' paths are kept
    assert all((out / n).is_file() for s in sf.filenames.values() for n in s)  # linked by <attr>/<file>
    np.testing.assert_array_equal(sf.train_labels, ref.train_labels)
    for split in ("valid", "test"):
        np.testing.assert_array_equal(sf.queries[split], ref.queries[split])
        np.testing.assert_array_equal(sf.candidates[split], ref.candidates[split])
    assert "excluded: nothing" in stdout
    assert sf.meta.attributes == pf.ATTRIBUTES


def test_splits_with_missing_images(release, tmp_path, capsys):
    root, truth = release
    ref, folder = _authors_split(release, tmp_path, capsys)
    gone = ref.filenames["test"][3].split("raw/base/", 1)[1]
    (root / gone).unlink()
    out = tmp_path / "FashionAI"
    rc, _, err = run([root, "--out", out, "--splits", folder], capsys)
    assert rc == 2
    # the line of the authors' file is named, and nothing was written: a stopped run leaves no half dataset
    assert f"{folder}" in err and f"filenames_test.txt, line 4: image not found: train/{gone}" in err
    assert not (out / "filenames_test.txt").exists() and not (out / "meta.json").exists()
    rc, stdout, _ = run([root, "--out", out, "--splits", folder, "--skip-bad"], capsys)
    assert rc == 0
    assert "missing image: 1" in stdout and "filenames_test.txt: 1 line(s) excluded" in stdout
    sf = load_split_files(out)
    assert len(sf.filenames["test"]) == len(ref.filenames["test"]) - 1
    n_eval = len(ref.queries["test"]) + len(ref.candidates["test"])
    assert len(sf.queries["test"]) + len(sf.candidates["test"]) == n_eval - 1
    for split, name, a, v in _all_items(sf):  # ids renumbered consistently
        assert _truth_of(name, truth) == (a, v)
    counts = json.loads((out / "counts.json").read_text())
    assert counts["excluded"]["filenames_test.txt"] == 1 and counts["excluded"]["filenames_train.txt"] == 0


def test_splits_source_errors(release, tmp_path, capsys):
    root, _ = release
    rc, _, err = run([root, "--out", tmp_path / "o", "--splits", tmp_path / "nope.zip"], capsys)
    assert rc == 2 and "split files not found" in err
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "filenames_train.txt").write_text("a.jpg\n")
    rc, _, err = run([root, "--out", tmp_path / "o", "--splits", bad], capsys)
    assert rc == 2 and "split files missing: filenames_valid.txt" in err


def test_runs_as_a_module_and_fails_cleanly(tmp_path):
    """`python -m data_scripts.prepare_fashionai` from the repository root fails with one line on a bad folder;
    run as a file it says how to run it."""
    args = [str(tmp_path / "nowhere"), "--out", str(tmp_path / "o"), "--no-progress"]
    proc = subprocess.run([sys.executable, "-m", "data_scripts.prepare_fashionai", *args],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 2 and proc.stderr.startswith("error: release folder not found")
    assert "Traceback" not in proc.stderr
    proc = subprocess.run([sys.executable, str(ROOT / "data_scripts" / "prepare_fashionai.py"), *args],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert proc.returncode == 1 and proc.stderr.strip() == (
        "error: run it from the repository root as a module: python -m data_scripts.prepare_fashionai [...]")


def test_a_dataset_prepared_inside_the_release_does_not_hide_its_images(release, tmp_path, capsys):
    """A seeded run with --link copy into a folder inside the release folder, then the authors' split: the lookup
    by <attribute_key>/<file> found every image twice (the release's and the copy) and called each one
    ambiguous ("give only the release folder that holds it", when only one was given)."""
    root, _ = release
    _, splits = _authors_split(release, tmp_path, capsys)
    assert run([root, "--out", root / "prepared", "--link", "copy"], capsys)[0] == 0
    out = tmp_path / "FashionAI"
    rc, stdout, err = run([root, "--out", out, "--splits", splits, "--link", "copy"], capsys)
    assert rc == 0, err
    assert "excluded: nothing" in stdout
    names = [n for s in load_split_files(out).filenames.values() for n in s]
    assert all((out / n).read_bytes() == (root / n.split("/", 1)[1]).read_bytes() for n in names)


def test_the_archive_given_instead_of_the_unpacked_folder_says_so(release, tmp_path, capsys):
    root, _ = release
    archive = shutil.make_archive(str(tmp_path / "base"), "zip", root.parent, root.name)
    rc, _, err = run([archive, "--out", tmp_path / "out"], capsys)
    assert rc == 2 and err == (f"error: {archive} is a file, not a release folder: unpack it and pass the folder "
                               "holding Annotations/label.csv and Images/\n")


def test_every_long_step_shows_progress(release, tmp_path, capsys):
    """Checking that 180k images exist (minutes on a network drive) ran without a bar after label.csv's."""
    root, _ = release
    assert pf.main([str(root), "--out", str(tmp_path / "out")]) == 0
    err = capsys.readouterr().err
    for step in ("reading label.csv", "checking images exist", "placing images (symlink)"):
        assert step in err


def test_help_names_each_default_once(capsys):
    with pytest.raises(SystemExit):
        pf.main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "(default 8:1:1) (default: 8:1:1)" not in text and "(default: 8:1:1)" in text
    assert "(default) " not in text and "(default 0) (default: 0)" not in text
    assert "(default: stop with an error) (default: False)" not in text


def test_an_image_found_twice_under_the_release_folders_is_named_ambiguous(tmp_path):
    """The authors' paths are matched by their last two components; two different files that end the same are
    not guessed between, and the message says so instead of "not found"."""
    from data_scripts._common import image_finder

    for release, content in (("train", b"one"), ("web", b"two")):
        (tmp_path / release / "Images" / "collar_design_labels").mkdir(parents=True)
        (tmp_path / release / "Images" / "collar_design_labels" / "a.jpg").write_bytes(content)
    (tmp_path / "train" / "Images" / "collar_design_labels" / "b.jpg").write_bytes(b"three")
    resolve = image_finder(tmp_path / "out", [tmp_path / "train", tmp_path / "web"])
    assert resolve("x/collar_design_labels/b.jpg") == tmp_path / "train" / "Images" / "collar_design_labels" / "b.jpg"
    assert resolve("x/collar_design_labels/a.jpg") is None
    assert resolve.why_missing("x/collar_design_labels/a.jpg").startswith(
        "image ambiguous: 2 different files end in collar_design_labels/a.jpg")
    assert resolve.why_missing("x/collar_design_labels/c.jpg") == "image not found"
