"""Training: the two-stage schedule of ASEN++ (Sec. III-D, IV-B).

Stage 1 trains the global branch with the triplet ranking loss. Stage 2 starts from stage 1's weights and
trains both branches (global lr 1e-5, local lr 1e-4 in the paper) with
``1.0 * global triplet + 0.1 * local triplet + 0.1 * alignment``; the local input is the zoom-in crop
chosen by the global branch's attention (:mod:`asen.roi`).

Every epoch ends with an atomic checkpoint (``last.pt``); the best by validation MAP is kept (``best.pt``),
written before ``last.pt`` records it as the best, so that no crash loses it. ``resume=True`` continues
from ``last.pt`` and ends with the same weights as an uninterrupted run: the triplets of an epoch depend
only on (seed, epoch), and the model, optimiser, scheduler and RNG states are restored. A run folder is
held by one process (:class:`asen.runs.RunDir`); a new run in a folder that holds one needs
``overwrite=True``. Stage 2 starts from a stage-1 checkpoint (``train.init_from``; ``scratch`` opts out).
A non-finite loss stops the run (:class:`TrainingDiverged`) and leaves the last good checkpoint. The epoch loop
around the steps (run folder, resume, divergence check, checkpoints, log) is :class:`asen.engine.EpochLoop`,
which pre-training (:mod:`asen.pretrain`) shares.
"""
from __future__ import annotations

import time
import warnings
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from .checkpoint import check_attribute_count, is_official, official_to_ours, read_model_state
from .config import Config, ConfigError
from .data import (ImageCache, ImageSet, InBatchSampler, RandomTripletSampler, SplitFiles, collate_images,
                   load_split_files)
from .distributed import average_gradients, average_tensor, barrier, dist_info, shard_batch, sync_model
from .device_images import StoreLoader, open_store
from .engine import TrainingDiverged  # noqa: F401 (asen.train.TrainingDiverged, as before)
from .engine import EpochLoop, checkpoint_state, epoch_record, make_scheduler
from .errors import UserError
from .evaluate import evaluate
from .layout import check_value_counts
from .losses import alignment_loss, embedding_l2, in_batch_triplet_loss, triplet_loss
from .model import AAAI_HEADS, ASEN, build_model
from .roi import local_inputs
from .runs import seed_everything

INIT_FROM_SCRATCH = "scratch"  # train.init_from value: stage 2 on purpose without a stage-1 checkpoint


@dataclass
class TrainResult:
    run_dir: Path
    best_map: float
    best_epoch: int
    last_epoch: int
    model: ASEN


