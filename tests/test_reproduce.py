"""The reproduce pipeline end to end on the toy dataset (smoke profile), and its caching."""
import json
import statistics

import pytest
import yaml

from asen.cli import main
from asen.reproduce import PROFILES, Protocol, aggregate, ensure_trained, markdown_table, random_table
from asen.data import load_split_files

pytestmark = pytest.mark.slow  # end to end: trains and evaluates (`make test-fast` leaves it out)

TINY = ["model.attr_embed_size=16", "model.spatial_dim=16", "model.local_spatial_dim=16", "model.embed_size=32",
        "data.global_size=32", "data.local_size=32"]


def test_main_table_and_ablations_smoke(toy_root, tmp_path, capsys):
    args = ["reproduce", "--profile", "smoke", "--data", str(toy_root), "--runs", str(tmp_path / "runs"),
            "--out", str(tmp_path / "results"), "--device", "cpu", "--quiet", "--ablations"]
    for o in TINY:
        args += ["--set", o]
    assert main(args) == 0
    res = json.loads((tmp_path / "results" / "main_table.json").read_text())
    assert list(res["methods"]) == ["random", "triplet", "csn", "asen_aaai", "asen_v2", "asen", "asenpp"]
    assert res["data_version"] is None  # the toy set records no generator (SynthFashion's: see below)
    for m in res["methods"].values():
        assert 0 <= m["overall"]["mean"] <= 100 and len(m["overall"]["values"]) == 1
        assert set(m["per_attribute"]) == {"colour", "position"}
    md = (tmp_path / "results" / "main_table.md").read_text()
    assert "| ASEN++ (global + local) |" in md and "in_batch" in md and "resnet_tiny" in md
    abl = json.loads((tmp_path / "results" / "ablations.json").read_text())
    assert list(abl["methods"]) == ["asenpp", "no_asa", "no_aca", "global_only", "local_only", "no_zoom", "asen"]
    # the stage-1 row is the main table's "asen" row (same runs), and the zoom gains are computed against it
    assert abl["methods"]["asen"]["overall"] == res["methods"]["asen"]["overall"]
    for row in ("asenpp", "no_zoom"):
        d = [abl["methods"][row]["per_attribute"][a]["mean"] - abl["methods"]["asen"]["per_attribute"][a]["mean"]
             for a in ("colour", "position")]  # the toy set has no length attribute: both are "design"
        assert abl["zoom_gains"][row]["design"] == pytest.approx(sum(d) / 2)
        assert abl["zoom_gains"][row]["length"] is None  # no length attribute to average over
    assert abl["beta_sweep"]["1.0"]["mean"] == pytest.approx(abl["methods"]["global_only"]["overall"]["mean"])
    assert abl["beta_sweep"]["0.0"]["mean"] == pytest.approx(abl["methods"]["local_only"]["overall"]["mean"])
    assert (tmp_path / "results" / "ablations.png").stat().st_size > 10_000
    # the ablation run reused the ASEN/ASEN++ runs of the main table (same config hash)
    runs = sorted(p.name.split("-")[0] for p in (tmp_path / "runs").iterdir())
    assert runs.count("asen_s1_seed0") == 1 and runs.count("asen_s2_seed0") == 1
    assert runs.count("no_zoom_s2_seed0") == 1 and not any(r.startswith("no_zoom_s1") for r in runs)
    no_zoom = next((tmp_path / "runs").glob("no_zoom_s2_seed0-*"))
    cfg = yaml.safe_load((no_zoom / "config.yaml").read_text())
    assert cfg["train"]["crop_threshold"] == 0 and cfg["eval"]["crop_threshold"] == 0
    assert "asen_s1_seed0-" in cfg["train"]["init_from"]
    # the AAAI rows are the authors' models, CSN trained as its authors did (the triplet loss alone)

    heads = {}
    for run in (tmp_path / "runs").iterdir():
        cfg = yaml.safe_load((run / "config.yaml").read_text())
        heads[run.name.split("-")[0]] = (cfg["model"]["head"], cfg["train"]["csn_mask_l1"], cfg["train"]["csn_embed_l2"])
    assert heads["asen_aaai_s1_seed0"][0] == "asen_aaai" and heads["asen_v2_s1_seed0"][0] == "asen_v2"
    assert heads["csn_s1_seed0"] == ("csn", 0.0, 0.0)


