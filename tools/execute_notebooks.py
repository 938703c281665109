"""Execute the book's chapters before the book is built: jupytext ``.py`` -> ``.ipynb`` -> papermill.

The chapters' sources are the jupytext percent-format files ``notebooks/NN_*.py``. This script converts each
one to a notebook, fills in the repository URL from ``_config.yml`` (``repository.url``, the only place it is
written; a cell may hold the placeholder ``@REPOSITORY_URL@``), runs it with papermill
under the given profile and parameters, in order 01, 02, ..., and writes ``<out>/<name>.ipynb``. The book is
then built from those executed notebooks (``execute_notebooks: "off"`` in ``_config.yml``): papermill is the
only executor.

Re-execution is skipped when nothing that can change a notebook's outputs has changed: the stamp of a notebook
is a SHA-256 over its ``.py`` source, the parameters (profile, paths, seed, device), the repository URL and
every source file of the ``asen`` package. The stamp is stored in the executed notebook's own metadata
(``metadata.asen_book.stamp``), so an output and its stamp cannot disagree; a failed or interrupted execution
leaves no stamped output behind (``<name>.failed.ipynb`` keeps the failed run for inspection).

Usage::

    python tools/execute_notebooks.py --profile smoke                 # all chapters into notebooks/*.ipynb
    python tools/execute_notebooks.py --profile cpu --only 03 06      # chapters whose name contains 03 or 06
    python tools/execute_notebooks.py --export _build/colab           # unexecuted notebooks (Colab), no kernel

The export is what the book's Colab launch button opens; it alone gets :data:`COLAB_INSTALL`, the one cell that
installs the library on Colab, placed after the chapter's title. The chapters themselves never install anything.

A failing cell stops the run (``--keep-going`` runs the remaining chapters first) with a message naming the
notebook, the cell (index and line of the ``.py`` file) and the exception, and a non-zero exit status.
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import hashlib
import json
import os
import re
import sys
import time
from pathlib import Path
from typing import Any, Iterable, Sequence

REPO_ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
CONFIG = REPO_ROOT / "_config.yml"
URL_PLACEHOLDER = "@REPOSITORY_URL@"
# The install cell of every exported (Colab) notebook, the only place the book installs itself; the URL is filled in.
COLAB_INSTALL = f"""\
# Colab: install the book's library from its repository
%pip install -q "asen[notebooks] @ git+{URL_PLACEHOLDER}\""""
STAMP_SCHEMA = 1
PROFILES = ("smoke", "cpu", "gpu")
# the parameters cell of every chapter, in order, with its defaults (see book/CONTRIBUTING-chapters.md)
PARAMETER_DEFAULTS: dict[str, Any] = {
    "profile": "cpu", "dataset": "SynthFashion", "data_root": None, "device": "auto", "seed": 0,
    "runs_root": "runs/synthfashion", "results_dir": "results/book",
}
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# Known, harmless warnings of the library, silenced in the kernels (PYTHONWARNINGS) so that the book's pages show
# no stderr; anything else on stderr fails the browser check. Remove an entry when the library is fixed.
KNOWN_WARNINGS = (
    "IProgress not found",  # asen imports tqdm.auto, which wants ipywidgets in a notebook (bars are off anyway)
)


class NotebookFailed(RuntimeError):
    """A chapter raised; the message names the notebook, the cell and the exception."""


@dataclasses.dataclass
class Outcome:
    notebook: Path
    status: str  # "ran", "skipped" or "failed"
    seconds: float = 0.0
    message: str = ""


# ------------------------------------------------------------------------------------------------ inputs
def chapter_sources(folder: Path = NOTEBOOKS_DIR, only: Sequence[str] = ()) -> list[Path]:
    """The chapters ``NN_*.py`` of a folder in book order (:func:`asen.book.chapter_sources`), optionally those
    whose name contains one of ``only``."""
    from asen.book import chapter_sources as chapters

    paths = chapters(folder)
    if only:
        paths = [p for p in paths if any(o in p.stem for o in only)]
    return paths


def repository_url(config: Path = CONFIG) -> str:
    """``repository.url`` of the book's ``_config.yml``."""
    import yaml

    data = yaml.safe_load(Path(config).read_text()) or {}
    url = (data.get("repository") or {}).get("url")
    if not url:
        raise SystemExit(f"{config}: repository.url is not set (the Colab cell and launch buttons need it)")
    return str(url).rstrip("/")