def make_sampler(cfg: Config, files: SplitFiles) -> RandomTripletSampler | InBatchSampler:
    """The triplet sampler the config asks for (``random``: the paper's; ``in_batch``: the CPU protocol)."""
    d = cfg.data
    if d.sampler in ("random", "aaai"):
        return RandomTripletSampler(files.train_labels, files.meta, d.num_triplets, d.batch_size, cfg.train.seed,
                                    scheme="aaai" if d.sampler == "aaai" else "asenpp")
    if d.sampler == "in_batch":
        steps = d.steps_per_epoch or max(1, d.num_triplets // d.batch_size)
        return InBatchSampler(files.train_labels, files.meta, d.images_per_batch, d.attributes_per_batch, steps,
                              cfg.train.seed)
    raise ValueError(f"data.sampler must be 'random', 'aaai' or 'in_batch', got {d.sampler!r}")


def make_optimizer(model: ASEN, cfg: Config) -> torch.optim.Optimizer:
    """Adam with one parameter group per branch (separate learning rates in stage 2)."""
    groups = [{"params": model.branch_parameters("global"), "lr": cfg.train.lr, "name": "global"}]
    if model.local_branch is not None:
        groups.append({"params": model.branch_parameters("local"), "lr": cfg.train.local_lr, "name": "local"})
    return torch.optim.Adam(groups, weight_decay=cfg.train.weight_decay)


def load_stage1(model: ASEN, path: str | Path, data_root: str | Path | None = None) -> None:
    """Initialise the global branch (and attribute embedding) from a stage-1 checkpoint.

    Args:
        model: the stage-2 model (built for the data's attribute count).
        path: the stage-1 checkpoint (``train.init_from``): ours, or an official ASEN++ one.
        data_root: the data folder the model was built for (named in the attribute-count error).
    Raises:
        CheckpointError: the file cannot be read (missing, empty, truncated, unsafe), or its attribute count
            differs from the model's.
        ConfigError (a ValueError): other weights that do not fit the model (missing, unexpected, or of other
            shapes: a stage-1 run with other model.* settings, e.g. model.tiny_width).
    """
    path = Path(path)
    what = "a stage-1 checkpoint (train.init_from: a stage-1 run's checkpoints/last.pt or best.pt)"
    ckpt, state = read_model_state(path, what)
    if is_official(state):
        state = official_to_ours(state)
    emb = state.get("attr_embedding.weight")
    if isinstance(emb, torch.Tensor):
        check_attribute_count(emb.shape[0], path, model.num_attributes, data_root or "the data")
    state = {k: v for k, v in state.items() if not k.startswith("local_branch.")}
    own = model.state_dict()
    shapes = [f"{k} {tuple(v.shape)} (this model: {tuple(own[k].shape)})" for k, v in state.items()
              if k in own and isinstance(v, torch.Tensor) and v.shape != own[k].shape]
    if shapes:
        raise ConfigError(f"{path}: stage-1 weights do not fit this model: {', '.join(shapes[:2])}"
                          f"{_model_settings_that_differ(ckpt, model)}; give train.init_from a stage-1 checkpoint "
                          f"of the same model.* settings, or set them as the stage-1 run did")
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.startswith("local_branch.")]
    if missing or unexpected:
        raise ConfigError(f"{path}: stage-1 weights do not fit this model: missing {missing[:5]}, unexpected "
                          f"{unexpected[:5]}; give train.init_from a stage-1 checkpoint of the same model.* settings")


def _model_settings_that_differ(ckpt: dict, model: ASEN) -> str:
    """``"; the checkpoint's run had model.tiny_width=8 (here 16)"``: the global branch's ``model.*`` settings of
    the stage-1 run (its checkpoint's config) that differ from the model's; ``""`` when it records none."""
    theirs = ckpt.get("config", {}).get("model") if isinstance(ckpt.get("config"), dict) else None
    if not isinstance(theirs, dict):
        return ""
    ours = model.cfg.__dict__
    differ = [f"model.{k}={theirs[k]!r} (here {v!r})" for k, v in ours.items()
              if k in theirs and theirs[k] != v and not k.startswith(("local", "pretrained"))]
    return f"; the checkpoint's run had {', '.join(differ)}" if differ else ""


def copy_global_to_local(model: ASEN) -> None:
    """Start the local branch as a copy of the (stage-1) global branch; both must have the same architecture."""
    g, loc = model.global_branch.state_dict(), model.local_branch.state_dict()
    mismatch = [k for k in loc if k not in g or g[k].shape != loc[k].shape]
    if mismatch:
        raise ConfigError(f"train.local_init=global needs identical branches; these differ: {mismatch[:5]}")
    model.local_branch.load_state_dict(g)


def resolve_amp(amp: str, device: torch.device | str) -> str:
    """The precision ``train.amp`` means on ``device``: ``"none"`` on a CPU (autocast is CUDA-only here); for
    ``"auto"`` on CUDA, ``"bf16"`` where the GPU computes bf16 natively (compute capability 8.0 and later) and
    ``"fp16"`` (with loss scaling) on older GPUs such as the T4, whose tensor cores have no bf16."""
    device = torch.device(device)
    if amp not in ("none", "bf16", "fp16", "auto"):
        raise ConfigError(f"train.amp must be none, bf16, fp16 or auto, got {amp!r}")
    if device.type != "cuda" or amp == "none":
        return "none"
    if amp == "auto":
        return "bf16" if torch.cuda.get_device_capability(device)[0] >= 8 else "fp16"
    return amp


