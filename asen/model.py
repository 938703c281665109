"""The ASEN / ASEN++ model (ASEN++ Sec. III, Fig. 2) and the baselines of its main comparison.

``ASEN`` holds one attribute embedding shared by a global branch (the whole image) and, for ASEN++, a
local branch (a zoomed crop chosen by the global branch's spatial attention, see :mod:`asen.roi`).
Each branch is: backbone cut after layer3 -> attribute-aware spatial attention (or average pooling) ->
attribute-aware channel attention (optional) -> ``feature_fc`` to the embedding.

Baselines share the same code path with switches (``ModelConfig``):

* Triplet network: both attentions off and ``head="asen"`` -> the attribute is ignored, one embedding space.
* CSN (Veit et al. 2017, as the ASEN authors use it): both attentions off and ``head="csn"`` -> a learned
  non-negative mask per attribute multiplies the one embedding (average pooling -> ``feature_fc`` -> mask,
  which is the authors' ``ConditionalSimNet``; its training regularisers are ``train.csn_*`` values).
* ASEN as the AAAI-2020 paper's code computes it: ``head="asen_aaai"`` (``ASENet``) or ``head="asen_v2"``
  (``ASENet_V2``), the global branch being :class:`asen.aaai.ASENet` / :class:`asen.aaai.ASENetV2` (their own
  attribute tables; see :mod:`asen.aaai`). Both attentions are built in, there is no local branch.

``model.embed_norm`` (the CPU protocol's normalisation, not in either paper) applies to every head the same
way: after the last layer that makes the embedding and before the CSN mask.

Usage::

    embeddings, maps = model(images, attributes, branch="global")   # (B, D) not normalised, (B, h, w)
"""
from __future__ import annotations

import torch
from torch import nn

from .attention import ChannelAttention, SpatialAttention
from .backbones import build_backbone
from .config import HEADS, ConfigError, ModelConfig  # noqa: F401  (HEADS: the allowed model.head values)

AAAI_HEADS = ("asen_aaai", "asen_v2")  # the AAAI-2020 code's ASENet and ASENet_V2 (asen.aaai)


class AttributeBatchNorm(nn.Module):
    """BatchNorm1d with statistics kept per attribute: each attribute's embedding space is normalised on its
    own (in training over that attribute's rows of the batch, at test time with that attribute's running
    statistics). A global BatchNorm over a batch that mixes attributes lets an attribute-conditioned
    embedding satisfy it with the attribute alone and collapse within each attribute."""

    def __init__(self, num_attributes: int, dim: int) -> None:
        super().__init__()
        self.norms = nn.ModuleList(nn.BatchNorm1d(dim) for _ in range(num_attributes))

    def forward(self, x: torch.Tensor, attributes: torch.Tensor) -> torch.Tensor:
        out = torch.zeros_like(x)
        for attr in attributes.unique().tolist():
            idx = (attributes == attr).nonzero().squeeze(1)
            out = out.index_copy(0, idx, self.norms[attr](x[idx]))  # (B, D)
        return out


def make_embed_norm(embed_norm: str, num_attributes: int, dim: int) -> nn.Module | None:
    """The ``model.embed_norm`` layer of a ``dim``-d embedding.

    Args:
        embed_norm: ``"none"``, ``"batchnorm"`` or ``"attribute_batchnorm"`` (one BatchNorm per attribute).
        num_attributes: number of attributes (for ``attribute_batchnorm``).
        dim: embedding size.
    Returns:
        ``None`` for ``"none"``, else the layer (an :class:`AttributeBatchNorm` takes the attribute indices too).
    """
    if embed_norm == "none":
        return None
    if embed_norm == "batchnorm":
        return nn.BatchNorm1d(dim)
    if embed_norm == "attribute_batchnorm":
        return AttributeBatchNorm(num_attributes, dim)
    raise ValueError(f"model.embed_norm must be none, batchnorm or attribute_batchnorm, got {embed_norm!r}")


def apply_embed_norm(norm: nn.Module | None, emb: torch.Tensor, attributes: torch.Tensor) -> torch.Tensor:
    """Apply a :func:`make_embed_norm` layer to (B, D) embeddings of attributes (B,)."""
    if isinstance(norm, AttributeBatchNorm):
        return norm(emb, attributes)
    return emb if norm is None else norm(emb)


