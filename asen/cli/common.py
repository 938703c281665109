"""What the command groups share: a command's description (:class:`Command`) and the options several take."""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..errors import UserError


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


def _number(text: str, kind: type, allowed: str, ok: Callable[[float], bool]) -> int | float:
    """``text`` read as ``kind`` and tested by ``ok``; else an ``argparse.ArgumentTypeError`` saying what is allowed
    (argparse prints it as ``asen CMD: error: argument --OPTION: ...`` and exits with status 2)."""
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {allowed}, got {text!r}") from None
    if not ok(value):
        raise argparse.ArgumentTypeError(f"expected {allowed}, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """An argparse ``type``: a whole number >= 1 (a count: workers, batch size, results, images)."""
    return _number(text, int, "a whole number >= 1", lambda v: v >= 1)


def non_negative_int(text: str) -> int:
    """An argparse ``type``: a whole number >= 0 (a seed, or a count where 0 has a meaning)."""
    return _number(text, int, "a whole number >= 0", lambda v: v >= 0)


def unit_float(text: str) -> float:
    """An argparse ``type``: a number in [0, 1] (a weight such as --alpha or --beta); NaN is refused."""
    return _number(text, float, "a number in [0, 1]", lambda v: 0.0 <= v <= 1.0)


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


def _file_in_the_way(folder: Path) -> Path | None:
    """The file that stands where ``folder`` or one of the folders above it should be (the nearest existing path,
    when it is not a folder), or ``None`` where the folder exists or can be created."""
    for path in (folder, *folder.parents):
        if path.exists():
            return None if path.is_dir() else path
    return None


def check_output_file(path: str | Path, option: str) -> Path:
    """An output file the command will write, checked before the work that produces it: not a folder, and no file
    where its folder should be (missing folders are fine: the writer creates them, as :mod:`asen.runs` does).

    Args:
        path: the path given.
        option: the option that gave it (``--out``), named in the error.
    Raises:
        UserError: the path is empty or a folder, or a file stands where one of its folders should be.
    """
    if not str(path).strip():  # Path("") is the current folder
        raise UserError(f"{option} '': empty path; give a file name")
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{option} {path}: a folder, not a file; give a file name (e.g. {path / 'report.json'})")
    if (blocking := _file_in_the_way(path.parent)) is not None:
        raise UserError(f"{option} {path}: {blocking} is a file, not a folder; give a path in a folder")
    return path


def check_output_folder(path: str | Path, option: str) -> Path:
    """An output folder the command will write into, checked before the work: a path given, and no file there or
    where one of its folders should be (a missing folder is fine: the command creates it).

    Raises:
        UserError: an empty path, or a file at the path or above it.
    """
    if not str(path).strip():
        raise UserError(f"{option} '': empty path; give a folder")
    path = Path(path)
    if (blocking := _file_in_the_way(path)) is not None:
        where = "a file" if blocking == path else f"{blocking} is a file"
        raise UserError(f"{option} {path}: {where}, not a folder; give a folder")
    return path


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
