"""The ``asen index build``, ``asen search`` and ``asen rerank`` commands (``add_*_arguments`` / ``run_*``), and
the result-list files they read and write."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

import torch

from ..config import Config
from ..data import DataError
from ..embed import EmbedSettings, ImageList
from .attributes import load_attribute_names, resolve_attribute, resolve_attributes
from .index import build_index, load_index, search
from .rerank import rerank_order
from .vectors import INDEX_TYPES, require_faiss

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".gif", ".tif", ".tiff")


def _common_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="auto",
                   help="`auto` (CUDA when available, else CPU), `cpu`, `cuda`; default auto")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def _model_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint", required=True, help="a best.pt from `asen train` (or an official checkpoint)")
    p.add_argument("--meta", help="meta.json (or its folder) naming the attributes, when the checkpoint's dataset "
                                  "folder (data.root of its config) is not on this machine")


def add_index_arguments(p: argparse.ArgumentParser) -> None:
    """Arguments of ``asen index`` (sub-command ``build``); dispatch with :func:`run_index`."""
    sub = p.add_subparsers(dest="index_command", required=True, metavar="{build}")
    b = sub.add_parser("build", help="embed a gallery under each attribute and write one FAISS index per attribute",
                       description="Embed every gallery image once per attribute (L2-normalised; ASEN++: the fused "
                                   "global+local feature) and write one FAISS index per attribute, gallery.txt and "
                                   "index.json to --out. Example: asen index build --checkpoint runs/x/checkpoints/"
                                   "best.pt --images data/FashionAI/filenames_test.txt --root data/FashionAI "
                                   "--attributes all --out indexes/fashionai_test")
    _model_arguments(b)
    b.add_argument("--images", required=True,
                   help="a folder (searched recursively for image files) or a text file with one image path per line")
    b.add_argument("--root", help="folder that relative paths in an --images list are relative to (default: the "
                                  "current folder)")
    b.add_argument("--attributes", default="all",
                   help="`all` (default), or comma-separated names or indices, e.g. collar_design,neckline_design")
    b.add_argument("--out", required=True, help="index folder to write")
    b.add_argument("--index-type", choices=INDEX_TYPES, default="flat",
                   help="flat: exact inner product (default; fine up to about 1M images per attribute on a CPU); "
                        "hnsw: approximate graph index (fast queries, slower build); ivf: approximate, inverted lists")
    b.add_argument("--beta", type=float, help="ASEN++: weight of the global branch in the fused feature "
                                              "(default: eval.beta of the checkpoint's config, paper 0.6)")
    b.add_argument("--batch-size", type=int, default=64, help="images per forward pass (default 64)")
    b.add_argument("--num-workers", type=int, default=0, help="image-loading processes (default 0)")
    b.add_argument("--faiss-gpu", action="store_true", help="build the FAISS indexes on the GPU (needs faiss-gpu)")
    b.add_argument("--keep-features", action="store_true", help="also keep the gallery features (features_<a>.npy)")
    b.add_argument("--skip-bad-images", action="store_true",
                   help="index unreadable images as grey images (reported) instead of stopping")
    _common_arguments(b)


def add_search_arguments(p: argparse.ArgumentParser) -> None:
    """Arguments of ``asen search``; run with :func:`run_search`."""
    p.add_argument("--index", required=True, help="index folder written by `asen index build`")
    _model_arguments(p)
    p.add_argument("--image", required=True, help="the query image")
    p.add_argument("--attribute", required=True, help="attribute name or index, e.g. collar_design")
    p.add_argument("-k", type=int, default=10, help="number of results (default 10)")
    p.add_argument("--out", help="also write the results as `path<TAB>score` lines (input of `asen rerank`)")
    p.add_argument("--faiss-gpu", action="store_true", help="search on the GPU (needs faiss-gpu)")
    _common_arguments(p)


def add_rerank_arguments(p: argparse.ArgumentParser) -> None:
    """Arguments of ``asen rerank``; run with :func:`run_rerank`."""
    _model_arguments(p)
    p.add_argument("--image", required=True, help="the query image")
    p.add_argument("--attribute", required=True, help="attribute name or index, e.g. collar_design")
    p.add_argument("--results", required=True,
                   help="text file of results to reorder: one image path per line, optionally `path<TAB>score`")
    p.add_argument("--root", help="folder that relative paths in --results are relative to (default: current folder)")
    p.add_argument("--alpha", type=float, default=1.0,
                   help="weight of the attribute-specific similarity; below 1 blends with the scores of --results "
                        "(score = alpha * attribute + (1 - alpha) * original); default 1")
    p.add_argument("--beta", type=float, help="ASEN++: weight of the global branch (default: eval.beta of the config)")
    p.add_argument("--batch-size", type=int, default=64, help="images per forward pass (default 64)")
    p.add_argument("--out", help="also write the reranked list as `path<TAB>score` lines")
    _common_arguments(p)


def gallery_paths(images: str | Path, root: str | Path | None = None) -> list[str]:
    """Image paths from a folder (recursive, sorted, by extension) or a list file (one path per line).

    Raises:
        FileNotFoundError: ``images`` does not exist.
        DataError: an empty folder or list.
    """
    src = Path(images)
    if not src.exists():
        raise FileNotFoundError(f"--images: no such folder or file: {src}")
    if src.is_dir():
        paths = sorted(str(p) for p in src.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
        if not paths:
            raise DataError(f"no image files ({', '.join(IMAGE_EXTENSIONS)}) under {src}")
        return paths
    base = Path(root) if root else None
    paths = [_resolve(line.strip(), base) for line in src.read_text().splitlines() if line.strip()]
    if not paths:
        raise DataError(f"{src}: no image paths (expected one per line)")
    return paths


def _resolve(path: str, base: Path | None) -> str:
    return str(base / path) if base is not None and not Path(path).is_absolute() else path


def read_results(path: str | Path, root: str | Path | None = None) -> tuple[list[str], list[float] | None]:
    """Read a result list: ``path`` or ``path<TAB>score`` per line (all lines with a score, or none).

    Returns:
        ``(paths, scores or None)``.
    Raises:
        DataError: a bad score, or scores on some lines only (naming the line).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"--results: no such file: {path}")
    base = Path(root) if root else None
    paths: list[str] = []
    scores: list[float | None] = []
    for lineno, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        name, _, score = line.rstrip("\n").partition("\t")
        paths.append(_resolve(name.strip(), base))
        if score.strip():
            try:
                scores.append(float(score))
            except ValueError:
                raise DataError(f"{path}, line {lineno}: expected `path<TAB>score`, got {line!r}") from None
        else:
            scores.append(None)
    if not paths:
        raise DataError(f"{path}: no results (expected one image path per line)")
    have = [s is not None for s in scores]
    if any(have) and not all(have):
        missing = have.index(False) + 1
        raise DataError(f"{path}: some lines have a score and some do not (e.g. result {missing}); "
                        f"give `path<TAB>score` on every line or on none")
    return paths, ([float(s) for s in scores] if all(have) else None)  # type: ignore[arg-type]


