"""``asen train`` and ``asen evaluate``."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import UserError
from .common import Command, add_config_args, add_flag, check_output_file, check_output_folder

if TYPE_CHECKING:
    from ..config import Config


def _load_cfg(args: argparse.Namespace):
    from ..config import ConfigError, load_config

    if not args.config:
        raise ConfigError("give at least one --config (e.g. -c fashionai_s1, or -c synthfashion_cpu)")
    return load_config(args.config, args.overrides)


def _run_dir(args: argparse.Namespace, name: str) -> Path:
    """The run folder of ``asen train``: ``--run-dir``, else ``runs/<config name>``; checked before anything is
    built, so that a mistyped ``--run-dir`` neither trains into the default nor resumes from nothing.

    Raises:
        UserError: an empty ``--run-dir``, a file at it or above it (:func:`check_output_folder`); ``--resume``
            where the folder does not exist.
    """
    run_dir = Path("runs") / name if args.run_dir is None else check_output_folder(args.run_dir, "--run-dir")
    if args.resume and not run_dir.is_dir():
        raise UserError(f"--resume: no run folder {run_dir} to resume; give the --run-dir of the interrupted run, "
                        f"or leave --resume out to start a new run")
    return run_dir


def cmd_train(args: argparse.Namespace) -> int:
    """``asen train``: one stage (0, 1 or 2) of one config, in one process or under torchrun."""
    from ..distributed import dist_info, init_from_env
    from ..runs import resolve_device
    from ..train import train

    if args.resume and args.overwrite:
        raise UserError("give --resume (continue the run) or --overwrite (replace it), not both")
    cfg = _load_cfg(args)
    run_dir = _run_dir(args, cfg.name)
    device = init_from_env(resolve_device(args.device))  # joins torchrun's process group, if any
    rank, world = dist_info()
    if rank == 0:
        print(f"training {cfg.name} (stage {cfg.train.stage}) on {device} x {world} process(es); run folder {run_dir}")
    if cfg.train.stage == 0:
        from ..pretrain import pretrain

        if world > 1:
            raise UserError("backbone pre-training (train.stage 0) runs in one process; start it without torchrun")
        best = pretrain(cfg, run_dir, device, resume=args.resume, progress=not args.quiet, overwrite=args.overwrite)
        print(f"done: pre-trained backbone in {best}; start stage 1 from it with --set model.pretrained={best}")
        return 0
    result = train(cfg, run_dir, device, resume=args.resume, progress=not args.quiet, overwrite=args.overwrite)
    if rank == 0:
        print(f"done: best validation MAP {result.best_map:.2f} at epoch {result.best_epoch}; "
              f"checkpoints in {run_dir / 'checkpoints'}")
    return 0


def _check_input_sizes(trained: Config, given: Config, config_files: list[str], overrides: list[str]) -> None:
    """``-c`` of ``asen evaluate`` replaces the checkpoint's whole config: refuse input sizes other than the ones the
    model was trained at (``data.global_size``; ``data.local_size`` with a local branch), unless ``--set`` gives them.

    Raises:
        ConfigError: naming each size, the checkpoint's value and what to give instead.
    """
    from ..config import ConfigError, parse_override

    keys = ("global_size", "local_size") if trained.model.local_branch else ("global_size",)
    forced = {parse_override(text)[0] for text in overrides}
    differ = [f"data.{k}={getattr(given.data, k)} (the checkpoint was trained at {getattr(trained.data, k)})"
              for k in keys if getattr(given.data, k) != getattr(trained.data, k) and f"data.{k}" not in forced]
    if differ:
        raise ConfigError(f"--config {' '.join(config_files)} sets {', '.join(differ)}: the model would see inputs of "
                          f"another size; to evaluate on another dataset folder give --set data.root=<folder> "
                          f"without -c, or --set {differ[0].split(' ')[0]} to mean it")


def cmd_evaluate(args: argparse.Namespace) -> int:
    """``asen evaluate``: per-attribute MAP of a checkpoint, printed and written as JSON."""
    import torch

    from ..checkpoint import check_attribute_count, load_asenpp, load_model
    from ..config import load_config
    from ..data import load_split_files, seeded_split
    from ..evaluate import evaluate
    from ..layout import check_value_counts
    from ..runs import data_fingerprint, resolve_device, write_json

    device = resolve_device(args.device)
    if args.out is not None:  # before the evaluation, which can take long
        check_output_file(args.out, "--out")
    if args.asen_aaai:
        if args.asenpp_config:
            raise UserError("give --asen-aaai (an AAAI-2020 checkpoint) or --asenpp-config (an ASEN++ one), not both")
        from ..aaai import load_asen_aaai_for_evaluation

        # the data and evaluation settings come from -c/--set (e.g. -c fashionai_s1), the model from the file
        model, cfg = load_asen_aaai_for_evaluation(args.checkpoint, args.asen_aaai, args.config, args.overrides)
        model = model.to(device)
    else:
        if args.asenpp_config:
            model = load_asenpp(args.checkpoint, args.asenpp_config).to(device)
            cfg = model.checkpoint_info["config"]
        else:
            model, cfg, _ = load_model(args.checkpoint, device)
        if args.config:  # e.g. to evaluate on another dataset folder
            given = load_config(args.config)
            _check_input_sizes(cfg, given, args.config, args.overrides)
            cfg = given
        cfg = cfg.with_overrides(args.overrides)
    split = args.split or cfg.eval.split
    files = load_split_files(cfg.data.root, (split,))
    check_value_counts(cfg.data.attribute_values, files.meta, files.root)
    check_attribute_count(model.num_attributes, args.checkpoint, files.meta.num_attributes, files.root)
    seeded = seeded_split(files.root)
    if seeded:
        print(f"note: {files.root} holds a split made by its prepare script ({seeded}), not the authors' split "
              "files: this MAP is not comparable with the published numbers", file=sys.stderr)
    with torch.inference_mode():
        res = evaluate(model, files, cfg, device, split=split, progress=not args.quiet)
    out = {"checkpoint": str(args.checkpoint), "dataset": cfg.data.dataset, "split": split,
           "data": {"root": str(cfg.data.root), "fingerprint": data_fingerprint(cfg.data.root),
                    "split": seeded or "the dataset's split files"},
           "main": res["main"].to_dict(), "global": res["global"].to_dict()}
    print(res["global"].format(f"{cfg.data.dataset} {split}: global branch MAP (%)"))
    if "fused" in res:
        out["local"], out["fused"], out["beta"] = res["local"].to_dict(), res["fused"].to_dict(), cfg.eval.beta
        print()
        print(res["local"].format("local branch MAP (%)"))
        print()
        print(res["fused"].format(f"ASEN++ (global + local, beta={cfg.eval.beta}) MAP (%)"))
    out_path = Path(args.out) if args.out else Path(args.checkpoint).with_suffix(f".{split}.json")
    write_json(out_path, out)
    print(f"\nwrote {out_path}")
    return 0


def _train_arguments(p: argparse.ArgumentParser) -> None:
    add_config_args(p)
    p.add_argument("--run-dir", help="run folder (default runs/<config name>); holds config, log.jsonl, checkpoints")
    add_flag(p, "--resume", "continue an interrupted run from <run-dir>/checkpoints/last.pt (same config required; "
                            "a changed config is an error listing the keys that differ)")
    add_flag(p, "--overwrite", "start a new run in a run folder that already holds one, deleting the earlier run's "
                               "config.yaml, run.json, log.jsonl and checkpoints/ first (without it, and without "
                               "--resume, an existing run folder is refused)")


def _evaluate_arguments(p: argparse.ArgumentParser) -> None:
    add_config_args(p)
    p.add_argument("--checkpoint", required=True, help="a best.pt/last.pt from `asen train`, or an official .pth.tar")
    p.add_argument("--asen-aaai", choices=["ASENet", "ASENet_V2", "ConditionalSimNet"], metavar="ARCH",
                   help="the checkpoint is one of the AAAI-2020 code's (ASENet, ASENet_V2 or ConditionalSimNet, "
                        "their --model name); the data and evaluation settings come from -c/--set, e.g. "
                        "`--asen-aaai ASENet_V2 -c fashionai_s1 --checkpoint model_best.pth.tar`")
    p.add_argument("--asenpp-config", action="append", default=[], metavar="YAML",
                   help="the authors' config files for an official checkpoint, e.g. "
                        "--asenpp-config config/FashionAI/FashionAI.yaml --asenpp-config config/FashionAI/s2.yaml")
    p.add_argument("--split", choices=["valid", "test"], help="default: eval.split of the config (test)")
    p.add_argument("--out", help="JSON output path (default: next to the checkpoint)")


COMMANDS = (
    Command("train", "train one stage (stage 1: global branch; stage 2: + local branch; stage 0: self-supervised "
                     "backbone pre-training)", _train_arguments, cmd_train,
            description="Train one stage. Paper: `asen train -c fashionai_s1` then "
                        "`asen train -c fashionai_s2 --set train.init_from=runs/fashionai_s1/checkpoints/last.pt`. "
                        "Without ImageNet weights (resnet_tiny): `asen train -c synthfashion_cpu -c "
                        "synthfashion_cpu_pretrain` pre-trains a backbone without labels, and a stage-1 run "
                        "starts from it with --set model.pretrained=runs/synthfashion_cpu_pretrain/checkpoints/best.pt."),
    Command("evaluate", "per-attribute MAP of a checkpoint (prints a table, writes JSON)", _evaluate_arguments,
            cmd_evaluate, description="Evaluate a checkpoint written by `asen train`, or one of the authors' "
                                      "checkpoints with --asenpp-config (their YAML files)."),
)
