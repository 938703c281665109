"""A tiny end-to-end run: stage 1, resume, stage 2, evaluation, compared with random embeddings."""
import json

import numpy as np
import pytest
import torch

from asen.checkpoint import load_model
from asen.config import load_config
from asen.data import load_split_files
from asen.evaluate import evaluate, map_table, random_features
from asen.runs import RunConfigMismatch
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
    assert info["cpu"]["cpu"] and isinstance(info["cpu"]["avx512"], bool)
    assert info["cpu"]["onednn_max_cpu_isa"] == ("AVX2" if info["cpu"]["avx512"] else None) or \
        info["cpu"]["onednn_cap_set_by"] == "user"
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
    with pytest.raises(RunConfigMismatch, match=r"config differs from the one given in train\.lr: 0\.003 -> 0\.001 "):
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
    good = torch.load(tmp_path / "n" / "checkpoints" / "last.pt", weights_only=True)
    import asen.train as T

    real = T.compute_loss
    monkeypatch.setattr(T, "compute_loss", lambda *a, **k: (real(*a, **k)[0] * float("nan"), {}))
    with pytest.raises(TrainingDiverged, match=r"loss is nan at epoch 2, step 1.*last good checkpoint"):
        train(cfg, tmp_path / "n", "cpu", progress=False, resume=True)
    kept = torch.load(tmp_path / "n" / "checkpoints" / "last.pt", weights_only=True)
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
                                 "data.steps_per_epoch": 1, "train.local_init": "global",
                                 "train.init_from": str(run / "checkpoints" / "best.pt")})
    model = train(cfg2, tmp_path / "copy", "cpu", progress=False, max_epochs=0).model  # the start, untrained
    g, loc = model.global_branch.state_dict(), model.local_branch.state_dict()
    assert g.keys() == loc.keys()
    for k in g:
        torch.testing.assert_close(g[k], loc[k], msg=k)
    bad = tiny_cfg(toy_root, **{"model.local_branch": True, "train.stage": 2, "train.local_init": "global",
                                "model.local_spatial_dim": 8, "train.init_from": "scratch"})
    with pytest.raises(ValueError, match="identical branches"), pytest.warns(UserWarning, match="untrained"):
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
    # `--set model.head=csn` alone is the ASEN authors' CSN (no regulariser); Veit et al.'s weights come with
    # method_csn_veit
    assert load_config(["fashionai_s1"], ["model.head=csn"]).train.csn_mask_l1 == 0.0
    veit = load_config(["fashionai_s1", "method_csn_veit"]).train
    assert (veit.csn_mask_l1, veit.csn_embed_l2) == pytest.approx((5e-4, 5e-3))


def test_the_csn_weight_leaves_other_heads_hashes_and_resumes_alone():
    """train.csn_mask_l1's default went from 5e-4 to 0: a run of another head, on which it has no effect, keeps
    the hash (and the resume check) it had with the old default; a CSN run's hash follows its weight."""
    from asen.config import identity_tree

    asen = load_config(["synthfashion_cpu"])
    assert asen.hash() == asen.replace(**{"train.csn_mask_l1": 5e-4}).hash()
    saved = asen.to_dict()
    saved["train"]["csn_mask_l1"] = 5e-4  # as a checkpoint written before the change holds it
    assert identity_tree(saved) == identity_tree(asen.to_dict())
    csn = load_config(["synthfashion_cpu", "method_csn"])
    assert csn.hash() != csn.replace(**{"train.csn_mask_l1": 5e-4}).hash()


# ------------------------------------------------------------------------------------ run folders, checkpoints
def quick_cfg(root, **extra):
    """Two one-step epochs: enough to write and overwrite checkpoints."""
    return tiny_cfg(root, **{"train.epochs": 2, "data.steps_per_epoch": 1, "data.max_eval_queries": 4, **extra})


