import os
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from asen.data import DataError, ImageSet, collate_images, load_split_files
from asen.device_images import ImageStore, StoreLoader, build_store, open_store, store_path
from asen.synth.layout import generate_dataset


def pil_batch(root, filenames, global_size, ids, skip_bad_images=False, keep_original=True):
    images = ImageSet(root, filenames, global_size, keep_original=keep_original, skip_bad_images=skip_bad_images)
    return collate_images([images[i] for i in ids])


def assert_same_batch(got, want):
    assert got.keys() == want.keys()
    for key in want:  # image, index and, with originals, original (uint8) and size
        torch.testing.assert_close(got[key], want[key], rtol=0, atol=0)


@pytest.fixture(scope="module")
def synth(tmp_path_factory) -> Path:
    return generate_dataset(tmp_path_factory.mktemp("synth") / "SynthFashion", size="tiny", seed=0, workers=1,
                            progress=False)


@pytest.fixture()
def jpegs(tmp_path) -> tuple[Path, list[str]]:
    """JPEGs of different sizes and orientations (and one grey-scale), as in a real dataset."""
    rng = np.random.default_rng(0)
    root = tmp_path / "Mixed"
    (root / "img").mkdir(parents=True)
    names = []
    for i, (w, h) in enumerate([(80, 60), (50, 90), (64, 64), (37, 101), (120, 45)]):
        arr = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
        img = Image.fromarray(arr) if i != 2 else Image.fromarray(arr[:, :, 0], mode="L")
        names.append(f"img/{i}.jpg")
        img.save(root / names[-1], quality=85)
    (root / "filenames_train.txt").write_text("\n".join(names) + "\n")
    return root, names


def test_synthfashion_batches_equal_the_pil_path(synth, tmp_path):
    files = load_split_files(synth)
    names = files.filenames["train"]
    store = open_store(synth, "train", names, 64, cache_dir=tmp_path, progress=False)
    assert store.path == store_path(synth, "train", 64, tmp_path) and len(store) == len(names)
    ids = [5, 0, 17, 5, len(names) - 1]  # repeats allowed, any order
    assert_same_batch(store.batch(ids, "cpu"), pil_batch(synth, names, 64, ids))
    # the loader yields the same batches, in order, with and without the prefetch thread
    batches = [[1, 2, 3], [9], [4, 8, 15, 16]]
    for prefetch in (0, 2):
        got = list(StoreLoader(store, batches, "cpu", prefetch=prefetch))
        assert len(got) == 3
        for b, ids in zip(got, batches):
            assert_same_batch(b, pil_batch(synth, names, 64, ids))
    # stage 1 (no local branch): only the global views, as ImageSet without keep_original
    for b, ids in zip(StoreLoader(store, batches, "cpu", keep_original=False), batches):
        assert set(b) == {"image", "index"}
        assert_same_batch(b, pil_batch(synth, names, 64, ids, keep_original=False))


def test_mixed_size_jpegs_are_padded_like_collate(jpegs, tmp_path):
    root, names = jpegs
    path = build_store(root, names, 48, tmp_path / "s.u8", progress=False)
    store = ImageStore(path, root, names, 48)
    ids = [0, 1, 2, 3, 4]
    got, want = store.batch(ids), pil_batch(root, names, 48, ids)
    assert got["original"].shape == (5, 3, 101, 120) and got["original"].dtype == torch.uint8
    assert got["size"].tolist() == [[80, 60], [50, 90], [64, 64], [37, 101], [120, 45]]
    assert_same_batch(got, want)
    assert_same_batch(store.batch([3, 1]), pil_batch(root, names, 48, [3, 1]))
    with pytest.raises(IndexError, match="0..4"):
        store.batch([5])


def test_stale_truncated_and_wrong_size_stores_are_errors(jpegs, tmp_path):
    root, names = jpegs
    path = build_store(root, names, 32, tmp_path / "s.u8", progress=False)
    with pytest.raises(DataError, match="global size 32 px, expected 48"):
        ImageStore(path, root, names, 48)
    with pytest.raises(DataError, match="stale: it holds 5 images"):
        ImageStore(path, root, names[:4], 32)
    # an image re-encoded (other size on disk): stale, naming the store
    Image.open(root / names[0]).save(root / names[0], quality=30)
    with pytest.raises(DataError, match=f"image store {path} is stale: the dataset at {root} changed"):
        ImageStore(path, root, names, 32)
    build_store(root, names, 32, path, progress=False)  # rebuilt: fine again
    ImageStore(path, root, names, 32)
    # a split file changed
    (root / "filenames_train.txt").write_text("\n".join(reversed(names)) + "\n")
    with pytest.raises(DataError, match="is stale"):
        ImageStore(path, root, names, 32)
    build_store(root, names, 32, path, progress=False)
    with open(path, "r+b") as fh:
        fh.truncate(os.path.getsize(path) - 10)
    with pytest.raises(DataError, match=f"image store {path} is truncated"):
        ImageStore(path, root, names, 32)
    path.unlink()
    with pytest.raises(DataError, match="image store not found"):
        ImageStore(path, root, names, 32)


