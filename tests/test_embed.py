"""The embedder (asen.embed): the caller's ImageSet is left as it was; per-item and per-attribute embedding
agree; the fused feature's dot product is the beta-weighted cosine."""
import numpy as np
import pytest
import torch

from asen.config import load_config
from asen.data import ImageSet, load_split_files
from asen.embed import EmbedSettings, embed_images, extract_features, fuse
from asen.model import build_model

TINY = {
    "model.backbone": "resnet_tiny", "model.local_backbone": "resnet_tiny", "model.pretrained": "none",
    "model.local_pretrained": "none", "model.tiny_width": 8, "model.attr_embed_size": 16, "model.spatial_dim": 16,
    "model.local_spatial_dim": 16, "model.embed_size": 32, "data.global_size": 32, "data.local_size": 32,
}


def tiny_model(root, local):
    extra = {"model.local_branch": True, "train.stage": 2} if local else {}
    cfg = load_config(["fashionai_s1"], [f"{k}={v}" for k, v in {**TINY, "data.root": str(root), **extra}.items()])
    torch.manual_seed(0)
    return cfg, build_model(cfg.model, 2, "cpu").eval()


@pytest.mark.parametrize("local", [False, True])
@pytest.mark.parametrize("keep", [False, True])
def test_the_callers_image_set_is_not_changed(toy_root, local, keep):
    cfg, model = tiny_model(toy_root, local)
    files = load_split_files(toy_root, ("test",))
    images = ImageSet(toy_root, files.filenames["test"], 32, keep_original=keep)
    items = files.queries["test"][:6]
    f = extract_features(model, images, items, "cpu", EmbedSettings.from_config(cfg), batch_size=4, progress=False)
    assert images.keep_original is keep
    assert set(f) == ({"global", "local", "boxes"} if local else {"global"})
    assert f["global"].shape == (6, 32) and f["global"].dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(f["global"], axis=1), 1.0, atol=1e-5)
    embed_images(model, images, [0], "cpu", EmbedSettings.from_config(cfg), batch_size=4)
    assert images.keep_original is keep


def test_items_and_images_get_the_same_features(toy_root):
    # extract_features (one attribute per item) and embed_images (every image under an attribute) agree,
    # global and local; embed_images fuses them with the settings' beta
    cfg, model = tiny_model(toy_root, local=True)
    files = load_split_files(toy_root, ("test",))
    images = ImageSet(toy_root, files.filenames["test"], 32)
    settings = EmbedSettings.from_config(cfg, beta=0.3)
    ids = np.arange(8)
    items = np.stack([ids, np.ones_like(ids), np.zeros_like(ids)], axis=1)  # attribute 1 for images 0..7
    f = extract_features(model, images, items, "cpu", settings, batch_size=3, progress=False)
    fused = embed_images(model, images, [0, 1], "cpu", settings, batch_size=5)[1][:8]
    np.testing.assert_allclose(fused, fuse(f["global"], f["local"], 0.3), atol=1e-5)
    # the fused dot product is the beta-weighted cosine of the two branches
    cos = 0.3 * f["global"] @ f["global"].T + 0.7 * f["local"] @ f["local"].T
    np.testing.assert_allclose(fused @ fused.T, cos, atol=1e-5)