def test_load_or_train_reuses_finished_runs(toy_root, tmp_path, capsys):
    protocol = Protocol(toy_root, tmp_path / "runs", device=__import__("torch").device("cpu"), profile="smoke",
                        extra_overrides=tuple(TINY), progress=True)
    cfg = protocol.stage1_config("triplet", 0)
    with pytest.raises(FileNotFoundError, match=r"starts from .*pretrain-.*best\.pt, which does not exist yet"):
        ensure_trained(cfg, protocol.runs_root, protocol.device)
    assert cfg.model.pretrained == str(protocol.ensure_pretrained())
    first = ensure_trained(cfg, protocol.runs_root, protocol.device)
    mtime = first.stat().st_mtime_ns
    assert ensure_trained(cfg, protocol.runs_root, protocol.device) == first
    assert first.stat().st_mtime_ns == mtime and "reusing" in capsys.readouterr().out
    other = protocol.stage1_config("triplet", 1)
    assert other.hash() != cfg.hash()


def test_random_baseline_and_table_format(toy_root):
    files = load_split_files(toy_root)
    tables = [random_table(files, s) for s in range(3)]
    agg = aggregate(tables)
    assert len(agg["overall"]["values"]) == 3 and agg["overall"]["std"] > 0
    assert agg["overall"]["values"] == [t.overall for t in tables]
    assert agg["overall"]["mean"] == pytest.approx(statistics.mean(t.overall for t in tables))
    assert agg["overall"]["std"] == pytest.approx(statistics.stdev(t.overall for t in tables))  # sample std
    for a in tables[0].per_attribute:
        assert agg["per_attribute"][a]["mean"] == pytest.approx(statistics.mean(t.per_attribute[a] for t in tables))
    res = {"attributes": ["colour", "position"], "methods": {"random": {"label": "Random", **agg}},
           "seeds": [0, 1, 2], "split": "test", "dataset": "Toy", "protocol": "P."}
    md = markdown_table(res, "T")
    assert "± " in md and "| Random |" in md
    assert set(PROFILES) == {"smoke", "cpu", "gpu"}


def test_train_all_in_worker_processes_matches_one_process(toy_root, tmp_path):
    """Runs trained by `train_all` in parallel worker processes (one thread each) have the same weights as the
    same configs trained in this process with one thread, and finished runs are not trained again."""
    import torch

    from asen.reproduce import is_finished, run_dir_of, train_all

    cpu = torch.device("cpu")
    protocol = Protocol(toy_root, tmp_path / "par", device=cpu, profile="smoke", extra_overrides=tuple(TINY),
                        progress=False, jobs=2)
    cfgs = [protocol.stage1_config("triplet", 0), protocol.stage1_config("asen", 0)]
    threads = torch.get_num_threads()
    torch.set_num_threads(2)  # the two workers get 2 // 2 = 1 thread each
    try:
        train_all(protocol, cfgs)
        torch.set_num_threads(1)
        seq = ensure_trained(cfgs[1], tmp_path / "seq", cpu, progress=False)
    finally:
        torch.set_num_threads(threads)
    assert all(is_finished(c, protocol.runs_root) for c in cfgs)
    par = run_dir_of(cfgs[1], protocol.runs_root) / "checkpoints" / "best.pt"
    a = torch.load(par, weights_only=True)["model"]
    b = torch.load(seq, weights_only=True)["model"]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    mtime = par.stat().st_mtime_ns
    train_all(protocol, cfgs)  # nothing to do
    assert par.stat().st_mtime_ns == mtime


