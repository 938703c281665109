"""The epoch loop shared by training and pre-training (asen.engine): resume restores the optimiser, scheduler and
RNG states, an interrupted run resumes to the result of an uninterrupted one, a non-finite loss stops the run with
one line, checkpoints are written best first. A toy model (a linear layer on random data drawn from torch's and
NumPy's global RNGs), so that only the loop is tested."""
import json
import math

import numpy as np
import pytest
import torch

from asen.config import load_config
from asen.engine import EpochLoop, TrainingDiverged, checkpoint_state, epoch_record, make_scheduler
from asen.errors import UserError
from asen.pretrain import PretrainingDiverged
from asen.runs import RunConfigMismatch, read_log, seed_everything

STEPS = 4


def toy_cfg(**extra):
    over = {"train.epochs": 3, "train.lr": 0.05, "train.scheduler": "cosine", "train.seed": 0, **extra}
    return load_config(["synthfashion_cpu"], [f"{k}={v}" for k, v in over.items()])


def toy_run(run_dir, cfg, resume=False, max_epochs=None):
    """A run of the toy model through an EpochLoop, as asen.train and asen.pretrain run theirs."""
    seed_everything(cfg.train.seed)
    model = torch.nn.Linear(4, 1)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.train.lr)
    sched = make_scheduler(opt, cfg, STEPS)
    with EpochLoop(run_dir, cfg, "cpu", resume=resume, progress=False) as loop:
        loop.restore({"model": model}, opt, sched)
        for epoch in loop.epochs(max_epochs):
            total = 0.0
            for step, _ in enumerate(loop.steps(range(STEPS), STEPS, f"epoch {epoch + 1}")):
                x = torch.randn(8, 4)  # the data comes from the global RNGs: a resumed run must restore them
                target = x.sum(dim=1, keepdim=True) + float(np.random.rand())
                loss = ((model(x) - target) ** 2).mean()
                loop.check_loss(loss, epoch, step)
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
                total += float(loss.detach())
            record = epoch_record(epoch, 1.0, 8 * STEPS, opt, loss=total / STEPS)
            state = checkpoint_state({"model": model.state_dict()}, opt, sched, epoch, config=cfg.to_dict())
            loop.save(state, state, record)
    return model, opt, sched


def _log_values(run):
    return [{k: v for k, v in r.items() if k != "time"} for r in read_log(run) if "event" not in r]


