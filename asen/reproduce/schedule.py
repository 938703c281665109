"""Training many runs: which order, how many processes (:func:`train_all`), and the machine they run on."""
from __future__ import annotations

import os
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import torch

from ..config import Config
from ..data import ImageCache
from .cache import best_checkpoint, ensure_trained, is_finished, run_dir_of

if TYPE_CHECKING:
    from .protocol import Protocol


def usable_cores() -> int:
    """The CPU cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


GPU_GIB_PER_JOB = 20
"""GPU memory set aside for each concurrent run on one CUDA device (:func:`default_jobs`): the gpu profile's
ResNet-50 + ResNet-34 at 48 images a step in bf16, its optimizer and the image store, with room to spare."""


def default_jobs(device: torch.device | str = "cpu") -> int:
    """How many runs to train at once, each in its own process.

    On a CPU: one per core, at most 4 (each keeps its own decoded-image cache, ~1.5 GB with SynthFashion small).
    Small models train faster as N one-thread processes than as one N-thread one (measured on 2 cores: about 1.8x
    the images per second).

    On CUDA: the runs of the gpu profile (48 images a step) leave a large GPU mostly idle, waiting on kernel
    launches from one CPU thread, so several share the device: one per :data:`GPU_GIB_PER_JOB` GiB of its memory
    and per two CPU cores, at most 4 (a T4 or L4 gets 1, a 40 GB A100 on 12 cores 2, an 80 GB A100 or an H200
    4). ``asen reproduce --jobs N`` overrides it.
    """
    device = torch.device(device)
    if device.type != "cuda":
        return max(1, min(4, usable_cores()))
    gib = torch.cuda.get_device_properties(device).total_memory / 2**30
    return max(1, min(4, usable_cores() // 2, int(gib // GPU_GIB_PER_JOB)))


_WORKER_CACHE: list[ImageCache] = []
"""In a worker process of :func:`train_all`: its decoded-image cache (set by :func:`_start_worker`), shared by
the runs it trains one after the other. Empty in any other process."""


def _start_worker(image_bytes: int, view_bytes: int) -> None:
    """Initialiser of a :func:`train_all` worker process: its own cache, of the protocol's sizes."""
    _WORKER_CACHE[:] = [ImageCache(image_bytes, view_bytes)]


def _train_job(cfg_dict: dict, runs_root: str, threads: int, device: str = "cpu") -> str:
    """One training run in a worker process (quiet; ``threads`` torch threads; the worker's image cache)."""
    from ..config import from_dict

    torch.set_num_threads(threads)
    cfg = from_dict(cfg_dict, source="asen reproduce")
    return str(ensure_trained(cfg, Path(runs_root), torch.device(device), progress=False,
                              image_cache=_WORKER_CACHE[0] if _WORKER_CACHE else None))


def _schedule(todo: Sequence[Config], runs_root: Path) -> tuple[list[int], dict[int, set[int]]]:
    """The order to start ``todo`` in, and each config's dependencies (indices into ``todo``).

    A config depends on the configs whose best checkpoint it starts from (a stage-2 run's ``train.init_from``
    names its stage-1 run's ``best.pt``, a stage-1 run's ``model.pretrained`` a pre-training run's) and comes
    after them. Runs in such a chain come before independent
    runs, so that a stage-2 run can start as soon as its stage-1 run is done while independent runs fill the
    other processes; otherwise the order given is kept.
    """
    where = {str(best_checkpoint(c, runs_root)): k for k, c in enumerate(todo)}
    deps: dict[int, set[int]] = {}
    for k, c in enumerate(todo):
        srcs = {str(Path(f)) for f in (c.train.init_from, c.model.pretrained) if f not in ("", "none", "imagenet")}
        deps[k] = {where[f] for f in srcs if f in where}
    order: list[int] = []

    def place(k: int) -> None:
        if k not in order:
            for d in sorted(deps[k]):
                place(d)
            order.append(k)

    for k in range(len(todo)):
        place(k)
    chained = {k for k, d in deps.items() if d} | {d for ds in deps.values() for d in ds}
    return sorted(order, key=lambda k: k not in chained), deps  # stable: dependencies stay first


