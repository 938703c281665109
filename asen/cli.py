"""The ``asen`` command: train, evaluate, generate SynthFashion, check a dataset.

Run ``asen <command> --help`` for the options of each command; recommended values are in the help strings.
"""
from __future__ import annotations

import argparse
import errno
import sys
import traceback
from pathlib import Path

from . import __version__
from .errors import UserError


def _add_config_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", "-c", action="append", default=[], metavar="YAML",
                   help="config file or shipped config name, merged left to right; e.g. `-c fashionai_s1` "
                        "(paper, GPU) or `-c synthfashion_cpu` (CPU). The authors' YAML files work too.")
    p.add_argument("--set", "-s", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                   help="override one value, e.g. `--set train.lr=1e-4 --set data.root=data/FashionAI`; "
                        "an unknown key is an error")
    p.add_argument("--device", default="auto",
                   help="`auto` (CUDA when available, else CPU), `cpu`, `cuda`, `cuda:1`; default auto")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def _load_cfg(args: argparse.Namespace):
    from .config import ConfigError, load_config

    if not args.config:
        raise ConfigError("give at least one --config (e.g. -c fashionai_s1, or -c synthfashion_cpu)")
    return load_config(args.config, args.overrides)


def cmd_train(args: argparse.Namespace) -> int:
    from .runs import resolve_device
    from .train import train

    from .distributed import dist_info, init_from_env

    if args.resume and args.overwrite:
        raise UserError("give --resume (continue the run) or --overwrite (replace it), not both")
    cfg = _load_cfg(args)
    device = init_from_env(resolve_device(args.device))  # joins torchrun's process group, if any
    rank, world = dist_info()
    run_dir = Path(args.run_dir or Path("runs") / cfg.name)
    if rank == 0:
        print(f"training {cfg.name} (stage {cfg.train.stage}) on {device} x {world} process(es); run folder {run_dir}")
    if cfg.train.stage == 0:
        from .pretrain import pretrain

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


def cmd_evaluate(args: argparse.Namespace) -> int:
    import torch

    from .checkpoint import check_attribute_count, load_asenpp, load_model
    from .config import load_config
    from .data import load_split_files, seeded_split
    from .evaluate import evaluate
    from .runs import data_fingerprint, resolve_device, write_json

    device = resolve_device(args.device)
    if args.asen_aaai:
        if args.asenpp_config:
            raise UserError("give --asen-aaai (an AAAI-2020 checkpoint) or --asenpp-config (an ASEN++ one), not both")
        from .aaai import load_asen_aaai_for_evaluation

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
            cfg = load_config(args.config)
        cfg = cfg.with_overrides(args.overrides)
    split = args.split or cfg.eval.split
    files = load_split_files(cfg.data.root, (split,))
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


