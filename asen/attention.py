"""Attribute-aware attention modules (ASEN, Ma et al. AAAI 2020, Sec. 3.2; ASEN++ Sec. III-B, Eq. 1-6).

* :class:`SpatialAttention` (ASA): where to look for an attribute.
  ``s = softmax_{h,w}( sum_c tanh(conv1x1(F))_c * tanh(W a)_c / sqrt(C') )``; the pooled feature is
  ``sum_{h,w} s * F`` (an attention-weighted sum).
* :class:`ChannelAttention` (ACA): which patterns matter for an attribute.
  ``m = sigmoid(fc2(relu(fc1([pooled ; relu(W a)]))))``, reduction rate ``r``; output ``m * pooled``.
"""
from __future__ import annotations

import math

import torch
from torch import nn


class SpatialAttention(nn.Module):
    """Attribute-aware spatial attention over a (B, C, h, w) feature map."""

    def __init__(self, in_channels: int, attr_dim: int, common_dim: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, common_dim, kernel_size=1)
        self.attr_transform = nn.Linear(attr_dim, common_dim)
        self.scale = 1.0 / math.sqrt(common_dim)

    def forward(self, feat: torch.Tensor, attr: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns the pooled feature (B, C) and the attention map (B, h, w) (sums to 1)."""
        b, c, h, w = feat.shape
        img = torch.tanh(self.conv(feat))  # (B, C', h, w)
        att = torch.tanh(self.attr_transform(attr))  # (B, C')
        logits = (img * att[:, :, None, None]).sum(dim=1) * self.scale  # (B, h, w)
        weights = torch.softmax(logits.reshape(b, h * w), dim=1)  # (B, h*w)
        pooled = torch.bmm(feat.reshape(b, c, h * w), weights.unsqueeze(2)).squeeze(2)  # (B, C)
        return pooled, weights.reshape(b, h, w)


class ChannelAttention(nn.Module):
    """Attribute-aware channel attention on a pooled (B, C) feature."""

    def __init__(self, in_channels: int, attr_dim: int, reduction: int = 2) -> None:
        super().__init__()
        self.attr_transform = nn.Linear(attr_dim, attr_dim)
        self.fc1 = nn.Linear(in_channels + attr_dim, in_channels // reduction)
        self.fc2 = nn.Linear(in_channels // reduction, in_channels)

    def forward(self, pooled: torch.Tensor, attr: torch.Tensor) -> torch.Tensor:
        """Returns the re-weighted feature (B, C)."""
        att = torch.relu(self.attr_transform(attr))  # (B, A)
        hidden = torch.relu(self.fc1(torch.cat([pooled, att], dim=1)))  # (B, C/r)
        mask = torch.sigmoid(self.fc2(hidden))  # (B, C)
        return pooled * mask