def test_training_refuses_data_with_other_value_counts_before_any_work(toy_root, tmp_path):
    """data.attribute_values (the authors' DATA.ATTRIBUTES.NUM) against meta.json: no run folder is made."""
    from asen.layout import DataError

    run = tmp_path / "r"
    with pytest.raises(DataError, match=r"its meta\.json has 2 attributes with \[3, 3\] values, but the config "
                                        r"expects 8 with \[6, 9, 8, 6, 5, 5, 10, 5\]"):
        train(quick_cfg(toy_root, **{"data.attribute_values": "6,9,8,6,5,5,10,5"}), run, "cpu", progress=False)
    assert not run.exists()
    assert train(quick_cfg(toy_root, **{"data.attribute_values": "3,3", "train.epochs": 1}), run, "cpu",
                 progress=False).last_epoch == 1  # the toy data's own counts pass


def test_rerunning_a_run_folder_is_refused_unless_overwrite(toy_root, tmp_path):
    from asen.runs import RunExistsError

    run = tmp_path / "r"
    train(quick_cfg(toy_root), run, "cpu", progress=False)
    best = run / "checkpoints" / "best.pt"
    before = (best.read_bytes(), (run / "log.jsonl").read_text(), (run / "config.yaml").read_text())
    with pytest.raises(RunExistsError, match=rf"{run} already holds a run.*--resume.*--overwrite"):
        train(quick_cfg(toy_root, **{"train.seed": 1}), run, "cpu", progress=False)
    assert (best.read_bytes(), (run / "log.jsonl").read_text(), (run / "config.yaml").read_text()) == before
    # overwrite: the earlier run's files are deleted first, nothing of it is mixed into the new one
    (run / "notes.txt").write_text("mine")
    train(quick_cfg(toy_root, **{"train.seed": 1, "train.epochs": 1}), run, "cpu", progress=False, overwrite=True)
    assert [r["epoch"] for r in map(json.loads, (run / "log.jsonl").read_text().splitlines())] == [1]
    assert torch.load(best, weights_only=True)["config"]["train"]["seed"] == 1
    assert json.loads((run / "run.json").read_text())["config_hash"] == quick_cfg(
        toy_root, **{"train.seed": 1, "train.epochs": 1}).hash()
    assert (run / "notes.txt").read_text() == "mine"  # not a run file: kept


def test_cli_refuses_a_second_run_in_a_folder(toy_root, tmp_path, capsys):
    from asen.cli import main

    run = tmp_path / "c"
    args = ["train", "-c", "fashionai_s1", "--device", "cpu", "--quiet", "--run-dir", str(run)]
    for k, v in {**TINY_MODEL, "data.root": str(toy_root), "data.global_size": 32, "data.sampler": "in_batch",
                 "data.images_per_batch": 32, "data.steps_per_epoch": 1, "data.max_eval_queries": 4,
                 "data.num_workers": 0, "train.epochs": 1}.items():
        args += ["--set", f"{k}={v}"]
    assert main(args) == 0
    capsys.readouterr()
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {run} already holds a run") and "\n" not in err
    assert main(args + ["--overwrite"]) == 0


def test_a_second_process_on_a_run_folder_is_refused(toy_root, tmp_path):
    import os
    import socket
    import subprocess
    import sys

    from asen.runs import RunLockedError

    run = tmp_path / "locked"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys; from asen.config import Config; from asen.runs import RunDir; "
         f"r = RunDir({str(run)!r}, Config(), 'cpu'); print('held', flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": os.getcwd()})
    try:
        assert holder.stdout.readline().strip() == "held"
        config_before = (run / "config.yaml").read_text()
        with pytest.raises(RunLockedError, match=rf"{run} is in use by pid {holder.pid} on "
                                                 rf"{socket.gethostname()} \(started .*\); wait"):
            train(quick_cfg(toy_root), run, "cpu", progress=False, overwrite=True)
        assert (run / "config.yaml").read_text() == config_before and not (run / "log.jsonl").exists()
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    train(quick_cfg(toy_root, **{"train.epochs": 1}), run, "cpu", progress=False, overwrite=True)  # released


