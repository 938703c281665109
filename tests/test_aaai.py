"""The AAAI-2020 models (asen.aaai): formulas against an independent implementation written from the
authors' code as described in the reference notes, the checkpoint loader against state dicts with exactly
the keys and shapes of the authors' checkpoints (tests/data/asen_aaai_checkpoint_keys.tsv), the evaluation
pipeline, and short training runs of every new head with the project's CPU protocol."""
from __future__ import annotations

import functools
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from asen.aaai import (ARCHS, ASENet, ASENetV2, ConditionalSimNet, aaai_to_ours, build_aaai_model,
                       load_asen_aaai, load_asen_aaai_for_evaluation, ours_to_aaai)
from asen.backbones import build_backbone
from asen.checkpoint import CheckpointError, load_model
from asen.config import ModelConfig, load_config
from asen.model import ASEN, build_model

KEYS_TSV = Path(__file__).parent / "data" / "asen_aaai_checkpoint_keys.tsv"


def key_tables() -> dict[str, list[tuple[str, tuple[int, ...]]]]:
    """{arch: [(key, shape)]} from the table of the authors' checkpoints."""
    tables: dict[str, list] = {}
    arch = None
    for line in KEYS_TSV.read_text().splitlines():
        if line.startswith("## "):
            arch = line[3:].split(":")[0]
            tables[arch] = []
        elif line and not line.startswith("#"):
            key, shape = line.split("\t")
            tables[arch].append((key, () if shape == "scalar" else tuple(int(s) for s in shape.split("x"))))
    return tables


@functools.lru_cache(maxsize=None)
def authors_state(arch: str, seed: int = 0) -> dict[str, torch.Tensor]:
    """Random weights with exactly the authors' key names and shapes (BatchNorm variances positive); shared
    by the tests, which must not modify them."""
    g = torch.Generator().manual_seed(seed)
    state = {}
    for key, shape in key_tables()[arch]:
        if key.endswith("num_batches_tracked"):
            state[key] = torch.tensor(7)
        elif key.endswith("running_var"):
            state[key] = torch.rand(shape, generator=g) + 0.5
        else:
            state[key] = torch.randn(shape, generator=g) * 0.05
    return state


# --- an independent implementation, from the formulas of the reference notes, on the authors' key names ---

def ref_asenet(w: dict, x: torch.Tensor, c: torch.Tensor, num_attributes: int) -> tuple[torch.Tensor, torch.Tensor]:
    o = torch.zeros(len(c), num_attributes).scatter_(1, c[:, None], 1.0)
    img = torch.tanh(torch.einsum("sc,bchw->bshw", w["conv1.weight"][:, :, 0, 0], x) + w["conv1.bias"][:, None, None])
    m = torch.tanh(o @ w["mask_fc1.weight"].t())
    score = torch.einsum("s,bshw->bhw", w["conv2.weight"][0, :, 0, 0], m[:, :, None, None] * img) + w["conv2.bias"]
    score = torch.tanh(score)
    b, h, wd = score.shape
    s = torch.exp(score) / torch.exp(score).sum(dim=(1, 2), keepdim=True)  # softmax over the h*w positions
    f = torch.einsum("bchw,bhw->bc", x, s)  # a sum, not a mean
    a = torch.relu(o @ w["mask_fc2.weight"].t())
    hidden = torch.relu(torch.cat([f, a], 1) @ w["fc1.weight"].t() + w["fc1.bias"])
    gate = torch.sigmoid(hidden @ w["fc2.weight"].t() + w["fc2.bias"])
    return (f * gate) @ w["feature_fc.weight"].t() + w["feature_fc.bias"], s