def asen_source_hash(package_dir: Path | None = None) -> str:
    """SHA-256 over every ``.py``/``.yaml`` file of the ``asen`` package (paths and bytes)."""
    if package_dir is None:
        package_dir = REPO_ROOT / "asen"
        if not package_dir.is_dir():  # an installed (non-editable) package
            import importlib.util

            spec = importlib.util.find_spec("asen")
            if spec is None or spec.origin is None:
                raise SystemExit("cannot find the asen package (pip install -e . first)")
            package_dir = Path(spec.origin).parent
    h = hashlib.sha256()
    for path in sorted(p for p in Path(package_dir).rglob("*") if p.suffix in (".py", ".yaml") and p.is_file()):
        if "__pycache__" in path.parts:
            continue
        h.update(path.relative_to(package_dir).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def notebook_stamp(source: Path, parameters: dict[str, Any], url: str, asen_hash: str) -> str:
    """What the outputs of one chapter depend on, hashed."""
    h = hashlib.sha256()
    h.update(json.dumps({"schema": STAMP_SCHEMA, "parameters": parameters, "url": url, "asen": asen_hash},
                        sort_keys=True).encode())
    h.update(Path(source).read_bytes())
    return h.hexdigest()


def convert(source: Path, url: str, colab: bool = False):
    """Read a jupytext ``.py`` chapter as an (unexecuted) notebook with the repository URL filled in; ``colab``
    adds :data:`COLAB_INSTALL` after the title cell (the notebooks the Colab launch button opens)."""
    import jupytext
    import nbformat

    nb = jupytext.read(source, fmt="py:percent")
    if colab:
        nb.cells.insert(1 if nb.cells and nb.cells[0].cell_type == "markdown" else 0,
                        nbformat.v4.new_code_cell(COLAB_INSTALL, metadata={"tags": ["colab-install"]}))
    for cell in nb.cells:
        if cell.cell_type == "code" and URL_PLACEHOLDER in cell.source:
            cell.source = cell.source.replace(URL_PLACEHOLDER, url)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nb.metadata.pop("jupytext", None)
    if not any("parameters" in c.metadata.get("tags", []) for c in nb.cells):
        raise NotebookFailed(f"{_rel(source)}: no cell tagged 'parameters' (see book/CONTRIBUTING-chapters.md)")
    nbformat.validator.normalize(nb)
    return nb


def read_stamp(path: Path) -> str | None:
    """The stamp stored in an executed notebook, or None."""
    try:
        meta = json.loads(Path(path).read_text()).get("metadata", {})
    except (OSError, ValueError):
        return None
    return (meta.get("asen_book") or {}).get("stamp")


# ------------------------------------------------------------------------------------------------ errors
def _rel(path: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def source_line(source: Path, cell_index: int) -> int | None:
    """1-based line of the ``.py`` file where source cell ``cell_index`` starts (its ``# %%`` marker)."""
    markers = [i for i, line in enumerate(Path(source).read_text().splitlines(), 1) if line.startswith("# %%")]
    return markers[cell_index] if 0 <= cell_index < len(markers) else None


def describe_failure(source: Path, executed, error) -> str:
    """Turn papermill's error (index into the *executed* notebook) into a message about the ``.py`` source."""
    index = error.cell_index
    injected = [i for i, c in enumerate(executed.cells) if "injected-parameters" in c.metadata.get("tags", [])]
    src_index = index - sum(1 for i in injected if i < index)
    line = source_line(source, src_index)
    where = f"cell {src_index}" + (f" (line {line})" if line else "") + f", execution count {error.exec_count}"
    tb = _ANSI.sub("", "\n".join(error.traceback or []))
    tail = "\n".join(tb.strip().splitlines()[-12:])
    return f"{_rel(source)}: {where} raised {error.ename}: {error.evalue}\n{tail}"


# --------------------------------------------------------------------------------------------- execution
@contextlib.contextmanager
def kernel_environment():
    """Environment of the kernels papermill starts: the known library warnings silenced, and this checkout first
    on ``PYTHONPATH``, so that the kernels import the ``asen`` the stamps hash, also where it is not installed
    (a GPU machine's own Python running the checkout)."""
    saved = {k: os.environ.get(k) for k in ("PYTHONWARNINGS", "PYTHONPATH")}
    os.environ["PYTHONWARNINGS"] = ",".join(filter(None, [saved["PYTHONWARNINGS"],
                                                          *(f"ignore:{m}" for m in KNOWN_WARNINGS)]))
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), saved["PYTHONPATH"]]))
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def hide_injected_parameters(nb) -> int:
    """Tag papermill's injected-parameters cell ``remove-cell`` (Jupyter Book leaves it out of the page: it would
    repeat the chapter's own parameters cell); the values stay in the notebook. Returns the cells tagged."""
    count = 0
    for cell in nb.cells:
        tags = cell.metadata.setdefault("tags", [])
        if "injected-parameters" in tags and "remove-cell" not in tags:
            tags.append("remove-cell")
            count += 1
    return count