class Branch(nn.Module):
    """Backbone + attribute-aware attentions + projection to the embedding space (:meth:`ASEN.forward` runs its
    ``backbone``, then its :meth:`head`)."""

    def __init__(
        self,
        backbone: nn.Module,
        attr_dim: int,
        spatial_dim: int,
        embed_size: int,
        reduction: int,
        spatial_attention: bool,
        channel_attention: bool,
        embed_norm: str,
        num_attributes: int = 1,
    ) -> None:
        super().__init__()
        channels = backbone.out_channels
        self.backbone = backbone
        self.spatial = SpatialAttention(channels, attr_dim, spatial_dim) if spatial_attention else None
        self.channel = ChannelAttention(channels, attr_dim, reduction) if channel_attention else None
        self.feature_fc = nn.Linear(channels, embed_size)
        self.norm = make_embed_norm(embed_norm, num_attributes, embed_size)

    def head(
        self, feat: torch.Tensor, attr: torch.Tensor, attributes: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Everything after the backbone: (B, C, h, w) features -> (B, D) embeddings, (B, h, w) maps.
        The backbone does not depend on the attribute, so its features can be reused across attributes."""
        if self.spatial is not None:
            pooled, maps = self.spatial(feat, attr)  # (B, C), (B, h, w)
        else:
            b, _, h, w = feat.shape
            pooled = feat.mean(dim=(2, 3))  # (B, C)
            maps = feat.new_full((b, h, w), 1.0 / (h * w))
        if self.channel is not None:
            pooled = self.channel(pooled, attr)  # (B, C)
        emb = self.feature_fc(pooled)  # (B, D)
        return apply_embed_norm(self.norm, emb, attributes), maps


class ASEN(nn.Module):
    """Attribute-Specific Embedding Network with an optional local branch (ASEN++)."""

    def __init__(self, cfg: ModelConfig, num_attributes: int) -> None:
        super().__init__()
        if cfg.head not in HEADS:
            raise ValueError(f"model.head must be one of {', '.join(HEADS)}, got {cfg.head!r}")
        self.cfg = cfg
        self.num_attributes = num_attributes
        self.csn_unmasked: torch.Tensor | None = None
        if cfg.head in AAAI_HEADS:
            self._init_aaai(cfg, num_attributes)
            return
        self.attr_embedding = nn.Embedding(num_attributes, cfg.attr_embed_size)
        agnostic = not (cfg.spatial_attention or cfg.channel_attention or cfg.head == "csn")
        # an attribute-agnostic model (the Triplet network) has one space: its normalisation cannot use the attribute
        embed_norm = "batchnorm" if agnostic and cfg.embed_norm == "attribute_batchnorm" else cfg.embed_norm
        common = dict(
            attr_dim=cfg.attr_embed_size,
            embed_size=cfg.embed_size,
            reduction=cfg.reduction,
            spatial_attention=cfg.spatial_attention,
            channel_attention=cfg.channel_attention,
            embed_norm=embed_norm,
            num_attributes=num_attributes,
        )
        self.global_branch = Branch(
            build_backbone(cfg.backbone, cfg.pretrained, cfg.tiny_width, cfg.tiny_blocks), spatial_dim=cfg.spatial_dim,
            **common,
        )
        self.local_branch = None
        if cfg.local_branch:
            self.local_branch = Branch(
                build_backbone(cfg.local_backbone, cfg.local_pretrained, cfg.tiny_width, cfg.tiny_blocks),
                spatial_dim=cfg.local_spatial_dim,
                **common,
            )
        self.csn_masks = None
        if cfg.head == "csn":
            # Veit et al. initialise the masks ~ normal(0.9, 0.7) and keep them non-negative with a ReLU
            masks = torch.empty(num_attributes, cfg.embed_size).normal_(cfg.csn_mask_mean, cfg.csn_mask_std)
            self.csn_masks = nn.Parameter(masks)
            # CSN does not use the attribute embedding; it stays (frozen) so CSN checkpoints keep their keys
            self.attr_embedding.requires_grad_(False)
        if cfg.channels_last:
            self.to(memory_format=torch.channels_last)

    def _init_aaai(self, cfg: ModelConfig, num_attributes: int) -> None:
        """The AAAI-2020 heads: the global branch is the authors' model, which owns its attribute tables."""
        from .aaai import ASENet, ASENetV2  # asen.aaai builds on this module

        if not (cfg.spatial_attention and cfg.channel_attention):
            raise ConfigError(f"model.head={cfg.head} has both attentions built in: model.spatial_attention and "
                             f"model.channel_attention must be true (the ablation switches are for head=asen)")
        if cfg.local_branch:
            raise ConfigError(f"model.head={cfg.head} has no local branch: set model.local_branch to false")
        backbone = build_backbone(cfg.backbone, cfg.pretrained, cfg.tiny_width, cfg.tiny_blocks)
        self.attr_embedding = None
        if cfg.head == "asen_aaai":
            self.global_branch = ASENet(backbone, num_attributes, spatial_dim=cfg.spatial_dim,
                                        reduction=cfg.reduction, embed_size=cfg.embed_size, embed_norm=cfg.embed_norm)
        else:
            self.global_branch = ASENetV2(backbone, num_attributes, attr_embed_size=cfg.attr_embed_size,
                                          spatial_dim=cfg.spatial_dim, reduction=cfg.reduction,
                                          embed_norm=cfg.embed_norm)
        self.local_branch = None
        self.csn_masks = None
        if cfg.channels_last:
            self.to(memory_format=torch.channels_last)

    @property
    def embed_size(self) -> int:
        """Size of the embedding (``model.embed_size``, except for ``asen_v2``: the backbone's channels)."""
        return self.global_branch.embed_size if self.cfg.head in AAAI_HEADS else self.cfg.embed_size

    @property
    def attribute_aware(self) -> bool:
        """False for the Triplet-network baseline, whose embedding ignores the attribute."""
        return self.cfg.spatial_attention or self.cfg.channel_attention or self.csn_masks is not None

    def forward(
        self, images: torch.Tensor, attributes: torch.Tensor, branch: str = "global"
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Embed images under attributes.

        Args:
            images: (B, 3, H, W) normalised images (the global view, or the local crops for ``"local"``).
            attributes: (B,) attribute indices.
            branch: ``"global"`` or ``"local"``.
        Returns:
            embeddings (B, D), not normalised, and spatial attention maps (B, h, w).
        """
        if branch == "global":
            net = self.global_branch
        elif branch == "local":
            if self.local_branch is None:
                raise ValueError("this model has no local branch (set model.local_branch: true)")
            net = self.local_branch
        else:
            raise ValueError(f"branch must be 'global' or 'local', got {branch!r}")
        if attributes.dim() != 1 or attributes.shape[0] != images.shape[0]:
            raise ValueError(f"attributes must have shape ({images.shape[0]},), got {tuple(attributes.shape)}")
        if self.cfg.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        return self.embed_features(net.backbone(images), attributes, branch)

    def embed_features(
        self, feat: torch.Tensor, attributes: torch.Tensor, branch: str = "global"
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The attribute-specific part of :meth:`forward` on backbone features (B, C, h, w) of ``branch``."""
        net = self.global_branch if branch == "global" else self.local_branch
        if self.cfg.head in AAAI_HEADS:
            return net.embed_features(feat, attributes)  # (B, D), (B, h, w)
        attr = self.attr_embedding(attributes)  # (B, A)
        emb, maps = net.head(feat, attr, attributes)  # (B, D), (B, h, w)
        if self.csn_masks is not None:
            # kept for Veit et al.'s L2 term on the embeddings (train.csn_embed_l2) of this training step
            self.csn_unmasked = emb if self.training else None
            emb = emb * torch.relu(self.csn_masks[attributes])  # (B, D)
        return emb, maps

    def branch_parameters(self, branch: str) -> list[nn.Parameter]:
        """Parameters of one branch; the shared attribute embedding (and CSN masks) count as global."""
        if branch == "local":
            return list(self.local_branch.parameters()) if self.local_branch is not None else []
        local = {id(p) for p in (self.local_branch.parameters() if self.local_branch is not None else [])}
        return [p for p in self.parameters() if id(p) not in local]


def build_model(cfg: ModelConfig, num_attributes: int, device: torch.device | str = "cpu") -> ASEN:
    """Build an :class:`ASEN` and move it to ``device``."""
    return ASEN(cfg, num_attributes).to(device)
