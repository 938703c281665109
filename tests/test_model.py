import math

import pytest
import torch

from asen.backbones import build_backbone
from asen.config import ModelConfig
from asen.model import ASEN

TINY = ModelConfig(backbone="resnet_tiny", local_backbone="resnet_tiny", pretrained="none", local_pretrained="none",
                   attr_embed_size=16, spatial_dim=16, local_spatial_dim=8, embed_size=24, tiny_width=8)


@pytest.mark.parametrize("branch", ["global", "local"])
def test_shapes_batch_of_one_and_gradients(branch):
    torch.manual_seed(0)
    model = ASEN(ModelConfig(**{**TINY.__dict__, "local_branch": True}), num_attributes=3)
    x = torch.randn(1, 3, 48, 48)
    emb, maps = model(x, torch.tensor([2]), branch=branch)
    assert emb.shape == (1, 24) and maps.shape == (1, 6, 6)  # stride 8
    model.train()
    x = torch.randn(4, 3, 48, 48)
    emb, _ = model(x, torch.tensor([0, 1, 2, 0]), branch=branch)
    assert torch.isfinite(emb).all()
    emb.pow(2).sum().backward()
    net = model.global_branch if branch == "global" else model.local_branch
    for name, p in list(net.named_parameters()) + [("attr_embedding", model.attr_embedding.weight)]:
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_attribute_changes_embedding_and_ablations():
    torch.manual_seed(0)
    x = torch.randn(2, 3, 48, 48)
    model = ASEN(TINY, 3).eval()
    e0, m0 = model(x, torch.tensor([0, 0]))
    e1, m1 = model(x, torch.tensor([1, 1]))
    assert not torch.allclose(e0, e1) and not torch.allclose(m0, m1)
    # no ASA: the map is uniform (global average pooling)
    no_asa = ASEN(ModelConfig(**{**TINY.__dict__, "spatial_attention": False}), 3).eval()
    assert no_asa.global_branch.spatial is None
    _, m = no_asa(x, torch.tensor([0, 1]))
    torch.testing.assert_close(m, torch.full_like(m, 1 / 36))
    # no ASA and no ACA: the Triplet-network baseline ignores the attribute
    triplet = ASEN(ModelConfig(**{**TINY.__dict__, "spatial_attention": False, "channel_attention": False}), 3).eval()
    assert not triplet.attribute_aware
    torch.testing.assert_close(triplet(x, torch.tensor([0, 0]))[0], triplet(x, torch.tensor([2, 1]))[0])
    # CSN: one embedding, masked per attribute
    csn = ASEN(ModelConfig(**{**TINY.__dict__, "spatial_attention": False, "channel_attention": False,
                              "head": "csn"}), 3).eval()
    a, b = csn(x, torch.tensor([0, 0]))[0], csn(x, torch.tensor([1, 1]))[0]
    assert not torch.allclose(a, b)


def test_channels_last_same_result():
    torch.manual_seed(0)
    model = ASEN(TINY, 3).eval()
    cl = ASEN(ModelConfig(**{**TINY.__dict__, "channels_last": True}), 3).eval()
    cl.load_state_dict(model.state_dict())
    x = torch.randn(2, 3, 48, 48)
    torch.testing.assert_close(model(x, torch.tensor([0, 1]))[0], cl(x, torch.tensor([0, 1]))[0], rtol=1e-4, atol=1e-4)


def test_errors():
    model = ASEN(TINY, 3)
    with pytest.raises(ValueError, match="no local branch"):
        model(torch.randn(1, 3, 48, 48), torch.tensor([0]), branch="local")
    with pytest.raises(ValueError, match="branch must be"):
        model(torch.randn(1, 3, 48, 48), torch.tensor([0]), branch="middle")
    with pytest.raises(ValueError, match="unknown backbone"):
        build_backbone("vgg16", "none")


def test_attribute_batchnorm_normalises_each_attribute_on_its_own():
    from asen.model import AttributeBatchNorm

    torch.manual_seed(0)
    norm = AttributeBatchNorm(3, 4).train()
    x = torch.randn(10, 4)
    attrs = torch.tensor([0, 0, 0, 1, 1, 1, 1, 2, 2, 2])
    out = norm(x, attrs)
    for a in range(3):
        rows = out[attrs == a]
        torch.testing.assert_close(rows.mean(0), torch.zeros(4), atol=1e-5, rtol=0)
    # rows of attribute 0 do not depend on the other attributes' rows
    x2 = x.clone()
    x2[attrs != 0] += 100.0
    torch.testing.assert_close(AttributeBatchNorm(3, 4).train()(x2, attrs)[attrs == 0], out[attrs == 0])
    # at test time each attribute uses its own running statistics
    # ... which were updated from that attribute's rows alone (momentum 0.1 from mean 0 / var 1)
    for a in range(3):
        rows = x[attrs == a]
        torch.testing.assert_close(norm.norms[a].running_mean, 0.1 * rows.mean(0))
        torch.testing.assert_close(norm.norms[a].running_var, 0.9 + 0.1 * rows.var(0, unbiased=True))
    norm.eval()
    assert not torch.allclose(norm.norms[0].running_mean, norm.norms[1].running_mean)
    y = norm(x[:3], torch.tensor([0, 1, 2]))
    for a in range(3):  # row a by hand: (x - running_mean_a) / sqrt(running_var_a + eps) (weight 1, bias 0)
        bn = norm.norms[a]
        torch.testing.assert_close(y[a], (x[a] - bn.running_mean) / torch.sqrt(bn.running_var + bn.eps))
    model = ASEN(ModelConfig(**{**TINY.__dict__, "embed_norm": "attribute_batchnorm"}), 3)
    emb, _ = model(torch.randn(4, 3, 48, 48), torch.tensor([0, 0, 2, 2]))
    emb.sum().backward()
    assert model.global_branch.norm.norms[1].weight.grad is None  # attribute 1 was not in the batch


