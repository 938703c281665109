"""asen.data.ImageCache: an explicit, bounded cache of decoded images, owned by whoever builds the ImageSets."""
import numpy as np
import pytest
import torch

import asen.data
from asen.config import load_config
from asen.data import ImageCache, ImageSet, load_split_files


@pytest.fixture()
def decodes(monkeypatch):
    """Every image path decoded from disk, in order."""
    seen = []
    real = asen.data.open_image

    def counting(path):
        seen.append(str(path))
        return real(path)

    monkeypatch.setattr(asen.data, "open_image", counting)
    return seen


def test_imagesets_sharing_a_cache_decode_each_image_once(toy_root, decodes):
    files = load_split_files(toy_root, ("train",))
    names = files.filenames["train"][:4]
    cache = ImageCache(1 << 30, 1 << 30)
    first = ImageSet(files.root, names, 24, cache=cache)
    second = ImageSet(files.root, names, 32, cache=cache, keep_original=True)  # another view size, same images
    for i in range(4):
        first[i], first[i], second[i]
    assert len(decodes) == 4 and len(cache.images.store) == 4
    assert {size for _, size in cache.views.store} == {24, 32}
    alone = ImageSet(files.root, names, 24)  # no cache: decoded every time, nothing shared
    alone[0], alone[0]
    assert len(decodes) == 6 and len(cache.images.store) == 4


def test_the_cache_keeps_to_its_budgets(toy_root):
    files = load_split_files(toy_root, ("train",))
    names = files.filenames["train"][:6]
    one = np.asarray(asen.data.open_image(files.root / names[0])).nbytes
    view = 3 * 24 * 24 * 4  # float32
    cache = ImageCache(image_bytes=2 * one, view_bytes=view)
    images = ImageSet(files.root, names, 24, cache=cache)
    for i in range(6):
        images[i]
    assert cache.images.bytes <= 2 * one and len(cache.images.store) == 2
    assert len(cache.views.store) == 1 and cache.views.bytes == view
    # filled until full, nothing evicted: the first images stay (an evicting cache would thrash on every epoch)
    paths = [str(files.root / n) for n in names]
    assert list(cache.images.store) == paths[:2] and list(cache.views.store) == [(paths[0], 24)]
    for i in range(6):  # the images beyond the budget are still read, the same each time
        torch.testing.assert_close(images[i]["image"], ImageSet(files.root, names, 24)[i]["image"], rtol=0, atol=0)


def test_a_run_uses_its_owners_cache_or_its_own(toy_root):
    data = load_config(["synthfashion_cpu"]).data
    assert data.cache_images and (data.cache_bytes, data.view_cache_bytes) == (4 << 30, 2 << 30)
    shared = ImageCache(1 << 30, 1 << 30)
    assert ImageCache.for_run(data, shared) is shared
    own = ImageCache.for_run(data)
    assert own is not shared and (own.images.max_bytes, own.views.max_bytes) == (4 << 30, 2 << 30)
    small = load_config(["synthfashion_cpu"], ["data.cache_bytes=1000", "data.view_cache_bytes=10"]).data
    assert (ImageCache.for_run(small).images.max_bytes, ImageCache.for_run(small).views.max_bytes) == (1000, 10)
    assert ImageCache.for_run(load_config(["fashionai_s1"]).data, shared) is None  # cache_images off
    with pytest.raises(TypeError, match="cache must be an asen.data.ImageCache or None, got True"):
        ImageSet(toy_root, [], 24, cache=True)  # the old boolean


def test_extracting_features_leaves_the_callers_imageset_as_it_was(toy_root):
    from asen.embed import extract_features
    from asen.model import build_model

    files = load_split_files(toy_root, ("test",))
    cfg = load_config(["fashionai_s2"], ["model.backbone=resnet_tiny", "model.local_backbone=resnet_tiny",
                                         "model.pretrained=none", "model.local_pretrained=none",
                                         "model.tiny_width=8"])
    model = build_model(cfg.model, files.meta.num_attributes, "cpu")  # a local branch: originals are needed
    cache = ImageCache(1 << 30, 1 << 30)
    images = ImageSet(files.root, files.filenames["test"], 32, cache=cache)
    before = dict(vars(images))
    out = extract_features(model, images, files.queries["test"][:5], "cpu", batch_size=4, progress=False)
    assert "local" in out
    assert vars(images) == before and images.cache is cache and images.keep_original is False
    assert cache.images.store  # the shared cache was filled through the copy


def test_training_and_its_validation_share_the_owners_cache(toy_root, tmp_path, decodes):
    from asen.train import train

    from test_train import TINY_MODEL

    over = {**TINY_MODEL, "data.root": toy_root, "data.global_size": 32, "data.sampler": "in_batch",
            "data.images_per_batch": 32, "data.steps_per_epoch": 1, "data.max_eval_queries": 4,
            "data.cache_images": True, "data.num_workers": 0, "train.epochs": 1}
    cfg = load_config(["fashionai_s1"], [f"{k}={v}" for k, v in over.items()])
    files = load_split_files(toy_root)
    cache = ImageCache(1 << 30, 1 << 30)
    train(cfg, tmp_path / "a", "cpu", progress=False, files=files, image_cache=cache)
    valid = {str(files.root / files.filenames["valid"][i]) for i in files.queries["valid"][:4, 0]}
    assert valid <= set(decodes) and set(decodes) == set(cache.images.store)  # validation images too
    train(cfg.replace(**{"train.seed": 1}), tmp_path / "b", "cpu", progress=False, files=files, image_cache=cache)
    assert len(decodes) == len(set(decodes))  # no image decoded twice: the second run only read new ones
    before = set(decodes)
    train(cfg.replace(**{"train.seed": 1}), tmp_path / "c", "cpu", progress=False, files=files)
    assert valid <= set(decodes[len(before):])  # without the owner's cache a run makes its own


def test_reproduce_and_the_book_hand_one_cache_to_their_runs(toy_root, tmp_path, monkeypatch):
    from dataclasses import replace

    import asen.reproduce as reproduce
    from asen.book import BookContext
    from asen.reproduce import schedule

    p = reproduce.Protocol(toy_root, tmp_path, torch.device("cpu"), profile="cpu",
                           extra_overrides=("data.view_cache_bytes=7",))
    assert (p.image_cache.images.max_bytes, p.image_cache.views.max_bytes) == (4 << 30, 7)
    assert replace(p, jobs=2).image_cache is p.image_cache
    ctx = BookContext("cpu", "Toy", toy_root, torch.device("cpu"), 0, tmp_path, tmp_path, None)
    assert ctx.protocol.image_cache is ctx.image_cache is ctx.protocol.image_cache
    # a worker process of train_all: one cache of the protocol's sizes for all the runs it trains
    handed = []
    monkeypatch.setattr(torch, "set_num_threads", lambda n: None)  # the job's own thread count: not here
    monkeypatch.setattr(schedule, "ensure_trained", lambda cfg, root, device, progress, image_cache:
                        handed.append(image_cache) or "best.pt")
    monkeypatch.setattr(schedule, "_WORKER_CACHE", [])
    cfg = p.stage1_config("asen", 0).to_dict()
    schedule._train_job(cfg, str(tmp_path), 1)
    schedule._start_worker(100, 7)
    schedule._train_job(cfg, str(tmp_path), 1)
    schedule._train_job(cfg, str(tmp_path), 1)
    assert handed[0] is None and handed[1] is handed[2] and (handed[1].images.max_bytes, handed[1].views.max_bytes) \
        == (100, 7)