def test_best_is_on_disk_before_last_records_it(toy_root, tmp_path, monkeypatch):
    """A crash (here a full disk) right after an improved epoch never leaves last.pt naming a best.pt that is
    not there: best.pt is written first."""
    import asen.engine as E

    real = E.atomic_torch_save
    calls = []

    def save(obj, path):
        calls.append(path.name)
        if path.name == "last.pt":
            raise OSError(28, "No space left on device")
        real(obj, path)

    monkeypatch.setattr(E, "atomic_torch_save", save)
    run = tmp_path / "crash"
    with pytest.raises(OSError, match="No space left"):
        train(quick_cfg(toy_root), run, "cpu", progress=False)
    assert calls == ["best.pt", "last.pt"]
    best = torch.load(run / "checkpoints" / "best.pt", weights_only=True)
    assert best["epoch"] == 0 and best["best_epoch"] == 1
    assert not list((run / "checkpoints").glob("*.tmp")) and not list((run / "checkpoints").glob(".*.tmp"))


def test_leftover_temporary_files_are_removed_on_resume(toy_root, tmp_path):
    run = tmp_path / "tmpfiles"
    cfg = quick_cfg(toy_root)
    train(cfg, run, "cpu", progress=False, max_epochs=1)
    stale = [run / "checkpoints" / ".last.pt.k1ll3d.tmp", run / "checkpoints" / "best.pt.tmp"]
    for f in stale:
        f.write_bytes(b"half a checkpoint")
    train(cfg, run, "cpu", progress=False, resume=True)
    assert not any(f.exists() for f in stale)


def test_checkpoints_load_with_weights_only(stage1):
    _, run = stage1
    ckpt = torch.load(run / "checkpoints" / "last.pt", weights_only=True)  # optimizer, scheduler, rng, config
    assert set(ckpt) >= {"model", "optimizer", "scheduler", "rng", "config"}
    assert isinstance(ckpt["rng"]["numpy"]["keys"], torch.Tensor)


def test_stage2_needs_a_stage1_checkpoint(toy_root, tmp_path):
    from asen.config import ConfigError

    s2 = {"model.local_branch": True, "train.stage": 2, "train.epochs": 1, "data.steps_per_epoch": 1,
          "data.max_eval_queries": 4}
    # the example is the reference's start, the *last* stage-1 checkpoint (its README's --resume .../checkpoint.pth.tar);
    # the best one is named as the alternative
    with pytest.raises(ConfigError, match=r"train\.init_from is empty.*--set train\.init_from=runs/<stage-1 run>/"
                                          r"checkpoints/last\.pt .*best\.pt.*init_from=scratch"):
        train(tiny_cfg(toy_root, **s2), tmp_path / "s2", "cpu", progress=False)
    assert not (tmp_path / "s2").exists()  # refused before anything was written
    with pytest.warns(UserWarning, match="untrained weights"):
        train(tiny_cfg(toy_root, **s2, **{"train.init_from": "scratch"}), tmp_path / "s2", "cpu", progress=False)


def test_stage2_refuses_a_stage1_checkpoint_of_other_widths(toy_root, tmp_path):
    """A stage-1 run of another model.tiny_width: one line naming a weight, both shapes and the setting (it was
    a RuntimeError of load_state_dict, with a traceback)."""
    from asen.config import ConfigError
    from asen.model import build_model
    from asen.train import load_stage1

    narrow = tiny_cfg(toy_root, **{"model.tiny_width": 8})
    path = tmp_path / "narrow.pt"
    torch.save({"model": build_model(narrow.model, 2, "cpu").state_dict(), "config": narrow.to_dict(),
                "num_attributes": 2}, path)
    wide = tiny_cfg(toy_root, **{"model.tiny_width": 16, "model.local_branch": True, "train.stage": 2})
    with pytest.raises(ConfigError, match=rf"^{path}: stage-1 weights do not fit this model: "
                                          r"global_branch\.backbone\.conv1\.weight \(8, 3, 3, 3\) \(this model: "
                                          r"\(16, 3, 3, 3\)\).*model\.tiny_width=8 \(here 16\)"):
        load_stage1(build_model(wide.model, 2, "cpu"), path, toy_root)