def _autocast(device: torch.device, amp: str):
    """Autocast for an amp already passed through :func:`resolve_amp`."""
    if amp == "none" or device.type != "cuda":
        return torch.autocast(device_type=device.type, enabled=False)
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(amp)
    if dtype is None:
        raise ValueError(f"train.amp must be none, bf16 or fp16 here, got {amp!r}")
    return torch.autocast(device_type="cuda", dtype=dtype)


class CompileUnavailable(UserError, RuntimeError):
    """``train.compile`` was asked for where ``torch.compile`` cannot build the model."""


def compile_backbones(model: ASEN, cfg: Config, device: torch.device) -> None:
    """With ``train.compile``, compile the model's backbones in place (``nn.Module.compile``: the state dict,
    optimiser and checkpoints are unchanged; the first steps are slower while it compiles). CUDA only: on a 2-core
    AMD EPYC (torch 2.14.1, one thread), compiling the CPU protocol's global backbone took 44 s and the compiled
    stage-1 step was slower, not faster (140 ms against 125 ms for 64 images at 64 px: the step is oneDNN's
    convolutions either way), so a CPU run refuses it. Not measured on a GPU yet (benchmarks/gpu_session.sh
    does).

    Raises:
        CompileUnavailable: ``train.compile`` on a device other than CUDA, or a torch without torch.compile.
    """
    if not cfg.train.compile:
        return
    if device.type != "cuda":
        raise CompileUnavailable(f"train.compile=true is for CUDA only (training on {device.type}; compiling on a "
                                 "CPU takes longer than the training it would speed up): set train.compile=false")
    if not hasattr(torch.nn.Module, "compile"):
        raise CompileUnavailable(f"train.compile=true needs torch.compile (torch {torch.__version__} has none); "
                                 "set train.compile=false")
    try:
        for branch in (model.global_branch, model.local_branch):
            if branch is not None:
                branch.backbone.compile()  # in place: the state dict keeps its keys
    except Exception as exc:  # noqa: BLE001 - backends fail in many ways; the message names it
        raise CompileUnavailable(f"train.compile=true: torch.compile failed on {device.type} ({exc!r:.200}); "
                                 "set train.compile=false") from exc


AAAI_PASS_ORDER = (0, 2, 1)
"""The order the AAAI-2020 code embeds a triplet batch's thirds in (its Tripletnet: anchor, negative, positive);
the ASEN++ code's is anchor, positive, negative. Only BatchNorm's running statistics (updated pass by pass) see
the difference."""


def pass_order(cfg: Config, in_batch: bool) -> tuple[int, ...] | None:
    """The order of the forward passes of a random-sampler batch: the AAAI code's for its heads (``asen_aaai``,
    ``asen_v2``, ``csn``) with three passes, else ``None`` (in turn)."""
    if not in_batch and cfg.train.forward_passes == 3 and cfg.model.head in (*AAAI_HEADS, "csn"):
        return AAAI_PASS_ORDER
    return None


