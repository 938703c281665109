"""Notebook support: one ``setup()`` call turns a chapter's ``parameters`` cell into paths, data and a device.

Every chapter of the book starts, after its ``parameters`` cell, with::

    ctx = asen.book.setup(globals())

which reads the parameters cell's names (:data:`PARAMETERS`) from the chapter's namespace, seeds everything,
picks the device (CUDA when present and asked for), makes sure the data exists
(SynthFashion is generated, cached, at the size of the profile) and returns a :class:`BookContext`, whose
:meth:`BookContext.trained` is the load-or-train entry point: a model is trained once for the whole book,
keyed by its configuration hash, and every later chapter loads it. Which runs the book needs is read from the
chapters themselves (:func:`book_runs`: their ``ctx.trained``, ``run_main_table`` and ``run_ablations`` calls),
so that the book build can train them all up front (:func:`pretrain`).
"""
from __future__ import annotations

import ast
import builtins
import importlib
import inspect
import json
import os
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import torch

from .config import load_config
from .data import ImageCache, SplitFiles, load_split_files
from .reproduce import PROFILES, Protocol, best_checkpoint, default_data_root, ensure_trained, profile_configs
from .runs import resolve_device, seed_everything

SYNTH_SIZE = {name: prof["size"] for name, prof in PROFILES.items()}  # gpu: the 224 px renders, as cpu
PARAMETERS = ("profile", "dataset", "data_root", "device", "seed", "runs_root", "results_dir")
"""The names of a chapter's ``parameters`` cell, in order: the arguments of :func:`setup`."""


def on_colab() -> bool:
    """True inside Google Colab."""
    return "google.colab" in sys.modules


def default_profile(requested: str = "cpu") -> str:
    """The profile a chapter runs: ``ASEN_PROFILE`` from the environment when set; else, for the default
    ``cpu``, ``gpu`` on a CUDA runtime (Colab's included) where the gpu profile's ImageNet weights can be
    loaded; else ``requested``.

    Without the weights the gpu profile's ResNet-50 stays at chance within its budget (every row of its table,
    measured on an H200: ``benchmarks/gpu_h200_2026-11-30``), so a CUDA runtime without them runs the cpu
    protocol, and one line says so (``ASEN_PROFILE=gpu`` still forces the gpu profile)."""
    if os.environ.get("ASEN_PROFILE"):
        return os.environ["ASEN_PROFILE"]
    if requested != "cpu" or not torch.cuda.is_available():
        return requested
    from .reproduce.protocol import imagenet_available

    ok, reason = imagenet_available(profile_configs("gpu", "configs"))
    if not ok:
        print(f"CUDA runtime, but the gpu profile's ImageNet weights cannot be loaded ({reason}): running the cpu "
              "profile, whose backbones start from its own pre-training (without the weights the gpu profile "
              "stays at chance; ASEN_PROFILE=gpu forces it)", file=sys.stderr, flush=True)
        return requested
    return "gpu"


