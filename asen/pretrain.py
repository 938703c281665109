"""Self-supervised pre-training of a backbone (stage 0): a stand-in for ImageNet weights.

The paper's backbones start from ImageNet, whose features encode far more than any one attribute: colour,
texture, shape, pose. That matters for the comparison of methods: on SynthFashion, trained from scratch, CSN
learns more slowly than the Triplet network and only ties it within the CPU budget, while from a pre-trained
start it is ahead (see the README's results). Where ImageNet weights are not available (the
CPU backbone ``resnet_tiny`` has none), this module gives every method the same generic starting point,
learned without labels from the training images: SimCLR-style instance discrimination (Chen et al., 2020).
Two random views of each image (crop, flip, colour jitter, grey) are pulled together and pushed away from the
other images' views with the NT-Xent loss, through a small projection head that is thrown away afterwards.
Nothing of the attribute labels is used, so nothing of the targets leaks into the starting point.

A pre-training run is a config with ``train.stage: 0`` (e.g. ``-c synthfashion_cpu -c
synthfashion_cpu_pretrain``): ``train.epochs`` x ``data.steps_per_epoch`` steps of ``data.images_per_batch``
images, Adam at ``train.lr`` with ``train.scheduler``, the view recipe in the ``pretrain`` section. Its
``checkpoints/best.pt`` holds the backbone's state dict; a stage-1 config starts from it with
``model.pretrained=<that path>``. Runs resume from ``last.pt``, hold their folder and stop on a non-finite
loss like training runs: both run their epochs through :class:`asen.engine.EpochLoop`.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from .backbones import build_backbone
from .config import Config, ConfigError, PretrainConfig
from .data import DataError, ImageSet, SplitFiles, global_view, load_split_files, normalize
from .engine import EpochLoop, TrainingDiverged, checkpoint_state, epoch_record, make_scheduler
from .runs import seed_everything


class PretrainingDiverged(TrainingDiverged):
    """The pre-training loss became NaN or infinite."""


def nt_xent_loss(z1: torch.Tensor, z2: torch.Tensor, temperature: float) -> tuple[torch.Tensor, torch.Tensor]:
    """NT-Xent (normalised temperature-scaled cross entropy) over two views of a batch.

    Row ``i`` of ``z1`` and row ``i`` of ``z2`` are views of the same image; each of the ``2B`` views must pick
    its partner among the other ``2B - 1``. Returns the mean loss and the fraction of views whose most similar
    other view is their partner (the instance-discrimination accuracy).
    """
    if z1.shape != z2.shape or z1.dim() != 2:
        raise ValueError(f"expected two (B, D) tensors of one shape, got {tuple(z1.shape)} and {tuple(z2.shape)}")
    b = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    sim = (z @ z.t()) / temperature
    sim = sim.masked_fill(torch.eye(2 * b, dtype=torch.bool, device=z.device), float("-inf"))
    target = torch.cat([torch.arange(b, 2 * b), torch.arange(0, b)]).to(z.device)
    loss = F.cross_entropy(sim, target)
    acc = (sim.argmax(dim=1) == target).float().mean()
    return loss, acc


def random_views(images: torch.Tensor, out_size: int, p: PretrainConfig) -> torch.Tensor:
    """One random view of each image of a uint8 batch (B, 3, S, S), as normalised (B, 3, out, out) floats.

    A crop of ``p.min_scale``-1 of each side (aspect ratio up to x/÷ ``exp(p.aspect_jitter)``) at a random
    position, a horizontal flip half of the time, then with probability ``p.jitter_p`` brightness, contrast
    and saturation each scaled by a factor in 1 ± ``p.colour_jitter``, and with probability ``p.grey_p`` a
    grey image. Batched on the images' device; draws from torch's global RNG (seeded per run).
    """
    b = images.shape[0]
    dev = images.device
    x = images.float().div_(255.0)

    def u(lo: float, hi: float) -> torch.Tensor:
        return torch.rand(b).mul_(hi - lo).add_(lo).to(dev)

    scale, aspect = u(p.min_scale, 1.0), torch.exp(u(-p.aspect_jitter, p.aspect_jitter))
    sx, sy = (scale * aspect.sqrt()).clamp(max=1.0), (scale / aspect.sqrt()).clamp(max=1.0)
    tx, ty = u(-1.0, 1.0) * (1 - sx), u(-1.0, 1.0) * (1 - sy)
    flip = torch.where(u(0.0, 1.0) < 0.5, -1.0, 1.0)
    theta = torch.zeros(b, 2, 3, device=dev)
    theta[:, 0, 0], theta[:, 0, 2], theta[:, 1, 1], theta[:, 1, 2] = sx * flip, tx, sy, ty
    grid = F.affine_grid(theta, [b, 3, out_size, out_size], align_corners=False)
    v = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    on = (u(0.0, 1.0) < p.jitter_p).float().view(b, 1, 1, 1)
    a = p.colour_jitter
    bright, contrast, sat = (1 + on * u(-a, a).view(b, 1, 1, 1) for _ in range(3))
    v = v * bright
    mean = v.mean(dim=(1, 2, 3), keepdim=True)
    v = (v - mean) * contrast + mean
    grey = 0.299 * v[:, 0:1] + 0.587 * v[:, 1:2] + 0.114 * v[:, 2:3]
    v = (v - grey) * sat + grey
    v = torch.where((u(0.0, 1.0) < p.grey_p).view(b, 1, 1, 1), grey.expand_as(v), v)
    return normalize(v.clamp_(0.0, 1.0))


class SourceImages(Dataset):
    """Training images as uint8 (3, S, S) tensors (short side resized to S, centre crop), views are cut from.

    With ``cache`` (``data.cache_images``) the resized images are kept in memory (S = 96: 28 KB an image),
    so that each is decoded and resized once per process."""

    def __init__(self, images: ImageSet, size: int, cache: bool = False) -> None:
        self.images, self.size, self.cache = images, size, cache
        self.store: dict[int, torch.Tensor] = {}

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> torch.Tensor:
        if (hit := self.store.get(index)) is not None:
            return hit
        img: Image.Image = global_view(self.images.load(index), self.size)
        out = torch.from_numpy(np.asarray(img, dtype=np.uint8).copy()).permute(2, 0, 1)
        if self.cache:
            self.store[index] = out
        return out


class ProjectionHead(nn.Module):
    """Pool the feature map, then a two-layer MLP (SimCLR's projection head; discarded after pre-training)."""

    def __init__(self, channels: int, dim: int) -> None:
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(channels, 2 * channels), nn.ReLU(inplace=True), nn.Linear(2 * channels, dim))

    def forward(self, fmap: torch.Tensor) -> torch.Tensor:
        return self.mlp(fmap.mean(dim=(2, 3)))


