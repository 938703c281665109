"""``asen synth`` (generate SynthFashion) and ``asen doctor`` (check a dataset folder)."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..errors import UserError
from .common import Command, add_flag, add_quiet, check_output_file, non_negative_int, positive_int


def cmd_synth(args: argparse.Namespace) -> int:
    """``asen synth``: generate SynthFashion, or only a preview grid."""
    from .. import synth

    if args.design is None:  # resolved here, not in the parser: importing asen.synth would slow every command
        args.design = synth.DEFAULT_DESIGN
    if args.design not in synth.DESIGNS:
        raise UserError(f"--design {args.design}: expected one of {', '.join(map(str, synth.DESIGNS))}")
    if args.preview is not None:  # --preview "" too: an error, not the whole dataset
        check_output_file(args.preview, "--preview")
        path = synth.save_preview(args.preview, seed=args.seed, design=args.design)
        print(f"wrote sample grid {path} (design {args.design})")
        return 0
    path = synth.generate_dataset(args.out, size=args.size, seed=args.seed, workers=args.workers,
                                  progress=not args.quiet, design=args.design)
    print(f"SynthFashion ({args.size}, seed {args.seed}, design {args.design}, "
          f"generator {synth.GENERATOR_VERSIONS[args.design]}) in {path}")
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    """``asen doctor``: check a dataset folder and print the report; 0 when clean, 1 on problems."""
    from ..doctor import doctor

    if args.json is not None:
        check_output_file(args.json, "--json")
    report = doctor(args.data_dir, check_images=not args.no_images, max_images=args.max_images,
                    progress=not args.no_progress, workers=args.workers)
    print(report.format())
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report.to_dict(), indent=1) + "\n")
    return 0 if report.ok else 1


def _synth_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="data/SynthFashion", help="output folder (default data/SynthFashion)")
    p.add_argument("--size", default="small",
                   help="tiny (seconds, tests), small (CPU default), fashionai (FashionAI's counts)")
    p.add_argument("--seed", type=non_negative_int, default=0,
                   help="generator seed (>= 0); same seed + version = identical files")
    p.add_argument("--workers", type=positive_int, default=None, help="processes (default: all cores)")
    p.add_argument("--preview", metavar="PNG",
                   help="only write a sample grid (one row per attribute, one column per value)")
    p.add_argument("--design", type=int, default=None,
                   help="how collars, lapels, neck designs, neckline edges and coat hems are drawn: 2 (default, "
                        "generator 2.2.0: contrasting pieces, bindings and hem bands, values differ in 2 px shapes) or 1 (generator 1.0.0, the first design: fine details "
                        "in the garment's fabric)")
    add_quiet(p)


def _doctor_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("data_dir", metavar="DATA_DIR", type=Path, help="dataset folder (e.g. data/FashionAI)")
    add_flag(p, "--no-images", "do not open the image files (text files only)")
    p.add_argument("--max-images", type=non_negative_int, default=None, metavar="N",
                   help="check at most N images, evenly spread over the splits (default: all)")
    p.add_argument("--workers", type=positive_int, default=4, help="threads decoding images (default 4)")
    add_flag(p, "--no-progress", "no progress bar")
    p.add_argument("--json", type=Path, default=None, metavar="PATH", help="also write the report as JSON")


COMMANDS = (
    Command("synth", "generate the SynthFashion dataset (or a preview grid)", _synth_arguments, cmd_synth,
            description="Generate SynthFashion in the split-file layout of the real datasets."),
    Command("doctor", "check a dataset folder (files, labels, images, splits)", _doctor_arguments, cmd_doctor,
            description="Check a dataset folder in the split-file layout: every file present, every line "
                        "parsed and in range, every image readable, the splits disjoint. Exit status 1 on "
                        "errors, 0 when only warnings (or nothing) were found."),
)