def test_train_all_names_the_run_a_worker_failed_on(toy_root, tmp_path):
    import torch

    from asen.reproduce import train_all

    protocol = Protocol(tmp_path / "no_such_data", tmp_path / "runs", device=torch.device("cpu"), profile="smoke",
                        extra_overrides=tuple(TINY), progress=False, jobs=2, pretrain_configs=())  # from scratch
    cfgs = [protocol.stage1_config("triplet", 0), protocol.stage1_config("asen", 0)]
    with pytest.raises(RuntimeError, match=r"training (triplet|asen)_s1_seed0 failed .*no_such_data"):
        train_all(protocol, cfgs)


def test_train_all_trains_a_stage2_run_after_its_stage1_run(toy_root, tmp_path):
    """A stage-2 config listed before the stage-1 run it starts from still trains after it (in parallel
    workers it would otherwise start from a checkpoint that does not exist yet)."""
    import torch

    from asen.reproduce import is_finished, train_all
    from asen.reproduce.schedule import _schedule

    protocol = Protocol(toy_root, tmp_path / "runs", device=torch.device("cpu"), profile="smoke",
                        extra_overrides=tuple(TINY), progress=False, jobs=2)
    s1 = protocol.stage1_config("asen", 0)
    s2 = protocol.stage2_config_after_stage1("asen", 0)
    other = protocol.stage1_config("triplet", 0)
    order, deps = _schedule([s2, other, s1], protocol.runs_root)
    assert deps == {0: {2}, 1: set(), 2: set()}
    assert order == [2, 0, 1]  # stage 1, its stage 2, then the independent run
    train_all(protocol, [s2, other, s1])
    assert all(is_finished(c, protocol.runs_root) for c in (s1, s2, other))


def test_a_run_trained_on_other_data_is_not_reused(toy_root, tmp_path):
    """run.json records the data fingerprint; after the data under the same path changes, reusing the run is an
    error that names the run folder and how to proceed (not a silent reuse of stale weights)."""
    import shutil

    import torch

    from asen.runs import data_fingerprint

    root = tmp_path / "Toy"
    shutil.copytree(toy_root, root)
    protocol = Protocol(root, tmp_path / "runs", device=torch.device("cpu"), profile="smoke",
                        extra_overrides=tuple(TINY), progress=False)
    cfg = protocol.stage1_config("triplet", 0)
    protocol.ensure_pretrained()
    ckpt = ensure_trained(cfg, protocol.runs_root, protocol.device, progress=False)
    info = json.loads((ckpt.parent.parent / "run.json").read_text())
    assert info["data"] == {"root": str(root), "fingerprint": data_fingerprint(root)}
    assert ensure_trained(cfg, protocol.runs_root, protocol.device, progress=False) == ckpt  # same data: reused
    lines = (root / "label_train.txt").read_text().splitlines()
    (root / "label_train.txt").write_text("\n".join(lines[:-1]) + "\n")  # the data changed
    assert data_fingerprint(root) != info["data"]["fingerprint"]
    with pytest.raises(RuntimeError, match=r"trained on other data .* delete that folder") as err:
        ensure_trained(cfg, protocol.runs_root, protocol.device, progress=False)
    from asen.errors import UserError

    assert isinstance(err.value, UserError)  # the command line prints it as one line, no traceback


def test_every_method_starts_from_the_pretraining_run_unless_told_not_to(toy_root, tmp_path):
    import torch

    from asen.cli import build_parser
    from asen.reproduce import best_checkpoint, protocol_caption

    cpu = torch.device("cpu")
    p = Protocol(toy_root, tmp_path / "runs", device=cpu, profile="smoke", extra_overrides=tuple(TINY))
    pre = p.pretrain_config()
    assert pre.train.stage == 0 and pre.name == "pretrain"
    start = str(best_checkpoint(pre, p.runs_root))
    assert start.startswith(str(tmp_path / "runs" / "pretrain-"))
    for method in ("triplet", "csn", "asen", "no_asa"):
        assert p.stage1_config(method, 0).model.pretrained == start  # one run for every method ...
    assert p.stage1_config("asen", 1).model.pretrained == start  # ... and every seed
    assert p.stage2_config_after_stage1("asen", 0).model.pretrained == start
    assert "pre-trained without labels" in protocol_caption(p)
    scratch = Protocol(toy_root, tmp_path / "runs", device=cpu, profile="smoke", extra_overrides=tuple(TINY),
                       pretrain_configs=())
    assert scratch.pretrain_config() is None and scratch.ensure_pretrained() is None
    assert scratch.stage1_config("asen", 0).model.pretrained == "none"
    assert "from scratch" in protocol_caption(scratch)
    args = build_parser().parse_args(["reproduce", "--no-pretrain"])
    assert args.no_pretrain and not build_parser().parse_args(["reproduce"]).no_pretrain