def _assert_same_state(a, b, path="state"):
    if isinstance(a, torch.Tensor):
        assert torch.equal(a, b), path
    elif isinstance(a, dict):
        assert list(a) == list(b), path
        for k in a:
            _assert_same_state(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_same_state(x, y, f"{path}[{i}]")
    else:
        assert a == b, path


def test_an_interrupted_run_resumes_to_the_uninterrupted_result(tmp_path):
    cfg = toy_cfg()
    full = toy_run(tmp_path / "full", cfg)
    rng_after_full = torch.get_rng_state(), np.random.get_state()[1].copy()
    toy_run(tmp_path / "part", cfg, max_epochs=1)  # "interrupted" after one epoch
    torch.manual_seed(123), np.random.seed(123)  # a resumed process starts with other RNG states
    resumed = toy_run(tmp_path / "part", cfg, resume=True)
    for a, b in zip(full, resumed):  # model, optimiser, scheduler
        _assert_same_state(a.state_dict(), b.state_dict())
    assert torch.equal(torch.get_rng_state(), rng_after_full[0])
    assert np.array_equal(np.random.get_state()[1], rng_after_full[1])
    assert _log_values(tmp_path / "full") == _log_values(tmp_path / "part")
    assert [r["epoch"] for r in _log_values(tmp_path / "part")] == [1, 2, 3]
    assert {"event": "resume", "epoch": 1} in [{k: v for k, v in r.items() if k != "time"}
                                               for r in read_log(tmp_path / "part")]
    for name in ("best.pt", "last.pt"):
        _assert_same_state(torch.load(tmp_path / "full" / "checkpoints" / name, weights_only=True),
                           torch.load(tmp_path / "part" / "checkpoints" / name, weights_only=True))


def test_restore_loads_the_optimiser_scheduler_and_rng_states(tmp_path):
    cfg = toy_cfg()
    model, opt, sched = toy_run(tmp_path / "r", cfg, max_epochs=1)
    expected_torch, expected_numpy = torch.rand(5), np.random.rand(5)  # the draws after the checkpoint
    torch.manual_seed(7), np.random.seed(7)
    fresh = torch.nn.Linear(4, 1)
    fresh_opt = torch.optim.Adam(fresh.parameters(), lr=cfg.train.lr)
    fresh_sched = make_scheduler(fresh_opt, cfg, STEPS)
    with EpochLoop(tmp_path / "r", cfg, "cpu", resume=True, progress=False) as loop:
        ckpt = loop.restore({"model": fresh}, fresh_opt, fresh_sched)
        assert ckpt["epoch"] == 0 and loop.start == 1 and loop.epochs() == range(1, 3)
        assert loop.epochs(max_epochs=1) == range(1, 2)
    _assert_same_state(fresh.state_dict(), model.state_dict())
    _assert_same_state(fresh_opt.state_dict(), opt.state_dict())  # Adam's moments and step counts
    assert fresh_opt.state_dict()["state"][0]["step"] == STEPS
    assert fresh_sched.last_epoch == sched.last_epoch == STEPS
    assert fresh_opt.param_groups[0]["lr"] == opt.param_groups[0]["lr"] < cfg.train.lr  # the schedule's lr
    assert torch.equal(torch.rand(5), expected_torch)
    assert np.array_equal(np.random.rand(5), expected_numpy)


def test_resume_needs_a_last_checkpoint_and_the_same_config(tmp_path):
    cfg = toy_cfg()
    model = torch.nn.Linear(4, 1)
    opt = torch.optim.Adam(model.parameters())
    with EpochLoop(tmp_path / "none", cfg, "cpu", resume=True, progress=False) as loop:
        with pytest.raises(FileNotFoundError, match=r"cannot resume: .*last\.pt does not exist"):
            loop.restore({"model": model}, opt, make_scheduler(opt, cfg, STEPS))
    # a run that stopped before its first checkpoint (config.yaml, run.json written): without --resume it is
    # refused as an existing run, so the way out is --overwrite, not "start the run without --resume"
    with EpochLoop(tmp_path / "early", cfg, "cpu", progress=False):
        pass
    with EpochLoop(tmp_path / "early", cfg, "cpu", resume=True, progress=False) as loop:
        with pytest.raises(FileNotFoundError, match=r"last\.pt does not exist \(the run in .*early stopped before "
                                                    r"its first checkpoint\); start it over with --overwrite$"):
            loop.restore({"model": model}, opt, make_scheduler(opt, cfg, STEPS))
    with EpochLoop(tmp_path / "new", cfg, "cpu", progress=False) as loop:  # not resuming: nothing is loaded
        assert loop.restore({"model": model}, opt, make_scheduler(opt, cfg, STEPS)) is None and loop.start == 0
    toy_run(tmp_path / "r", cfg, max_epochs=1)
    with pytest.raises(RunConfigMismatch, match=r"train\.lr: 0\.05 -> 0\.01"):
        toy_run(tmp_path / "r", toy_cfg(**{"train.lr": 0.01}), resume=True)


def test_a_non_finite_loss_stops_the_run_with_one_line(tmp_path):
    cfg = toy_cfg()
    with EpochLoop(tmp_path / "d", cfg, "cpu", progress=False) as loop:
        loop.check_loss(torch.tensor(3.0), 0, 0)  # finite: nothing happens
        with pytest.raises(TrainingDiverged) as err:
            loop.check_loss(torch.tensor(float("nan")), 1, 2, {"global": 0.5}, "Lower train.lr, or clip.")
        assert str(err.value) == ("loss is nan at epoch 2, step 3 ({'global': 0.5}); no checkpoint was written yet. "
                                  "Lower train.lr, or clip.")
        assert isinstance(err.value, UserError)  # the CLI prints it as one `error:` line
    diverged = [r for r in read_log(tmp_path / "d") if r.get("event") == "diverged"]
    assert [(r["epoch"], r["step"]) for r in diverged] == [(1, 2)] and math.isnan(diverged[0]["loss"])
    toy_run(tmp_path / "p", cfg, max_epochs=1)
    with EpochLoop(tmp_path / "p", cfg, "cpu", resume=True, progress=False, kind="pre-training",
                   diverged=PretrainingDiverged) as loop:
        with pytest.raises(PretrainingDiverged) as err:
            loop.check_loss(torch.tensor(float("inf")), 0, 0)
    last = tmp_path / "p" / "checkpoints" / "last.pt"
    assert str(err.value) == f"pre-training loss is inf at epoch 1, step 1; the last good checkpoint is {last}. " \
                             f"Lower train.lr."
    assert "\n" not in str(err.value) and isinstance(err.value, TrainingDiverged)


def test_checkpoints_are_written_best_first_and_only_where_the_process_writes(tmp_path, monkeypatch):
    import asen.engine as E

    cfg = toy_cfg()
    saved = []
    monkeypatch.setattr(E, "atomic_torch_save", lambda obj, path: saved.append((path.name, obj["epoch"])))
    with EpochLoop(tmp_path / "w", cfg, "cpu", progress=False) as loop:
        loop.save({"epoch": 0}, {"epoch": 0}, {"epoch": 1, "loss": 0.5})
        loop.save({"epoch": 1}, None, {"epoch": 2, "loss": 0.25})  # no better: best.pt is left as it is
    assert saved == [("best.pt", 0), ("last.pt", 0), ("last.pt", 1)]
    assert [{k: v for k, v in r.items() if k != "time"} for r in read_log(tmp_path / "w")] == \
        [{"epoch": 1, "loss": 0.5}, {"epoch": 2, "loss": 0.25}]
    saved.clear()
    with EpochLoop(tmp_path / "rank1", cfg, "cpu", progress=False, write=False) as loop:  # another rank
        assert loop.run is None
        loop.save({"epoch": 0}, {"epoch": 0}, {"epoch": 1})
        loop.log(event="resume", epoch=1)
    assert saved == [] and not (tmp_path / "rank1").exists()


def test_the_epoch_record_keeps_its_keys_in_order():
    opt = torch.optim.Adam([{"params": [torch.nn.Parameter(torch.zeros(1))], "lr": 0.1},
                            {"params": [torch.nn.Parameter(torch.zeros(1))], "lr": 0.01}])
    record = epoch_record(2, 4.004, 100, opt, loss=0.5, instance_accuracy=0.25)
    assert list(record) == ["epoch", "loss", "instance_accuracy", "seconds", "images_per_second", "lr"]
    assert record == {"epoch": 3, "loss": 0.5, "instance_accuracy": 0.25, "seconds": 4.0, "images_per_second": 25.0,
                      "lr": [0.1, 0.01]}
    assert json.loads(json.dumps(record)) == record


@pytest.mark.parametrize("scheduler", ["step", "cosine"])
def test_the_schedules_learning_rates_by_hand(scheduler):
    """make_scheduler's per-step factors, written out: ``step`` multiplies by lr_decay every lr_step epochs (the
    paper's 0.9 every 3 epochs here), ``cosine`` anneals as 0.5 (1 + cos(pi t / T)) to 0 at the last step."""
    cfg = toy_cfg(**{"train.scheduler": scheduler, "train.lr": 1.0, "train.lr_decay": 0.9, "train.lr_step": 3,
                     "train.epochs": 7})
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=cfg.train.lr)
    sched = make_scheduler(opt, cfg, 2)  # two steps an epoch, 14 in all
    lrs = []
    for _ in range(15):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    if scheduler == "step":  # epochs 0-2: 1, epochs 3-5: 0.9, epoch 6 (and past the end): 0.81
        expected = [1.0] * 6 + [0.9] * 6 + [0.81] * 3
    else:
        expected = [0.5 * (1 + math.cos(math.pi * min(s, 14) / 14)) for s in range(15)]
        assert expected[7] == pytest.approx(0.5) and expected[14] == pytest.approx(0.0)
    assert lrs == pytest.approx(expected, abs=1e-12)
