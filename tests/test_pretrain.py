"""Stage 0: self-supervised backbone pre-training (asen.pretrain) and how stage 1 starts from it."""
import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from asen.backbones import build_backbone
from asen.checkpoint import CheckpointError, load_model
from asen.config import PretrainConfig, load_config
from asen.data import normalize
from asen.pretrain import nt_xent_loss, pretrain, random_views
from asen.runs import RunConfigMismatch, RunExistsError
from asen.train import train

TINY = {"model.backbone": "resnet_tiny", "model.pretrained": "none", "model.tiny_width": 8,
        "model.attr_embed_size": 16, "model.spatial_dim": 16, "model.embed_size": 32, "model.embed_norm": "batchnorm"}


def pre_cfg(root, **extra):
    over = {**TINY, "data.root": str(root), "data.global_size": 32, "data.images_per_batch": 16,
            "data.steps_per_epoch": 10, "train.stage": 0, "train.epochs": 3, "train.lr": 3e-3,
            "train.scheduler": "cosine", "pretrain.source_size": 40, **extra}
    return load_config(["synthfashion_cpu"], [f"{k}={v}" for k, v in over.items()])


def test_nt_xent_matches_its_definition():
    torch.manual_seed(0)
    z1, z2 = torch.randn(3, 5), torch.randn(3, 5)
    loss, acc = nt_xent_loss(z1, z2, 0.5)
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    sim = (z @ z.t() / 0.5).exp()
    expected = []
    for i in range(6):
        partner = (i + 3) % 6
        expected.append(-math.log(sim[i, partner] / (sim[i].sum() - sim[i, i])))
    assert loss.item() == pytest.approx(float(np.mean(expected)), rel=1e-5)
    # views that equal their partner and are orthogonal to the rest are all found
    eye = torch.eye(4)
    loss_ok, acc_ok = nt_xent_loss(eye, eye, 0.1)
    assert acc_ok.item() == 1.0 and loss_ok.item() < 1e-3
    with pytest.raises(ValueError, match=r"\(3, 5\) and \(2, 5\)"):
        nt_xent_loss(z1, z2[:2], 0.5)


def test_random_views_without_randomness_is_the_image_or_its_mirror():
    torch.manual_seed(0)
    imgs = torch.randint(0, 256, (64, 3, 16, 16), dtype=torch.uint8)
    plain = PretrainConfig(min_scale=1.0, aspect_jitter=0.0, jitter_p=0.0, grey_p=0.0)
    v = random_views(imgs, 16, plain)
    ref = normalize(imgs.float() / 255)
    flips = 0
    for i in range(64):
        same = torch.allclose(v[i], ref[i], atol=1e-4)
        mirrored = torch.allclose(v[i], ref[i].flip(-1), atol=1e-4)
        assert same != mirrored  # exactly one of the two
        flips += mirrored
    assert 16 <= flips <= 48  # half of the time (binomial(64, 1/2): mean 32, sd 4)
    torch.manual_seed(1)
    a = random_views(imgs, 12, PretrainConfig())
    torch.manual_seed(1)
    b = random_views(imgs, 12, PretrainConfig())
    assert a.shape == (64, 3, 12, 12) and torch.equal(a, b)  # reproducible from the seed
    grey = random_views(imgs, 12, PretrainConfig(grey_p=1.0))
    grey = grey * torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1) + torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1)
    torch.testing.assert_close(grey[:, 0], grey[:, 1], atol=1e-5, rtol=0)  # R == G == B
    # and the grey is the luma of the image (or of its mirror), by hand: ITU-R 601 weights, as torchvision's
    torch.manual_seed(2)
    luma = random_views(imgs, 16, PretrainConfig(min_scale=1.0, aspect_jitter=0.0, jitter_p=0.0, grey_p=1.0))
    luma = luma[:, 0] * 0.229 + 0.485
    x = imgs.float() / 255
    want = 0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]
    for i in range(64):
        assert torch.allclose(luma[i], want[i], atol=1e-4) or torch.allclose(luma[i], want[i].flip(-1), atol=1e-4)


@pytest.fixture(scope="module")
def pretrained(toy_root, tmp_path_factory):
    run = tmp_path_factory.mktemp("pre") / "pretrain"
    return pretrain(pre_cfg(toy_root), run, "cpu", progress=False), run


def _held_out_loss(run, root) -> float:
    """NT-Xent of a run's last backbone + projection head on fixed views of the test images."""
    from asen.data import ImageSet, load_split_files
    from asen.pretrain import ProjectionHead, SourceImages

    ckpt = torch.load(run / "checkpoints" / "last.pt", weights_only=True)  # optimiser, scheduler, RNG: all plain
    net = build_backbone("resnet_tiny", "none", tiny_width=8)
    net.load_state_dict(ckpt["state_dict"])
    head = ProjectionHead(net.out_channels, 64)
    head.load_state_dict(ckpt["head"])
    net.eval(), head.eval()
    files = load_split_files(root)
    src = SourceImages(ImageSet(root, files.filenames["test"][:32], 32), 40)
    imgs = torch.stack([src[i] for i in range(len(src))])
    torch.manual_seed(123)
    v1, v2 = random_views(imgs, 32, PretrainConfig()), random_views(imgs, 32, PretrainConfig())
    with torch.no_grad():
        return float(nt_xent_loss(head(net(v1)), head(net(v2)), 0.2)[0])