def test_load_or_train_restarts_a_run_killed_in_its_first_epoch_and_never_retrains_over_another_config(
        toy_root, tmp_path):
    """A cached run folder without last.pt (killed before its first checkpoint) is trained again from the start,
    its leftovers replaced; a folder whose checkpoint holds another config is refused, not trained over."""
    import torch

    from asen.reproduce import run_dir_of
    from asen.runs import RunConfigMismatch

    protocol = Protocol(toy_root, tmp_path / "runs", device=torch.device("cpu"), profile="smoke",
                        extra_overrides=tuple(TINY), progress=False, pretrain_configs=())
    cfg = protocol.stage1_config("triplet", 0)
    run = run_dir_of(cfg, protocol.runs_root)
    (run / "checkpoints").mkdir(parents=True)
    (run / "config.yaml").write_text("name: killed\n")
    (run / "log.jsonl").write_text('{"event": "started"}\n')
    (run / "checkpoints" / ".last.pt.xyz.tmp").write_bytes(b"half")
    best = ensure_trained(cfg, protocol.runs_root, protocol.device, progress=False)
    assert [json.loads(line).get("epoch") for line in (run / "log.jsonl").read_text().splitlines()] == [1]
    assert not (run / "checkpoints" / ".last.pt.xyz.tmp").exists()
    assert torch.load(best, weights_only=True)["config"] == cfg.to_dict()
    # an unfinished run whose checkpoint holds another config: refused, naming the key
    ckpt = torch.load(run / "checkpoints" / "last.pt", weights_only=True)
    ckpt["epoch"] = -1  # unfinished
    ckpt["config"]["train"]["lr"] = 0.5
    torch.save(ckpt, run / "checkpoints" / "last.pt")
    with pytest.raises(RunConfigMismatch, match=r"train\.lr: 0\.5 -> "):
        ensure_trained(cfg, protocol.runs_root, protocol.device, progress=False)


def test_plan_lists_every_run_without_training(toy_root, tmp_path, capsys):
    runs = tmp_path / "runs"
    args = ["reproduce", "--profile", "smoke", "--data", str(toy_root), "--runs", str(runs), "--plan", "--seeds", "0",
            "1", "--ablations"]
    assert main(args) == 0
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if "_seed" in line or line.startswith("pretrain")]
    names = [line.split()[0] for line in lines]
    # the pre-training, 5 trained methods x 2 seeds, ASEN++'s stage 2 x 2, the ablations' 2 x 2 x 2 (asen shared) and
    # the no-zoom control's stage 2 x 2
    assert names[0] == "pretrain" and len(names) == 1 + 10 + 2 + 8 + 2 and len(set(names)) == len(names)
    assert {"asen_aaai_s1_seed1", "asen_v2_s1_seed0", "no_asa_s2_seed1", "asen_s2_seed0",
            "no_zoom_s2_seed1"} <= set(names)
    assert all(line.endswith("to train") for line in lines)
    assert "23 of 23 runs to train" in out
    assert not runs.exists()  # nothing was trained or created


