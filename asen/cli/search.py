"""``asen index build``, ``asen search`` and ``asen rerank`` (:mod:`asen.search`)."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..errors import UserError
from .common import (Command, add_device, add_flag, add_quiet, check_output_file, check_output_folder,
                     non_negative_int, positive_int, unit_float)

INDEX_TYPES = ("flat", "hnsw", "ivf")
"""``--index-type`` choices: :data:`asen.search.INDEX_TYPES` (written out: importing asen.search loads torch)."""


def _require_faiss() -> None:
    """A missing FAISS is the user's to install: a one-line error naming the package."""
    from ..search import require_faiss

    try:
        require_faiss()
    except ImportError as exc:
        raise UserError(str(exc)) from exc


def _load(args: argparse.Namespace):
    """The model of ``--checkpoint`` on ``--device``: ``(model, config, device)``."""
    from ..checkpoint import load_model
    from ..runs import resolve_device

    device = resolve_device(args.device)
    model, cfg, _ = load_model(args.checkpoint, device)
    return model, cfg, device


INDEX_FILES = ("index.json", "gallery.txt", "attr_*.faiss", "features_*.npy")
"""What ``asen index build`` writes into its folder (:func:`asen.search.build_index`)."""


def _check_index_out(path: str, overwrite: bool) -> list[Path]:
    """``--out`` of ``asen index build``, checked before the gallery is embedded: a new or empty folder, or (with
    ``--overwrite``) an earlier index.

    Returns:
        The earlier index's files, which the caller deletes once the other arguments have been checked (so that
        none of them outlives the new index, and a mistyped --images, --checkpoint or --attributes deletes
        nothing); empty for a new or empty folder.
    Raises:
        UserError: an empty path or a file in the way; a folder holding an index without ``--overwrite``; a folder
            holding other files (the index would be mixed into them), which is refused before anything is deleted.
    """
    out = check_output_folder(path, "--out")
    if not out.is_dir() or not any(out.iterdir()):
        return []
    found = sorted({f for pattern in INDEX_FILES for f in out.glob(pattern)})
    if not found:
        raise UserError(f"--out {out}: a folder that holds other files, not an index; give a new or empty folder")
    others = sorted(p.name for p in out.iterdir() if p not in found)
    if others:
        raise UserError(f"--out {out}: besides an index it holds other files ({', '.join(others[:3])}); move them "
                        f"away or give another folder")
    if not overwrite:
        raise UserError(f"--out {out} holds an index already ({len(found)} files); give --overwrite to replace it, "
                        f"or another folder")
    return found


def cmd_index(args: argparse.Namespace) -> int:
    """``asen index build``: embed the gallery and write the index folder."""
    from ..embed import ImageList
    from ..search import build_index, gallery_paths, load_attribute_names, resolve_attributes

    _require_faiss()
    earlier = _check_index_out(args.out, args.overwrite)
    paths = gallery_paths(args.images, args.root)
    model, cfg, device = _load(args)
    names = load_attribute_names(model.num_attributes, cfg, args.meta)
    attrs = resolve_attributes(args.attributes, names)
    for f in earlier:  # --overwrite: only now that the arguments are known to be usable
        f.unlink()
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


def _print_results(args: argparse.Namespace, title: str, results, *extra) -> None:
    """The ranked table, and with ``--out`` the ``path<TAB>score`` file."""
    from ..search import format_results, write_results

    print(title)
    print(format_results(results, *extra))
    if args.out is not None:
        write_results(args.out, results)
        print(f"wrote {args.out}")


def cmd_search(args: argparse.Namespace) -> int:
    """``asen search``: print the ranked results of one query under one attribute."""
    from ..search import load_index, search

    _require_faiss()
    if args.out is not None:
        check_output_file(args.out, "--out")
    idx = load_index(args.index, use_gpu=args.faiss_gpu)
    a = idx.attribute_index(args.attribute)  # fail before loading the model
    idx.index(a)  # and on a changed index file
    model, cfg, device = _load(args)
    idx.check_model(model, args.checkpoint)
    results = search(idx, model, args.image, a, args.k, device)
    _print_results(args, f"{args.image}: top {len(results)} of {len(idx.paths)} by '{idx.attribute_names[a]}'",
                   results)
    return 0