def _with_attributes(path, out, n):
    """A copy of a stage-1 checkpoint whose model has ``n`` attributes."""
    ckpt = torch.load(path, weights_only=True)
    w = ckpt["model"]["attr_embedding.weight"]
    ckpt["model"]["attr_embedding.weight"] = torch.randn(n, w.shape[1])
    ckpt["num_attributes"] = n
    torch.save(ckpt, out)
    return out


def test_stage2_refuses_a_stage1_checkpoint_of_another_dataset(stage1, toy_root, tmp_path):
    from asen.checkpoint import CheckpointError

    _, run = stage1
    three = _with_attributes(run / "checkpoints" / "best.pt", tmp_path / "three.pt", 3)
    cfg2 = tiny_cfg(toy_root, **{"model.local_branch": True, "train.stage": 2, "train.init_from": str(three)})
    with pytest.raises(CheckpointError, match=rf"{three} has 3 attributes but the data in {toy_root} has 2"):
        train(cfg2, tmp_path / "s2", "cpu", progress=False)
    for bad, content, what in [("empty.pt", b"", "is empty"), ("text.pt", b"not a checkpoint", "not a readable"),
                               ("cut.pt", (run / "checkpoints" / "best.pt").read_bytes()[:5000], "not a readable")]:
        (tmp_path / bad).write_bytes(content)
        cfg = tiny_cfg(toy_root, **{"model.local_branch": True, "train.stage": 2,
                                    "train.init_from": str(tmp_path / bad)})
        with pytest.raises(CheckpointError, match=rf"^{tmp_path / bad}: .*{what}.*expected a stage-1 checkpoint"):
            train(cfg, tmp_path / "s2", "cpu", progress=False)


def test_evaluate_refuses_another_attribute_count_and_records_the_data(stage1, toy_root, tmp_path, capsys):
    from asen.cli import main
    from asen.runs import data_fingerprint

    _, run = stage1
    for n in (3, 1):  # more attributes than the data: ran silently before; fewer: an IndexError
        bad = _with_attributes(run / "checkpoints" / "best.pt", tmp_path / f"n{n}.pt", n)
        capsys.readouterr()
        assert main(["evaluate", "--checkpoint", str(bad), "--device", "cpu", "--quiet"]) == 2
        err = capsys.readouterr().err.strip()
        assert err == (f"error: {bad} has {n} attributes but the data in {toy_root} has 2 (its meta.json): the "
                       f"checkpoint was trained on another dataset; use that dataset's folder (data.root) or its "
                       f"own checkpoint")
        assert not bad.with_suffix(".test.json").exists()
    out = tmp_path / "res.json"
    assert main(["evaluate", "--checkpoint", str(run / "checkpoints" / "best.pt"), "--device", "cpu", "--quiet",
                 "--out", str(out)]) == 0
    res = json.loads(out.read_text())
    assert res["data"] == {"root": str(toy_root), "fingerprint": data_fingerprint(toy_root),
                           "split": "the dataset's split files"}


def test_three_forward_passes_normalise_each_third_with_its_own_statistics(toy_root):
    from asen.model import build_model
    from asen.train import embed_in_passes

    cfg = tiny_cfg(toy_root)
    torch.manual_seed(0)
    model = build_model(cfg.model, 2, "cpu").train()
    x, attrs = torch.randn(12, 3, 32, 32), torch.tensor([0, 1] * 6)
    emb3, maps3 = embed_in_passes(model, x, attrs, "global", 3)
    parts = [model(x[i:i + 4], attrs[i:i + 4], branch="global") for i in (0, 4, 8)]
    torch.testing.assert_close(emb3, torch.cat([e for e, _ in parts]))
    torch.testing.assert_close(maps3, torch.cat([m for _, m in parts]))
    emb1, _ = embed_in_passes(model, x, attrs, "global", 1)
    assert not torch.allclose(emb1, emb3)  # one pass: BatchNorm statistics of all 12 images
    # the paper's configs (and the authors' YAML files) ask for three passes and the reference's tie order
    for name in ("fashionai_s1", "darn_s2", "deepfashion_s1"):
        cfg = load_config([name])
        assert cfg.train.forward_passes == 3 and cfg.eval.ties == "reference"


