"""Losses (ASEN++ Sec. III-D, Eq. 9-12).

* :func:`triplet_loss`: margin ranking on cosine similarity, ``max(0, m - cos(a, p) + cos(a, n))``, batch mean.
* :func:`in_batch_triplet_loss`: the same hinge over every valid triplet inside a batch grouped by
  attribute (the CPU protocol's departure; averaged over the triplets that violate the margin).
* :func:`alignment_loss`: ``mean(1 - cos(global, local))``, pulling the two branches' spaces together.
* :func:`embedding_l2`: Veit et al.'s (CSN, CVPR 2017) L2 penalty on the unmasked embeddings.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def triplet_loss(anchor: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor, margin: float) -> torch.Tensor:
    """Mean margin ranking loss on cosine similarity of (B, D) embeddings."""
    cos_ap = F.cosine_similarity(anchor, positive, dim=1)  # (B,)
    cos_an = F.cosine_similarity(anchor, negative, dim=1)  # (B,)
    return torch.relu(margin - cos_ap + cos_an).mean()


def in_batch_triplet_loss(
    emb: torch.Tensor, attributes: torch.Tensor, values: torch.Tensor, margin: float
) -> tuple[torch.Tensor, int]:
    """Hinge over all valid in-batch triplets.

    A triplet (i, j, k) is valid when all three share the attribute, ``i != j`` have the same value and
    ``k`` has another value. Returns the mean loss over the triplets with a positive loss (0 if none) and
    the number of valid triplets.
    """
    z = F.normalize(emb, dim=1)
    sim = z @ z.t()  # (N, N)
    same_attr = attributes[:, None] == attributes[None, :]
    same_val = values[:, None] == values[None, :]
    eye = torch.eye(len(emb), dtype=torch.bool, device=emb.device)
    pos = same_attr & same_val & ~eye  # (N, N) anchor-positive
    neg = same_attr & ~same_val  # (N, N) anchor-negative
    # one row per anchor-positive pair (P of them) against every candidate negative: (P, N) rather than the
    # (N, N, N) cube of all index triples (at 96 images ~8x fewer elements and no gather of the cube)
    anchor, positive = pos.nonzero(as_tuple=True)
    valid = neg[anchor]  # (P, N)
    losses = torch.relu(margin - sim[anchor, positive][:, None] + sim[anchor]) * valid
    n_active = torch.count_nonzero(losses)
    return losses.sum() / n_active.clamp(min=1), int(valid.sum())


def alignment_loss(global_emb: torch.Tensor, local_emb: torch.Tensor) -> torch.Tensor:
    """Mean of ``1 - cos(global, local)`` over the batch."""
    return (1.0 - F.cosine_similarity(global_emb, local_emb, dim=1)).mean()


def embedding_l2(emb: torch.Tensor, groups: int = 1) -> torch.Tensor:
    """Veit et al.'s L2 term: the Frobenius norm of each of ``groups`` equal row blocks of ``emb`` (N, D)
    divided by the square root of the block's rows, averaged over the blocks (their CSN computes it per
    anchor, positive and negative batch: ``groups=3`` for a batch stacked as anchors|positives|negatives)."""
    blocks = emb.chunk(groups)
    return torch.stack([b.norm() for b in blocks]).mean() / math.sqrt(len(blocks[0]))