def test_cpu_plan_times_a_step_as_one_of_the_training_processes(toy_root, tmp_path, monkeypatch):
    """The estimate's step runs with the threads each training process gets, and counts every process."""
    import torch

    import asen.estimate
    from asen.reproduce import device_description, device_rate

    seen = []

    def fake_rate(cfg, device, max_images=None, num_attributes=8, repeats=5):
        seen.append(torch.get_num_threads())
        return 1e9

    monkeypatch.setattr(asen.estimate, "measure_rate", fake_rate)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        protocol = Protocol(toy_root, tmp_path / "runs", device=torch.device("cpu"), profile="smoke", jobs=2,
                            progress=False)
        assert device_rate(protocol, (0,)) == 2e9 and seen == [1] and torch.get_num_threads() == 2
        assert device_description(protocol).endswith(", 2 processes x 1 thread")
        one = Protocol(toy_root, tmp_path / "runs", device=torch.device("cpu"), profile="smoke", jobs=1,
                       progress=False)
        assert device_rate(one, (0,)) == 1e9 and seen == [1, 2]
        assert device_description(one).endswith(", 1 process x 2 threads")
    finally:
        torch.set_num_threads(before)


def test_machine_label_names_the_cpu_generation_and_a_gpu():
    from asen.reproduce import machine_info, machine_label

    assert machine_label({"cpu": "AMD EPYC", "cpu_id": "family 23, model 1", "cores": 2}) == \
        "2-core AMD EPYC (family 23, model 1)"
    assert machine_label({"cpu": "AMD EPYC", "cores": 2}) == "2-core AMD EPYC"  # a record from before cpu_id
    assert machine_label({"cpu": "Intel Xeon", "cpu_id": None, "cores": 16, "gpu": "NVIDIA H200"}) == \
        "16-core Intel Xeon, GPU NVIDIA H200"
    here = machine_info()
    assert here["cpu"] in machine_label(here) and "cpu_id" in here


def test_main_table_with_fewer_seeds_for_some_rows(toy_root, tmp_path):
    """method_seeds trains a row for its own seeds only, records them, and the caption names them."""
    from asen.reproduce import run_main_table

    protocol = Protocol(toy_root, tmp_path / "runs", device=__import__("torch").device("cpu"), profile="smoke",
                        extra_overrides=tuple(TINY), progress=False, pretrain_configs=())
    res = run_main_table(protocol, (0, 1), methods=("random", "triplet"), method_seeds={"triplet": (1,)})
    assert res["methods"]["random"]["seeds"] == [0, 1] and len(res["methods"]["random"]["overall"]["values"]) == 2
    assert res["methods"]["triplet"]["seeds"] == [1] and len(res["methods"]["triplet"]["overall"]["values"]) == 1
    assert res["method_seeds"] == {"triplet": [1]}
    assert sorted(p.name.split("-")[0] for p in (tmp_path / "runs").iterdir()) == ["triplet_s1_seed1"]
    assert "Triplet network: seed(s) [1] only" in markdown_table(res, "t")
    with pytest.raises(ValueError, match="at least one seed"):
        run_main_table(protocol, (0,), methods=("random", "triplet"), method_seeds={"triplet": ()})


def test_paired_gap_pairs_by_seed():
    from asen.reproduce import paired_gap

    row = lambda seeds, vals: {"seeds": seeds, "overall": {"values": vals}}  # noqa: E731
    res = {"seeds": [0, 1, 2], "methods": {"a": row([0, 1, 2], [10.0, 12.0, 11.0]),
                                           "b": row([0, 1, 2], [13.0, 14.0, 15.0]), "c": row([2], [20.0])}}
    g = paired_gap(res, "a", "b")
    # per seed 3, 2, 4: mean 3, sd 1, se 1/sqrt(3); 3 > 2 se
    assert g["seeds"] == [0, 1, 2] and g["mean"] == pytest.approx(3.0)
    assert g["se"] == pytest.approx(1 / 3 ** 0.5) and g["clear"]
    one = paired_gap(res, "a", "c")  # paired on seed 2 alone: no spread, never clear
    assert one["seeds"] == [2] and one["mean"] == pytest.approx(9.0) and one["se"] != one["se"] and not one["clear"]
    res["methods"]["d"] = row([5], [1.0])
    with pytest.raises(ValueError, match="share no seed"):
        paired_gap(res, "a", "d")