def test_the_aaai_heads_embed_anchor_negative_positive_in_that_order(toy_root):
    """The AAAI code's Tripletnet calls the network on anchors, negatives, positives; the ASEN++ code on anchors,
    positives, negatives. The order only moves BatchNorm's running statistics; the embeddings come back in the
    batch's order (anchors | positives | negatives)."""
    from asen.model import build_model
    from asen.train import AAAI_PASS_ORDER, embed_in_passes, pass_order

    assert pass_order(load_config(["fashionai_s1", "method_asen_aaai"]), in_batch=False) == AAAI_PASS_ORDER == (0, 2, 1)
    assert pass_order(load_config(["fashionai_s1", "method_csn"]), in_batch=False) == AAAI_PASS_ORDER
    assert pass_order(load_config(["fashionai_s1"]), in_batch=False) is None  # ASEN++: in turn
    assert pass_order(load_config(["synthfashion_cpu", "method_asen_aaai"]), in_batch=True) is None  # one pass

    cfg = tiny_cfg(toy_root)
    torch.manual_seed(0)
    model = build_model(cfg.model, 2, "cpu").train()
    x, attrs = torch.randn(12, 3, 32, 32), torch.tensor([0, 1] * 6)
    seen = []
    hook = model.register_forward_pre_hook(lambda mod, args, kwargs: seen.append(args[0][0, 0, 0, 0].item()),
                                           with_kwargs=True)
    emb, _ = embed_in_passes(model, x, attrs, "global", 3, order=(0, 2, 1))
    hook.remove()
    assert seen == [x[0, 0, 0, 0].item(), x[8, 0, 0, 0].item(), x[4, 0, 0, 0].item()]
    torch.testing.assert_close(emb, embed_in_passes(model, x, attrs, "global", 3)[0])  # same batch statistics
    with pytest.raises(ValueError, match="not an order of 3 passes"):
        embed_in_passes(model, x, attrs, "global", 3, order=(0, 0, 1))


def test_the_store_loader_trains_exactly_as_the_pil_loader(toy_root, tmp_path):
    logs, weights = {}, {}
    for loader in ("pil", "store"):
        cfg = tiny_cfg(toy_root, **{"train.epochs": 1, "data.steps_per_epoch": 3, "data.loader": loader,
                                    "data.store_dir": str(tmp_path / "store")})
        res = train(cfg, tmp_path / loader, "cpu", progress=False)
        logs[loader] = [r["loss"] for r in map(json.loads, (tmp_path / loader / "log.jsonl").read_text().splitlines())
                        if "loss" in r]
        weights[loader] = res.model.state_dict()
    assert logs["pil"] == logs["store"] and len(logs["pil"]) == 1
    for k, v in weights["pil"].items():
        torch.testing.assert_close(weights["store"][k], v, rtol=0, atol=0, msg=k)
    assert any((tmp_path / "store").iterdir())
    with pytest.raises(ValueError, match="data.loader=store .* cannot apply data.augment or data.hflip"):
        train(tiny_cfg(toy_root, **{"data.loader": "store", "data.hflip": True}), tmp_path / "x", "cpu",
              progress=False)