@dataclass(repr=False)
class BookContext:
    """Everything a chapter derives from its parameters."""

    profile: str
    dataset: str
    data_root: Path
    device: torch.device
    seed: int
    runs_root: Path
    results_dir: Path
    files: SplitFiles = field(repr=False)
    progress: bool = False
    image_cache: ImageCache | None = field(default=None, repr=False)
    """The decoded images of every run the chapter trains or evaluates through the context (:meth:`trained`,
    :attr:`protocol`): one cache per chapter (its kernel), sized by the profile's stage-1 config (default: new)."""

    def __post_init__(self) -> None:
        if self.image_cache is None:
            self.image_cache = ImageCache.sized(load_config(list(profile_configs(self.profile, "configs"))).data)

    def __repr__(self) -> str:
        return f"device: {self.device} | profile: {self.profile} | data: {self.data_root}"

    @property
    def trains_fully(self) -> bool:
        """True on the ``cpu`` and ``gpu`` profiles; ``smoke`` trains a few steps, so its numbers are noise and a
        chapter checks the claims about what training achieves only when this is true."""
        return self.profile != "smoke"

    @property
    def protocol(self) -> Protocol:
        return Protocol(self.data_root, self.runs_root, self.device, profile=self.profile, progress=self.progress,
                        image_cache=self.image_cache)

    @property
    def seeds(self) -> tuple[int, ...]:
        """Training seeds of the profile (the book's tables use them all)."""
        return tuple(PROFILES[self.profile]["seeds"])

    def trained(self, method: str = "asen", stage: int = 1, seed: int | None = None) -> Path:
        """Load-or-train a method (``triplet``, ``csn``, ``asen``, ``no_asa``, ``no_aca``); stage 2 adds the
        local branch on top of that method's stage-1 run. Returns the ``best.pt`` path."""
        p = self.protocol
        p.ensure_pretrained()  # the backbone every method starts from (None when they start from scratch)
        for cfg in self.trained_runs(method, stage, seed):
            ckpt = ensure_trained(cfg, self.runs_root, self.device, self.files, self.progress, self.image_cache)
        return ckpt

    def trained_runs(self, method: str = "asen", stage: int = 1, seed: int | None = None) -> list:
        """The runs :meth:`trained` trains for these arguments, in order: ``method``'s stage-1 run, and for
        ``stage=2`` the stage-2 run that continues it (the configs; nothing is trained)."""
        seed = self.seed if seed is None else seed
        p = self.protocol
        runs = [p.stage1_config(method, seed)]
        if stage == 2:
            runs.append(p.stage2_config(method, seed, best_checkpoint(runs[0], self.runs_root)))
        return runs


def setup(profile: str | Mapping[str, Any] = "cpu", dataset: str = "SynthFashion", data_root: str | None = None,
          device: str = "auto", seed: int = 0, runs_root: str = "runs/synthfashion", results_dir: str = "results/book",
          progress: bool = False) -> BookContext:
    """Seed, choose the device, make sure the data exists, and return the chapter's context.

    A chapter passes its namespace, ``setup(globals())``: the names of :data:`PARAMETERS` are read from it (the
    parameters cell as papermill left it); any other argument is then ignored.

    Args:
        profile: ``smoke`` (tiny data, seconds), ``cpu`` (small data, the default), ``gpu`` (the paper's networks),
            or a mapping holding the parameters (a chapter's ``globals()``); ``cpu`` becomes :func:`default_profile`
            (``gpu`` on a CUDA runtime, ``ASEN_PROFILE`` when set).
        dataset: ``SynthFashion`` (generated when missing) or a real dataset prepared with ``data_scripts/``.
        data_root: the dataset folder (default ``data/SynthFashion`` for cpu, ``data/SynthFashion-<size>`` otherwise).
        device: ``auto``, ``cpu`` or ``cuda``.
        seed: seeds Python, NumPy and torch, and the training runs.
        runs_root: where trained runs are cached (shared by all chapters).
        results_dir: where chapters write their numbers.
    """
    if isinstance(profile, Mapping):
        missing = [k for k in PARAMETERS if k not in profile]
        if missing:
            raise ValueError(f"the parameters cell does not set {', '.join(missing)}")
        return setup(**{k: profile[k] for k in PARAMETERS}, progress=progress)
    if profile == "cpu":
        profile = default_profile()  # "gpu" on a CUDA runtime (ASEN_PROFILE wins)
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {', '.join(PROFILES)}, got {profile!r}")
    seed_everything(seed)
    dev = resolve_device(device)
    if dataset == "SynthFashion":
        size = SYNTH_SIZE[profile]
        root = Path(data_root or default_data_root(profile))
        from . import synth

        existing = root / "meta.json"
        if existing.exists():
            found = json.loads(existing.read_text()).get("generator", {}).get("size")
            if found != size:
                raise ValueError(f"{root} holds SynthFashion of size {found!r} but profile {profile!r} needs "
                                 f"{size!r}; pass another data_root (it is never overwritten)")
        synth.generate_dataset(root, size=size, seed=0, progress=progress)
    else:
        if not data_root:
            raise ValueError(f"data_root is required for {dataset} (prepare it with data_scripts/, see chapter 12)")
        root = Path(data_root)
    files = load_split_files(root)
    results = Path(results_dir)
    results.mkdir(parents=True, exist_ok=True)
    return BookContext(profile, dataset, root, dev, seed, Path(runs_root), results, files, progress)