def execute(source: Path, out_dir: Path, parameters: dict[str, Any], url: str, asen_hash: str, force: bool = False,
            cwd: Path = REPO_ROOT, cell_timeout: int | None = None) -> Outcome:
    """Execute one chapter into ``out_dir/<name>.ipynb`` unless its stamp is unchanged.

    Raises:
        NotebookFailed: a cell raised (the message names the notebook, the cell and the exception).
    """
    import nbformat
    import papermill
    from papermill.exceptions import PapermillExecutionError

    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{source.stem}.ipynb"
    running = out_dir / f".{source.stem}.running.ipynb"
    failed = out_dir / f"{source.stem}.failed.ipynb"
    stamp = notebook_stamp(source, parameters, url, asen_hash)
    if not force and target.exists() and read_stamp(target) == stamp:
        return Outcome(source, "skipped")
    target.unlink(missing_ok=True)  # never leave a stale output that looks current
    nb = convert(source, url)
    t0 = time.time()
    try:
        with kernel_environment():
            papermill.execute_notebook(nb, str(running), parameters=parameters, kernel_name="python3", cwd=str(cwd),
                                       progress_bar=False, log_output=False, execution_timeout=cell_timeout,
                                       extra_arguments=["--IPKernelApp.log_level=CRITICAL"])  # no TCP-encryption notice
    except PapermillExecutionError as exc:
        executed = nbformat.read(running, as_version=4)
        running.replace(failed)
        raise NotebookFailed(describe_failure(source, executed, exc) + f"\n(the failed notebook: {_rel(failed)})") from None
    except Exception as exc:  # kernel died, timeout, ...
        raise NotebookFailed(f"{_rel(source)}: execution stopped: {type(exc).__name__}: {exc}") from exc
    seconds = time.time() - t0
    executed = nbformat.read(running, as_version=4)
    hide_injected_parameters(executed)
    executed.metadata["asen_book"] = {"stamp": stamp, "source": _rel(source), "parameters": parameters,
                                      "seconds": round(seconds, 1)}
    nbformat.write(executed, running)
    running.replace(target)
    failed.unlink(missing_ok=True)
    return Outcome(source, "ran", seconds)


def run_all(sources: Iterable[Path], out_dir: Path, parameters: dict[str, Any], force: bool = False,
            keep_going: bool = False, cwd: Path = REPO_ROOT, log=print, url: str | None = None,
            cell_timeout: int | None = None) -> list[Outcome]:
    """Execute chapters in order; stop at the first failure unless ``keep_going``. Returns one outcome each."""
    url = url or repository_url()
    asen_hash = asen_source_hash()
    outcomes: list[Outcome] = []
    for source in sources:
        try:
            outcome = execute(Path(source), Path(out_dir), parameters, url, asen_hash, force, cwd, cell_timeout)
        except NotebookFailed as exc:
            outcome = Outcome(Path(source), "failed", message=str(exc))
        outcomes.append(outcome)
        label = {"ran": f"ran {outcome.seconds:6.1f} s", "skipped": "unchanged, skipped", "failed": "FAILED"}
        log(f"[{label[outcome.status]:>18}] {_rel(outcome.notebook)}")
        if outcome.status == "failed":
            log(outcome.message)
            if not keep_going:
                break
    return outcomes


def export(sources: Iterable[Path], out_dir: Path, url: str | None = None) -> list[Path]:
    """Write the unexecuted notebooks (URL filled in, the Colab install cell added) for Colab; no kernel is
    started."""
    import nbformat

    url = url or repository_url()
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for source in sources:
        path = out_dir / f"{Path(source).stem}.ipynb"
        nbformat.write(convert(Path(source), url, colab=True), path)
        written.append(path)
    return written