def ref_asenet_v2(w: dict, x: torch.Tensor, c: torch.Tensor, batch_stats: bool = False
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    e = w["attr_embedding.weight"][c]
    y = torch.einsum("sc,bchw->bshw", w["conv1.weight"][:, :, 0, 0], x) + w["conv1.bias"][:, None, None]
    if batch_stats:  # training-mode BatchNorm: statistics of this batch (biased variance)
        mean, var = y.mean(dim=(0, 2, 3)), y.var(dim=(0, 2, 3), unbiased=False)
    else:
        mean, var = w["img_bn1.running_mean"], w["img_bn1.running_var"]
    y = (y - mean[:, None, None]) / torch.sqrt(var[:, None, None] + 1e-5)
    img = torch.tanh(y * w["img_bn1.weight"][:, None, None] + w["img_bn1.bias"][:, None, None])
    g = torch.tanh(e @ w["attr_transform1.weight"].t() + w["attr_transform1.bias"])
    score = torch.einsum("bs,bshw->bhw", g, img) / math.sqrt(img.shape[1])
    s = torch.exp(score) / torch.exp(score).sum(dim=(1, 2), keepdim=True)
    f = torch.einsum("bchw,bhw->bc", x, s)
    a = torch.relu(e @ w["attr_transform2.weight"].t() + w["attr_transform2.bias"])
    hidden = torch.relu(torch.cat([f, a], 1) @ w["fc1.weight"].t() + w["fc1.bias"])
    return f * torch.sigmoid(hidden @ w["fc2.weight"].t() + w["fc2.bias"]), s


def ref_csn(w: dict, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    z = x.mean(dim=(2, 3)) @ w["embed_fc.weight"].t() + w["embed_fc.bias"]
    return z * torch.clamp(w["masks.weight"][c], min=0)


def head_weights(model: torch.nn.Module) -> dict:
    return {k: v.detach() for k, v in model.state_dict().items() if not k.startswith("backbone.")}


def tiny(arch: str, **kw) -> torch.nn.Module:
    torch.manual_seed(0)
    net = build_backbone("resnet_tiny", "none", 4)  # 16 channels
    sizes = {"ASENet": dict(spatial_dim=8, embed_size=12), "ASENet_V2": dict(attr_embed_size=6, spatial_dim=8),
             "ConditionalSimNet": dict(embed_size=12)}[arch]
    cls = {"ASENet": ASENet, "ASENet_V2": ASENetV2, "ConditionalSimNet": ConditionalSimNet}[arch]
    model = cls(net, 3, **{**sizes, **kw})
    with torch.no_grad():  # move every weight off its initial value, BatchNorm statistics included
        for name, t in model.state_dict().items():
            if t.is_floating_point() and not name.startswith("backbone."):
                t.add_(torch.randn_like(t) * 0.3).abs_() if "running_var" in name else t.add_(torch.randn_like(t) * 0.3)
    return model


@pytest.mark.parametrize("arch", ARCHS)
def test_heads_match_the_independent_implementation(arch):
    model = tiny(arch).eval()
    x = torch.randn(4, 16, 5, 7)  # a non-square map: rows and columns must not be swapped
    c = torch.tensor([0, 2, 1, 2])
    emb, maps = model.embed_features(x, c)
    w = head_weights(model)
    if arch == "ASENet":
        ref, s = ref_asenet(w, x, c, 3)
    elif arch == "ASENet_V2":
        ref, s = ref_asenet_v2(w, x, c)
    else:
        ref, s = ref_csn(w, x, c), None
    torch.testing.assert_close(emb, ref)
    if s is None:
        assert maps is None
    else:
        torch.testing.assert_close(maps, s)
        assert maps.shape == (4, 5, 7)
    if arch == "ASENet":  # tanh before the softmax: scores in [-1, 1], so no position gets more than e^2 / (hw)
        assert float(maps.max().detach() / maps.min().detach()) <= math.e ** 2 + 1e-4


def test_asenet_v2_batchnorm_uses_batch_statistics_in_training():
    model = tiny("ASENet_V2").train()
    x, c = torch.randn(5, 16, 4, 4), torch.tensor([0, 1, 2, 0, 1])
    w = head_weights(model)
    emb, maps = model.embed_features(x, c)
    ref, s = ref_asenet_v2(w, x, c, batch_stats=True)
    torch.testing.assert_close(emb, ref)
    torch.testing.assert_close(maps, s)


@pytest.mark.parametrize("arch", ARCHS)
def test_every_parameter_gets_a_gradient_and_shapes(arch):
    model = tiny(arch).train()
    images, c = torch.randn(6, 3, 40, 40), torch.tensor([0, 1, 2, 0, 1, 2])
    emb, maps = model(images, c)
    dim = 16 if arch == "ASENet_V2" else 12  # ASENet_V2's embedding is the backbone's channels
    assert emb.shape == (6, dim) and model.embed_size == dim and torch.isfinite(emb).all()
    assert maps is None if arch == "ConditionalSimNet" else maps.shape == (6, 5, 5)
    emb.pow(2).sum().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name
    with pytest.raises(ValueError, match="only a global branch"):
        model(images, c, branch="local")


@pytest.mark.parametrize("arch", ARCHS)
def test_loader_reads_the_authors_checkpoint_layout(arch, tmp_path):
    state = authors_state(arch)
    path = tmp_path / f"{arch}.pth.tar"
    torch.save({"epoch": 42, "state_dict": state, "prec": np.float64(0.6412)}, path)
    model = load_asen_aaai(path, arch)
    assert not model.training and model.checkpoint_info == {"arch": arch, "epoch": 42, "prec": pytest.approx(0.6412)}
    ours = model.state_dict()
    assert len(ours) == len(state) - 2  # everything but the backbone's unused fc
    prefix = "embeddingnet.embeddingnet." if arch == "ConditionalSimNet" else "embeddingnet.backbonenet."
    for key, value in state.items():
        if key.startswith(prefix + "fc."):
            continue
        mine = "backbone." + key[len(prefix):] if key.startswith(prefix) else key[len("embeddingnet."):]
        assert torch.equal(ours[mine], value), key
    c = torch.tensor([3, 7])
    if arch == "ASENet_V2":  # the whole model at the authors' input size (the backbone is slow on a CPU)
        with torch.no_grad():
            emb, maps = model(torch.randn(1, 3, 224, 224), c[:1])
        assert emb.shape == (1, 1024) and maps.shape == (1, 14, 14) and torch.isfinite(emb).all()
    feat = torch.randn(2, 1024, 14, 14).relu()  # what layer3 of ResNet-50 gives at 224 px
    with torch.no_grad():
        emb, maps = model.embed_features(feat, c)
    w = {k[len("embeddingnet."):]: v for k, v in state.items() if not k.startswith(prefix)}
    if arch == "ASENet":
        ref, s = ref_asenet(w, feat, c, 8)
    elif arch == "ASENet_V2":
        ref, s = ref_asenet_v2(w, feat, c)
    else:
        ref, s = ref_csn(w, feat, c), None
    assert emb.shape == (2, 1024) and torch.isfinite(emb).all()
    assert not torch.allclose(emb.norm(dim=1), torch.ones(2))  # not L2-normalised
    torch.testing.assert_close(emb, ref, rtol=1e-4, atol=1e-5)
    if s is None:
        assert maps is None
    else:
        assert maps.shape == (2, 14, 14)
        torch.testing.assert_close(maps, s)


def test_loader_refuses_another_architecture_and_names_the_keys():
    states = {arch: authors_state(arch) for arch in ARCHS}
    expected = {  # (a key the requested model misses, a key it does not expect)
        ("ASENet_V2", "ASENet"): ("mask_fc1.weight", "attr_embedding.weight"),
        ("ASENet", "ASENet_V2"): ("attr_embedding.weight", "mask_fc1.weight"),
        ("ConditionalSimNet", "ASENet"): ("mask_fc1.weight", "embed_fc.weight"),
        ("ASENet", "ConditionalSimNet"): ("embed_fc.weight", "mask_fc1.weight"),
    }
    for (have, want), (missing, unexpected) in expected.items():
        with pytest.raises(CheckpointError) as err:
            load_asen_aaai({"epoch": 1, "state_dict": states[have], "prec": 0.5}, want)
        msg = str(err.value)
        assert f"not an {want} checkpoint; its keys are those of {have}" in msg, msg
        assert missing in msg.split("unexpected")[0] and unexpected in msg.split("unexpected")[1], msg
    with pytest.raises(CheckpointError, match=r"another shape.*mask_fc1\.weight \(512, 8\) \(expected \(512, 6\)\)"):
        load_asen_aaai({"state_dict": states["ASENet"]}, "ASENet", num_attributes=6)
    with pytest.raises(ValueError, match="arch must be one of"):
        load_asen_aaai({"state_dict": states["ASENet"]}, "ASEN")


def test_loader_names_missing_and_broken_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.pth.tar"):
        load_asen_aaai(tmp_path / "nope.pth.tar", "ASENet")
    bad = tmp_path / "broken.pth.tar"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="broken.pth.tar: cannot be read"):
        load_asen_aaai(bad, "ASENet")
    other = tmp_path / "other.pt"
    torch.save({"model": 3}, other)
    with pytest.raises(CheckpointError, match="other.pt: no state dict"):
        load_asen_aaai(other, "ASENet")


def test_key_renaming_round_trip():
    for arch in ARCHS:
        state = authors_state(arch)
        ours = aaai_to_ours(state, arch)
        back = ours_to_aaai(ours, arch)
        unused_fc = {f"embeddingnet.{'embeddingnet' if arch == 'ConditionalSimNet' else 'backbonenet'}.fc.{p}"
                     for p in ("weight", "bias")}
        assert unused_fc <= set(state) and set(back) == set(state) - unused_fc
        assert all(torch.equal(back[k], state[k]) for k in back)


def test_evaluation_pipeline_runs_an_aaai_checkpoint(toy_root):
    from asen.data import load_split_files
    from asen.evaluate import evaluate

    torch.manual_seed(0)
    trained = build_aaai_model("ASENet_V2", num_attributes=2)  # the toy data set has two attributes
    ckpt = {"epoch": 5, "state_dict": ours_to_aaai(trained.state_dict(), "ASENet_V2"), "prec": 0.3}
    model, cfg = load_asen_aaai_for_evaluation(
        ckpt, "ASENet_V2", ["fashionai_s1"],
        {"data.root": str(toy_root), "data.global_size": 32, "data.num_workers": 0, "data.max_eval_queries": 8})
    assert (cfg.model.head, cfg.model.backbone, cfg.model.embed_size, cfg.model.local_branch) == \
        ("asen_v2", "resnet50", 1024, False)
    assert model.num_attributes == 2 and not model.training
    files = load_split_files(toy_root)
    res = evaluate(model, files, cfg, "cpu", split="test", progress=False)
    assert res["main"] is res["global"] and "local" not in res
    assert 0.0 <= res["main"].overall <= 100.0
    q = res["features"]["query"]["global"]
    np.testing.assert_allclose(np.linalg.norm(q, axis=1), 1.0, rtol=1e-5)  # evaluation normalises


# --- the new heads inside ASEN (build_model), as the training uses them ---

TINY = dict(backbone="resnet_tiny", pretrained="none", tiny_width=4, attr_embed_size=6, spatial_dim=8, embed_size=12)


@pytest.mark.parametrize("head", ["asen_aaai", "asen_v2", "csn"])
def test_build_model_heads_with_attribute_batchnorm(head):
    attn = head != "csn"
    cfg = ModelConfig(**TINY, head=head, spatial_attention=attn, channel_attention=attn,
                      embed_norm="attribute_batchnorm")
    torch.manual_seed(0)
    model = build_model(cfg, 3).train()
    c = torch.tensor([0, 0, 1, 1, 2, 2, 0, 1])
    emb, maps = model(torch.randn(8, 3, 40, 40), c)
    assert emb.shape == (8, model.embed_size) and maps.shape == (8, 5, 5)
    before_mask = model.csn_unmasked if head == "csn" else emb
    for a in range(3):  # the embedding (CSN: before its mask) is normalised per attribute
        torch.testing.assert_close(before_mask[c == a].mean(0), torch.zeros(model.embed_size), atol=1e-5, rtol=0)
    if head == "csn":
        torch.testing.assert_close(emb, model.csn_unmasked * torch.relu(model.csn_masks[c]))
    emb.pow(2).sum().backward()
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    for name, p in trainable:
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    frozen = [n for n, p in model.named_parameters() if not p.requires_grad]
    assert frozen == (["attr_embedding.weight"] if head == "csn" else [])  # CSN keeps the table, unused


def test_asen_csn_head_is_the_authors_conditional_simnet():
    cfg = ModelConfig(**TINY, head="csn", spatial_attention=False, channel_attention=False)
    torch.manual_seed(0)
    ours = ASEN(cfg, 3).eval()
    theirs = ConditionalSimNet(build_backbone("resnet_tiny", "none", 4), 3, embed_size=12).eval()
    theirs.backbone.load_state_dict(ours.global_branch.backbone.state_dict())
    theirs.embed_fc.load_state_dict(ours.global_branch.feature_fc.state_dict())
    with torch.no_grad():
        theirs.masks.weight.copy_(ours.csn_masks)
    x, c = torch.randn(3, 3, 40, 40), torch.tensor([2, 0, 1])
    torch.testing.assert_close(ours(x, c)[0], theirs(x, c)[0])


def test_aaai_heads_refuse_ablation_switches_and_a_local_branch():
    with pytest.raises(ValueError, match="model.spatial_attention and model.channel_attention must be true"):
        ASEN(ModelConfig(**TINY, head="asen_aaai", spatial_attention=False), 3)
    with pytest.raises(ValueError, match="no local branch"):
        ASEN(ModelConfig(**TINY, head="asen_v2", local_branch=True, local_backbone="resnet_tiny",
                         local_pretrained="none"), 3)
    with pytest.raises(ValueError, match="model.head must be one of"):
        ASEN(ModelConfig(**TINY, head="asen_v3"), 3)


def test_veit_embedding_l2_by_hand():
    from asen.losses import embedding_l2

    emb = torch.tensor([[3.0, 4.0], [0.0, 0.0], [1.0, 0.0], [0.0, 2.0], [6.0, 8.0], [0.0, 0.0]])
    # one block: sqrt(25 + 1 + 4 + 100) / sqrt(6); three blocks of two: (5 + sqrt(5) + 10) / 3 / sqrt(2)
    torch.testing.assert_close(embedding_l2(emb), torch.tensor(math.sqrt(130 / 6)))
    torch.testing.assert_close(embedding_l2(emb, 3), torch.tensor((15 + math.sqrt(5)) / 3 / math.sqrt(2)))


# --- smoke training with the CPU protocol (synthfashion_cpu + a method config), on the toy data ---

def cpu_cfg(root, method: str, **extra):
    over = {"data.root": str(root), "data.global_size": 32, "data.local_size": 32, "data.images_per_batch": 32,
            "data.steps_per_epoch": 2, "data.eval_batch_size": 64, "data.max_eval_queries": 8,
            "model.tiny_width": 4, "model.attr_embed_size": 8, "model.spatial_dim": 8, "model.embed_size": 16,
            "train.epochs": 1, "train.eval_every": 1, **extra}
    return load_config(["synthfashion_cpu", method], over)


def one_batch(cfg, files):
    from asen.data import ImageSet, collate_images
    from asen.train import make_sampler

    meta = next(iter(make_sampler(cfg, files).epoch(0)))
    images = ImageSet(files.root, files.filenames["train"], cfg.data.global_size)
    return collate_images([images[int(i)] for i in meta["images"]]), meta


@pytest.mark.parametrize("method,dim", [("method_asen_aaai", 16), ("method_asen_v2", 16), ("method_csn", 16),
                                        ("method_csn_veit", 16)])
def test_new_heads_train_with_the_cpu_protocol(method, dim, toy_root, tmp_path):
    from asen.data import load_split_files
    from asen.train import compute_loss, train

    cfg = cpu_cfg(toy_root, method)
    files = load_split_files(toy_root)
    res = train(cfg, tmp_path / method, "cpu", progress=False, files=files)
    log = [json.loads(line) for line in (tmp_path / method / "log.jsonl").read_text().splitlines()]
    record = [r for r in log if "loss" in r][-1]
    assert math.isfinite(record["loss"]) and "valid_map" in record
    # the checkpoint reloads through the project's loader, with the same embeddings
    model, _, _ = load_model(tmp_path / method / "checkpoints" / "last.pt")
    x, c = torch.randn(2, 3, 32, 32), torch.tensor([0, 1])
    res.model.eval()
    torch.testing.assert_close(model(x, c)[0], res.model(x, c)[0])
    assert model(x, c)[0].shape == (2, dim)  # resnet_tiny width 4: 16 channels, model.embed_size 16
    # one step of the training loss: finite, and every trainable parameter gets a gradient
    model.train()
    batch, meta = one_batch(cfg, files)
    loss, parts = compute_loss(model, batch, meta, cfg, torch.device("cpu"))
    assert torch.isfinite(loss)
    loss.backward()
    absent = {a for a in range(files.meta.num_attributes)} - set(np.asarray(meta["attributes"]).tolist())
    for name, p in model.named_parameters():
        if p.requires_grad and not any(f".norm.norms.{a}." in name for a in absent):  # one attribute a step
            assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name
    if method == "method_csn_veit":
        assert parts["mask_l1"] > 0 and parts["embed_l2"] > 0
        n = len(batch["image"])
        assert parts["embed_l2"] == pytest.approx(float(model.csn_unmasked.detach().norm() / math.sqrt(n)), rel=1e-5)
    else:
        assert "mask_l1" not in parts and "embed_l2" not in parts


def test_csn_veit_terms_with_the_papers_sampler(toy_root):
    from asen.data import load_split_files
    from asen.losses import embedding_l2
    from asen.train import compute_loss

    cfg = cpu_cfg(toy_root, "method_csn_veit", **{"data.sampler": "random", "data.batch_size": 4,
                                                   "data.num_triplets": 8})
    files = load_split_files(toy_root)
    torch.manual_seed(0)
    model = build_model(cfg.model, files.meta.num_attributes).train()
    batch, meta = one_batch(cfg, files)
    loss, parts = compute_loss(model, batch, meta, cfg, torch.device("cpu"))
    anchors, positives, negatives = model.csn_unmasked.detach().chunk(3)
    veit = (anchors.norm() + positives.norm() + negatives.norm()) / 3 / math.sqrt(4)
    assert parts["embed_l2"] == pytest.approx(float(veit), rel=1e-5)
    assert float(embedding_l2(model.csn_unmasked.detach(), 3)) == pytest.approx(float(veit), rel=1e-5)
    expected = parts["global"] + 5e-4 * parts["mask_l1"] + 5e-3 * parts["embed_l2"]
    assert float(loss.detach()) == pytest.approx(expected, rel=1e-5)


def test_the_global_loss_weight_applies_in_stage_1(toy_root):
    """The reference multiplies the global triplet loss by SOLVER.GLOBAL_WEIGHT in both stages."""
    from asen.data import load_split_files
    from asen.train import compute_loss

    files = load_split_files(toy_root)
    losses = {}
    for weight in (1.0, 0.25):
        cfg = cpu_cfg(toy_root, "method_asen_aaai", **{
            "data.sampler": "random", "data.batch_size": 4, "data.num_triplets": 8, "train.global_weight": weight})
        torch.manual_seed(0)
        model = build_model(cfg.model, files.meta.num_attributes).train()
        batch, meta = one_batch(cfg, files)
        loss, parts = compute_loss(model, batch, meta, cfg, torch.device("cpu"))
        losses[weight] = (float(loss.detach()), parts["global"])
    assert losses[1.0][0] == losses[1.0][1] and losses[1.0][1] == losses[0.25][1]
    assert losses[0.25][0] == pytest.approx(0.25 * losses[1.0][0], rel=1e-6)


def test_asen_evaluate_reads_an_aaai_checkpoint_file(toy_root, tmp_path, capsys):
    import json
    import shutil

    from asen.checkpoint import load_asen_aaai as reexported
    from asen.cli import main

    assert reexported is load_asen_aaai
    torch.manual_seed(0)
    trained = build_aaai_model("ASENet_V2", num_attributes=2)
    path = tmp_path / "model_best.pth.tar"
    torch.save({"epoch": 5, "state_dict": ours_to_aaai(trained.state_dict(), "ASENet_V2"), "prec": 0.3}, path)
    data = tmp_path / "Toy"
    shutil.copytree(toy_root, data)
    (data / "counts.json").write_text(json.dumps({"mode": "seed 0"}))  # as a prepare script's seeded split
    args = ["evaluate", "--asen-aaai", "ASENet_V2", "-c", "fashionai_s1", "--checkpoint", str(path), "--device",
            "cpu", "--quiet", "--out", str(tmp_path / "out.json")]
    for s in (f"data.root={data}", "data.global_size=32", "data.num_workers=0", "data.max_eval_queries=8"):
        args += ["--set", s]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert f"note: {data} holds a split made by its prepare script (seed 0)" in err
    out = json.loads((tmp_path / "out.json").read_text())
    assert out["data"]["split"] == "seed 0" and 0.0 <= out["main"]["overall"] <= 100.0
    # the wrong architecture is refused in one line naming the file
    args[2] = "ASENet"
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and str(path) in err[0]


@pytest.mark.parametrize("data", ["fashionai_s1", "synthfashion_cpu"])
def test_the_aaai_recipe_sets_what_the_authors_train_with(data):
    """recipe_aaai over any dataset config: the AAAI code's sampler, budget, schedule, flips, and its three forward
    passes of 16 images (BatchNorm statistics per pass), whatever the dataset config had."""
    cfg = load_config([data, "method_asen_aaai", "recipe_aaai"])
    assert (cfg.data.sampler, cfg.data.num_triplets, cfg.data.batch_size, cfg.data.hflip) == ("aaai", 100000, 16, True)
    assert (cfg.train.lr, cfg.train.scheduler, cfg.train.lr_decay, cfg.train.lr_step, cfg.train.epochs) == \
        (1e-4, "step", 0.985, 1, 200)
    assert cfg.train.forward_passes == 3
