"""Run folders (asen.runs): the lock, refusal of an existing run, overwrite, atomic fsynced writes, leftover
temporary files, config differences, RNG states that load with weights_only."""
import json
import os
import socket

import numpy as np
import pytest
import torch

from asen import runs as R
from asen.config import Config


def test_a_held_run_folder_refuses_a_second_holder(tmp_path):
    run = tmp_path / "r"
    with R.RunDir(run, Config(), "cpu") as held:
        info = json.loads((run / ".lock").read_text())
        assert info["pid"] == os.getpid() and info["host"] == socket.gethostname() and info["started"]
        expected = (rf"^{run} is in use by pid {os.getpid()} on {socket.gethostname()} \(started .*\) "
                    rf"\(lock file {run}/\.lock\); wait for that run to end, or use another --run-dir$")
        with pytest.raises(R.RunLockedError, match=expected):
            R.RunDir(run, Config(), "cpu", resume=True)
        assert held.path == run
    with R.RunDir(run, Config(), "cpu", resume=True):  # released at the end of the with block
        pass


def test_an_existing_run_is_refused_and_overwrite_deletes_it(tmp_path):
    run = tmp_path / "r"
    with R.RunDir(run, Config(), "cpu") as first:
        first.log(epoch=1, loss=0.5)
        R.atomic_torch_save({"epoch": 0}, first.last)
    with pytest.raises(R.RunExistsError, match=rf"^{run} already holds a run .*--resume .*--overwrite"):
        R.RunDir(run, Config(), "cpu")
    assert (run / "log.jsonl").exists() and (run / "checkpoints" / "last.pt").exists()  # untouched
    (run / "notes.md").write_text("kept")
    with R.RunDir(run, Config(name="second"), "cpu", overwrite=True) as second:
        assert second.read_log() == [] and not list(second.checkpoints.iterdir())
        assert "second" in (run / "config.yaml").read_text()
    assert (run / "notes.md").read_text() == "kept"
    # a resumed run rewrites nothing
    before = (run / "run.json").read_text()
    with R.RunDir(run, Config(name="third"), "cpu", resume=True):
        assert (run / "run.json").read_text() == before and "second" in (run / "config.yaml").read_text()
    # an empty folder (or one with unrelated files) is not a run
    (tmp_path / "fresh").mkdir()
    (tmp_path / "fresh" / "README").write_text("x")
    assert not R.is_run_folder(tmp_path / "fresh")
    R.RunDir(tmp_path / "fresh", Config(), "cpu").close()


def test_leftover_temporaries_are_removed_when_a_run_starts(tmp_path):
    run = tmp_path / "r"
    (run / "checkpoints").mkdir(parents=True)
    stale = [run / "checkpoints" / ".last.pt.x1y2.tmp", run / "checkpoints" / "best.pt.tmp", run / ".run.json.a.tmp"]
    for f in stale:
        f.write_bytes(b"partial")
    keep = run / "checkpoints" / "notes.tmp.txt"
    keep.write_text("k")
    R.RunDir(run, Config(), "cpu").close()
    assert not any(f.exists() for f in stale) and keep.exists()


def test_atomic_save_fsyncs_the_file_before_the_rename_and_the_folder_after(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        events.append(("fsync", "dir" if os.path.isdir(f"/proc/self/fd/{fd}") else "file"))
        real_fsync(fd)

    def replace(a, b):
        events.append(("replace", os.path.basename(b)))
        real_replace(a, b)

    monkeypatch.setattr(R.os, "fsync", fsync)
    monkeypatch.setattr(R.os, "replace", replace)
    R.atomic_torch_save({"x": torch.ones(2)}, tmp_path / "c.pt")
    assert events == [("fsync", "file"), ("replace", "c.pt"), ("fsync", "dir")]
    assert torch.load(tmp_path / "c.pt", weights_only=True)["x"].tolist() == [1.0, 1.0]


def test_a_failed_save_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "c.pt"
    R.atomic_torch_save({"v": 1}, path)

    def full_disk(obj, fh):
        fh.write(b"half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(R.torch, "save", full_disk)
    with pytest.raises(OSError, match="No space left"):
        R.atomic_torch_save({"v": 2}, path)
    monkeypatch.undo()
    assert torch.load(path, weights_only=True) == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["c.pt"]


def test_config_diff_names_every_differing_key():
    old = Config().to_dict()
    new = Config().with_overrides(["train.lr=0.0003", "data.root=data/x"]).to_dict()
    old["train"]["lr"] = 0.001
    assert R.config_diff(old, new) == [f"data.root: {old['data']['root']!r} -> 'data/x'", "train.lr: 0.001 -> 0.0003"]
    assert R.config_diff(old, old) == []
    assert R.config_diff({"a": {"b": 1}}, {"a": {}}) == ["a.b: 1 -> '(absent)'"]


def test_rng_state_loads_with_weights_only_and_restores_numpy(tmp_path):
    np.random.seed(3)
    np.random.standard_normal()  # a cached Gaussian in the state
    R.atomic_torch_save({"rng": R.rng_state()}, tmp_path / "s.pt")
    expected = (np.random.random(5), torch.rand(3))
    R.set_rng_state(torch.load(tmp_path / "s.pt", weights_only=True)["rng"])
    np.testing.assert_array_equal(np.random.random(5), expected[0])
    torch.testing.assert_close(torch.rand(3), expected[1])
    # the raw NumPy tuple that checkpoints held before is accepted too
    state = {"torch": torch.get_rng_state(), "numpy": np.random.get_state()}
    a = np.random.random(3)
    R.set_rng_state(state)
    np.testing.assert_array_equal(np.random.random(3), a)
