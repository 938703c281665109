"""Download DARN's images from the authors' URL list and (with ``--splits``) install the authors' split files.

DARN is distributed as image URLs (many of them dead by now: the authors could fetch 214,619 images) plus
split files, so this script has two parts:

1. Download. The URL list is a text file with one image a line, in one of these forms (blank lines and
   lines starting with ``#`` are ignored; columns are separated by spaces or tabs):

   * ``<relative image path> <url>`` (the authors' layout: two whitespace-separated columns),
   * ``<url> <relative image path>`` (the column starting with ``http://`` / ``https://`` is the URL),
   * ``<url>`` alone: the image is saved as ``images/<host>/<url path>``.

   Each image is saved to ``OUT/<relative image path>``. Downloads run in parallel (``--workers``), with
   a per-request ``--timeout``, ``--retries`` with exponential backoff (``--backoff`` x 2^attempt) for
   transient failures (timeouts, connection errors, HTTP 408/429/5xx; not for 404 or non-images), and
   every body is decoded with PIL (verify + load) before it is written to a temporary name and renamed,
   so a partial or broken file never appears under its final name. A rerun fetches only the images that
   are still missing (``--skip-dead`` also skips the URLs recorded as dead by an earlier run). Dead URLs
   are written to ``OUT/dead_urls.tsv`` (``path, url, reason, attempts``: HTTP status, timeout,
   connection error, not an image, ...), counts to ``OUT/download_report.json``. Only the standard
   library (urllib) is used for HTTP.

2. Split files (``--splits FILE_OR_FOLDER``: a folder, ``.zip`` or ``.tar.gz`` with ``filenames_*.txt``,
   ``label_train.txt``, ``{query,candidate}_{valid,test}.txt``, whose image paths are the relative paths
   of the URL list). They are copied into ``OUT`` with a ``meta.json`` (9 attributes: category, button,
   color, length, pattern, shape, collar, sleeve_length, sleeve_shape with 20, 13, 55, 7, 28, 11, 26, 8,
   17 values; value names from the authors' ``meta.json`` when it is there and matches). Items whose
   image could not be downloaded (or, with ``--verify-images``, does not decode) are EXCLUDED and the
   remaining images are RENUMBERED consistently in every file (ids are line numbers, so the files stay
   valid); the number of excluded lines is reported per split file and stored in ``counts.json``.

Example::

    python -m data_scripts.prepare_darn darn_url.txt --out data/DARN --workers 32 --splits meta_data.tar.gz
"""
from __future__ import annotations

import argparse
import csv
import http.client
import json
import os
import socket
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

if not __package__:  # run as a file, where `data_scripts` cannot be imported
    sys.exit("error: run it from the repository root as a module: python -m data_scripts.prepare_darn [...]")

from tqdm import tqdm

from asen.layout import image_problem, image_problems, meta_dict
from data_scripts._common import (
    PrepareError, Problems, add_common_arguments, authors_value_names, decode_line, format_counts, format_excluded,
    image_finder, install_authors_splits, make_output_folder, read_split_source, run_main, safe_relpath, script_parser,
    write_result,
)

DATASET = "DARN"
ATTRIBUTES = ("category", "button", "color", "length", "pattern", "shape", "collar", "sleeve_length", "sleeve_shape")
NUM_VALUES = (20, 13, 55, 7, 28, 11, 26, 8, 17)
USER_AGENT = "asen-book data_scripts/prepare_darn.py (research dataset download; urllib)"
TRANSIENT_HTTP = frozenset({408, 425, 429, 500, 502, 503, 504, 520, 521, 522, 523, 524})
MAX_BYTES = 64 * 1024 * 1024  # a larger body is not a DARN image
DEAD_FILE = "dead_urls.tsv"
REPORT_FILE = "download_report.json"


def darn_meta(value_names: Sequence[Sequence[str]] | None = None) -> dict:
    """``meta.json`` for DARN (value names ``"0"``, ``"1"``, ... unless the authors' names are given)."""
    names = value_names or [[str(v) for v in range(n)] for n in NUM_VALUES]
    return meta_dict(DATASET, ATTRIBUTES, NUM_VALUES, names)


# ------------------------------------------------------------------------------------------- URL list
@dataclass(frozen=True)
class UrlEntry:
    """One image of the URL list."""

    rel: str  # path relative to the output folder
    url: str
    lineno: int


def _is_url(token: str) -> bool:
    return token.lower().startswith(("http://", "https://"))


