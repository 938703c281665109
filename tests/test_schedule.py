"""How many runs `asen reproduce` trains at once, and on which device its worker processes train them
(asen.reproduce.schedule). The processes themselves are exercised end to end in test_reproduce.py (slow)."""
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import pytest
import torch

from asen.reproduce import Protocol, schedule

GiB = 2**30


def _gpu(monkeypatch, gib: float, cores: int) -> None:
    monkeypatch.setattr(schedule, "usable_cores", lambda: cores)
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda device: SimpleNamespace(total_memory=gib * GiB))


@pytest.mark.parametrize("gib, cores, jobs", [
    (139.8, 16, 4),  # H200: memory for 6, capped at 4
    (79.3, 12, 3),   # A100 80 GB
    (39.4, 12, 1),   # A100 40 GB: 20 GiB a run
    (40.0, 12, 2),
    (14.7, 2, 1),    # T4 on Colab (2 cores)
    (22.0, 2, 1),    # L4
    (139.8, 2, 1),   # a large GPU on 2 cores: one launching thread each, at most cores // 2
    (139.8, 6, 3),
])
def test_default_jobs_on_a_gpu_by_memory_and_cores(monkeypatch, gib, cores, jobs):
    _gpu(monkeypatch, gib, cores)
    assert schedule.default_jobs(torch.device("cuda")) == jobs
    assert schedule.default_jobs("cuda:0") == jobs


def test_default_jobs_on_a_cpu_one_per_core_at_most_4(monkeypatch):
    for cores, jobs in ((1, 1), (2, 2), (3, 3), (16, 4)):
        monkeypatch.setattr(schedule, "usable_cores", lambda c=cores: c)
        assert schedule.default_jobs() == jobs == schedule.default_jobs(torch.device("cpu"))


class _InlinePool(ThreadPoolExecutor):
    """ProcessPoolExecutor's signature, threads instead of processes (the test only checks what is submitted)."""

    def __init__(self, max_workers, mp_context=None, initializer=None, initargs=()):
        super().__init__(max_workers=max_workers)
        self.made = max_workers


def test_train_all_on_cuda_hands_the_device_to_each_worker(toy_root, tmp_path, monkeypatch):
    """On a GPU several runs share the device (one process each): every worker job gets the protocol's device,
    the number of workers is default_jobs(device), and a stage-2 run is submitted after its stage-1 run."""
    _gpu(monkeypatch, 139.8, 16)
    calls = []

    def job(cfg_dict, runs_root, threads, device):
        calls.append((cfg_dict["name"], device, threads))
        return runs_root

    pools = []

    def pool(**kw):
        pools.append(_InlinePool(**kw))
        return pools[-1]

    monkeypatch.setattr(schedule, "_train_job", job)
    monkeypatch.setattr(schedule, "ProcessPoolExecutor", pool)
    protocol = Protocol(toy_root, tmp_path / "runs", device=torch.device("cuda:0"), profile="smoke",
                        progress=False, pretrain_configs=())
    s1 = protocol.stage1_config("asen", 0)
    cfgs = [protocol.stage2_config_after_stage1("asen", 0), s1, protocol.stage1_config("triplet", 0),
            protocol.stage1_config("csn", 0), protocol.stage1_config("triplet", 1)]
    schedule.train_all(protocol, cfgs)
    names = [c[0] for c in calls]
    assert sorted(names) == sorted(c.name for c in cfgs)
    assert names.index("asen_s1_seed0") < names.index("asen_s2_seed0")
    assert {c[1] for c in calls} == {"cuda:0"}
    assert pools[0].made == 4  # min(4, 16 // 2, 139 // 20)
    assert {c[2] for c in calls} == {max(1, torch.get_num_threads() // 4)}


def test_train_all_jobs_1_on_cuda_trains_in_this_process(toy_root, tmp_path, monkeypatch):
    """--jobs 1 (or a small GPU) keeps the old path: one run after the other in this process, no pool."""
    _gpu(monkeypatch, 14.7, 2)
    trained = []
    monkeypatch.setattr(schedule, "ensure_trained", lambda cfg, root, device, **kw: trained.append((cfg.name, device)))
    monkeypatch.setattr(schedule, "ProcessPoolExecutor", None)  # must not be used
    protocol = Protocol(toy_root, tmp_path / "runs", device=torch.device("cuda"), profile="smoke", progress=False,
                        pretrain_configs=())
    cfgs = [protocol.stage1_config("triplet", 0), protocol.stage1_config("csn", 0)]
    schedule.train_all(protocol, cfgs)
    assert trained == [("triplet_s1_seed0", torch.device("cuda")), ("csn_s1_seed0", torch.device("cuda"))]


def test_stop_workers_ends_the_runs_in_progress():
    """A worker process busy with a run is terminated (exit by SIGTERM), not waited for, and jobs not started are
    cancelled: a failed run or an interruption ends train_all at once."""
    import multiprocessing as mp
    import signal
    import time
    from concurrent.futures import ProcessPoolExecutor

    pool = ProcessPoolExecutor(max_workers=2, mp_context=mp.get_context("spawn"))
    busy = [pool.submit(time.sleep, 300) for _ in range(2)]
    queued = [pool.submit(time.sleep, 300) for _ in range(3)]
    while not all(f.running() for f in busy):
        time.sleep(0.05)
    processes = list(pool._processes.values())
    schedule.stop_workers(pool)
    pool.shutdown(wait=True)
    assert [p.exitcode for p in processes] == [-signal.SIGTERM] * 2
    assert sum(f.cancelled() for f in queued) >= 1  # one may already be in the call queue


def test_train_all_stops_its_workers_on_an_interruption(toy_root, tmp_path, monkeypatch):
    """Ctrl-C or SIGTERM (asen.cli turns it into SystemExit) while runs train: the workers are stopped, and the
    interruption goes on up."""
    stopped = []
    monkeypatch.setattr(schedule, "_train_job", lambda *a: None)
    monkeypatch.setattr(schedule, "ProcessPoolExecutor", lambda **kw: _InlinePool(**kw))
    monkeypatch.setattr(schedule, "stop_workers", stopped.append)

    def interrupted(*args, **kwargs):
        raise SystemExit(143)

    monkeypatch.setattr(schedule, "wait", interrupted)
    protocol = Protocol(toy_root, tmp_path / "runs", device=torch.device("cpu"), profile="smoke", progress=False,
                        pretrain_configs=(), jobs=2)
    with pytest.raises(SystemExit):
        schedule.train_all(protocol, [protocol.stage1_config("asen", 0), protocol.stage1_config("triplet", 0)])
    assert len(stopped) == 1