def cmd_synth(args: argparse.Namespace) -> int:
    from . import synth

    if args.design is None:  # resolved here, not in the parser: importing asen.synth would slow every command
        args.design = synth.DEFAULT_DESIGN
    if args.design not in synth.DESIGNS:
        raise UserError(f"--design {args.design}: expected one of {', '.join(map(str, synth.DESIGNS))}")
    if args.preview:
        path = synth.save_preview(args.preview, seed=args.seed, design=args.design)
        print(f"wrote sample grid {path} (design {args.design})")
        return 0
    path = synth.generate_dataset(args.out, size=args.size, seed=args.seed, workers=args.workers,
                                  progress=not args.quiet, design=args.design)
    print(f"SynthFashion ({args.size}, seed {args.seed}, design {args.design}, "
          f"generator {synth.GENERATOR_VERSIONS[args.design]}) in {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="asen",
        description="Attribute-specific fashion similarity (ASEN / ASEN++): train, evaluate, generate data.",
    )
    parser.add_argument("--version", action="version", version=f"asen {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="show the traceback of expected failures too (bad config, missing data, full disk); "
                             "give it before the command: `asen --debug train ...`")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train one stage (stage 1: global branch; stage 2: + local branch; "
                                     "stage 0: self-supervised backbone pre-training)",
                       description="Train one stage. Paper: `asen train -c fashionai_s1` then "
                                   "`asen train -c fashionai_s2 --set train.init_from=runs/fashionai_s1/checkpoints/last.pt`. "
                                   "Without ImageNet weights (resnet_tiny): `asen train -c synthfashion_cpu -c "
                                   "synthfashion_cpu_pretrain` pre-trains a backbone without labels, and a stage-1 run "
                                   "starts from it with --set model.pretrained=runs/synthfashion_cpu_pretrain/checkpoints/best.pt.")
    _add_config_args(p)
    p.add_argument("--run-dir", help="run folder (default runs/<config name>); holds config, log.jsonl, checkpoints")
    p.add_argument("--resume", action="store_true",
                   help="continue an interrupted run from <run-dir>/checkpoints/last.pt (same config required; "
                        "a changed config is an error listing the keys that differ)")
    p.add_argument("--overwrite", action="store_true",
                   help="start a new run in a run folder that already holds one, deleting the earlier run's "
                        "config.yaml, run.json, log.jsonl and checkpoints/ first (without it, and without "
                        "--resume, an existing run folder is refused)")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="per-attribute MAP of a checkpoint (prints a table, writes JSON)",
                       description="Evaluate a checkpoint written by `asen train`, or one of the authors' "
                                   "checkpoints with --asenpp-config (their YAML files).")
    _add_config_args(p)
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
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("synth", help="generate the SynthFashion dataset (or a preview grid)",
                       description="Generate SynthFashion in the split-file layout of the real datasets.")
    p.add_argument("--out", default="data/SynthFashion", help="output folder (default data/SynthFashion)")
    p.add_argument("--size", default="small", help="tiny (seconds, tests), small (CPU default), fashionai (FashionAI's counts)")
    p.add_argument("--seed", type=int, default=0, help="generator seed; same seed + version = identical files")
    p.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    p.add_argument("--preview", metavar="PNG", help="only write a sample grid (one row per attribute, one column per value)")
    p.add_argument("--design", type=int, default=None,
                   help="how collars, lapels and neck designs are drawn: 2 (default, generator 2.1.0: contrasting "
                        "pieces, values differ in 2 px shapes) or 1 (generator 1.0.0, the first design: fine details "
                        "in the garment's fabric)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_synth)

    from . import reproduce

    p = sub.add_parser("reproduce", help="the paper's main table (and ablations) on SynthFashion, on a CPU",
                       description="Generate SynthFashion (cached), train every method of the main comparison "
                                   "(runs cached by config hash), evaluate, and write results/synthfashion/*.json|md.")
    reproduce.add_arguments(p)
    p.set_defaults(func=reproduce.main_cli)

    from . import search

    p = sub.add_parser("index", help="attribute-specific FAISS indexes of a gallery (`asen index build ...`)")
    search.add_index_arguments(p)
    p.set_defaults(func=search.run_index)
    p = sub.add_parser("search", help="nearest gallery images of a query under one attribute",
                       description="Example: asen search --index indexes/x --checkpoint best.pt --image q.jpg "
                                   "--attribute collar_design -k 10")
    search.add_search_arguments(p)
    p.set_defaults(func=search.run_search)
    p = sub.add_parser("rerank", help="reorder a result list by attribute-specific similarity to a query",
                       description="The paper's reranking application: reorder a general-similarity result list by "
                                   "the similarity of an attribute-specific embedding.")
    search.add_rerank_arguments(p)
    p.set_defaults(func=search.run_rerank)

    from . import doctor

    p = sub.add_parser("doctor", help="check a dataset folder (files, labels, images, splits)")
    doctor.add_arguments(p)
    p.set_defaults(func=doctor.run)
    return parser


def _expected_errors() -> tuple[type[BaseException], ...]:
    """The exceptions that report a user's mistake or situation (not a bug): printed as one line."""
    return UserError, FileNotFoundError


def _is_disk_full(exc: BaseException) -> bool:
    """ENOSPC, from ``open``/``write`` (an OSError) or from ``torch.save``, whose zip writer raises a RuntimeError
    ("[enforce fail at inline_container.cc:...] PytorchStreamWriter failed writing file ...: file write failed")."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
            return True
        if isinstance(exc, RuntimeError):
            text = str(exc)
            if "file write failed" in text or (
                "inline_container.cc" in text and ("PytorchStreamWriter" in text or "unexpected pos" in text)
            ):
                return True
        exc = exc.__cause__ or exc.__context__
    return False


def _written_path(exc: BaseException) -> str | None:
    """The file being written when ``exc`` was raised: its ``filename``, else the ``path`` argument of the
    innermost function of this package (the atomic writers of :mod:`asen.runs`, ``RunDir.log``) on the way."""
    if isinstance(exc, OSError) and exc.filename:
        return str(exc.filename)
    package = str(Path(__file__).parent)
    found = None
    tb = exc.__traceback__
    while tb is not None:
        frame = tb.tb_frame
        if frame.f_code.co_filename.startswith(package) and frame.f_code.co_filename != __file__:
            value = frame.f_locals.get("path")
            if isinstance(value, (str, Path)):
                found = str(value)
        tb = tb.tb_next
    return found


def _one_line(text: str) -> str:
    return " ".join(part.strip() for part in text.splitlines() if part.strip())


def error_message(exc: BaseException) -> str | None:
    """The one-line message for an expected failure, or ``None`` for a bug (which keeps its traceback).

    Args:
        exc: the exception a command raised.
    Returns:
        ``"no space left on device while writing <path>: ..."`` for a full disk, the exception's message (on one
        line) for the project's user errors and a missing file, else ``None``.
    """
    if _is_disk_full(exc):
        path = _written_path(exc) or "a file"
        return f"no space left on device while writing {path}: free space or choose another --run-dir/--out"
    if isinstance(exc, _expected_errors()):
        return _one_line(str(exc)) or type(exc).__name__
    return None


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``asen`` command.

    Args:
        argv: the arguments (default: ``sys.argv[1:]``).
    Returns:
        The exit status: 0 on success, 2 on an expected failure (printed as one line ``error: ...``; with
        ``--debug`` after its traceback). Any other exception is a bug and propagates with its traceback.
    """
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except Exception as exc:
        message = error_message(exc)
        if message is None:
            raise
        if args.debug:
            traceback.print_exc(file=sys.stderr)
        print(f"error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