def test_map_table_orders_exact_ties_as_asked():
    from asen.data import Meta

    meta = Meta("toy", ("a",), (2,), (("x", "y"),))
    q = np.array([[1.0, 0.0]], np.float32)
    c = np.array([[1.0, 0.0], [1.0, 0.0]], np.float32)  # a tie: the relevant candidate comes first in file order
    q_items, c_items = np.array([[0, 0, 0]]), np.array([[0, 0, 0], [1, 0, 1]])
    assert map_table(meta, q, c, q_items, c_items, ties="stable").overall == pytest.approx(100.0)
    assert map_table(meta, q, c, q_items, c_items, ties="reference").overall == pytest.approx(50.0)


@pytest.mark.parametrize("sampler", ["random", "in_batch"])
def test_stage2_loss_is_the_weighted_sum_of_global_local_and_alignment(toy_root, sampler):
    """ASEN++ Eq. 12: global_weight L_global + local_weight L_local + align_weight L_align, recomputed by hand from the
    embeddings the model returned. With the paper's sampler the alignment is summed over anchors, positives and
    negatives (Eq. 11); with the in-batch one it is the mean over the batch."""
    from asen.data import ImageSet, collate_images
    from asen.model import build_model
    from asen.train import compute_loss, make_sampler

    extra = {"model.local_branch": True, "train.stage": 2, "train.global_weight": 0.5, "train.local_weight": 2.0,
             "train.align_weight": 3.0, "train.margin": 0.3, "train.crop_threshold": 0.1}
    if sampler == "random":
        extra.update({"data.sampler": "random", "data.num_triplets": 6, "data.batch_size": 6})
    else:
        extra.update({"data.images_per_batch": 16})
    cfg = tiny_cfg(toy_root, **extra)
    files = load_split_files(toy_root)
    meta = next(iter(make_sampler(cfg, files).epoch(0)))
    images = ImageSet(files.root, files.filenames["train"], cfg.data.global_size, keep_original=True)
    batch = collate_images([images[int(i)] for i in meta["images"]])
    torch.manual_seed(0)
    model = build_model(cfg.model, files.meta.num_attributes).train()
    seen = {"global": [], "local": []}
    hook = model.register_forward_hook(lambda mod, args, kwargs, out: seen[kwargs["branch"]].append(out[0].detach()),
                                       with_kwargs=True)
    loss, parts = compute_loss(model, batch, meta, cfg, torch.device("cpu"))
    hook.remove()
    g, loc = torch.cat(seen["global"]).double(), torch.cat(seen["local"]).double()
    assert g.shape == loc.shape == (len(batch["image"]), 32)

    def cos(x, y):
        return (x * y).sum(1) / (x.norm(dim=1) * y.norm(dim=1))

    def hinge(emb):
        m = 0.3
        if sampler == "random":
            a, p, n = emb.chunk(3)
            return torch.clamp(m - cos(a, p) + cos(a, n), min=0).mean()
        attrs, vals = torch.as_tensor(meta["attributes"]), torch.as_tensor(meta["values"])
        z = emb / emb.norm(dim=1, keepdim=True)
        terms = [max(0.0, m - float(z[i] @ z[j]) + float(z[i] @ z[k]))
                 for i in range(len(z)) for j in range(len(z)) for k in range(len(z))
                 if i != j and attrs[i] == attrs[j] == attrs[k] and vals[i] == vals[j] != vals[k]]
        active = [t for t in terms if t > 0]
        return torch.tensor(sum(active) / max(1, len(active)), dtype=torch.float64)

    if sampler == "random":
        align = sum((1 - cos(gp, lp)).mean() for gp, lp in zip(g.chunk(3), loc.chunk(3)))
    else:
        align = (1 - cos(g, loc)).mean()
    lg, ll = hinge(g), hinge(loc)
    assert float(ll) > 0 and float(align) > 0
    assert parts["global"] == pytest.approx(float(lg), rel=1e-4)
    assert parts["local"] == pytest.approx(float(ll), rel=1e-4)
    assert parts["align"] == pytest.approx(float(align), rel=1e-4)
    assert float(loss.detach()) == pytest.approx(float(0.5 * lg + 2.0 * ll + 3.0 * align), rel=1e-4)
