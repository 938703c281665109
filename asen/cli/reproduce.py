"""``asen reproduce``: the paper's main table (and ablations) on SynthFashion (:mod:`asen.reproduce`)."""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from ..errors import UserError
from .common import Command, add_device, add_flag, add_overrides, add_quiet, check_output_folder, non_negative_int


def _plan(protocol, seeds: tuple[int, ...], args: argparse.Namespace) -> None:
    """``--plan``: print every run with its estimated time, train nothing."""
    from ..reproduce import device_description, device_rate, evaluation_flops, format_plan, plan_runs

    main, abl = not args.ablations_only, args.ablations or args.ablations_only
    rate = device_rate(protocol, seeds)
    gpu = args.profile == "gpu"
    print(format_plan(plan_runs(protocol, seeds, main=main, ablations=abl, rate=rate), device_description(protocol),
                      rate, evaluation_flops(protocol, seeds, main, abl) if gpu else None, t4=gpu))


def cmd_reproduce(args: argparse.Namespace) -> int:
    """``asen reproduce``: generate SynthFashion if needed, train, evaluate, write tables."""
    from ..reproduce import (PROFILES, Protocol, default_data_root, machine_info, plot_ablations, run_ablations,
                             run_main_table, write_results)
    from ..runs import resolve_device

    prof = PROFILES[args.profile]
    check_output_folder(args.runs, "--runs")
    check_output_folder(args.out, "--out")
    if args.data is not None and not args.data.strip():
        raise UserError("--data '': empty path; give the SynthFashion folder (or leave --data out for the default)")
    data_root = Path(args.data or default_data_root(args.profile))
    if data_root.exists() and not data_root.is_dir():
        raise UserError(f"--data {data_root}: a file, not a folder; give the SynthFashion folder")
    if args.plan and args.data is not None and not (data_root / "meta.json").exists():
        raise UserError(f"--data {data_root}: no SynthFashion dataset there (no meta.json) to plan with; generate it "
                        f"(run without --plan, or `asen synth --out {data_root}`) or give another folder")
    if (not (data_root / "meta.json").exists() or args.generate) and not args.plan:
        from .. import synth

        synth.generate_dataset(data_root, size=prof["size"], seed=args.data_seed, progress=not args.quiet)
    seeds = tuple(args.seeds) if args.seeds else prof["seeds"]
    protocol = Protocol(data_root=data_root, runs_root=Path(args.runs), device=resolve_device(args.device),
                        profile=args.profile, extra_overrides=tuple(args.overrides), progress=not args.quiet,
                        jobs=args.jobs, **({"pretrain_configs": ()} if args.no_pretrain else {}))
    if args.plan:
        _plan(protocol, seeds, args)
        return 0
    out = Path(args.out)
    t0 = time.time()
    if not args.ablations_only:
        res = run_main_table(protocol, seeds)
        res["wall_seconds"] = round(time.time() - t0, 1)
        res["machine"] = machine_info()
        j, md = write_results(res, out, "main_table", f"Main comparison on {res['dataset']}")
        print(md.read_text())
        print(f"wrote {j} and {md}")
    if args.ablations or args.ablations_only:
        t1 = time.time()
        abl = run_ablations(protocol, seeds)
        abl["wall_seconds"] = round(time.time() - t1, 1)
        abl["machine"] = machine_info()
        j, md = write_results(abl, out, "ablations", f"Ablations on {abl['dataset']}")
        png = plot_ablations(abl, out / "ablations.png")
        print(md.read_text())
        print("β sweep:", {k: round(v["mean"], 2) for k, v in abl["beta_sweep"].items()})
        print("threshold sweep:", {k: round(v["mean"], 2) for k, v in abl["threshold_sweep"].items()})
        print(f"wrote {j}, {md} and {png}")
    print(f"total {time.time() - t0:.0f} s")
    return 0


def _arguments(p: argparse.ArgumentParser) -> None:
    from ..reproduce.profiles import PROFILES  # the YAML files of asen/configs/profiles (no torch)

    p.add_argument("--profile", choices=sorted(PROFILES), default="cpu",
                   help=", ".join(f"{name} ({prof['summary']})" for name, prof in PROFILES.items()))
    p.add_argument("--data", help="SynthFashion folder (default data/SynthFashion for cpu, data/SynthFashion-<size> "
                                  "otherwise); generated when missing")
    p.add_argument("--data-seed", type=non_negative_int, default=0, help="seed of the generated dataset (default 0)")
    add_flag(p, "--generate", "(re)generate the dataset even if present")
    p.add_argument("--seeds", type=non_negative_int, nargs="+",
                   help="training seeds (default: the profile's, 0 1 2 for cpu)")
    p.add_argument("--runs", default="runs/synthfashion", help="run folders; finished runs are reused by config hash")
    p.add_argument("--out", default="results/synthfashion", help="where the tables (.json, .md) go")
    add_flag(p, "--ablations", "also run the ablations (w/o ASA, w/o ACA, β, threshold)")
    add_flag(p, "--ablations-only", "only the ablations")
    add_overrides(p, "override a config value for every run, e.g. --set data.num_workers=2")
    add_device(p)
    p.add_argument("--jobs", "-j", type=non_negative_int, default=0,
                   help="runs trained at once, each in its own process (default 0: on a CPU one per core, on a GPU one "
                        "per 20 GiB of its memory and two CPU cores, at most 4; 1: one after the other in this "
                        "process)")
    add_flag(p, "--no-pretrain", "train every backbone from scratch instead of from the shared self-supervised "
                                 "pre-training run (synthfashion_cpu_pretrain, the stand-in for ImageNet weights)")
    add_flag(p, "--plan", "print every run the profile needs (method, seed, stage, networks, input sizes, steps, "
                          "images a step, FLOPs, estimated minutes on this device from one timed training step and, "
                          "for gpu, on a T4; whether it is already trained) and exit without training")
    add_quiet(p)


COMMANDS = (
    Command("reproduce", "the paper's main table (and ablations) on SynthFashion, on a CPU", _arguments,
            cmd_reproduce, description="Generate SynthFashion (cached), train every method of the main comparison "
                                       "(runs cached by config hash), evaluate, and write "
                                       "results/synthfashion/*.json|md. The profiles are the YAML files of "
                                       "asen/configs/profiles/."),
)