FEWER_SEED_METHODS = ("asen_aaai", "asen_v2")
"""Main-table rows the book trains for the first seed only on the cpu profile (to keep ``make book`` within
its time budget); chapter 8 uses every seed of theirs that is already trained (``make reproduce`` trains all)."""


def main_table_seeds(ctx: BookContext, method: str) -> tuple[int, ...]:
    """The seeds the book trains ``method`` of the main table for: every seed of the profile, but only the first
    for :data:`FEWER_SEED_METHODS` on the cpu profile."""
    if ctx.profile == "cpu" and method in FEWER_SEED_METHODS:
        return tuple(dict.fromkeys((ctx.seed, *ctx.seeds[:1])))
    return tuple(dict.fromkeys((ctx.seed, *ctx.seeds)))


def main_table_method_seeds(ctx: BookContext) -> dict[str, tuple[int, ...]]:
    """Chapter 8's ``method_seeds`` for :func:`asen.reproduce.run_main_table`: for each of
    :data:`FEWER_SEED_METHODS` on the cpu profile, every profile seed already trained under ``ctx.runs_root``
    (all three after ``make reproduce``), else the first seed. Empty otherwise."""
    if ctx.profile != "cpu":
        return {}
    from .reproduce import trained_seeds

    return {m: tuple(trained_seeds(ctx.protocol, m, ctx.seeds) or main_table_seeds(ctx, m))
            for m in FEWER_SEED_METHODS}


# ------------------------------------------------------------------------------ the runs the chapters train
CHAPTERS_DIR = Path(__file__).resolve().parent.parent / "notebooks"
"""The book's chapters, ``NN_*.py`` (jupytext percent format), in a source checkout; an installed package has
none."""

TRAINING_CALLS = ("ctx.trained", "asen.reproduce.run_main_table", "asen.reproduce.run_ablations")
"""The calls by which a chapter trains: :func:`chapter_runs` reads the runs from them."""

HIDDEN_TRAINING = ("asen.reproduce.ensure_trained", "asen.reproduce.train_all", "asen.train.train",
                   "asen.pretrain.pretrain", "asen.book.pretrain")
"""Calls that train runs :func:`chapter_runs` cannot see: a chapter that makes one is refused."""

SAFE_BUILTINS = (range, len, tuple, list, dict, set, sorted, reversed, min, max, int, str, zip, enumerate)


class ChapterRunsError(ValueError):
    """A chapter trains in a way whose runs cannot be read from its source without running it."""


def _training_functions(ctx: BookContext) -> dict[str, tuple[Callable, Callable[[dict], list]]]:
    """For each of :data:`TRAINING_CALLS`: the function a chapter calls (its arguments are bound to that
    function's signature, defaults filled in) and the runs it trains given those arguments."""
    from . import reproduce

    return {
        "ctx.trained": (ctx.trained, lambda a: ctx.trained_runs(a["method"], a["stage"], a["seed"])),
        "asen.reproduce.run_main_table": (reproduce.run_main_table, lambda a: reproduce.main_table_runs(
            a["protocol"], reproduce.main_table_seeds_of(a["seeds"], a["methods"], a["method_seeds"]))),
        "asen.reproduce.run_ablations": (reproduce.run_ablations,
                                         lambda a: reproduce.ablation_runs(a["protocol"], a["seeds"])),
    }