def test_pretraining_learns_to_tell_images_apart_and_writes_a_backbone(pretrained, toy_root, tmp_path):
    best, run = pretrained
    log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in log] == [1, 2, 3]
    assert log[-1]["loss"] < log[0]["loss"] and log[-1]["instance_accuracy"] > 2 / 31  # chance: 1 in 31 views
    # on images it never saw, the trained network tells views of different images apart better than the same
    # network with the same start and no learning (lr ~ 0)
    untrained = tmp_path / "untrained"
    pretrain(pre_cfg(toy_root, **{"train.lr": 1e-12}), untrained, "cpu", progress=False)
    assert _held_out_loss(run, toy_root) < _held_out_loss(untrained, toy_root) - 0.15  # measured: 3.71 vs 4.09
    info = json.loads((run / "run.json").read_text())
    assert info["data"]["root"] == str(toy_root) and info["data"]["fingerprint"]
    state = torch.load(best, map_location="cpu", weights_only=True)  # a plain file: no pickled objects
    assert state["stage"] == 0 and state["epoch"] == 3
    net = build_backbone("resnet_tiny", str(best), tiny_width=8)
    for k, v in net.state_dict().items():
        assert torch.equal(v, state["state_dict"][k]), k
    with pytest.raises(CheckpointError, match=r"pre-training checkpoint .*model\.pretrained="):
        load_model(best)


def test_pretraining_resumes_to_the_same_weights(pretrained, toy_root, tmp_path):
    best, _ = pretrained
    cfg = pre_cfg(toy_root)
    pretrain(cfg, tmp_path / "r", "cpu", progress=False, max_epochs=1)
    resumed = pretrain(cfg, tmp_path / "r", "cpu", progress=False, resume=True)
    a = torch.load(best, weights_only=True)["state_dict"]
    b = torch.load(resumed, weights_only=True)["state_dict"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    with pytest.raises(RunConfigMismatch, match=r"config differs from the one given in train\.lr: 0\.003 -> 0\.001 "):
        pretrain(pre_cfg(toy_root, **{"train.lr": 1e-3}), tmp_path / "r", "cpu", progress=False, resume=True)


def test_pretraining_refuses_to_start_over_an_existing_run(pretrained, toy_root, tmp_path):
    best, run = pretrained
    before = best.read_bytes()
    with pytest.raises(RunExistsError, match=rf"^{run} already holds a run"):
        pretrain(pre_cfg(toy_root, **{"train.seed": 1}), run, "cpu", progress=False)
    assert best.read_bytes() == before
    other = tmp_path / "o"
    pretrain(pre_cfg(toy_root, **{"train.epochs": 1, "data.steps_per_epoch": 1}), other, "cpu", progress=False)
    (other / "checkpoints" / ".last.pt.dead.tmp").write_bytes(b"x")  # left by a killed run
    pretrain(pre_cfg(toy_root, **{"train.epochs": 1, "data.steps_per_epoch": 1, "train.seed": 1}), other, "cpu",
             progress=False, overwrite=True)
    assert [json.loads(line)["epoch"] for line in (other / "log.jsonl").read_text().splitlines()] == [1]
    assert torch.load(other / "checkpoints" / "best.pt", weights_only=True)["config"]["train"]["seed"] == 1
    assert not (other / "checkpoints" / ".last.pt.dead.tmp").exists()


def test_stage1_starts_from_the_pretrained_backbone(pretrained, toy_root, tmp_path):
    best, _ = pretrained
    over = {**TINY, "data.root": str(toy_root), "data.global_size": 32, "data.local_size": 32,
            "data.sampler": "in_batch", "data.images_per_batch": 16, "data.steps_per_epoch": 1,
            "train.epochs": 1, "train.lr": 1e-12, "model.pretrained": str(best)}
    cfg = load_config(["synthfashion_cpu"], [f"{k}={v}" for k, v in over.items()])
    result = train(cfg, tmp_path / "s1", "cpu", progress=False)
    state = torch.load(best, weights_only=True)["state_dict"]
    got = result.model.global_branch.backbone.state_dict()
    convs = [k for k in state if k.endswith("conv1.weight")]
    assert convs and all(torch.allclose(got[k], state[k], atol=1e-9) for k in convs)  # lr ~ 0: weights kept


def test_bad_pretraining_settings_are_named(toy_root, tmp_path):
    with pytest.raises(ValueError, match="pretrain.min_scale"):
        pretrain(pre_cfg(toy_root, **{"pretrain.min_scale": 0}), tmp_path / "a", "cpu", progress=False)
    with pytest.raises(ValueError, match="images_per_batch must be >= 2"):
        pretrain(pre_cfg(toy_root, **{"data.images_per_batch": 1}), tmp_path / "b", "cpu", progress=False)
    with pytest.raises(ValueError, match="stage-0 configs"):
        pretrain(pre_cfg(toy_root, **{"train.stage": 1}), tmp_path / "c", "cpu", progress=False)
    with pytest.raises(ValueError, match=r"train.stage must be 1 or 2 here, got 0"):
        train(pre_cfg(toy_root), tmp_path / "d", "cpu", progress=False)


def test_asen_train_runs_stage_0_from_the_shipped_config(toy_root, tmp_path, capsys):
    from asen.cli import main

    over = {**TINY, "data.root": str(toy_root), "data.global_size": 32, "data.images_per_batch": 8,
            "data.steps_per_epoch": 2, "train.epochs": 1, "pretrain.source_size": 40}
    args = ["train", "-c", "synthfashion_cpu", "-c", "synthfashion_cpu_pretrain", "--run-dir", str(tmp_path / "pre"),
            "--device", "cpu", "--quiet"]
    for k, v in over.items():
        args += ["--set", f"{k}={v}"]
    assert main(args) == 0
    best = tmp_path / "pre" / "checkpoints" / "best.pt"
    assert f"model.pretrained={best}" in capsys.readouterr().out
    assert torch.load(best, weights_only=True)["stage"] == 0