def pretrain(
    cfg: Config,
    run_dir: str | Path,
    device: torch.device | str,
    resume: bool = False,
    progress: bool = True,
    files: SplitFiles | None = None,
    max_epochs: int | None = None,
    overwrite: bool = False,
) -> Path:
    """Pre-train ``cfg.model.backbone`` on ``cfg.data.root``'s training images without labels (stage 0).

    Args:
        cfg: a config with ``train.stage == 0``.
        run_dir: the run folder (created; with ``resume`` it must hold ``checkpoints/last.pt``).
        device: where to train.
        resume: continue an interrupted run from its last checkpoint (ends with the same weights).
        progress: show a tqdm bar.
        files: already-loaded split files (else read from ``cfg.data.root``).
        max_epochs: stop after this many epochs of this call (to simulate an interruption in tests).
        overwrite: start a new run in a folder that holds one, deleting the earlier run's files.
    Returns:
        Path of ``checkpoints/best.pt``: ``{"state_dict": backbone weights, ...}``, the file
        ``model.pretrained`` takes.
    Raises:
        RunLockedError, RunExistsError, RunConfigMismatch: as :func:`asen.train.train`.
    """
    if cfg.train.stage != 0:
        raise ValueError(f"pretrain() runs stage-0 configs; this one has train.stage={cfg.train.stage}")
    p = cfg.pretrain
    if not 0 < p.min_scale <= 1:
        raise ValueError(f"pretrain.min_scale must be in (0, 1], got {p.min_scale}")
    if p.temperature <= 0:
        raise ValueError(f"pretrain.temperature must be > 0, got {p.temperature}")
    batch = cfg.data.images_per_batch
    if batch < 2:
        raise ConfigError(f"data.images_per_batch must be >= 2 for pre-training (other images are the negatives), "
                          f"got {batch}")
    device = torch.device(device)
    seed_everything(cfg.train.seed, cfg.train.deterministic)
    files = files or load_split_files(cfg.data.root, splits=("train",))
    names = files.filenames["train"]
    if len(names) < batch:
        raise DataError(f"{cfg.data.root}: {len(names)} training images, fewer than data.images_per_batch={batch}")
    m = cfg.model
    backbone = build_backbone(m.backbone, m.pretrained, m.tiny_width, m.tiny_blocks).to(device)
    head = ProjectionHead(backbone.out_channels, p.projection_dim).to(device)
    fmt = torch.channels_last if m.channels_last else torch.contiguous_format
    backbone = backbone.to(memory_format=fmt)
    params = [*backbone.parameters(), *head.parameters()]
    opt = torch.optim.Adam(params, lr=cfg.train.lr, weight_decay=cfg.train.weight_decay)
    steps = cfg.data.steps_per_epoch or max(1, len(names) // batch)
    sched = make_scheduler(opt, cfg, steps)  # the same per-step schedule as training

    with EpochLoop(run_dir, cfg, device, resume=resume, overwrite=overwrite, progress=progress, kind="pre-training",
                   diverged=PretrainingDiverged) as loop:
        return _pretrain(cfg, loop, device, files, names, max_epochs, backbone, head, opt, sched, steps, batch, fmt)


def _pretrain(cfg: Config, loop: EpochLoop, device: torch.device, files: SplitFiles, names: list[str],
              max_epochs: int | None, backbone: nn.Module, head: nn.Module, opt: torch.optim.Optimizer,
              sched: torch.optim.lr_scheduler.LambdaLR, steps: int, batch: int, fmt: torch.memory_format) -> Path:
    p, m = cfg.pretrain, cfg.model
    loop.restore({"state_dict": backbone, "head": head}, opt, sched)  # with resume: the states last.pt holds
    source = SourceImages(ImageSet(files.root, names, cfg.data.global_size, skip_bad_images=cfg.data.skip_bad_images),
                          p.source_size, cache=cfg.data.cache_images)
    backbone.train(), head.train()
    for epoch in loop.epochs(max_epochs):
        # the images of an epoch depend only on (seed, epoch), so a resumed run sees the same ones
        order = np.random.default_rng([cfg.train.seed, epoch]).permutation(len(names))
        batches = [order[(s * batch) % len(names):][:batch].tolist() for s in range(steps)]
        batches = [b if len(b) == batch else b + order[: batch - len(b)].tolist() for b in batches]
        loader = DataLoader(source, batch_sampler=batches, num_workers=cfg.data.num_workers,
                            pin_memory=device.type == "cuda")
        t0, loss_sum, acc_sum = time.time(), 0.0, 0.0
        bar = loop.steps(loader, steps, f"pre-training epoch {epoch + 1}/{cfg.train.epochs}")
        for step, imgs in enumerate(bar):
            imgs = imgs.to(device, non_blocking=True)
            v1 = random_views(imgs, cfg.data.global_size, p).contiguous(memory_format=fmt)
            v2 = random_views(imgs, cfg.data.global_size, p).contiguous(memory_format=fmt)
            z = head(backbone(torch.cat([v1, v2])))
            loss, acc = nt_xent_loss(z[:batch], z[batch:], p.temperature)
            loop.check_loss(loss, epoch, step)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            loss_sum, acc_sum = loss_sum + float(loss.detach()), acc_sum + float(acc)
            bar.set_postfix(loss=f"{float(loss.detach()):.3f}", acc=f"{float(acc):.2f}")
        record = epoch_record(epoch, time.time() - t0, 2 * batch * steps, opt, loss=loss_sum / steps,
                              instance_accuracy=acc_sum / steps)
        weights = {k: v.detach().cpu() for k, v in backbone.state_dict().items()}
        # best.pt: the backbone alone, rewritten every epoch (the last epoch's wins)
        best = {"state_dict": weights, "stage": 0, "epoch": epoch + 1, "backbone": m.backbone, "config": cfg.to_dict()}
        last = checkpoint_state({"state_dict": weights, "head": head.state_dict()}, opt, sched, epoch,
                                config=cfg.to_dict(), stage=0)
        loop.save(last, best, record)
        loop.note(f"pre-training epoch {epoch + 1}: loss {record['loss']:.3f}, instance accuracy "
                  f"{record['instance_accuracy']:.2f}, {record['images_per_second']} views/s")
    return loop.best