class _Bindings(ast.NodeVisitor):
    """How each name of a chapter's top level is bound: ``("value", expr)`` for ``name = expr``, ``("import",
    bound, module)`` for an import, ``None`` for anything else (a loop variable, a function, ``a, b = ...``)."""

    def __init__(self, tree: ast.Module) -> None:
        self.found: dict[str, list] = defaultdict(list)
        for stmt in tree.body:
            self.visit(stmt)

    def visit_FunctionDef(self, node: ast.AST) -> None:  # their bodies are their own scopes
        self.found[node.name].append(None)

    visit_AsyncFunctionDef = visit_ClassDef = visit_FunctionDef

    def visit_Lambda(self, node: ast.AST) -> None:
        pass

    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = visit_Lambda

    def visit_Import(self, node: ast.Import) -> None:
        for a in node.names:  # `import asen.book` binds asen; `import asen.book as b` binds b to asen.book
            self.found[a.asname or a.name.partition(".")[0]].append(
                ("import", a.name if a.asname else a.name.partition(".")[0], a.name))

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        for a in node.names:
            self.found[a.asname or a.name].append(
                ("import", f"{node.module}.{a.name}", node.module) if node.level == 0 and node.module else None)

    def visit_Assign(self, node: ast.Assign) -> None:
        if all(isinstance(t, ast.Name) for t in node.targets):
            for t in node.targets:
                self.found[t.id].append(("value", node.value))
        else:
            for t in node.targets:
                self.visit(t)
        self.visit(node.value)

    def visit_Name(self, node: ast.Name) -> None:
        if not isinstance(node.ctx, ast.Load):
            self.found[node.id].append(None)

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.name:
            self.found[node.name].append(None)
        self.generic_visit(node)


_OPAQUE = object()  # a name bound inside a function of the chapter: its value is unknown
_PENDING = object()  # a top-level name being resolved


