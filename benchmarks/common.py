"""Shared benchmark helpers: timing (median of repeats), peak memory, machine description, markdown."""
from __future__ import annotations

import ctypes
import gc
import os
import platform
import re
import resource
import statistics
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from asen import cpu


def machine_info(device: str = "cpu") -> dict[str, Any]:
    """CPU model, cores, load, library versions and the GPU name (if any), for the results header."""
    info: dict[str, Any] = {
        **cpu.describe(),  # model name, family/model numbers, AVX-512, oneDNN cap
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "device": device,
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "load_average_start": list(os.getloadavg()),
    }
    info["gpu_bf16_dense_peak_tflops"] = bf16_peak_tflops(info["gpu"])
    try:
        import faiss

        info["faiss"] = faiss.__version__
        info["faiss_gpus"] = faiss.get_num_gpus()
    except ImportError:
        info["faiss"] = None
    try:
        from asen.runs import git_commit

        info["git_commit"] = git_commit()
    except Exception:  # noqa: BLE001 - informative only
        info["git_commit"] = "unknown"
    return info


# Dense (no sparsity) bf16 tensor-core peaks from the vendor datasheets, TFLOP/s; first match wins, so the
# PCIe H100 comes before the SXM one. NVL parts (H100 NVL, H200 NVL) have lower clocks: not listed (unknown).
BF16_DENSE_PEAK_TFLOPS: tuple[tuple[str, float | None], ...] = (
    (r"\bNVL\b", None),
    (r"\bH200\b", 989.4),
    (r"\bH100\b.*\bPCIe\b", 756.0),
    (r"\bH100\b", 989.4),
    (r"\bA100\b", 312.0),
    (r"\bL4\b", 121.0),
)


def bf16_peak_tflops(gpu_name: str | None) -> float | None:
    """The datasheet dense bf16 tensor-core peak (TFLOP/s) of a GPU by its ``torch.cuda.get_device_name``, or
    ``None`` where it is not in :data:`BF16_DENSE_PEAK_TFLOPS` (e.g. ``"NVIDIA L40S"``, an NVL part)."""
    if not gpu_name:
        return None
    for pattern, peak in BF16_DENSE_PEAK_TFLOPS:
        if re.search(pattern, gpu_name, flags=re.IGNORECASE):
            return peak
    return None


def tflops_achieved(images_per_s: float | None, flops_per_image: float | None) -> float | None:
    """Achieved TFLOP/s: images/s x FLOPs per image / 1e12 (``None`` if either is missing)."""
    if images_per_s is None or flops_per_image is None:
        return None
    return images_per_s * flops_per_image / 1e12


def percent_of_peak(tflops: float | None, peak_tflops: float | None) -> float | None:
    """``tflops`` as a percentage of ``peak_tflops`` (``None`` if either is missing)."""
    if tflops is None or not peak_tflops:
        return None
    return 100.0 * tflops / peak_tflops


def count_flops(fn: Callable[[], Any]) -> tuple[int, Any]:
    """FLOPs of ``fn()`` as :class:`torch.utils.flop_counter.FlopCounterMode` counts them (matmuls and
    convolutions, forward and backward, 2 FLOPs a multiply-add; elementwise ops, norms and ``roi_align`` are
    not counted). Returns ``(flops, fn's return value)``."""
    from torch.utils.flop_counter import FlopCounterMode  # noqa: PLC0415

    with FlopCounterMode(display=False) as counter:
        value = fn()
    return int(counter.get_total_flops()), value


def sync(device: str | torch.device) -> None:
    """Wait for queued CUDA work (no-op on the CPU), so that wall-clock timings are honest."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def summary(times: list[float]) -> dict[str, Any]:
    """Median, min, max of repeat timings (seconds) and the repeat count."""
    return {"median_s": statistics.median(times), "min_s": min(times), "max_s": max(times),
            "repeats": len(times), "times_s": [round(t, 6) for t in times]}


def time_call(fn: Callable[[], Any], repeats: int, warmup: int = 0) -> dict[str, Any]:
    """Run ``fn`` ``warmup`` times untimed, then ``repeats`` times timed; returns :func:`summary`."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return summary(times)


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def _malloc_trim() -> None:
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


class PeakMemory:
    """Peak memory of a block, over the memory in use when it starts.

    CPU: the process's resident-set high-water mark (``VmHWM``, reset through ``/proc/self/clear_refs``) minus
    the RSS at the start, after ``gc.collect()`` and ``malloc_trim`` (freed memory goes back to the system);
    where the reset is not allowed, ``getrusage`` max RSS growth (a lower bound). CUDA: also
    ``torch.cuda.max_memory_allocated`` over the start.
    """

    def __init__(self, device: str | torch.device = "cpu") -> None:
        self.device = torch.device(device)
        self.rss_mb: float | None = None
        self.cuda_mb: float | None = None
        self.method = ""

    def __enter__(self) -> "PeakMemory":
        gc.collect()
        _malloc_trim()
        if self.device.type == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            self._cuda0 = torch.cuda.memory_allocated()
        try:
            Path("/proc/self/clear_refs").write_text("5")
            self.method = "VmHWM - VmRSS at start (clear_refs reset)"
            self._rss0 = _status_kb("VmRSS")
        except OSError:
            self.method = "ru_maxrss growth (lower bound)"
            self._rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize()
            self.cuda_mb = (torch.cuda.max_memory_allocated() - self._cuda0) / 2**20
        if self.method.startswith("VmHWM"):
            self.rss_mb = (_status_kb("VmHWM") - self._rss0) / 1024
        else:
            self.rss_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - self._rss0) / 1024

    def to_dict(self) -> dict[str, Any]:
        return {"peak_rss_mb": None if self.rss_mb is None else round(self.rss_mb, 1),
                "peak_cuda_mb": None if self.cuda_mb is None else round(self.cuda_mb, 1), "method": self.method}


def md_table(header: list[str], rows: list[list[Any]]) -> str:
    """A GitHub-flavoured markdown table."""
    def cell(v: Any) -> str:
        if v is None:
            return "-"
        if isinstance(v, float):
            return f"{v:.4g}" if abs(v) < 1000 else f"{v:,.0f}"
        return str(v)
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(out)
