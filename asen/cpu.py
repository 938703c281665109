"""CPU platform safeguards, applied when :mod:`asen` is imported (no paper section: platform plumbing).

On Intel Xeon CPUs with AVX-512 (and AMX), oneDNN's AVX-512 code path, multi-threaded, aborted the process with
``double free or corruption (!prev)`` / ``free(): invalid pointer`` inside ``loss.backward()`` of the narrow CPU
protocol model (``resnet_tiny`` of width 8, channels-last, 32 images a step, 2 threads; torch 2.14.1). The same run
completes with ``ONEDNN_MAX_CPU_ISA=AVX2``, with one thread, or with oneDNN switched off, and still aborts with
``ATEN_CPU_CAPABILITY=avx2``: the fault is in oneDNN's AVX-512 kernels, not in ATen's. It is not Intel's alone: on
an AMD EPYC Zen 4 (CPU family 25, model 17; AVX-512, no AMX) ``tools/onednn_crash_probe.py`` saw the same training
step end in a segmentation fault in 3 runs of 3 with ``ONEDNN_MAX_CPU_ISA=DEFAULT`` and in none capped at AVX2, while
each convolution and BatchNorm of it alone ran clean (2026-12-01). On AMD EPYC CPUs without AVX-512 (first-generation
Zen, family 23) oneDNN already runs its AVX2 kernels and nothing of this shows.

The least costly of the three ways out is the first: oneDNN keeps running (and keeps every thread), only its
instruction set is capped at AVX2 on machines that have AVX-512. oneDNN reads ``ONEDNN_MAX_CPU_ISA`` once, when it
creates its first primitive, not when torch is imported, so setting it when :mod:`asen` is imported works even
after ``import torch``, as long as no convolution has run yet (``tests/test_cpu.py`` checks that on any CPU). The
variable is inherited by DataLoader workers and other child processes.

A value the user set is left alone: ``ONEDNN_MAX_CPU_ISA=DEFAULT`` runs oneDNN's full instruction set (and the
crash, on the machines above). ``python -m benchmarks.run --sections isa`` measures what the cap costs.
``tools/onednn_crash_probe.py`` narrows the crash down to an op and a shape on a machine that shows it.
"""
from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Mapping, MutableMapping

ISA_VARIABLE = "ONEDNN_MAX_CPU_ISA"
SAFE_ISA = "AVX2"  # the instruction set oneDNN is capped at on AVX-512 machines
_SET_BY_ASEN = "ASEN_CAPPED_ONEDNN_ISA"  # marks that the value above came from this module, not from the user


def _cpuinfo(cpuinfo: str | Path) -> dict[str, str] | None:
    """``/proc/cpuinfo``'s fields, each at its first occurrence (the first CPU's), or None where it cannot be read."""
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return None
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    return fields


def cpu_flags(cpuinfo: str | Path = "/proc/cpuinfo") -> set[str]:
    """The instruction-set flags of the first CPU in ``/proc/cpuinfo`` (empty where there is no such file)."""
    return set((_cpuinfo(cpuinfo) or {}).get("flags", "").split())


def cpu_model(cpuinfo: str | Path = "/proc/cpuinfo") -> str:
    """The CPU's model name (``/proc/cpuinfo``; else :func:`platform.processor`)."""
    return (_cpuinfo(cpuinfo) or {}).get("model name") or platform.processor() or platform.machine()


def cpu_id(cpuinfo: str | Path = "/proc/cpuinfo") -> str | None:
    """The CPU's family and model numbers, ``"family 25, model 17"`` (``None`` where ``/proc/cpuinfo`` lacks them).

    A virtual machine may name every generation of a vendor's CPUs alike (``"AMD EPYC"`` for a first-generation
    Zen, family 23, as for a Zen 4, family 25, which runs this project's CPU protocol 2.5x faster and gives other
    last digits), so run records and tables note these numbers beside the model name.
    """
    fields = _cpuinfo(cpuinfo) or {}
    family, model = fields.get("cpu family"), fields.get("model")
    return f"family {family}, model {model}" if family and model else None


def cpu_label(described: Mapping[str, object]) -> str:
    """A CPU in words from :func:`describe`'s fields: ``"AMD EPYC (family 25, model 17)"``; the name alone for
    records made before ``cpu_id`` was noted."""
    name = str(described.get("cpu") or "unknown CPU")
    return name + (f" ({described['cpu_id']})" if described.get("cpu_id") else "")


def needs_isa_cap(flags: set[str]) -> bool:
    """Whether oneDNN would pick its AVX-512 kernels on a CPU with these flags."""
    return "avx512f" in flags


def cap_onednn_isa(environ: MutableMapping[str, str] | None = None, flags: set[str] | None = None,
                   isa: str = SAFE_ISA) -> str | None:
    """Cap oneDNN's instruction set at ``isa`` on AVX-512 CPUs, unless the user chose one.

    Args:
        environ: the environment to change (default ``os.environ``).
        flags: the CPU flags (default: :func:`cpu_flags` of this machine).
        isa: the cap (a ``ONEDNN_MAX_CPU_ISA`` value).
    Returns:
        The value of ``ONEDNN_MAX_CPU_ISA`` this call set, or ``None`` when it set nothing (no AVX-512, or the
        user's own value, which is kept).
    """
    environ = os.environ if environ is None else environ
    if ISA_VARIABLE in environ:
        return None
    if not needs_isa_cap(cpu_flags() if flags is None else flags):
        return None
    environ[ISA_VARIABLE] = isa
    environ[_SET_BY_ASEN] = "1"
    return isa


def describe(environ: Mapping[str, str] | None = None) -> dict[str, str | bool | None]:
    """What a run record notes about the CPU: model (name, family and model numbers), AVX-512, and oneDNN's cap and
    who set it."""
    environ = os.environ if environ is None else environ
    value = environ.get(ISA_VARIABLE)
    return {
        "cpu": cpu_model(),
        "cpu_id": cpu_id(),
        "avx512": needs_isa_cap(cpu_flags()),
        "onednn_max_cpu_isa": value,
        "onednn_cap_set_by": None if value is None else ("asen" if environ.get(_SET_BY_ASEN) else "user"),
    }