def process_layout(protocol: Protocol, runs: int | None = None) -> tuple[int, int]:
    """How :func:`train_all` trains: (processes, torch threads each), for ``runs`` runs to train (None: as many as
    the processes). ``protocol.jobs`` or :func:`default_jobs` processes, no more than the runs, sharing this
    process's threads."""
    jobs = protocol.jobs or default_jobs(protocol.device)
    if runs is not None:
        jobs = max(1, min(jobs, runs))
    return jobs, max(1, torch.get_num_threads() // jobs)


def train_all(protocol: Protocol, configs: Sequence[Config], desc: str = "training") -> None:
    """Make sure every config has a finished run, training the missing ones ``protocol.jobs`` at a time.

    A config that starts from another one's best checkpoint (``train.init_from``, e.g. a stage-2 run after its
    stage-1 run) is trained after it; runs start as soon as a process is free, in the order of
    :func:`_schedule`, so a stage-2 run can use a core that would otherwise wait for the last stage-1 run.

    With one job, runs train one after the other in this process (with progress bars). With several (the
    default on a CPU with several cores and on a large GPU, :func:`default_jobs`), each run trains in its own
    process with ``cores // jobs`` threads, on the protocol's device (several processes share one GPU); a run's
    result does not depend on which process trained it, except for the floating-point summation order of the
    thread count (CPU training is reproducible for a given thread count).
    """
    unique = list({c.hash() + c.name: c for c in configs}.values())
    pre = protocol.pretrain_config()
    if pre is not None and any(c.model.pretrained == str(best_checkpoint(pre, protocol.runs_root)) for c in unique):
        unique = [c for c in unique if c.train.stage != 0 or c.hash() != pre.hash()]
        protocol.ensure_pretrained()  # every other run waits for it: first, in this process, with all threads
    todo = [c for c in unique if not is_finished(c, protocol.runs_root)]
    if not todo:
        return
    order, deps = _schedule(todo, protocol.runs_root)
    jobs, threads = process_layout(protocol, len(todo))
    if jobs <= 1:
        for k in order:
            ensure_trained(todo[k], protocol.runs_root, protocol.device, progress=protocol.progress,
                           image_cache=protocol.image_cache)
        return
    import multiprocessing as mp

    from tqdm import tqdm

    done: set[int] = set()
    waiting = list(order)
    sizes = (protocol.image_cache.images.max_bytes, protocol.image_cache.views.max_bytes)
    pool = ProcessPoolExecutor(max_workers=jobs, mp_context=mp.get_context("spawn"), initializer=_start_worker,
                               initargs=sizes)
    try:
        bar = tqdm(total=len(todo), desc=f"{desc}: {len(todo)} runs, {jobs} processes x {threads} thread(s)",
                   disable=not protocol.progress)
        running: dict = {}

        def submit_ready() -> None:
            for k in [k for k in waiting if deps[k] <= done][: jobs - len(running)]:
                waiting.remove(k)
                running[pool.submit(_train_job, todo[k].to_dict(), str(protocol.runs_root), threads,
                                    str(protocol.device))] = k

        submit_ready()
        while running:
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for fut in finished:
                k = running.pop(fut)
                cfg = todo[k]
                try:
                    fut.result()
                except Exception as exc:
                    raise RuntimeError(f"training {cfg.name} failed in a worker process ({exc}); its run folder is "
                                       f"{run_dir_of(cfg, protocol.runs_root)}") from exc
                done.add(k)
                bar.set_postfix_str(cfg.name)
                bar.update()
            submit_ready()
        bar.close()
    except BaseException:  # a failed run, Ctrl-C, SIGTERM (asen.cli): stop now, not after the runs in progress
        stop_workers(pool)
        raise
    finally:
        pool.shutdown(wait=True)


def stop_workers(pool: ProcessPoolExecutor) -> None:
    """Cancel the runs that have not started and end the ones in progress (their run folders keep the last
    finished epoch's checkpoint, from which the next ``asen reproduce`` resumes them), so that a failure or an
    interruption ends ``train_all`` at once instead of after minutes of training nobody waits for. The workers are
    ended first; the pool then finds itself broken and its shutdown reaps them (one thread joins them, so their exit
    status is kept)."""
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        process.terminate()
    pool.shutdown(wait=True, cancel_futures=True)


def machine_info() -> dict[str, Any]:
    """Where a table was measured: CPU (model, AVX-512, oneDNN cap), usable cores, torch version, GPU if any."""
    from .. import cpu

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {**cpu.describe(), "cores": usable_cores(), "torch": torch.__version__, "gpu": gpu,
            "date": time.strftime("%Y-%m-%d")}


def machine_label(machine: dict[str, Any]) -> str:
    """A table's machine (:func:`machine_info`) in words: ``"2-core AMD EPYC (family 25, model 17)"``, with
    ``", GPU <name>"`` when it had one. Records made before ``cpu_id`` was noted give the CPU's name alone."""
    from ..cpu import cpu_label

    cpu = cpu_label(machine)
    label = f"{machine['cores']}-core {cpu}" if machine.get("cores") else cpu
    return label + (f", GPU {machine['gpu']}" if machine.get("gpu") else "")