def embed_in_passes(model: ASEN, images: torch.Tensor, attrs: torch.Tensor, branch: str,
                    passes: int = 1, order: tuple[int, ...] | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``model(images, attrs, branch=branch)`` in ``passes`` equal forward passes, concatenated.

    With 3 passes over a random-sampler batch (anchors | positives | negatives), BatchNorm normalises each third
    with its own statistics, as the authors' code does with its three calls of the network (an in-batch batch is
    cut into equal consecutive parts the same way). ``order``: the order the parts go through the network (default
    in turn, :func:`pass_order`); the result is in the batch's order either way.
    """
    if passes == 1:
        return model(images, attrs, branch=branch)
    parts = list(zip(images.chunk(passes), attrs.chunk(passes)))
    order = tuple(range(len(parts))) if order is None else order
    if sorted(order) != list(range(len(parts))):
        raise ValueError(f"pass order {order} is not an order of {len(parts)} passes")
    done: dict[int, tuple] = {}
    for k in order:
        x, a = parts[k]
        done[k] = (model(x, a, branch=branch), getattr(model, "csn_unmasked", None))
    outs = [done[k][0] for k in range(len(parts))]
    unmasked = [done[k][1] for k in range(len(parts))]
    if all(u is not None for u in unmasked):  # the CSN head keeps its unmasked embeddings for Veit's L2 term
        model.csn_unmasked = torch.cat(unmasked)
    maps = None if outs[0][1] is None else torch.cat([m for _, m in outs])
    return torch.cat([e for e, _ in outs]), maps


def compute_loss(model: ASEN, batch: dict, meta: dict, cfg: Config, device: torch.device) -> tuple[torch.Tensor, dict]:
    """One step's loss for either sampler and either stage. Returns (loss, parts for logging)."""
    t = cfg.train
    images = batch["image"].to(device, non_blocking=True)
    attrs = torch.as_tensor(meta["attributes"], device=device)
    in_batch = "values" in meta
    if not in_batch:
        attrs = attrs.repeat(3)  # anchors | positives | negatives
    passes, order = t.forward_passes, pass_order(cfg, in_batch)
    g, maps = embed_in_passes(model, images, attrs, "global", passes, order)  # (N, D), (N, h, w)

    def ranking(emb: torch.Tensor) -> torch.Tensor:
        if in_batch:
            return in_batch_triplet_loss(emb, attrs, torch.as_tensor(meta["values"], device=device), t.margin)[0]
        a, p, n = emb.chunk(3)
        return triplet_loss(a, p, n, t.margin)

    loss_g = ranking(g)
    parts = {"global": float(loss_g.detach())}
    if model.csn_masks is not None and t.csn_mask_l1 > 0:
        # Veit et al.'s sparsity term: the mean L1 norm of the (non-negative) mask each image was embedded with
        loss_m = torch.relu(model.csn_masks[attrs]).sum(dim=1).mean()
        parts["mask_l1"] = float(loss_m.detach())
        loss_g = loss_g + t.csn_mask_l1 * loss_m
    if model.csn_masks is not None and t.csn_embed_l2 > 0:  # Veit et al.'s L2 term on the unmasked embeddings
        loss_e = embedding_l2(model.csn_unmasked, 1 if in_batch else 3)
        parts["embed_l2"] = float(loss_e.detach())
        loss_g = loss_g + t.csn_embed_l2 * loss_e
    if model.local_branch is None:  # the reference weighs the global loss in both stages (x 1.0 is exact)
        return t.global_weight * loss_g, parts
    crops, _ = local_inputs(maps, batch["original"], batch["size"], t.crop_threshold, cfg.data.global_size,
                            cfg.data.local_size, mode=cfg.data.crop_mode,
                            sampling_ratio=cfg.data.crop_sampling_ratio)
    loc, _ = embed_in_passes(model, crops, attrs, "local", passes)
    loss_l = ranking(loc)
    if in_batch:
        loss_a = alignment_loss(g, loc)
    else:  # the paper sums the alignment over anchor, positive and negative
        loss_a = sum(alignment_loss(gp, lp) for gp, lp in zip(g.chunk(3), loc.chunk(3)))
    parts.update(local=float(loss_l.detach()), align=float(loss_a.detach()))
    return t.global_weight * loss_g + t.local_weight * loss_l + t.align_weight * loss_a, parts


