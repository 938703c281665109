"""The ``asen`` command: train, evaluate, generate SynthFashion, check a dataset, reproduce the tables, search.

Run ``asen <command> --help`` for the options of each command; recommended values are in the help strings.
Every subcommand's options live here, one module a command group: :mod:`~asen.cli.train` (``train``,
``evaluate``), :mod:`~asen.cli.data` (``synth``, ``doctor``), :mod:`~asen.cli.reproduce` (``reproduce``) and
:mod:`~asen.cli.search` (``index``, ``search``, ``rerank``); :mod:`~asen.cli.main` assembles them, and
:mod:`~asen.cli.errors` is the one error path (a user's mistake: one line ``error: ...``, exit status 2). The
handlers import what they run when they run, so ``asen --help`` loads neither torch nor the trainer.
"""
from __future__ import annotations

from .errors import error_message
from .main import build_parser, main

__all__ = ["build_parser", "error_message", "main"]