class _Chapter:
    """One chapter's source, read statically: its training calls and the values of their arguments."""

    def __init__(self, path: Path, ctx: BookContext) -> None:
        self.path, self.ctx = Path(path), ctx
        # a jupytext percent-format chapter is Python as it is: markdown cells and cell markers are comments
        self.tree = ast.parse(self.path.read_text(), filename=str(self.path))
        self.bindings = _Bindings(self.tree).found
        self.functions = _training_functions(ctx)
        self.resolved: dict[str, Any] = {}

    def fail(self, node: ast.AST, message: str) -> ChapterRunsError:
        return ChapterRunsError(f"{self.path.name}, line {node.lineno}: {message}")

    # ------------------------------------------------------------------------------------------ names
    def qualified(self, node: ast.AST) -> str | None:
        """``a.b.c`` of an attribute chain, its first name replaced by what the chapter imported under it
        (``asen.reproduce.run_main_table`` for ``run_main_table`` after ``from asen.reproduce import ...``)."""
        parts = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if not isinstance(node, ast.Name):
            return None
        found = self.bindings.get(node.id, [])
        imported = {b[1] for b in found if b and b[0] == "import"}
        base = imported.pop() if len(imported) == 1 and all(b and b[0] == "import" for b in found) else node.id
        return ".".join([base, *reversed(parts)])

    def resolve(self, name: str, node: ast.AST) -> Any:
        """The value of a top-level name: its one assignment's value (evaluated by :meth:`evaluate`) or what it
        was imported as."""
        if name in self.resolved:
            if self.resolved[name] is _PENDING:
                raise self.fail(node, f"`{name}` is defined in terms of itself")
            return self.resolved[name]
        found = self.bindings.get(name, [])
        if not found:
            if hasattr(builtins, name):
                return getattr(builtins, name)
            raise self.fail(node, f"`{name}` is not defined at the chapter's top level")
        imported = {b[1] for b in found if b and b[0] == "import"}  # `import asen.book` and `import asen` agree
        if None in found or not (len(found) == 1 or (len(imported) == 1 and all(b[0] == "import" for b in found))):
            raise self.fail(node, f"the runs depend on `{name}`, which the chapter sets more than once or in a "
                                  "way that is only known by running it (write it once, `name = ...`, from ctx, "
                                  "literals and asen.book helpers)")
        how = found[0]
        self.resolved[name] = _PENDING
        if how[0] == "import":
            for b in found:
                importlib.import_module(b[2])
            module, _, attr = how[1].rpartition(".")
            try:
                value = importlib.import_module(how[1])
            except ImportError:
                value = getattr(importlib.import_module(module), attr)
        else:
            value = self.evaluate(how[1], {"ctx": self.ctx})
        self.resolved[name] = value
        return value

    # ----------------------------------------------------------------------------------------- values
    def evaluate(self, expr: ast.expr, scope: dict[str, Any]) -> Any:
        """The value of an argument of a training call, computed from ``ctx``, literals, top-level names set
        once from such values, the loop variables in ``scope`` and calls of :mod:`asen.book`'s functions and
        of :data:`SAFE_BUILTINS`. Anything else (a call that could train, a name set by running code) is refused."""
        local = {n.id for n in ast.walk(expr) if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)}
        local |= {a.arg for n in ast.walk(expr) if isinstance(n, ast.Lambda) for a in ast.walk(n.args)
                  if isinstance(a, ast.arg)}
        names: dict[str, Any] = {}
        for n in ast.walk(expr):
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load) and n.id not in local and n.id not in names:
                value = scope[n.id] if n.id in scope else self.resolve(n.id, n)
                if value is _OPAQUE:
                    raise self.fail(n, f"the runs depend on `{n.id}`, which is set inside a function of the "
                                       "chapter: make the training call at the top level")
                names[n.id] = value
        for call in (n for n in ast.walk(expr) if isinstance(n, ast.Call)):
            if self.qualified(call.func) is None:
                raise self.fail(call, f"`{ast.unparse(call)}`: only named functions can be called here")
            func = self.run(call.func, names)
            allowed = any(func is b for b in SAFE_BUILTINS) or (
                inspect.isfunction(func) and func.__module__ == __name__ and func.__name__ not in ("setup", "pretrain"))
            if not allowed:
                raise self.fail(call, f"the runs depend on `{ast.unparse(call)}`, which the book does not call to "
                                      "find them (only asen.book's helpers and simple builtins)")
        return self.run(expr, names)

    def run(self, expr: ast.expr, names: dict[str, Any]) -> Any:
        try:
            return eval(compile(ast.Expression(expr), str(self.path), "eval"), {**names, "__builtins__": builtins})
        except ChapterRunsError:
            raise
        except Exception as exc:
            raise self.fail(expr, f"`{ast.unparse(expr)}` cannot be computed before the chapter runs: "
                                  f"{type(exc).__name__}: {exc}") from exc

    def scopes(self, binders: list, scope: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Every binding of the loop variables around a call: ``binders`` are the enclosing loops and
        comprehensions, outermost first, as ``(target, iterable, conditions)``, or a function's names."""
        if not binders:
            yield scope
            return
        first, rest = binders[0], binders[1:]
        if isinstance(first, set):  # the names of a function around the call: unknown
            yield from self.scopes(rest, {**scope, **dict.fromkeys(first, _OPAQUE)})
            return
        target, iterable, conditions = first
        for value in self.evaluate(iterable, scope):
            inner = {**scope, **self.unpack(target, value)}
            if all(self.evaluate(c, inner) for c in conditions):
                yield from self.scopes(rest, inner)

    def unpack(self, target: ast.expr, value: Any) -> dict[str, Any]:
        if isinstance(target, ast.Name):
            return {target.id: value}
        if isinstance(target, (ast.Tuple, ast.List)) and all(isinstance(t, ast.Name) for t in target.elts):
            return {t.id: v for t, v in zip(target.elts, value, strict=True)}
        raise self.fail(target, f"a loop over `{ast.unparse(target)}`: only names can be loop variables here")

    # ------------------------------------------------------------------------------------------ calls
    def calls(self, node: ast.AST, binders: list) -> Iterator[tuple[ast.Call, str, list]]:
        """The training calls under ``node``, each with its call name and the loops around it."""
        if isinstance(node, ast.Call):
            name = self.qualified(node.func)
            if name in self.functions:
                yield node, name, binders
            elif name in HIDDEN_TRAINING:
                raise self.fail(node, f"{name} trains runs the book cannot list before running the chapter: "
                                      f"train through {', '.join(TRAINING_CALLS)}")
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            own = {a.arg for a in ast.walk(node.args) if isinstance(a, ast.arg)}
            own |= {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)}
            for child in (node.body if isinstance(node.body, list) else [node.body]):
                yield from self.calls(child, [*binders, own])
        elif isinstance(node, (ast.For, ast.AsyncFor)):
            yield from self.calls(node.iter, binders)
            for child in [*node.body, *node.orelse]:
                yield from self.calls(child, [*binders, (node.target, node.iter, [])])
        elif isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
            inner = binders
            for gen in node.generators:
                yield from self.calls(gen.iter, inner)
                inner = [*inner, (gen.target, gen.iter, gen.ifs)]
                for cond in gen.ifs:
                    yield from self.calls(cond, inner)
            for child in ([node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]):
                yield from self.calls(child, inner)
        else:
            for child in ast.iter_child_nodes(node):
                yield from self.calls(child, binders)

    def runs(self) -> list:
        """Every run the chapter's training calls train, in the order of the calls."""
        runs = []
        for call, name, binders in self.calls(self.tree, []):
            function, runs_of = self.functions[name]
            for scope in self.scopes(binders, {"ctx": self.ctx}):
                args, kwargs = [], {}
                for a in call.args:
                    if isinstance(a, ast.Starred):
                        args.extend(self.evaluate(a.value, scope))
                    else:
                        args.append(self.evaluate(a, scope))
                for k in call.keywords:
                    if k.arg is None:
                        kwargs.update(self.evaluate(k.value, scope))
                    else:
                        kwargs[k.arg] = self.evaluate(k.value, scope)
                try:
                    bound = inspect.signature(function).bind(*args, **kwargs)
                except TypeError as exc:
                    raise self.fail(call, f"{name}: {exc}") from None
                bound.apply_defaults()
                runs += runs_of(bound.arguments)
        return runs