def train(
    cfg: Config,
    run_dir: str | Path,
    device: torch.device | str,
    resume: bool = False,
    progress: bool = True,
    files: SplitFiles | None = None,
    max_epochs: int | None = None,
    overwrite: bool = False,
    image_cache: ImageCache | None = None,
) -> TrainResult:
    """Train one stage as configured, writing the run folder (held by this process while it trains).

    Args:
        cfg: the resolved configuration (stage, data, model, schedule).
        run_dir: the run folder (created; with ``resume`` it must hold ``checkpoints/last.pt``).
        device: where to train; nothing else in the code picks a device.
        resume: continue an interrupted run from its last checkpoint (same config required).
        progress: show tqdm bars.
        files: already-loaded split files (else read from ``cfg.data.root``).
        max_epochs: stop after this many epochs *of this call* (to simulate an interruption in tests).
        overwrite: start a new run in a folder that holds one, deleting the earlier run's files.
        image_cache: with ``data.cache_images``, the decoded-image cache to use (its owner's, shared with its
            other runs); else the run makes its own (:meth:`asen.data.ImageCache.for_run`).
    Returns:
        :class:`TrainResult` with the best validation MAP and the model holding the *last* weights.
    Raises:
        ConfigError: an inconsistent config, e.g. stage 2 without ``train.init_from``.
        RunLockedError: another process trains in ``run_dir``.
        RunExistsError: ``run_dir`` holds a run, and neither ``resume`` nor ``overwrite`` is set.
        RunConfigMismatch: ``resume`` with another config (the message lists the differing keys).
        CheckpointError: a checkpoint to start or resume from cannot be read, or does not fit the data.
    """
    with ExitStack() as held:  # the run folder, once taken, is released however the run ends
        return _train(cfg, run_dir, device, resume, progress, files, max_epochs, overwrite, held, image_cache)


