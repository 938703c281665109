"""Reproduce the shape of the paper's main comparison and ablation tables (ASEN++ Sec. IV) on SynthFashion.

Methods of the main table: Random embeddings, Triplet network, CSN (as the ASEN authors train it), ASEN and
ASEN_v2 (the AAAI-2020 code's ASENet and ASENet_V2, :mod:`asen.aaai`), the ASEN++ global branch alone (stage 1)
and ASEN++ (global + local). Each is trained with shipped configs (``synthfashion_cpu`` + a method overlay),
``seeds`` times; the table reports mean +- std of test MAP per attribute and overall, with and without the
"Invisible" values. Every backbone starts from one label-free pre-training run (``synthfashion_cpu_pretrain``,
:mod:`asen.pretrain`), the stand-in for the paper's ImageNet weights; ``Protocol(pretrain_configs=())`` (``asen
reproduce --no-pretrain``) trains from scratch. Trained runs are cached by config hash under ``runs_root``
(load-or-train), so the book and ``make ablations`` reuse what ``make reproduce`` trained.

One module a job; every public name is importable from ``asen.reproduce`` itself:

* :mod:`~asen.reproduce.profiles`: the profiles (smoke, cpu, gpu), YAML files in ``asen/configs/profiles/``;
* :mod:`~asen.reproduce.methods`: the tables' rows and the config overlays each trains with;
* :mod:`~asen.reproduce.protocol`: :class:`Protocol`, the config of every run a table needs;
* :mod:`~asen.reproduce.cache`: load-or-train, run folders keyed by config hash;
* :mod:`~asen.reproduce.schedule`: :func:`train_all`, many runs in a process pool;
* :mod:`~asen.reproduce.experiments`: train and evaluate the main table and the ablations;
* :mod:`~asen.reproduce.tables`: mean +- std, paired gaps, markdown and JSON, the reference tables;
* :mod:`~asen.reproduce.plots`: the ablations' figure;
* :mod:`~asen.reproduce.plan`: ``asen reproduce --plan`` (runs, FLOPs, estimated time).

The ``asen reproduce`` command itself is :mod:`asen.cli.reproduce`. Names are imported on first use, so that
``import asen.reproduce`` (and ``asen reproduce --help``, which lists the profiles) does not load torch.
"""
from __future__ import annotations

from importlib import import_module
from typing import Any

_MODULES: dict[str, tuple[str, ...]] = {
    "profiles": ("PROFILES", "PROFILE_DIR", "PROFILE_KEYS", "default_data_root", "load_profile", "load_profiles",
                 "profile_configs"),
    "methods": ("ABLATION_ROWS", "MAIN_METHODS", "METHOD_LABELS", "STAGE1_OF", "STAGE1_OVERLAYS", "STAGE2_OVERRIDES",
                "stage1_methods", "stage1_of"),
    "protocol": ("Protocol", "ablation_runs", "imagenet_fallback_note", "main_table_runs", "protocol_caption"),
    "cache": ("best_checkpoint", "ensure_trained", "is_finished", "run_dir_of", "trained_seeds"),
    "schedule": ("default_jobs", "machine_info", "machine_label", "train_all", "usable_cores"),
    "experiments": ("data_version", "evaluate_checkpoint", "main_table_seeds_of", "random_table", "run_ablations",
                    "run_main_table"),
    "tables": ("REFERENCE_DIR", "aggregate", "attribute_groups", "format_stat", "load_reference", "markdown_table",
               "paired_gap", "reference_comparison", "write_results", "zoom_gains"),
    "plots": ("plot_ablations",),
    "plan": ("CPU_RATE_STEP_FLOP", "device_description", "device_rate", "evaluation_flops", "format_plan",
             "plan_configs", "plan_runs", "split_items"),
}
_WHERE = {name: module for module, names in _MODULES.items() for name in names}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    """Import a public name (or a submodule) from its module on first use (PEP 562)."""
    if name in _MODULES:
        return import_module(f"{__name__}.{name}")
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{_WHERE[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_WHERE, *_MODULES})