def chapter_sources(folder: str | Path = CHAPTERS_DIR) -> list[Path]:
    """The chapters ``NN_*.py`` of ``folder`` (default :data:`CHAPTERS_DIR`) in book order."""
    return sorted(Path(folder).glob("[0-9][0-9]_*.py"))


def chapter_runs(ctx: BookContext, chapter: str | Path) -> list:
    """The training runs one chapter asks for, read from its source without running it: the configs of its
    calls of ``ctx.trained(...)``, ``asen.reproduce.run_main_table(...)`` and ``asen.reproduce.run_ablations(...)``
    (:data:`TRAINING_CALLS`), whose arguments are computed from ``ctx`` as the chapter would compute them.

    Every training call counts, including one in a branch the chapter may not take (chapter 9 trains the
    ablations only when ``make ablations`` has not written them). The arguments that decide the runs must be
    computable before the chapter runs: literals, ``ctx`` and its attributes, names the chapter sets once at its
    top level from such values, loop and comprehension variables over them, and calls of :mod:`asen.book`'s
    helpers (``asen.book.main_table_method_seeds(ctx)``).

    Raises:
        ChapterRunsError: a training call whose runs cannot be worked out so (the message names the line), or a
            call that trains in another way (:data:`HIDDEN_TRAINING`).
    """
    return _Chapter(Path(chapter), ctx).runs()


def book_runs(ctx: BookContext, chapters: Iterable[str | Path] | None = None) -> tuple[list, list]:
    """The training runs the chapters ask for: ``(stage-1 configs, stage-2 configs)``, each run once, in the
    order the chapters ask for them (:func:`chapter_runs` of every chapter, default all of
    :func:`chapter_sources`). Nothing lists them elsewhere: a chapter that trains something new adds it here."""
    if chapters is None:
        chapters = chapter_sources()
        if not chapters:
            raise FileNotFoundError(f"no chapters in {CHAPTERS_DIR}: the book's runs are read from its chapters, "
                                    "which only a source checkout has")
    runs = [c for path in chapters for c in chapter_runs(ctx, path)]
    unique = list({(c.name, c.hash()): c for c in runs}.values())
    return [c for c in unique if c.train.stage == 1], [c for c in unique if c.train.stage == 2]


def pretrain(ctx: BookContext, jobs: int = 0, chapters: Iterable[str | Path] | None = None) -> None:
    """Train every run of :func:`book_runs` (of ``chapters``, default all) that is not trained yet, ``jobs`` at
    a time on a CPU (0: one per core, at most 4), so that the chapters only load them. The book build calls this
    before executing the chapters; a chapter run on its own trains just what it needs."""
    from dataclasses import replace

    from .reproduce import train_all

    protocol = replace(ctx.protocol, jobs=jobs, progress=True)
    stage1, stage2 = book_runs(ctx, chapters)
    train_all(protocol, [*stage1, *stage2], "training")  # each stage-2 run starts once its stage-1 run is done