def test_attribute_groups_split_lengths_from_designs_in_order():
    from asen.reproduce import attribute_groups

    attrs = ["skirt_length", "collar_design", "sleeve_length", "neck_design"]
    assert attribute_groups(attrs) == {"length": ["skirt_length", "sleeve_length"],
                                       "design": ["collar_design", "neck_design"]}
    assert attribute_groups(["colour", "position"]) == {"length": [], "design": ["colour", "position"]}


GPU_TINY = ["data.global_size=32", "data.local_size=32", "model.attr_embed_size=16", "model.spatial_dim=16",
            "model.local_spatial_dim=16", "model.embed_size=32", "data.num_triplets=6", "data.batch_size=3",
            "train.epochs=1", "train.eval_every=1", "data.eval_batch_size=64"]


def test_gpu_profile_is_the_paper_configuration_and_trains_both_stages_on_the_cpu(toy_root, tmp_path):
    """The gpu profile's configs (ResNet-50 / ResNet-34, random triplets in three passes, amp auto, channels-last,
    the image store) train 2 + 2 steps on the CPU at 32 px: the code path, not the speed."""
    import torch

    from asen.reproduce import run_dir_of

    over = (*GPU_TINY, f"data.store_dir={tmp_path / 'store'}")
    p = Protocol(toy_root, tmp_path / "runs", torch.device("cpu"), profile="gpu", extra_overrides=over,
                 progress=False, imagenet=False, pretrain_configs=())
    s1 = p.stage1_config("asen", 0)
    m, d, t = s1.model, s1.data, s1.train
    assert (m.backbone, m.local_backbone, d.global_size, d.sampler, t.forward_passes, t.amp, m.channels_last,
            d.loader) == ("resnet50", "resnet34", 32, "random", 3, "auto", True, "store")
    assert (m.pretrained, m.local_pretrained) == ("none", "none")  # no ImageNet weights, no stage 0: from scratch
    full = Protocol(toy_root, tmp_path / "runs", torch.device("cpu"), profile="gpu", imagenet=True)
    assert full.pretrain_configs == () and full.pretrain_config() is None
    paper = full.stage2_config_after_stage1("asen", 0)
    assert (paper.model.pretrained, paper.model.local_pretrained, paper.data.global_size, paper.data.local_size,
            paper.model.embed_size, paper.train.local_lr, paper.train.lr) == ("imagenet", "imagenet", 224, 112, 1024,
                                                                               1e-4, 1e-5)
    fallback = Protocol(toy_root, tmp_path / "runs", torch.device("cpu"), profile="gpu", imagenet=False)
    pre = fallback.pretrain_config()
    assert pre.train.stage == 0 and pre.model.backbone == "resnet50" and pre.data.global_size == 224
    s1_fb = fallback.stage1_config("asen", 0)
    assert s1_fb.model.pretrained.endswith("best.pt") and s1_fb.model.local_pretrained == "none"
    best1 = ensure_trained(s1, p.runs_root, p.device, progress=False)
    s2 = p.stage2_config("asen", 0, best1)
    best2 = ensure_trained(s2, p.runs_root, p.device, progress=False)
    for cfg, best in ((s1, best1), (s2, best2)):
        log = [json.loads(x) for x in (run_dir_of(cfg, p.runs_root) / "log.jsonl").read_text().splitlines()]
        assert [r["epoch"] for r in log if "epoch" in r and "loss" in r] == [1]
        assert torch.load(best, weights_only=True)["config"]["model"]["backbone"] == "resnet50"
    assert sorted(f.name for f in (tmp_path / "store").glob("*.u8")) == ["train_32px.u8", "train_32px_views.u8"]