def test_attribute_agnostic_model_gets_one_batchnorm():
    from asen.model import AttributeBatchNorm

    cfg = ModelConfig(**{**TINY.__dict__, "spatial_attention": False, "channel_attention": False,
                         "embed_norm": "attribute_batchnorm"})
    model = ASEN(cfg, 3)
    assert isinstance(model.global_branch.norm, torch.nn.BatchNorm1d)
    x = torch.randn(4, 3, 48, 48)
    model.eval()
    torch.testing.assert_close(model(x, torch.tensor([0, 0, 0, 0]))[0], model(x, torch.tensor([1, 2, 0, 1]))[0])
    aware = ASEN(ModelConfig(**{**TINY.__dict__, "embed_norm": "attribute_batchnorm"}), 3)
    assert isinstance(aware.global_branch.norm, AttributeBatchNorm)


def test_tiny_backbone_blocks_per_stage():
    one, two = build_backbone("resnet_tiny", "none", 8, 1), build_backbone("resnet_tiny", "none", 8, 2)
    x = torch.randn(2, 3, 64, 64)
    assert one(x).shape == two(x).shape == (2, 32, 8, 8)  # stride 8 and 4w channels either way
    assert [len(getattr(two, f"layer{i}")) for i in (1, 2, 3)] == [2, 2, 2]
    n = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert n(two) > 1.5 * n(one)
    model = ASEN(ModelConfig(**{**TINY.__dict__, "tiny_blocks": 2, "local_branch": True}), num_attributes=3)
    assert len(model.global_branch.backbone.layer3) == len(model.local_branch.backbone.layer3) == 2
    with pytest.raises(ValueError, match="tiny_blocks"):
        build_backbone("resnet_tiny", "none", 8, 0)


def test_csn_mask_initialisation_is_configurable():
    csn = dict(TINY.__dict__, head="csn", spatial_attention=False, channel_attention=False)
    torch.manual_seed(0)
    veit = ASEN(ModelConfig(**csn), num_attributes=4).csn_masks.detach()
    assert abs(float(veit.mean()) - 0.9) < 0.3 and float(veit.std()) > 0.4  # normal(0.9, 0.7), Veit et al.
    ones = ASEN(ModelConfig(**{**csn, "csn_mask_mean": 1.0, "csn_mask_std": 0.0}), num_attributes=4).csn_masks
    assert torch.equal(ones.detach(), torch.ones(4, TINY.embed_size))


def test_fusion_at_beta_0_6_weights_the_two_cosines():
    """ASEN++ Sec. III-E: the fused similarity is beta cos_global + (1 - beta) cos_local, by hand at beta 0.6."""
    import numpy as np

    from asen.evaluate import fuse

    g = np.array([[1.0, 0.0], [0.6, 0.8]])  # cos_global(item 0, item 1) = 0.6
    loc = np.array([[1.0, 0.0], [0.8, 0.6]])  # cos_local = 0.8
    fused = fuse(g, loc, 0.6)
    np.testing.assert_allclose(fused[0], [math.sqrt(0.6), 0.0, math.sqrt(0.4), 0.0])
    np.testing.assert_allclose(fused[0] @ fused[1], 0.6 * 0.6 + 0.4 * 0.8)  # 0.68
    np.testing.assert_allclose(fused @ fused.T, np.array([[1.0, 0.68], [0.68, 1.0]]))  # still unit vectors
    with pytest.raises(ValueError, match="beta must be in"):
        fuse(g, loc, 1.2)
    # float32 features stay float32, weighted by the float32 square roots (the reference's torch.sqrt of a float32
    # beta), so the scores ranked, and their near-ties, are the reference's
    g32, loc32 = g.astype(np.float32), loc.astype(np.float32)
    fused32 = fuse(g32, loc32, 0.6)
    assert fused32.dtype == np.float32
    np.testing.assert_array_equal(fused32[:, :2], np.sqrt(np.float32(0.6)) * g32)
    np.testing.assert_array_equal(fused32[:, 2:], np.sqrt(np.float32(1.0) - np.float32(0.6)) * loc32)
