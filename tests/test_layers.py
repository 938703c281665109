"""The package's layers: a module imports only from its own layer or the ones below it.

From the bottom: ``base`` (errors, configs, CPU safeguards, torch.distributed helpers), ``nn`` (the paper's
networks, losses, crops, metrics, checkpoints), ``data`` (the dataset layout, images, samplers, SynthFashion),
``eval`` (embedding, evaluation, search, published figures), ``engine`` (training, pre-training, run folders),
``experiments`` (the main table, ablations, estimates, the book's helpers and plots) and ``cli`` (the commands).
So the model, data and evaluation code can be read, reused and tested without the trainer, the experiments or
the command line. Every module under ``asen/`` must have a layer here: a new module fails this test until it is
placed. Imports inside functions count as well as those at the top.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "asen"
LAYERS = ("base", "nn", "data", "eval", "engine", "experiments", "cli")
# top-level module or subpackage of asen -> layer
LAYER_OF = {
    "__init__": "base", "errors": "base", "config": "base", "cpu": "base", "distributed": "base",
    "attention": "nn", "losses": "nn", "backbones": "nn", "aaai": "nn", "model": "nn", "metrics": "nn",
    "checkpoint": "nn",
    # roi turns attention maps into image crops: it works on images, so it sits with the image code
    "layout": "data", "data": "data", "roi": "data", "device_images": "data", "toydata": "data", "synth": "data",
    "embed": "eval", "evaluate": "eval", "published": "eval", "search": "eval",
    "engine": "engine", "runs": "engine", "train": "engine", "pretrain": "engine",
    "estimate": "experiments", "reproduce": "experiments", "book": "experiments", "plots": "experiments",
    "cli": "cli", "doctor": "cli", "__main__": "cli",
}
# the few lower-layer imports of a higher layer's name that are deliberate, each with its reason
ALLOWED: dict[tuple[str, str], str] = {
    ("config", "backbones"): "model.backbone is checked against the backbones that exist",
    ("config", "layout"): "eval.split is checked against the split names the dataset layout defines",
}


def _top(module_path: Path) -> str:
    rel = module_path.relative_to(PACKAGE)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def _imported_tops(module_path: Path) -> set[str]:
    """The top-level asen modules a module imports (relative or absolute, anywhere in the file)."""
    tree = ast.parse(module_path.read_text(), filename=str(module_path))
    depth = len(module_path.relative_to(PACKAGE).parts)  # 1 for asen/x.py, 2 for asen/pkg/x.py, ...
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "asen" and len(parts) > 1:
                    out.add(parts[1])
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                parts = (node.module or "").split(".")
                if parts[0] != "asen":
                    continue
                rest = parts[1:]
            else:
                up = node.level - 1  # levels above the module's own package
                if up >= depth:
                    continue
                pkg_parts = list(module_path.relative_to(PACKAGE).parts[:-1])[: depth - 1 - up]
                rest = pkg_parts + (node.module.split(".") if node.module else [])
            if rest:
                out.add(rest[0])
            else:  # "from . import x" at the package root (or "from asen import x")
                out.update(alias.name for alias in node.names)
    return out


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if "configs" not in p.parts)


def test_every_module_has_a_layer() -> None:
    missing = sorted({_top(p) for p in MODULES} - set(LAYER_OF))
    assert not missing, f"modules without a layer in tests/test_layers.py: {missing}"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_imports_from_a_higher_layer(path: Path) -> None:
    own = _top(path)
    rank = LAYERS.index(LAYER_OF.get(own, "cli"))
    upward = sorted(
        f"{t} ({LAYER_OF[t]})" for t in _imported_tops(path) - {own}
        if t in LAYER_OF and LAYERS.index(LAYER_OF[t]) > rank and (own, t) not in ALLOWED
    )
    assert not upward, f"asen/{path.relative_to(PACKAGE)} ({LAYER_OF.get(own)}) imports from above: {upward}"


def test_the_import_reader_sees_relative_and_absolute_imports() -> None:
    # the reader itself, on modules whose imports are known: a layer test that read nothing would always pass
    index = PACKAGE / "search" / "index.py"
    assert _top(index) == "search" and _top(PACKAGE / "model.py") == "model"
    assert {"aaai", "attention", "backbones", "config"} <= _imported_tops(PACKAGE / "model.py")  # from .x import
    # from ..x import (one package up), from .x import (its own package), and an import inside a function
    assert {"config", "data", "embed", "search", "checkpoint"} <= _imported_tops(index)