def _train(cfg: Config, run_dir: str | Path, device: torch.device | str, resume: bool, progress: bool,
           files: SplitFiles | None, max_epochs: int | None, overwrite: bool, held: ExitStack,
           image_cache: ImageCache | None = None) -> TrainResult:
    if cfg.train.stage not in (1, 2):
        raise ValueError(f"train.stage must be 1 or 2 here, got {cfg.train.stage} (stage 0, backbone pre-training, "
                         "is asen.pretrain.pretrain; `asen train` picks it by the stage)")
    device = torch.device(device)
    rank, world = dist_info()
    progress = progress and rank == 0
    seed_everything(cfg.train.seed, cfg.train.deterministic)
    files = files or load_split_files(cfg.data.root)
    check_value_counts(cfg.data.attribute_values, files.meta, files.root)
    if cfg.model.local_branch and cfg.train.stage != 2:
        raise ConfigError("model.local_branch is on but train.stage is 1 (the local branch is trained in stage 2)")
    if cfg.train.stage == 2 and not cfg.model.local_branch:
        raise ConfigError("train.stage is 2 but model.local_branch is off")
    if cfg.data.loader == "store" and (cfg.data.augment or cfg.data.hflip):
        raise ConfigError("data.loader=store keeps every image's view fixed and cannot apply data.augment or "
                          "data.hflip: set data.loader=pil, or turn the augmentation off")
    if cfg.train.stage == 2 and not cfg.train.init_from:
        raise ConfigError(f"train.init_from is empty, but stage 2 starts from a stage-1 checkpoint: set it, e.g. "
                          f"--set train.init_from=runs/<stage-1 run>/checkpoints/last.pt (the last stage-1 weights, "
                          f"as the reference starts stage 2; checkpoints/best.pt for the best by validation MAP), or "
                          f"train.init_from={INIT_FROM_SCRATCH} to train stage 2 from untrained weights")
    model = build_model(cfg.model, files.meta.num_attributes, device)
    if cfg.train.stage == 2 and cfg.train.init_from != INIT_FROM_SCRATCH:
        load_stage1(model, cfg.train.init_from, files.root)
    elif cfg.train.stage == 2:
        warnings.warn(f"stage 2 starts from untrained weights (train.init_from={INIT_FROM_SCRATCH})", stacklevel=3)
    if cfg.train.stage == 2 and cfg.train.local_init == "global":
        copy_global_to_local(model)
    elif cfg.train.local_init != "pretrained":
        raise ValueError(f"train.local_init must be 'pretrained' or 'global', got {cfg.train.local_init!r}")
    sync_model(model)
    compile_backbones(model, cfg, device)
    amp = resolve_amp(cfg.train.amp, device)
    opt = make_optimizer(model, cfg)
    sampler = make_sampler(cfg, files)
    sched = make_scheduler(opt, cfg, len(sampler))
    scaler = torch.amp.GradScaler("cuda", enabled=amp == "fp16")
    loop = held.enter_context(EpochLoop(run_dir, cfg, device, resume=resume, overwrite=overwrite, progress=progress,
                                        write=rank == 0))  # rank 0 holds the folder and writes
    best_map, best_epoch = -1.0, -1
    ckpt = loop.restore({"model": model}, opt, sched)  # with resume: weights, optimiser, scheduler, RNG states
    if ckpt is not None:
        best_map, best_epoch = ckpt["best_map"], ckpt["best_epoch"]

    images = ImageSet(files.root, files.filenames["train"], cfg.data.global_size,
                      keep_original=model.local_branch is not None, skip_bad_images=cfg.data.skip_bad_images,
                      cache=ImageCache.for_run(cfg.data, image_cache), augment=cfg.data.augment, hflip=cfg.data.hflip)
    store = None
    if cfg.data.loader == "store":  # every image decoded once into a memory-mapped store (asen.device_images)
        store = open_store(files.root, "train", files.filenames["train"], cfg.data.global_size,
                           cache_dir=cfg.data.store_dir or None, skip_bad_images=cfg.data.skip_bad_images,
                           progress=progress, originals=model.local_branch is not None)
    has_valid = "valid" in files.queries
    epoch = loop.start - 1
    for epoch in loop.epochs(max_epochs):
        model.train()
        metas = [shard_batch(m, rank, world) for m in sampler.epoch(epoch)]
        batches = [m["images"].tolist() for m in metas]
        if store is not None:
            loader = StoreLoader(store, batches, device, keep_original=model.local_branch is not None)
        else:
            loader = DataLoader(images, batch_sampler=batches, collate_fn=collate_images,
                                num_workers=cfg.data.num_workers, pin_memory=device.type == "cuda",
                                persistent_workers=False)
        t0, total, n_images = time.time(), 0.0, 0
        bar = loop.steps(zip(loader, metas), len(metas), f"stage {cfg.train.stage} epoch {epoch + 1}/{cfg.train.epochs}")
        for step, (batch, meta) in enumerate(bar):
            with _autocast(device, amp):
                loss, parts = compute_loss(model, batch, meta, cfg, device)
            mean_loss = average_tensor(loss)  # the same on every rank, so all stop together
            loop.check_loss(mean_loss, epoch, step, parts, "Lower train.lr, or set train.grad_clip / train.amp=none.")
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            average_gradients(model)
            if cfg.train.grad_clip > 0:
                scaler.unscale_(opt)
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.train.grad_clip)
            scaler.step(opt)
            scaler.update()
            sched.step()
            total += float(mean_loss)
            n_images += len(batch["image"]) * world
            bar.set_postfix(loss=f"{float(mean_loss):.4f}")
        sync_model(model, average_buffers=True)  # BatchNorm running statistics are per rank
        record = epoch_record(epoch, time.time() - t0, n_images, opt, loss=total / max(1, len(metas)))
        val_map = None
        if has_valid and ((epoch + 1) % cfg.train.eval_every == 0 or epoch + 1 == cfg.train.epochs):
            res = evaluate(model, files, cfg, device, split="valid", progress=progress, image_cache=images.cache)
            val_map = res["main"].overall
            record["valid_map"] = val_map
            if res.get("local") is not None:
                record["valid_map_global"] = res["global"].overall
                record["valid_map_local"] = res["local"].overall
        improved = val_map is not None and val_map > best_map
        if improved:
            best_map, best_epoch = val_map, epoch + 1
        state = checkpoint_state({"model": model.state_dict()}, opt, sched, epoch, mAP=val_map, best_map=best_map,
                                 best_epoch=best_epoch, config=cfg.to_dict(),
                                 num_attributes=files.meta.num_attributes, stage=cfg.train.stage)
        loop.save(state, state if improved or not has_valid else None, {**record, "best_map": best_map})
        barrier()
        msg = f"epoch {epoch + 1}: loss {record['loss']:.4f}, {record['images_per_second']} img/s"
        loop.note(msg + (f", valid MAP {val_map:.2f}" if val_map is not None else ""))
    return TrainResult(Path(run_dir), best_map, best_epoch, epoch + 1, model)