def pretrain_runs(parameters: dict[str, Any], jobs: int = 0, sources: Sequence[Path] | None = None) -> None:
    """Generate the data if needed and train every run the chapters ``sources`` (default all) ask for, several
    at a time on a CPU (:func:`asen.book.pretrain`), before any chapter starts: chapters then load them from the
    run cache. The runs are read from the chapters' own training calls (:func:`asen.book.chapter_runs`)."""
    from asen.book import pretrain, setup

    if parameters["dataset"] != "SynthFashion" and not parameters["data_root"]:
        return  # chapter 12 alone uses real data; nothing to pre-train
    ctx = setup(**{k: v for k, v in parameters.items() if v is not None}, progress=True)
    pretrain(ctx, jobs, chapter_sources() if sources is None else sources)


def parameters_from_args(args: argparse.Namespace) -> dict[str, Any]:
    return {"profile": args.profile, "dataset": args.dataset, "data_root": args.data_root, "device": args.device,
            "seed": args.seed, "runs_root": args.runs_root, "results_dir": args.results_dir}


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--profile", choices=PROFILES, default="cpu",
                   help="smoke (seconds per chapter, for tests), cpu (the book's default), gpu")
    p.add_argument("--out", type=Path, default=NOTEBOOKS_DIR,
                   help="where the executed notebooks go (default notebooks/, next to their sources and git-ignored; "
                        "the book is built from there)")
    p.add_argument("--notebooks", type=Path, default=NOTEBOOKS_DIR, help="folder of the NN_*.py chapters")
    p.add_argument("--only", nargs="+", default=(), metavar="TEXT", help="only chapters whose name contains TEXT")
    p.add_argument("--force", action="store_true", help="execute even when the stamp is unchanged")
    p.add_argument("--keep-going", action="store_true", help="run the remaining chapters after a failure")
    p.add_argument("--export", type=Path, metavar="DIR", help="only convert (no execution): unexecuted notebooks for Colab")
    p.add_argument("--dataset", default=PARAMETER_DEFAULTS["dataset"])
    p.add_argument("--data-root", default=None, help="dataset folder (default: the profile's SynthFashion)")
    p.add_argument("--device", default=PARAMETER_DEFAULTS["device"])
    p.add_argument("--seed", type=int, default=PARAMETER_DEFAULTS["seed"])
    p.add_argument("--runs-root", default=PARAMETER_DEFAULTS["runs_root"],
                   help="trained runs, shared by all chapters and `make reproduce` (load-or-train by config hash)")
    p.add_argument("--results-dir", default=PARAMETER_DEFAULTS["results_dir"], help="where chapters write their numbers")
    p.add_argument("--cell-timeout", type=int, default=None, help="seconds a cell may run (default: no limit)")
    p.add_argument("--no-pretrain", dest="pretrain", action="store_false",
                   help="do not train the chapters' runs up front (read from their ctx.trained / run_main_table / "
                        "run_ablations calls); each chapter then trains what it needs, one run at a time")
    p.add_argument("--jobs", "-j", type=int, default=0,
                   help="runs pre-trained at once, each in its own process (default 0: asen.reproduce.default_jobs, "
                        "on a CPU one per core, on a GPU one per 20 GiB of its memory, at most 4)")
    args = p.parse_args(argv)

    sources = chapter_sources(args.notebooks, args.only)
    if not sources:
        print(f"no chapters NN_*.py in {args.notebooks}" + (f" matching {args.only}" if args.only else ""),
              file=sys.stderr)
        return 2
    if args.export:
        for path in export(sources, args.export):
            print(f"wrote {_rel(path)}")
        return 0
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")  # silence a debugger warning in kernels
    t0 = time.time()
    if args.pretrain:
        pretrain_runs(parameters_from_args(args), args.jobs, sources)
        print(f"[{'pre-trained':>18}] every run these chapters train, {time.time() - t0:.0f} s")
    outcomes = run_all(sources, args.out, parameters_from_args(args), force=args.force, keep_going=args.keep_going,
                       cell_timeout=args.cell_timeout)
    failed = [o for o in outcomes if o.status == "failed"]
    ran = sum(o.status == "ran" for o in outcomes)
    print(f"{len(outcomes)} chapter(s): {ran} executed, {sum(o.status == 'skipped' for o in outcomes)} unchanged, "
          f"{len(failed)} failed, {time.time() - t0:.0f} s (profile {args.profile})")
    if failed:
        print("FAILED: " + ", ".join(_rel(o.notebook) for o in failed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