def cmd_rerank(args: argparse.Namespace) -> int:
    """``asen rerank``: reorder a result list by attribute-specific similarity to the query."""
    from ..data import DataError
    from ..embed import EmbedSettings
    from ..search import load_attribute_names, read_results, rerank_order, resolve_attribute

    if args.out is not None:
        check_output_file(args.out, "--out")
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
    _print_results(args, f"{args.image}: {len(results)} results reranked by '{names[a]}'"
                   + (f" (alpha {args.alpha})" if args.alpha < 1.0 else ""),
                   results, [str(i + 1) for i in order], "was")
    return 0


def _model_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint", required=True, help="a best.pt from `asen train` (or an official checkpoint)")
    p.add_argument("--meta", help="meta.json (or its folder) naming the attributes, when the checkpoint's dataset "
                                  "folder (data.root of its config) is not on this machine")


def _query_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--image", required=True, help="the query image")
    p.add_argument("--attribute", required=True, help="attribute name or index, e.g. collar_design")


def _index_arguments(p: argparse.ArgumentParser) -> None:
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
    b.add_argument("--out", required=True, help="index folder to write: new or empty (--overwrite replaces an earlier "
                                                "index)")
    b.add_argument("--index-type", choices=INDEX_TYPES, default="flat",
                   help="flat: exact inner product (default; fine up to about 1M images per attribute on a CPU); "
                        "hnsw: approximate graph index (fast queries, slower build); ivf: approximate, inverted lists")
    b.add_argument("--beta", type=unit_float, help="ASEN++: weight of the global branch in the fused feature "
                                              "(default: eval.beta of the checkpoint's config, paper 0.6)")
    b.add_argument("--batch-size", type=positive_int, default=64, help="images per forward pass (default 64)")
    b.add_argument("--num-workers", type=non_negative_int, default=0, help="image-loading processes (default 0)")
    add_flag(b, "--faiss-gpu", "build the FAISS indexes on the GPU (needs faiss-gpu)")
    add_flag(b, "--keep-features", "also keep the gallery features (features_<a>.npy)")
    add_flag(b, "--overwrite", "replace the index an earlier `asen index build` wrote to --out (its files are "
                               "deleted first); without it, an --out holding an index is refused")
    add_flag(b, "--skip-bad-images", "index unreadable images as grey images (reported) instead of stopping")
    add_device(b)
    add_quiet(b)


def _search_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--index", required=True, help="index folder written by `asen index build`")
    _model_arguments(p)
    _query_arguments(p)
    p.add_argument("-k", type=positive_int, default=10, help="number of results (default 10)")
    p.add_argument("--out", help="also write the results as `path<TAB>score` lines (input of `asen rerank`)")
    add_flag(p, "--faiss-gpu", "search on the GPU (needs faiss-gpu)")
    add_device(p)
    add_quiet(p)


def _rerank_arguments(p: argparse.ArgumentParser) -> None:
    _model_arguments(p)
    _query_arguments(p)
    p.add_argument("--results", required=True,
                   help="text file of results to reorder: one image path per line, optionally `path<TAB>score`")
    p.add_argument("--root", help="folder that relative paths in --results are relative to (default: current folder)")
    p.add_argument("--alpha", type=unit_float, default=1.0,
                   help="weight of the attribute-specific similarity; below 1 blends with the scores of --results "
                        "(score = alpha * attribute + (1 - alpha) * original); default 1")
    p.add_argument("--beta", type=unit_float,
                   help="ASEN++: weight of the global branch (default: eval.beta of the config)")
    p.add_argument("--batch-size", type=positive_int, default=64, help="images per forward pass (default 64)")
    p.add_argument("--out", help="also write the reranked list as `path<TAB>score` lines")
    add_device(p)
    add_quiet(p)


COMMANDS = (
    Command("index", "attribute-specific FAISS indexes of a gallery (`asen index build ...`)", _index_arguments,
            cmd_index),
    Command("search", "nearest gallery images of a query under one attribute", _search_arguments, cmd_search,
            description="Example: asen search --index indexes/x --checkpoint best.pt --image q.jpg "
                        "--attribute collar_design -k 10"),
    Command("rerank", "reorder a result list by attribute-specific similarity to a query", _rerank_arguments,
            cmd_rerank, description="The paper's reranking application: reorder a general-similarity result list "
                                    "by the similarity of an attribute-specific embedding."),
)
