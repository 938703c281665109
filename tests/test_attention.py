"""Attribute-aware spatial and channel attention (ASEN++ Eq. 1-6; asen/attention.py): against the formulas, and
by hand with plain Python floats."""
import math

import torch

from asen.attention import ChannelAttention, SpatialAttention


def test_spatial_attention_matches_formula():
    torch.manual_seed(0)
    asa = SpatialAttention(6, 4, 5)
    feat, attr = torch.randn(2, 6, 3, 4), torch.randn(2, 4)
    pooled, maps = asa(feat, attr)
    logits = (torch.tanh(asa.conv(feat)) * torch.tanh(asa.attr_transform(attr))[:, :, None, None]).sum(1) / 5 ** 0.5
    expected = torch.softmax(logits.flatten(1), 1).view(2, 3, 4)
    torch.testing.assert_close(maps, expected)
    torch.testing.assert_close(maps.sum((1, 2)), torch.ones(2))
    torch.testing.assert_close(pooled, (feat * maps[:, None]).sum((2, 3)))  # weighted sum, not a mean


def test_channel_attention_matches_formula():
    torch.manual_seed(0)
    aca = ChannelAttention(8, 4, reduction=2)
    assert aca.fc1.out_features == 4
    pooled, attr = torch.randn(3, 8), torch.randn(3, 4)
    mask = torch.sigmoid(aca.fc2(torch.relu(aca.fc1(torch.cat([pooled, torch.relu(aca.attr_transform(attr))], 1)))))
    torch.testing.assert_close(aca(pooled, attr), pooled * mask)


def _set(linear: torch.nn.Module, weight: list, bias: list) -> None:
    with torch.no_grad():
        linear.weight.copy_(torch.tensor(weight).view_as(linear.weight))
        linear.bias.copy_(torch.tensor(bias))


def test_spatial_attention_by_hand():
    """ASEN++ Eq. 1-3 with two channels, two positions and C' = 2, computed with plain Python floats."""
    asa = SpatialAttention(in_channels=2, attr_dim=1, common_dim=2)
    conv_w, conv_b = [[0.2, -0.1], [0.4, 0.3]], [0.1, -0.2]
    attr_w, attr_b = [[0.6], [-0.8]], [0.0, 0.1]
    _set(asa.conv, conv_w, conv_b)
    _set(asa.attr_transform, attr_w, attr_b)
    x = [[1.0, 0.5], [-2.0, 3.0]]  # x[channel][position], positions along the width
    a = 1.5
    img = [[math.tanh(sum(conv_w[k][c] * x[c][p] for c in range(2)) + conv_b[k]) for p in range(2)] for k in range(2)]
    att = [math.tanh(attr_w[k][0] * a + attr_b[k]) for k in range(2)]
    logits = [sum(img[k][p] * att[k] for k in range(2)) / math.sqrt(2) for p in range(2)]
    s = [math.exp(v) / sum(math.exp(u) for u in logits) for v in logits]
    pooled = [sum(s[p] * x[c][p] for p in range(2)) for c in range(2)]
    got_pooled, got_maps = asa(torch.tensor(x).view(1, 2, 1, 2), torch.tensor([[a]]))
    torch.testing.assert_close(got_maps, torch.tensor(s).view(1, 1, 2))
    torch.testing.assert_close(got_pooled, torch.tensor([pooled]))


def test_channel_attention_by_hand():
    """ASEN++ Eq. 4-6 with two channels, a 1-d attribute and reduction 2, computed with plain Python floats."""
    aca = ChannelAttention(in_channels=2, attr_dim=1, reduction=2)
    _set(aca.attr_transform, [[0.7]], [-0.2])
    _set(aca.fc1, [[0.5, -0.3, 0.8]], [0.05])
    _set(aca.fc2, [[1.2], [-0.6]], [0.1, 0.2])
    pooled, a = [0.9, -0.4], 2.0
    attr = max(0.0, 0.7 * a - 0.2)
    hidden = max(0.0, 0.5 * pooled[0] - 0.3 * pooled[1] + 0.8 * attr + 0.05)
    mask = [1 / (1 + math.exp(-(w * hidden + b))) for w, b in ((1.2, 0.1), (-0.6, 0.2))]
    got = aca(torch.tensor([pooled]), torch.tensor([[a]]))
    torch.testing.assert_close(got, torch.tensor([[pooled[0] * mask[0], pooled[1] * mask[1]]]))