def test_imagenet_check_decides_the_gpu_start_and_says_so_once(toy_root, tmp_path, monkeypatch, capsys):
    import torch

    import asen.backbones
    from asen.reproduce import protocol

    calls = []

    def unavailable(names):
        calls.append(tuple(names))
        return False, "offline"

    monkeypatch.setattr(asen.backbones, "imagenet_weights_available", unavailable)
    monkeypatch.setattr(protocol, "_SAID", set())
    for _ in range(2):
        p = Protocol(toy_root, tmp_path, torch.device("cpu"), profile="gpu")
        assert not p.imagenet and p.pretrain_configs == ("synthfashion_gpu_pretrain",)
    assert calls == [("resnet50", "resnet34")] * 2
    err = capsys.readouterr().err
    assert err.count("ImageNet weights cannot be loaded (offline)") == 1 and "synthfashion_gpu_pretrain" in err
    assert "stayed at chance" in err and "use --profile cpu" in err
    monkeypatch.setattr(asen.backbones, "imagenet_weights_available", lambda names: (True, ""))
    assert Protocol(toy_root, tmp_path, torch.device("cpu"), profile="gpu").imagenet
    assert not Protocol(toy_root, tmp_path, torch.device("cpu"), profile="cpu").imagenet  # cpu never asks


def test_gpu_plan_prints_networks_sizes_and_estimates(toy_root, tmp_path, capsys, monkeypatch):
    import asen.backbones
    import asen.reproduce as reproduce

    monkeypatch.setattr(asen.backbones, "imagenet_weights_available", lambda names: (True, ""))
    monkeypatch.setattr(reproduce, "device_rate", lambda protocol, seeds: 2e12)  # the CPU's step is timed elsewhere
    args = ["reproduce", "--profile", "gpu", "--data", str(toy_root), "--runs", str(tmp_path / "runs"), "--plan",
            "--device", "cpu", "--ablations"]
    assert main(args) == 0
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines() if "_seed" in line]
    assert len(rows) == 21 + 12 and not any(r[0] == "pretrain" for r in rows)  # ImageNet start: no stage 0
    s1 = next(r for r in rows if r[0] == "asen_s1_seed0")
    s2 = next(r for r in rows if r[0] == "asen_s2_seed0")
    assert s1[3:5] == ["resnet50", "224"] and s1[5:7] == ["288", "48"]  # 3 x 96 steps of 16 triplets
    assert s2[3:7] == ["resnet50", "+", "resnet34", "224/112"] and s2[7] == "96"
    here, t4 = float(s1[-4]), float(s1[-3])
    assert here == pytest.approx(float(s1[-5]) * 1e15 / 2e12 / 60, abs=0.05)
    assert t4 == pytest.approx(here * 2 / 3.9, abs=0.05)  # the assumed T4 rate: 6 % of 65 TFLOP/s fp16
    assert "estimated training time on a T4" in out and "the tables' test-split passes" in out
    assert "33 of 33 runs to train" in out


def test_cpu_profile_runs_keep_their_config_hashes(toy_root, tmp_path):
    """Adding train.compile (off), data.cache_bytes / data.view_cache_bytes (4 / 2 GiB) and data.attribute_values
    (""), and moving train.csn_mask_l1's default from 5e-4 to 0, changed no cpu-profile config's hash: cached runs
    stay cached."""
    import torch

    from asen.config import HASH_OMITS_DEFAULT

    p = Protocol(toy_root, tmp_path, torch.device("cpu"), profile="cpu")
    cfg = p.stage1_config("asen", 0)
    assert cfg.train.compile is False and (cfg.data.cache_bytes, cfg.data.view_cache_bytes) == (4 << 30, 2 << 30)
    assert cfg.hash() != cfg.replace(**{"train.compile": True}).hash()
    assert cfg.hash() != cfg.replace(**{"data.cache_bytes": 1 << 30}).hash()
    tree = cfg.to_dict()
    for key in ("train.compile", "data.cache_bytes", "data.view_cache_bytes", "data.attribute_values"):
        assert key in HASH_OMITS_DEFAULT
        section, name = key.split(".")
        del tree[section][name]
    assert tree["train"]["csn_mask_l1"] == 0.0
    tree["train"]["csn_mask_l1"] = 5e-4  # the default these runs were hashed with (no effect on the asen head)
    import hashlib

    assert cfg.hash() == hashlib.sha256(json.dumps(tree, sort_keys=True).encode()).hexdigest()[:12]


