import shutil
import warnings

import numpy as np
import pytest
import torch

from asen.data import ImageSet, InBatchSampler, RandomTripletSampler, collate_images, global_view
from asen.layout import DataError, load_meta, load_split_files, read_items


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
    with pytest.raises(DataError, match=rf"cannot read image .*train_0003\.png.*\(`asen doctor {toy_copy}` lists every "
                                        r"unreadable image; --set data.skip_bad_images=true replaces them"):
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


def test_global_view_is_torchvisions_resize_and_centre_crop():
    from PIL import Image
    from torchvision import transforms as T

    from asen.data import global_view

    rng = np.random.default_rng(0)
    ref = T.Compose([T.Resize(64), T.CenterCrop(64)])
    # odd long sides and aspect ratios where round() and int() disagree (the former implementation used round)
    for w, h in [(150, 97), (97, 150), (301, 200), (64, 64), (65, 200)]:
        img = Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
        assert np.array_equal(np.asarray(global_view(img, 64)), np.asarray(ref(img))), (w, h)


def _sampler_labels():
    from asen.layout import Meta

    # one attribute, three values with 2, 3 and 15 images: the two schemes weigh values differently
    counts = [2, 3, 15]
    rows, i = [], 0
    for v, n in enumerate(counts):
        for _ in range(n):
            rows.append((i, 0, v))
            i += 1
    meta = Meta("toy", ("a",), (3,), (("x", "y", "z"),))
    return np.array(rows), meta, np.repeat(np.arange(3), counts)


def test_aaai_sampler_draws_anchor_values_uniformly_and_negatives_by_image():
    from asen.data import RandomTripletSampler

    labels, meta, value_of = _sampler_labels()
    n = 6000
    stats = {}
    for scheme in ("asenpp", "aaai"):
        s = RandomTripletSampler(labels, meta, n, 100, seed=0, scheme=scheme)
        ids = np.concatenate([b["images"].reshape(3, -1) for b in s.epoch(0)], axis=1)
        a, p, neg = value_of[ids[0]], value_of[ids[1]], value_of[ids[2]]
        assert (a == p).all() and (a != neg).all() and (ids[0] != ids[1]).all()
        stats[scheme] = (np.bincount(a, minlength=3) / n, np.bincount(neg, minlength=3) / n)
    # both: anchors' values uniform
    for scheme in stats:
        np.testing.assert_allclose(stats[scheme][0], [1 / 3] * 3, atol=0.03)
    # ASEN++: the negative's value is the other of a uniform pair -> uniform as well
    np.testing.assert_allclose(stats["asenpp"][1], [1 / 3] * 3, atol=0.03)
    # AAAI: the negative is uniform over the other values' images: P(neg = v) = sum over anchor values u != v of
    # 1/3 * n_v / (20 - n_u)
    counts = np.array([2, 3, 15])
    expected = [sum(counts[v] / (20 - counts[u]) for u in range(3) if u != v) / 3 for v in range(3)]
    np.testing.assert_allclose(stats["aaai"][1], expected, atol=0.03)


def test_aaai_sampler_is_deterministic_and_rejects_unknown_schemes():
    from asen.data import RandomTripletSampler

    labels, meta, _ = _sampler_labels()
    a = [b["images"] for b in RandomTripletSampler(labels, meta, 50, 10, seed=3, scheme="aaai").epoch(2)]
    b = [b["images"] for b in RandomTripletSampler(labels, meta, 50, 10, seed=3, scheme="aaai").epoch(2)]
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    with pytest.raises(ValueError, match="scheme must be one of asenpp, aaai"):
        RandomTripletSampler(labels, meta, 50, 10, seed=3, scheme="veit")


def test_hflip_flips_only_and_about_half_the_time(tmp_path):
    from PIL import Image

    from asen.data import ImageSet

    arr = np.zeros((32, 32, 3), np.uint8)
    arr[:, :8] = 255  # a white band on the left
    Image.fromarray(arr).save(tmp_path / "a.png")
    torch.manual_seed(0)
    ds = ImageSet(tmp_path, ["a.png"] * 200, 32, keep_original=True, hflip=True)
    flipped = 0
    for i in range(200):
        orig = ds[i]["original"]
        assert orig.shape == (3, 32, 32)  # no crop
        left, right = int(orig[0, 0, 0]), int(orig[0, 0, 31])
        assert {left, right} == {0, 255}
        flipped += right == 255
    assert 70 < flipped < 130


def test_hflip_comes_after_resize_and_centre_crop_as_in_the_aaai_code(tmp_path):
    """The AAAI code's transforms: Resize(224), CenterCrop(224), RandomHorizontalFlip. On an image whose resized
    long side minus the crop is odd, flipping first would shift the crop by a pixel."""
    from PIL import Image
    from torchvision.transforms import functional as TF

    from asen.data import ImageSet, normalize

    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (20, 34, 3), dtype=np.uint8)).save(tmp_path / "odd.png")  # 34 -> 27 px
    torch.manual_seed(1)
    ds = ImageSet(tmp_path, ["odd.png"] * 12, 16, keep_original=True, hflip=True)
    with Image.open(tmp_path / "odd.png") as img:
        img = img.convert("RGB")
        expected = normalize(TF.to_tensor(TF.hflip(TF.center_crop(TF.resize(img, 16), 16))))
        first_then_cut = normalize(TF.to_tensor(TF.center_crop(TF.resize(TF.hflip(img), 16), 16)))
        original = torch.from_numpy(np.asarray(img).copy()).permute(2, 0, 1)
    assert not torch.allclose(expected, first_then_cut)  # the order matters on this image
    seen = 0
    for i in range(12):
        item = ds[i]
        if not torch.equal(item["original"], original):
            torch.testing.assert_close(item["image"], expected)
            assert torch.equal(item["original"], original.flip(-1))
            seen += 1
    assert 0 < seen < 12


def test_in_batch_sampler_refuses_too_few_images_per_attribute(toy_root):
    files = load_split_files(toy_root, ("train",))
    with pytest.raises(ValueError, match=r"data.images_per_batch=6 gives 3 images to each of 2 attributes.*to 8 or more"):
        InBatchSampler(files.train_labels, files.meta, 6, 2, 1, 0)


def test_cached_global_views_are_the_views_and_augmented_ones_are_not_cached(toy_root):
    from asen.data import ImageCache, load_split_files

    files = load_split_files(toy_root, ("train",))
    plain = ImageSet(files.root, files.filenames["train"], 24)
    cache = ImageCache(1 << 30, 1 << 30)
    cached = ImageSet(files.root, files.filenames["train"], 24, cache=cache, keep_original=True)
    for i in range(3):
        first, again = cached[i], cached[i]
        torch.testing.assert_close(first["image"], plain[i]["image"], rtol=0, atol=0)
        torch.testing.assert_close(again["image"], first["image"], rtol=0, atol=0)
        assert (str(files.root / files.filenames["train"][i]), 24) in cache.views.store
        assert torch.equal(again["original"], first["original"])
    flips = ImageSet(files.root, files.filenames["train"], 23, cache=cache, hflip=True)
    flips[0]
    assert (str(files.root / files.filenames["train"][0]), 23) not in cache.views.store
