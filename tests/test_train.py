"""A tiny end-to-end run: stage 1, resume, stage 2, evaluation, compared with random embeddings."""
import json

import numpy as np
import pytest
import torch

from asen.checkpoint import load_model
from asen.config import load_config
from asen.data import load_split_files
from asen.evaluate import evaluate, map_table, random_features
from asen.train import TrainingDiverged, train

TINY_MODEL = {
    "model.backbone": "resnet_tiny", "model.local_backbone": "resnet_tiny", "model.pretrained": "none",
    "model.local_pretrained": "none", "model.tiny_width": 8, "model.attr_embed_size": 16, "model.spatial_dim": 16,
    "model.local_spatial_dim": 16, "model.embed_size": 32, "model.embed_norm": "batchnorm",
}


def tiny_cfg(root, **extra):
    over = {**TINY_MODEL, "data.root": str(root), "data.global_size": 32, "data.local_size": 32,
            "data.sampler": "in_batch", "data.images_per_batch": 32, "data.steps_per_epoch": 10,
            "data.eval_batch_size": 32, "data.num_workers": 0, "train.epochs": 3, "train.lr": 3e-3, "train.scheduler": "cosine",
            "train.seed": 0, **extra}
    return load_config(["fashionai_s1"], [f"{k}={v}" for k, v in over.items()])


@pytest.fixture(scope="module")
def stage1(toy_root, tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "s1"
    return train(tiny_cfg(toy_root), run, "cpu", progress=False), run


def test_stage1_writes_run_folder_and_beats_random(stage1, toy_root):
    result, run = stage1
    assert (run / "config.yaml").exists() and (run / "checkpoints" / "best.pt").exists()
    info = json.loads((run / "run.json").read_text())
    assert info["git_commit"] and info["versions"]["torch"] == torch.__version__.split("+")[0]
    assert info["config_hash"] == tiny_cfg(toy_root).hash()
    log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in log] == [1, 2, 3] and all("valid_map" in r for r in log)
    model, cfg, meta = load_model(run / "checkpoints" / "best.pt")
    files = load_split_files(toy_root)
    res = evaluate(model, files, cfg, "cpu", split="test", progress=False)
    q, c = files.queries["test"], files.candidates["test"]
    rand = map_table(files.meta, random_features(len(q), 32, 0), random_features(len(c), 32, 1), q, c)
    assert res["main"].overall > rand.overall + 15, (res["main"].overall, rand.overall)


def test_resume_gives_the_same_weights(stage1, toy_root, tmp_path):
    full, _ = stage1
    cfg = tiny_cfg(toy_root)
    part = train(cfg, tmp_path / "r", "cpu", progress=False, max_epochs=1)  # "interrupted" after one epoch
    assert part.last_epoch == 1
    resumed = train(cfg, tmp_path / "r", "cpu", progress=False, resume=True)
    assert resumed.last_epoch == 3
    for (k, a), b in zip(full.model.state_dict().items(), resumed.model.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=k)
    with pytest.raises(ValueError, match="config differs"):
        train(tiny_cfg(toy_root, **{"train.lr": 1e-3}), tmp_path / "r", "cpu", progress=False, resume=True)


def test_stage2_from_stage1_and_fusion(stage1, toy_root, tmp_path):
    _, run = stage1
    cfg2 = tiny_cfg(toy_root, **{"model.local_branch": True, "train.stage": 2, "train.epochs": 1,
                                 "train.lr": 1e-4, "train.local_lr": 3e-3, "train.crop_threshold": 0.1,
                                 "train.init_from": str(run / "checkpoints" / "best.pt")})
    result = train(cfg2, tmp_path / "s2", "cpu", progress=False)
    model = result.model
    # stage 2 started from stage 1's attribute embedding (global lr is small; it moved little)
    s1_model, _, _ = load_model(run / "checkpoints" / "best.pt")
    assert (model.attr_embedding.weight - s1_model.attr_embedding.weight).abs().max() < 0.05
    files = load_split_files(toy_root)
    res = evaluate(model, files, cfg2, "cpu", split="test", progress=False, betas=(0.0, 0.6, 1.0))
    assert set(res) >= {"global", "local", "fused"}
    assert res["beta"][1.0] == pytest.approx(res["global"].overall)
    assert res["beta"][0.0] == pytest.approx(res["local"].overall)
    boxes = res["features"]["query"]["boxes"]
    assert ((boxes[:, 2] - boxes[:, 0]) == (boxes[:, 3] - boxes[:, 1])).all()