def url_to_relpath(url: str) -> str:
    """``images/<host>/<path>`` for a bare URL (query strings folded into the name, unsafe characters
    replaced)."""
    parts = urllib.parse.urlsplit(url)
    path = urllib.parse.unquote(parts.path).strip("/") or "index"
    if parts.query:
        path += "_" + parts.query
    safe = "".join(c if c.isalnum() or c in "-_./" else "_" for c in f"{parts.netloc}/{path}")
    segs = [s for s in safe.split("/") if s not in ("", ".", "..")]
    return "images/" + "/".join(segs)


def read_url_list(path: str | Path, problems: Problems) -> list[UrlEntry]:
    """Parse the URL list (format in the module docstring). A bad line raises, or is counted with
    ``--skip-bad``; a path listed twice with the same URL is kept once (noted), with another URL it is bad."""
    path = Path(path)
    if not path.is_file():
        raise PrepareError(f"URL list not found: {path} (the authors distribute it as darn_url.txt; see data_scripts/README.md)")
    entries: dict[str, UrlEntry] = {}
    repeats = 0
    with open(path, "rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            line = decode_line(raw, lineno)
            if line is None:
                problems.bad("malformed line", f"{path}, line {lineno}: not UTF-8 text: {raw[:80]!r}")
                continue
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            toks = text.split()
            where = f"{path}, line {lineno}"
            if len(toks) == 1 and _is_url(toks[0]):
                url, rel = toks[0], url_to_relpath(toks[0])
            elif len(toks) == 2 and _is_url(toks[1]) and not _is_url(toks[0]):
                rel, url = toks
            elif len(toks) == 2 and _is_url(toks[0]) and not _is_url(toks[1]):
                url, rel = toks
            else:
                problems.bad(
                    "malformed line",
                    f"{where}: expected '<relative path> <http(s) url>' (or a bare url), got {text!r}",
                )
                continue
            try:
                rel = safe_relpath(rel, where)
            except PrepareError as exc:
                problems.bad("malformed line", str(exc))
                continue
            if rel in entries:
                if entries[rel].url == url:
                    repeats += 1
                    continue
                problems.bad(
                    "duplicate path",
                    f"{where}: path {rel} already listed on line {entries[rel].lineno} with another url: {text!r}",
                )
                continue
            entries[rel] = UrlEntry(rel, url, lineno)
    if repeats:
        problems.note(f"{path}: {repeats} repeated line(s) (same path and url) kept once")
    if not entries:
        raise PrepareError(f"{path}: no image URLs found")
    return list(entries.values())


# ------------------------------------------------------------------------------------------- download
@dataclass
class FetchResult:
    """Outcome of one image: ``status`` is ``downloaded``, ``present``, ``dead`` or ``skipped``."""

    entry: UrlEntry
    status: str
    reason: str = ""
    attempts: int = 0


def _temp_name(dest: Path) -> Path:
    return dest.with_name(f".{dest.name}.{os.getpid()}-{threading.get_ident()}.part")


def _is_temp(name: str) -> bool:
    return name.startswith(".") and name.endswith(".part")


def remove_stale_parts(out: Path, entries: Sequence[UrlEntry]) -> int:
    """Delete temporary ``.part`` files left by an interrupted run in the folders the list writes to."""
    removed = 0
    for folder in {(out / e.rel).parent for e in entries}:
        if folder.is_dir():
            for p in folder.iterdir():
                if _is_temp(p.name) and p.is_file():
                    p.unlink()
                    removed += 1
    return removed


def quote_url(url: str) -> str:
    """Percent-encode characters that http.client cannot send (spaces, non-ASCII) and keep the rest."""
    if url.isascii() and " " not in url:
        return url
    return urllib.parse.quote(url, safe=":/?&=%#+,;@!$'()*~[]")


def fetch_one(entry: UrlEntry, out: Path, timeout: float, retries: int, backoff: float) -> FetchResult:
    """Download one image with retries; verify it decodes; write it atomically (temp name, rename).

    Raises:
        PrepareError: the image cannot be written to disk (a local problem, e.g. the disk is full).
    """
    dest = out / entry.rel
    reason, attempts = "", 0
    for attempt in range(retries + 1):
        attempts += 1
        transient = False
        try:
            req = urllib.request.Request(
                quote_url(entry.url), headers={"User-Agent": USER_AGENT, "Accept": "image/*,*/*;q=0.5"}
            )
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                data = resp.read(MAX_BYTES + 1)
                ctype = resp.headers.get_content_type()
            if len(data) > MAX_BYTES:
                reason = f"too large (over {MAX_BYTES} bytes)"
                break
        except urllib.error.HTTPError as exc:
            reason, transient = f"HTTP {exc.code}", exc.code in TRANSIENT_HTTP
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, (socket.timeout, TimeoutError)):
                reason = "timeout"
            else:
                reason = f"connection error ({exc.reason})"
            transient = True
        except (socket.timeout, TimeoutError):
            reason, transient = "timeout", True
        except ValueError as exc:  # e.g. an unknown url scheme: retrying cannot help
            reason = f"bad url ({exc})"
        except (http.client.HTTPException, OSError) as exc:
            reason, transient = f"connection error ({type(exc).__name__}: {exc})", True
        else:
            bad = image_problem(data)
            if bad is None:
                tmp = _temp_name(dest)
                try:
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    tmp.write_bytes(data)
                    os.replace(tmp, dest)
                except OSError as exc:
                    raise PrepareError(f"cannot write {dest}: {exc}") from exc
                finally:
                    if tmp.exists():
                        tmp.unlink()
                return FetchResult(entry, "downloaded", "", attempts)
            reason = f"not an image ({ctype}, {len(data)} bytes: {bad})"
        if not transient or attempt == retries:
            break
        time.sleep(backoff * (2**attempt))
    return FetchResult(entry, "dead", reason, attempts)


