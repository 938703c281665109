"""What the command groups share: a command's description (:class:`Command`) and the options several take."""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Command:
    """One ``asen`` subcommand: its name, help line, options and handler.

    ``run`` gets the parsed arguments and returns the exit status; it imports what it needs itself, so that
    building the parser (``asen --help``) imports neither torch nor the trainer. It raises a
    :class:`~asen.errors.UserError` for the user's mistakes; :func:`asen.cli.main` prints it as one line.
    """

    name: str
    help: str
    arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]
    description: str | None = None


def add_flag(p: argparse.ArgumentParser, name: str, help: str) -> None:
    """An on/off option (``action="store_true"``)."""
    p.add_argument(name, action="store_true", help=help)


def add_overrides(p: argparse.ArgumentParser, help: str) -> None:
    """``--set/-s KEY=VALUE`` (repeatable) into ``args.overrides``."""
    p.add_argument("--set", "-s", action="append", default=[], metavar="KEY=VALUE", dest="overrides", help=help)


def add_device(p: argparse.ArgumentParser) -> None:
    """``--device`` (default ``auto``), resolved by :func:`asen.runs.resolve_device`."""
    p.add_argument("--device", default="auto",
                   help="`auto` (CUDA when available, else CPU), `cpu`, `cuda`, `cuda:1`; default auto")


def add_quiet(p: argparse.ArgumentParser) -> None:
    """``--quiet``: no progress bars."""
    add_flag(p, "--quiet", "no progress bars")


def add_config_args(p: argparse.ArgumentParser) -> None:
    """``-c/--config``, ``-s/--set``, ``--device`` and ``--quiet`` of ``asen train`` and ``asen evaluate``."""
    p.add_argument("--config", "-c", action="append", default=[], metavar="YAML",
                   help="config file or shipped config name, merged left to right; e.g. `-c fashionai_s1` "
                        "(paper, GPU) or `-c synthfashion_cpu` (CPU). The authors' YAML files work too.")
    add_overrides(p, "override one value, e.g. `--set train.lr=1e-4 --set data.root=data/FashionAI`; "
                     "an unknown key is an error")
    add_device(p)
    add_quiet(p)