# ------------------------------------------------------------------------------------ helpers of the chapters
def glue(**values: Any) -> None:
    """Hand numbers to the chapter's prose: ``glue(ap=0.5)`` makes ``{glue:text}`ap:.2f``` in a markdown cell
    render as 0.50 (myst-nb's glue; nothing is shown in the cell itself). NumPy scalars become Python numbers (so
    that a format spec applies). Where myst-nb is not installed (Colab) the values are printed instead, one
    ``name = value`` a line, since there the prose shows the roles, not the numbers."""
    plain = {k: (v.item() if isinstance(v, np.generic) else v) for k, v in values.items()}
    try:
        from myst_nb import glue as myst_glue
    except ImportError:
        print("\n".join(f"{k} = {v:.4g}" if isinstance(v, float) else f"{k} = {v}" for k, v in plain.items()))
        return
    for name, value in plain.items():
        myst_glue(name, value, display=False)


def epoch_log(run: str | Path) -> "pandas.DataFrame":  # noqa: F821
    """A run's training log as a table indexed by epoch (``loss``, ``valid_map``, ...): the epoch records of
    ``log.jsonl`` (events such as ``resume`` left out; after a resume the last record of an epoch wins). ``run``
    is the run folder or any checkpoint in its ``checkpoints/``."""
    import pandas as pd

    from .runs import read_log

    run = Path(run)
    if run.suffix == ".pt":
        run = run.parent.parent
    records = [r for r in read_log(run) if "epoch" in r and "loss" in r]
    if not records:
        raise ValueError(f"{run} has no epoch records in log.jsonl")
    return pd.DataFrame(records).drop_duplicates("epoch", keep="last").set_index("epoch")


def first_query(items: np.ndarray, attribute: int) -> int:
    """Row of the first query of ``attribute`` in a split's query items (``[image, attribute, value]`` rows):
    the chapters show queries chosen by position in the file, not by how well they come out."""
    rows = np.flatnonzero(np.asarray(items)[:, 1] == attribute)
    if not len(rows):
        raise ValueError(f"no query of attribute {attribute}")
    return int(rows[0])


def train_images_per_second(model: torch.nn.Module, branch: str, size: int, batch: int, steps: int,
                            num_attributes: int = 8) -> float:
    """Training throughput of one branch of ``model``: images per second through a forward and a backward pass
    on random images of ``size`` pixels (the median of ``steps`` steps after one warm-up step; the speed does not
    depend on the weights or the pixels). The gradients are cleared afterwards."""
    device = next(model.parameters()).device
    model.train()
    x = torch.randn(batch, 3, size, size, device=device)
    a = torch.randint(0, num_attributes, (batch,), device=device)
    times = []
    for step in range(steps + 1):  # the first step warms up
        t0 = time.perf_counter()
        emb, _ = model(x, a, branch=branch)
        emb.square().mean().backward()
        if device.type == "cuda":
            torch.cuda.synchronize()
        if step:
            times.append(time.perf_counter() - t0)
    model.zero_grad(set_to_none=True)
    return batch / float(np.median(times))


def saved_gpu_benchmark(paths: list[str | Path]) -> dict | None:
    """The paper configuration's training images/s from the first CUDA run of ``python -m benchmarks.run`` among
    ``paths`` (its JSON files): ``{"file", "gpu", "stage1", "stage2"}``, or None when none is a CUDA run."""
    for path in paths:
        try:
            found = json.loads(Path(path).read_text())
            train = found["results"]["train"]["paper"]
            if found["machine"]["device"] != "cuda":
                continue
            return {"file": str(path), "gpu": found["machine"].get("gpu"),
                    "stage1": max(v["images_per_s"] for v in train["stage1"].values()),
                    "stage2": train["stage2_crop"]["batched"]["images_per_s"]}
        except (OSError, KeyError, TypeError, ValueError):
            continue
    return None