def read_dead(out: Path) -> dict[str, tuple[str, str, int]]:
    """``dead_urls.tsv`` of an earlier run: ``{path: (url, reason, attempts)}`` (empty when absent)."""
    path = out / DEAD_FILE
    dead: dict[str, tuple[str, str, int]] = {}
    if path.is_file():
        with open(path, newline="") as fh:
            for row in csv.DictReader(fh, delimiter="\t"):
                try:
                    dead[row["path"]] = (row["url"], row["reason"], int(row.get("attempts") or 0))
                except (KeyError, TypeError, ValueError):
                    continue
    return dead


def write_dead(out: Path, results: Sequence[FetchResult]) -> Path:
    """Write ``dead_urls.tsv``: ``path, url, reason, attempts`` of every image still missing."""
    path = out / DEAD_FILE
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", newline="") as fh:
        writer = csv.writer(fh, delimiter="\t", lineterminator="\n")
        writer.writerow(["path", "url", "reason", "attempts"])
        for r in sorted(results, key=lambda r: r.entry.rel):
            if r.status in ("dead", "skipped"):
                writer.writerow([r.entry.rel, r.entry.url, r.reason, r.attempts])
    os.replace(tmp, path)
    return path


def download(
    entries: Sequence[UrlEntry],
    out: str | Path,
    *,
    workers: int = 16,
    timeout: float = 20.0,
    retries: int = 3,
    backoff: float = 1.0,
    skip_dead: bool = False,
    verify_existing: bool = False,
    progress: bool = True,
) -> dict:
    """Fetch every entry not yet under ``out``; returns the report (also written to ``download_report.json``).

    Already present files are not fetched again (``verify_existing`` decodes them first and refetches the
    unreadable ones); with ``skip_dead`` URLs recorded in an earlier ``dead_urls.tsv`` are not retried.
    """
    out = Path(out)
    make_output_folder(out)
    stale = remove_stale_parts(out, entries)
    previous_dead = read_dead(out) if skip_dead else {}
    results: list[FetchResult] = []
    todo: list[UrlEntry] = []
    present = [e for e in entries if (out / e.rel).is_file()]
    if verify_existing and present:
        reasons = image_problems([out / e.rel for e in present], workers, progress, "verifying present images")
        present = [e for e, reason in zip(present, reasons) if reason is None]
    present_set = {e.rel for e in present}
    for e in entries:
        if e.rel in present_set:
            results.append(FetchResult(e, "present"))
        elif e.rel in previous_dead and previous_dead[e.rel][0] == e.url:
            _, reason, attempts = previous_dead[e.rel]
            results.append(FetchResult(e, "skipped", reason, attempts))
        else:
            todo.append(e)
    if todo:
        pool = ThreadPoolExecutor(max_workers=max(1, workers))
        try:
            futures = [pool.submit(fetch_one, e, out, timeout, retries, backoff) for e in todo]
            bar = tqdm(as_completed(futures), total=len(futures), desc="downloading DARN", unit=" img", disable=not progress)
            for fut in bar:
                results.append(fut.result())
        except BaseException:  # Ctrl-C or a write error: stop now (a rerun resumes), not after every download
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        pool.shutdown()
    write_dead(out, results)
    by_status: dict[str, int] = {s: 0 for s in ("present", "downloaded", "dead", "skipped")}
    reasons: dict[str, int] = {}
    for r in results:
        by_status[r.status] += 1
        if r.status == "dead":
            key = r.reason.split(" (")[0]  # "HTTP 404", "timeout", "not an image", "connection error", ...
            reasons[key] = reasons.get(key, 0) + 1
    report = {
        "listed": len(entries),
        "present_before": by_status["present"],
        "downloaded": by_status["downloaded"],
        "dead": by_status["dead"],
        "skipped_dead": by_status["skipped"],
        "available": by_status["present"] + by_status["downloaded"],
        "dead_by_reason": dict(sorted(reasons.items())),
        "stale_part_files_removed": stale,
        "dead_list": str(out / DEAD_FILE),
    }
    (out / REPORT_FILE).write_text(json.dumps(report, indent=1) + "\n")
    return report