def test_nan_loss_stops_and_keeps_last_good_checkpoint(toy_root, tmp_path, monkeypatch):
    cfg = tiny_cfg(toy_root, **{"train.epochs": 2})
    train(cfg, tmp_path / "n", "cpu", progress=False, max_epochs=1)
    good = torch.load(tmp_path / "n" / "checkpoints" / "last.pt", weights_only=False)
    import asen.train as T

    real = T.compute_loss
    monkeypatch.setattr(T, "compute_loss", lambda *a, **k: (real(*a, **k)[0] * float("nan"), {}))
    with pytest.raises(TrainingDiverged, match=r"loss is nan at epoch 2, step 1.*last good checkpoint"):
        train(cfg, tmp_path / "n", "cpu", progress=False, resume=True)
    kept = torch.load(tmp_path / "n" / "checkpoints" / "last.pt", weights_only=False)
    assert kept["epoch"] == good["epoch"] == 0
    for k in good["model"]:
        torch.testing.assert_close(kept["model"][k], good["model"][k])


def test_paper_sampler_runs(toy_root, tmp_path):
    cfg = tiny_cfg(toy_root, **{"data.sampler": "random", "data.num_triplets": 24, "data.batch_size": 8,
                                "train.epochs": 1, "train.scheduler": "step"})
    result = train(cfg, tmp_path / "p", "cpu", progress=False)
    assert result.last_epoch == 1 and np.isfinite(result.best_map)


def test_local_branch_can_start_as_a_copy_of_the_global_branch(stage1, toy_root, tmp_path):
    _, run = stage1
    cfg2 = tiny_cfg(toy_root, **{"model.local_branch": True, "train.stage": 2, "train.epochs": 1,
                                 "data.steps_per_epoch": 1, "train.lr": 0.0, "train.local_lr": 0.0,
                                 "train.local_init": "global",
                                 "train.init_from": str(run / "checkpoints" / "best.pt")})
    model = train(cfg2, tmp_path / "copy", "cpu", progress=False).model
    g, loc = model.global_branch.state_dict(), model.local_branch.state_dict()
    for k in g:
        if "running" not in k and "num_batches" not in k:  # lr 0: weights stay; BN statistics move
            torch.testing.assert_close(g[k], loc[k], msg=k)
    bad = tiny_cfg(toy_root, **{"model.local_branch": True, "train.stage": 2, "train.local_init": "global",
                                "model.local_spatial_dim": 8})
    with pytest.raises(ValueError, match="identical branches"):
        train(bad, tmp_path / "bad", "cpu", progress=False)


def test_augmentation_is_seeded(toy_root):
    from asen.data import ImageSet

    files = load_split_files(toy_root)
    images = ImageSet(toy_root, files.filenames["train"], 32, augment=True)
    torch.manual_seed(5)
    a = images[0]["image"]
    torch.manual_seed(5)
    b = images[0]["image"]
    c = images[0]["image"]
    torch.testing.assert_close(a, b)
    assert a.shape == (3, 32, 32) and not torch.equal(b, c)


def test_csn_mask_l1_shrinks_the_masks(toy_root, tmp_path):
    """Veit et al.'s L1 term on the CSN masks (train.csn_mask_l1): the same run with a large weight ends with
    smaller masks than without it; the term exists only for the CSN head."""
    csn = {"model.head": "csn", "model.spatial_attention": False, "model.channel_attention": False,
           "train.epochs": 1, "train.lr": 0.05}  # Adam moves each mask entry by at most ~lr a step
    l1 = {}
    for w in (0.0, 0.5):
        res = train(tiny_cfg(toy_root, **csn, **{"train.csn_mask_l1": w}), tmp_path / f"w{w}", "cpu", progress=False)
        l1[w] = float(torch.relu(res.model.csn_masks.detach()).sum())
    assert l1[0.5] < 0.8 * l1[0.0], l1
    assert load_config(["fashionai_s1"]).train.csn_mask_l1 == pytest.approx(5e-4)  # Veit et al.'s weight
