"""Data-parallel training across processes (``torchrun --nproc_per_node=N -m asen train ...``).

Every rank draws the same epoch of triplets from the seeded sampler and keeps its own slice of each batch,
so the global batch equals a single-process batch. Gradients are averaged across ranks after each backward
(an explicit all-reduce: the two branches run two forward passes per step, which DDP's hooks do not expect).
Rank 0 alone writes checkpoints and logs; evaluation extracts features on every rank and gathers them.
Backends: NCCL on CUDA, gloo on CPU.

Caveat: BatchNorm statistics are per rank (SyncBatchNorm needs a GPU), so a multi-process run matches a
single-process one closely but not bit for bit.
"""
from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch
import torch.distributed as dist


def dist_info() -> tuple[int, int]:
    """(rank, world size); (0, 1) outside a process group."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def init_from_env(device: torch.device) -> torch.device:
    """Join the process group torchrun describes in the environment (no-op for a single process).

    Returns the device of this rank (``cuda:LOCAL_RANK`` on GPUs).
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1 or (dist.is_available() and dist.is_initialized()):
        return device
    backend = "nccl" if device.type == "cuda" else "gloo"
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    dist.init_process_group(backend=backend)
    return device


def shard_batch(meta: dict[str, np.ndarray], rank: int, world: int) -> dict[str, np.ndarray]:
    """This rank's slice of a sampler batch (triplets stay whole: anchors, positives, negatives together)."""
    if world == 1:
        return meta
    if "values" in meta:  # in-batch sampler: per-image arrays
        return {k: v[rank::world] for k, v in meta.items()}
    n = len(meta["attributes"])
    a, p, neg = meta["images"][:n], meta["images"][n:2 * n], meta["images"][2 * n:]
    return {"images": np.concatenate([a[rank::world], p[rank::world], neg[rank::world]]),
            "attributes": meta["attributes"][rank::world]}


def average_gradients(model: torch.nn.Module) -> None:
    """All-reduce and average the gradients of every parameter across ranks."""
    rank, world = dist_info()
    if world == 1:
        return
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= world
    offset = 0
    for g in grads:
        g.copy_(flat[offset: offset + g.numel()].view_as(g))
        offset += g.numel()


def average_tensor(value: torch.Tensor) -> torch.Tensor:
    """Mean of a (detached) tensor across ranks."""
    _, world = dist_info()
    value = value.detach()
    if world == 1:
        return value
    value = value.clone()
    dist.all_reduce(value)
    return value / world


def sync_model(model: torch.nn.Module, average_buffers: bool = False) -> None:
    """Broadcast rank 0's parameters (start of training); optionally average BatchNorm buffers."""
    _, world = dist_info()
    if world == 1:
        return
    with torch.no_grad():
        for p in model.parameters():
            dist.broadcast(p.data, 0)
        for name, b in model.named_buffers():
            if average_buffers and b.dtype.is_floating_point:
                dist.all_reduce(b)
                b /= world
            else:
                dist.broadcast(b, 0)


def gather_rows(local: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Gather per-rank row blocks (in rank order) into full arrays on every rank (a rank may have none)."""
    _, world = dist_info()
    if world == 1:
        return local
    parts: list[Any] = [None] * world
    dist.all_gather_object(parts, local)
    keys = sorted({k for p in parts for k in p})
    return {k: np.concatenate([p[k] for p in parts if k in p]) for k in keys}


def barrier() -> None:
    if dist_info()[1] > 1:
        dist.barrier()
