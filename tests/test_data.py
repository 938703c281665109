import shutil
import warnings

import numpy as np
import pytest
import torch

from asen.data import (DataError, ImageSet, InBatchSampler, RandomTripletSampler, collate_images, global_view,
                       load_meta, load_split_files, read_items)


@pytest.fixture
def toy_copy(toy_root, tmp_path):
    return shutil.copytree(toy_root, tmp_path / "Toy")


def test_reads_layout(toy_root):
    files = load_split_files(toy_root)
    assert files.meta.attributes == ("colour", "position") and files.meta.num_values == (3, 3)
    assert len(files.filenames["train"]) == 120 and files.train_labels.shape == (120, 3)
    assert files.queries["test"].shape == (12, 3) and files.candidates["valid"].shape == (48, 3)
    assert files.meta.attribute_index("position") == 1
    with pytest.raises(DataError, match="unknown attribute 'collar'"):
        files.meta.attribute_index("collar")


def test_multi_attribute_label_lines(toy_copy):
    (toy_copy / "label_train.txt").write_text("0 0 1 1 2\n1 1 0\n")
    meta = load_meta(toy_copy)
    rows = read_items(toy_copy / "label_train.txt", meta, 120, multi=True)
    assert rows.tolist() == [[0, 0, 1], [0, 1, 2], [1, 1, 0]]


@pytest.mark.parametrize("line,message", [
    ("3 0 x", r"label_train\.txt, line 2: expected integers, got '3 0 x'"),
    ("3 0", r"label_train\.txt, line 2: expected 'image_id attr value"),
    ("3 2 0", r"line 2: attribute 2 out of range 0\.\.1"),
    ("3 1 3", r"line 2: value 3 out of range for attribute 1 'position' \(0\.\.2\)"),
    ("999 1 0", r"line 2: image id 999 out of range"),
])
def test_malformed_lines_name_file_line_and_text(toy_copy, line, message):
    (toy_copy / "label_train.txt").write_text(f"0 0 1\n{line}\n")
    with pytest.raises(DataError, match=message):
        load_split_files(toy_copy)


def test_missing_files_say_how_to_get_them(tmp_path, toy_copy):
    with pytest.raises(DataError, match="dataset folder not found.*asen synth"):
        load_split_files(tmp_path / "SynthFashion")
    (toy_copy / "query_test.txt").unlink()
    with pytest.raises(DataError, match=r"missing file: .*query_test\.txt"):
        load_split_files(toy_copy)


def test_unreadable_images_error_or_counted_skip(toy_copy):
    files = load_split_files(toy_copy)
    (toy_copy / files.filenames["train"][3]).write_bytes(b"not an image")
    (toy_copy / files.filenames["train"][4]).unlink()
    images = ImageSet(toy_copy, files.filenames["train"], 32)
    with pytest.raises(DataError, match=r"cannot read image .*train_0003\.png"):
        images[3]
    with pytest.raises(DataError, match=r"image not found: .*train_0004\.png"):
        images[4]
    skipping = ImageSet(toy_copy, files.filenames["train"], 32, skip_bad_images=True)
    with pytest.warns(UserWarning, match="skipping unreadable image"):
        assert skipping[3]["image"].shape == (3, 32, 32)
        skipping[4]
    assert len(skipping.bad) == 2


def test_global_view_and_originals(toy_root):
    files = load_split_files(toy_root)
    images = ImageSet(toy_root, files.filenames["train"], 32, keep_original=True)
    batch = collate_images([images[0], images[1]])
    assert batch["image"].shape == (2, 3, 32, 32) and batch["original"].dtype == torch.uint8
    assert batch["size"].tolist() == [[64, 64], [64, 64]]
    from PIL import Image

    assert global_view(Image.new("RGB", (300, 200)), 100).size == (100, 100)


def test_random_sampler_protocol_and_determinism(toy_root):
    files = load_split_files(toy_root)
    sampler = RandomTripletSampler(files.train_labels, files.meta, num_triplets=50, batch_size=16, seed=3)
    batches = list(sampler.epoch(0))
    assert len(batches) == len(sampler) == 4 and len(batches[-1]["attributes"]) == 2
    lab = {(int(i), int(a)): int(v) for i, a, v in files.train_labels}
    for b in batches:
        n = len(b["attributes"])
        a, p, neg = b["images"][:n], b["images"][n:2 * n], b["images"][2 * n:]
        for ai, pi, ni, attr in zip(a, p, neg, b["attributes"]):
            assert ai != pi
            assert lab[(ai, attr)] == lab[(pi, attr)] != lab[(ni, attr)]
    again = list(RandomTripletSampler(files.train_labels, files.meta, 50, 16, seed=3).epoch(0))
    assert all((x["images"] == y["images"]).all() for x, y in zip(batches, again))
    other = list(sampler.epoch(1))
    assert not all((x["images"] == y["images"]).all() for x, y in zip(batches, other))


def test_value_with_one_image_excluded_with_one_warning(toy_root):
    files = load_split_files(toy_root)
    labels = files.train_labels.copy()
    idx = np.where((labels[:, 1] == 0) & (labels[:, 2] == 2))[0]
    labels = np.delete(labels, idx[1:], axis=0)  # keep one "blue" image
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sampler = RandomTripletSampler(labels, files.meta, 200, 50, seed=0)
    msgs = [str(w.message) for w in caught]
    assert len(msgs) == 1 and "colour=blue (1 image)" in msgs[0]
    for b in sampler.epoch(0):
        n = len(b["attributes"])
        for img, attr in zip(b["images"][:n], b["attributes"]):
            assert not (attr == 0 and img == labels[idx[0], 0])


def test_in_batch_sampler(toy_root):
    files = load_split_files(toy_root)
    sampler = InBatchSampler(files.train_labels, files.meta, images_per_batch=24, attributes_per_batch=2,
                             steps=3, seed=0)
    batches = list(sampler.epoch(0))
    assert len(batches) == 3
    lab = {(int(i), int(a)): int(v) for i, a, v in files.train_labels}
    for b in batches:
        assert len(b["images"]) == 24 and set(b["attributes"]) == {0, 1}
        for i, a, v in zip(b["images"], b["attributes"], b["values"]):
            assert lab[(i, a)] == v
        for a in (0, 1):
            assert len(set(b["values"][b["attributes"] == a])) >= 2


def test_read_items_can_collect_every_bad_line(toy_copy):
    path = toy_copy / "label_train.txt"
    path.write_text("0 0 1\n1 0 x\n2 1 0\n3 5 0\n4 1 9\n")
    meta = load_meta(toy_copy)
    problems: list[str] = []
    rows = read_items(path, meta, 120, multi=True, problems=problems)
    assert rows.tolist() == [[0, 0, 1], [2, 1, 0]]
    assert [p.split(", ")[1].split(":")[0] for p in problems] == ["line 2", "line 4", "line 5"]
    with pytest.raises(DataError, match="line 2"):
        read_items(path, meta, 120, multi=True)