def format_results(results: Sequence[tuple[str, float]], extra: Sequence[str] | None = None,
                   extra_name: str = "") -> str:
    """A ranked plain-text table: rank, score, (extra column,) path."""
    head = f"{'rank':>4}  {'score':>8}  " + (f"{extra_name:>8}  " if extra is not None else "") + "path"
    lines = [head, "-" * max(len(head), 40)]
    for r, (path, score) in enumerate(results, 1):
        col = f"{extra[r - 1]:>8}  " if extra is not None else ""
        lines.append(f"{r:>4}  {score:8.4f}  {col}{path}")
    return "\n".join(lines)


def _write_results(path: str | Path, results: Sequence[tuple[str, float]]) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text("".join(f"{p}\t{s:.6f}\n" for p, s in results))


def _load(args: argparse.Namespace) -> tuple[torch.nn.Module, Config, torch.device]:
    from ..checkpoint import load_model
    from ..runs import resolve_device

    device = resolve_device(args.device)
    model, cfg, _ = load_model(args.checkpoint, device)
    return model, cfg, device


def _cli_errors(fn):  # turn a missing FAISS into a one-line error like the other CLI errors
    def wrapped(args: argparse.Namespace) -> int:
        from ..checkpoint import CheckpointError

        try:
            return fn(args)
        except (ImportError, CheckpointError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    wrapped.__name__, wrapped.__doc__ = fn.__name__, fn.__doc__
    return wrapped


@_cli_errors
def run_index(args: argparse.Namespace) -> int:
    """``asen index build``: embed the gallery and write the index folder."""
    if args.index_command != "build":  # pragma: no cover - argparse restricts the choices
        raise ValueError(f"unknown index command {args.index_command!r}")
    require_faiss()
    paths = gallery_paths(args.images, args.root)
    model, cfg, device = _load(args)
    names = load_attribute_names(model.num_attributes, cfg, args.meta)
    attrs = resolve_attributes(args.attributes, names)
    print(f"indexing {len(paths)} images x {len(attrs)} attributes ({args.index_type}) on {device}")
    out = build_index(model, ImageList(paths, cfg.data.global_size, skip_bad_images=args.skip_bad_images), attrs,
                      args.out, device, args.batch_size, args.beta, attribute_names=names, config=cfg,
                      checkpoint=args.checkpoint, index_type=args.index_type, use_gpu=args.faiss_gpu,
                      num_workers=args.num_workers, keep_features=args.keep_features, progress=not args.quiet)
    info = json.loads((out / "index.json").read_text())
    print(f"wrote {out}: {info['num_items']} images, attributes {', '.join(names[a] for a in attrs)}, "
          f"dim {info['dim']} ({info['feature']}), embedding {info['seconds']['embed']:.1f} s, "
          f"indexing {info['seconds']['index']:.1f} s")
    return 0


@_cli_errors
def run_search(args: argparse.Namespace) -> int:
    """``asen search``: print the ranked results of one query under one attribute."""
    idx = load_index(args.index, use_gpu=args.faiss_gpu)
    a = idx.attribute_index(args.attribute)  # fail before loading the model
    idx.index(a)  # and on a changed index file
    model, cfg, device = _load(args)
    idx.check_model(model, args.checkpoint)
    results = search(idx, model, args.image, a, args.k, device)
    print(f"{args.image}: top {len(results)} of {len(idx.paths)} by '{idx.attribute_names[a]}'")
    print(format_results(results))
    if args.out:
        _write_results(args.out, results)
        print(f"wrote {args.out}")
    return 0


@_cli_errors
def run_rerank(args: argparse.Namespace) -> int:
    """``asen rerank``: reorder a result list by attribute-specific similarity to the query."""
    paths, scores = read_results(args.results, args.root)
    if args.alpha < 1.0 and scores is None:
        raise DataError(f"--alpha {args.alpha} blends with the original scores, but {args.results} has none "
                        f"(write `path<TAB>score` lines)")
    model, cfg, device = _load(args)
    names = load_attribute_names(model.num_attributes, cfg, args.meta)
    a = resolve_attribute(args.attribute, names)
    order, final = rerank_order(model, args.image, paths, a, device, alpha=args.alpha, original_scores=scores,
                                attribute_names=names, settings=EmbedSettings.from_config(cfg, args.beta),
                                batch_size=args.batch_size, progress=not args.quiet)
    results = [(paths[i], float(final[i])) for i in order]
    print(f"{args.image}: {len(results)} results reranked by '{names[a]}'"
          + (f" (alpha {args.alpha})" if args.alpha < 1.0 else ""))
    print(format_results(results, [str(i + 1) for i in order], "was"))
    if args.out:
        _write_results(args.out, results)
        print(f"wrote {args.out}")
    return 0