def test_bad_images_fail_the_build_or_are_grey_like_the_pil_path(jpegs, tmp_path):
    root, names = jpegs
    (root / names[1]).write_bytes(b"not a jpeg")
    with pytest.raises(DataError, match="cannot read image"):
        build_store(root, names, 32, tmp_path / "s.u8", progress=False)
    assert not (tmp_path / "s.u8").exists() and not list(tmp_path.glob("*.tmp"))  # nothing half-written
    with pytest.warns(UserWarning, match="skipping unreadable image"):
        store = open_store(root, "train", names, 32, cache_dir=tmp_path, skip_bad_images=True, progress=False)
    assert len(store.bad_images) == 1 and names[1] in store.bad_images[0]
    with pytest.warns(UserWarning):
        want = pil_batch(root, names, 32, [0, 1, 2], skip_bad_images=True)
    assert_same_batch(store.batch([0, 1, 2]), want)
    # a missing image: an error naming it, or grey with skip_bad_images; restoring it makes the store stale
    good = [names[0], names[2], names[3]]
    saved = (root / names[3]).read_bytes()
    (root / names[3]).unlink()
    with pytest.raises(DataError, match=f"image not found: {root / names[3]}"):
        build_store(root, good, 32, tmp_path / "m.u8", progress=False)
    with pytest.warns(UserWarning, match="skipping unreadable image"):
        missing = ImageStore(build_store(root, good, 32, tmp_path / "m.u8", progress=False, skip_bad_images=True),
                             root, good, 32)
    with pytest.warns(UserWarning):
        assert_same_batch(missing.batch([2, 0]), pil_batch(root, good, 32, [2, 0], skip_bad_images=True))
    (root / names[3]).write_bytes(saved)
    with pytest.raises(DataError, match="is stale"):
        ImageStore(tmp_path / "m.u8", root, good, 32)
    shutil.rmtree(tmp_path)
    with pytest.raises(DataError, match="image store not found"):
        open_store(root, "train", names, 32, cache_dir=tmp_path, build=False)


def test_loader_passes_on_errors_and_can_stop_early(jpegs, tmp_path):
    root, names = jpegs
    store = open_store(root, "train", names, 32, cache_dir=tmp_path, progress=False)
    loader = StoreLoader(store, [[0], [1], [9], [2]], "cpu", prefetch=1)
    it = iter(loader)
    assert next(it)["index"].tolist() == [0]
    assert next(it)["index"].tolist() == [1]
    with pytest.raises(IndexError, match="got \\[9\\]"):
        next(it)
    gathered = []
    real_gather = store.gather

    def counting_gather(ids, *args):
        gathered.append(ids.tolist())
        return real_gather(ids, *args)

    store.gather = counting_gather
    many = StoreLoader(store, [[i % 5] for i in range(50)], "cpu", prefetch=2)
    for step, batch in enumerate(many):
        if step == 3:
            break  # the producer thread is told to stop, and the loop ends
    assert batch["index"].tolist() == [3]
    # the producer stopped a few batches ahead (4 taken, at most 2 queued, one in hand), not after all 50
    assert 4 <= len(gathered) <= 4 + 2 + 1, len(gathered)
    assert not any(t.name == "asen-store-loader" for t in threading.enumerate())


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_batches_match_the_cpu_ones(jpegs, tmp_path):
    root, names = jpegs
    store = open_store(root, "train", names, 32, cache_dir=tmp_path, progress=False)
    cpu, gpu = store.batch([4, 0, 3]), store.batch([4, 0, 3], "cuda")
    assert gpu["image"].is_cuda and gpu["original"].is_cuda
    torch.testing.assert_close(gpu["original"].cpu(), cpu["original"], rtol=0, atol=0)
    torch.testing.assert_close(gpu["image"].cpu(), cpu["image"])


def test_a_views_only_store_serves_stage_1_and_refuses_originals(jpegs, tmp_path):
    root, names = jpegs
    full = open_store(root, "train", names, 32, cache_dir=tmp_path, progress=False)
    views = open_store(root, "train", names, 32, cache_dir=tmp_path, progress=False, originals=False)
    assert views.path.name == "train_32px_views.u8" and full.path.name == "train_32px.u8"
    assert views.path.stat().st_size == 5 * 3 * 32 * 32 < full.path.stat().st_size
    assert_same_batch(views.batch([2, 0], keep_original=False), pil_batch(root, names, 32, [2, 0], keep_original=False))
    with pytest.raises(DataError, match="holds the global views only"):
        views.batch([2, 0])


def _open_in_another_process(args):
    import time

    if args is None:  # warm-up: this module (and torch) imported in the worker
        return 0
    root, names, cache, start = args
    time.sleep(max(0.0, start - time.time()))  # every process opens at the same moment
    store = open_store(root, "train", names, 64, cache_dir=cache, progress=False)
    return store.path.stat().st_size


def test_processes_opening_a_missing_store_at_once_build_it_once(synth, tmp_path):
    """Runs trained in parallel processes (`asen reproduce --jobs 2` with data.loader=store) open the same
    missing store together: one builds it, the others wait for it; no temporary file is shared or left."""
    import multiprocessing as mp
    import time

    names = load_split_files(synth).filenames["train"]
    with mp.get_context("spawn").Pool(3) as pool:
        pool.map(_open_in_another_process, [None] * 3, chunksize=1)  # workers up before the clock starts
        start = time.time() + 1.0
        sizes = pool.map(_open_in_another_process, [(synth, names, tmp_path, start)] * 3, chunksize=1)
    path = store_path(synth, "train", 64, tmp_path)
    assert sizes == [path.stat().st_size] * 3
    assert not list(tmp_path.glob("*.tmp"))
    assert_same_batch(ImageStore(path, synth, names, 64).batch([3, 1]), pil_batch(synth, names, 64, [3, 1]))