def test_tables_carry_the_data_version_and_a_reference_of_another_is_not_compared(tmp_path, monkeypatch):
    """A table records the SynthFashion generator version its data came from (meta.json, in the folder or one
    level up; None without one), the caption names it, and load_reference refuses a reference measured on
    another version, as it does another profile."""
    from types import SimpleNamespace

    from asen.reproduce import experiments, tables

    folder = tmp_path / "SynthFashion"
    folder.mkdir()
    (folder / "meta.json").write_text(json.dumps({"name": "SynthFashion", "generator": {"version": "2.2.0"}}))
    assert experiments.data_version(SimpleNamespace(root=folder)) == "2.2.0"
    inner = folder / "images"
    inner.mkdir()
    assert experiments.data_version(SimpleNamespace(root=inner)) == "2.2.0"  # meta.json one level up
    (folder / "meta.json").write_text(json.dumps({"name": "FashionAI"}))
    assert experiments.data_version(SimpleNamespace(root=folder)) is None
    assert experiments.data_version(SimpleNamespace(root=tmp_path / "elsewhere")) is None
    # one meta.json for several datasets, a level up: the folder's own entry, as load_meta reads it
    shared = tmp_path / "data"
    (shared / "SynthFashion").mkdir(parents=True)
    (shared / "meta.json").write_text(json.dumps({"FashionAI": {"name": "FashionAI"},
                                                  "SynthFashion": {"generator": {"version": "2.2.0"}}}))
    assert experiments.data_version(SimpleNamespace(root=shared / "SynthFashion")) == "2.2.0"
    (shared / "FashionAI").mkdir()
    assert experiments.data_version(SimpleNamespace(root=shared / "FashionAI")) is None

    ref = {"dataset": "SynthFashion", "data_version": "2.2.0", "profile": "cpu", "protocol": "p", "methods": {}}
    monkeypatch.setattr(tables, "REFERENCE_DIR", tmp_path)
    (tmp_path / "synthfashion_main_table.json").write_text(json.dumps(ref))
    assert tables.load_reference("main_table", dict(ref)) == ref
    assert tables.load_reference("main_table", {**ref, "data_version": "2.1.0"}) is None
    assert tables.load_reference("main_table", {**ref, "profile": "gpu"}) is None
    table = {**ref, "split": "test", "seeds": [0], "attributes": [], "methods": {}}
    assert "test split of SynthFashion (generator 2.2.0), mean" in markdown_table(table, "t")
    assert "test split of SynthFashion, mean" in markdown_table({**table, "data_version": None}, "t")


def test_aggregate_by_hand():
    """Mean and sample standard deviation (n - 1) over seeds, by hand: overall 10, 12, 17 -> 13 +- sqrt(13)."""
    from asen.evaluate import MapTable

    tables = [MapTable(["a", "b"], {"a": a, "b": b}, {"a": 3, "b": 1}, o, {"a": a - 1, "b": b}, o - 1)
              for o, a, b in ((10.0, 8.0, 16.0), (12.0, 9.0, 21.0), (17.0, 16.0, 20.0))]
    agg = aggregate(tables)
    assert agg["overall"] == {"mean": 13.0, "std": pytest.approx(13 ** 0.5), "values": [10.0, 12.0, 17.0]}
    assert agg["per_attribute"]["a"] == {"mean": 11.0, "std": pytest.approx(19 ** 0.5), "values": [8.0, 9.0, 16.0]}
    assert agg["per_attribute"]["b"]["mean"] == 19.0 and agg["per_attribute"]["b"]["std"] == pytest.approx(7 ** 0.5)
    assert agg["overall_without_invisible"]["mean"] == 12.0
    assert agg["per_attribute_without_invisible"]["a"]["mean"] == 10.0 and agg["queries"] == {"a": 3, "b": 1}
    assert aggregate(tables[:1])["overall"] == {"mean": 10.0, "std": 0.0, "values": [10.0]}  # one seed: no spread