def format_download_report(report: dict) -> str:
    """The download counts as a few readable lines."""
    lines = [
        f"URL list: {report['listed']} images; already present {report['present_before']}, "
        f"downloaded now {report['downloaded']}, dead {report['dead']}"
        + (f", not retried (--skip-dead) {report['skipped_dead']}" if report["skipped_dead"] else ""),
        f"available: {report['available']} of {report['listed']}",
    ]
    for reason, n in report["dead_by_reason"].items():
        lines.append(f"  dead: {reason}: {n}")
    if report["dead"] or report["skipped_dead"]:
        lines.append(f"dead URLs listed in {report['dead_list']}")
    if report["stale_part_files_removed"]:
        lines.append(f"removed {report['stale_part_files_removed']} partial file(s) left by an interrupted run")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------ split files
def install_splits(
    splits: str | Path, out: str | Path, *, verify_images: bool = False, workers: int = 4, progress: bool = True
) -> dict:
    """Copy the authors' split files into ``out``, exclude the items whose image is not there (renumbering
    ids), write ``meta.json`` and ``counts.json``. Returns ``{"counts", "excluded", "problems"}``."""
    out = Path(out)
    extra: dict = {}
    texts, origin = read_split_source(splits, DATASET, extra)
    names = authors_value_names(extra.get("meta"), DATASET, NUM_VALUES)
    meta = darn_meta(names)
    problems = Problems(skip_bad=True)  # dead URLs are expected: missing images are excluded and counted
    sf, excluded = install_authors_splits(
        texts, origin, out, meta, problems, image_finder(out, []),  # an image is where the download put it
        link="symlink", verify=verify_images, workers=workers, progress=progress,
    )
    return write_result(out, sf, problems, excluded, split_source=origin)


# ------------------------------------------------------------------------------------------------- CLI
def build_parser() -> argparse.ArgumentParser:
    parser = script_parser(
        "prepare_darn.py", "Download DARN images from a URL list (resumable) and install the authors' split files."
    )
    parser.add_argument(
        "url_list", type=Path, nargs="?", default=None,
        help="URL list: '<relative path> <url>' per line (see the module docstring); not needed with --no-download",
    )
    parser.add_argument("--out", type=Path, default=Path("data/DARN"), help="output dataset folder")
    parser.add_argument("--splits", type=Path, default=None, help="the authors' split files (folder, .zip or .tar.gz)")
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds per network operation of a request")
    parser.add_argument("--retries", type=int, default=3, help="retries of a transient failure (timeouts, 5xx, 429)")
    parser.add_argument("--backoff", type=float, default=1.0, help="first retry delay in seconds, doubled each retry")
    parser.add_argument("--skip-dead", action="store_true", help="do not retry URLs listed in an earlier dead_urls.tsv")
    parser.add_argument("--no-download", action="store_true", help="only (re)install the split files from what is on disk")
    add_common_arguments(parser, link=False, split_options=False)
    parser.set_defaults(workers=16)
    return parser


def _run(args: argparse.Namespace) -> int:
    if args.retries < 0 or args.timeout <= 0 or args.workers < 1 or args.backoff < 0:
        raise PrepareError(f"--retries must be >= 0, --timeout > 0, --workers >= 1 and --backoff >= 0 (got --retries "
                           f"{args.retries}, --timeout {args.timeout}, --workers {args.workers}, --backoff {args.backoff})")
    problems = Problems(args.skip_bad)
    progress = not args.no_progress
    if not args.no_download:
        if args.url_list is None:
            raise PrepareError("give the URL list (or --no-download with --splits to only install the split files)")
        entries = read_url_list(args.url_list, problems)
        report = download(
            entries, args.out, workers=args.workers, timeout=args.timeout, retries=args.retries,
            backoff=args.backoff, skip_dead=args.skip_dead, verify_existing=args.verify_images, progress=progress,
        )
        print(format_download_report(report))
        text = problems.report()
        if text:
            print(text)
    if args.splits is not None:
        result = install_splits(args.splits, args.out, verify_images=args.verify_images, workers=args.workers, progress=progress)
        print(format_counts(result["counts"], per_value=False))
        print(format_excluded(result["excluded"]))
        print(f"wrote {args.out} (split files, meta.json, counts.json)")
    elif args.no_download:
        raise PrepareError("--no-download needs --splits (nothing to do otherwise)")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status (2 on bad input)."""
    return run_main(build_parser, _run, argv)


if __name__ == "__main__":
    sys.exit(main())
