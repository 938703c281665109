"""The ``asen`` parser (every command group's subcommands) and :func:`main`, the command's entry point."""
from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import traceback
from typing import Iterator

from .. import __version__
from . import data, reproduce, search, train
from .errors import error_message

GROUPS = (train, data, reproduce, search)
"""The command groups, in the order ``asen --help`` lists them; each module's ``COMMANDS`` are its subcommands."""


def build_parser() -> argparse.ArgumentParser:
    """The ``asen`` parser; a subcommand's parsed arguments hold its handler as ``func``."""
    parser = argparse.ArgumentParser(
        prog="asen",
        description="Attribute-specific fashion similarity (ASEN / ASEN++): train, evaluate, generate data.",
    )
    parser.add_argument("--version", action="version", version=f"asen {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="show the traceback of expected failures too (bad config, missing data, full disk); "
                             "give it before the command: `asen --debug train ...`")
    sub = parser.add_subparsers(dest="command", required=True)
    for group in GROUPS:
        for command in group.COMMANDS:
            p = sub.add_parser(command.name, help=command.help, description=command.description)
            command.arguments(p)
            p.set_defaults(func=command.run)
    return parser


@contextlib.contextmanager
def _sigterm_as_exit() -> Iterator[None]:
    """While the command runs, SIGTERM (``kill``, a scheduler's time limit, a closed Colab cell) ends it like
    Ctrl-C does: as an exception raised where the command is, so that the cleanup on the way runs (``asen synth``
    deletes its half-written temporary folder, ...) before the process exits with status 143. Worker processes
    forked meanwhile die of it as by default. The earlier handler is restored afterwards."""
    main_pid = os.getpid()

    def handler(signum: int, frame: object) -> None:
        if os.getpid() != main_pid:
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        raise SystemExit(128 + signum)

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: signals cannot be handled here
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``asen`` command.

    Args:
        argv: the arguments (default: ``sys.argv[1:]``).
    Returns:
        The command's exit status (0 on success; ``asen doctor``: 1 when the dataset has errors), or 2 on an
        expected failure (:func:`~asen.cli.errors.error_message`, printed as one line ``error: ...``; with
        ``--debug`` after its traceback); 130 after Ctrl-C, 143 after SIGTERM (the cleanup on the way has run).
        Any other exception is a bug and propagates with its traceback.
    """
    args = build_parser().parse_args(argv)
    try:
        with _sigterm_as_exit():
            return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        message = error_message(exc)
        if message is None:
            raise
        if args.debug:
            traceback.print_exc(file=sys.stderr)
        print(f"error: {message}", file=sys.stderr)
        return 2
