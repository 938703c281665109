"""The ``asen`` command's one error path: which failures are the user's, and their one-line message.

A :class:`~asen.errors.UserError` (a bad config, missing data, a checkpoint of another model, ...), a missing
file, a folder where a file is expected (and vice versa), an existing output, no permission, or a full disk
is the user's to fix: :func:`asen.cli.main` prints :func:`error_message` as one line
``error: ...`` and exits with status 2. Any other exception is a bug and keeps its traceback.
"""
from __future__ import annotations

import errno
from pathlib import Path

from ..errors import UserError

PATH_ERRORS: dict[type[OSError], str] = {
    FileNotFoundError: "no such file or folder: check the path (or create what it names first)",
    IsADirectoryError: "expected a file, got a folder: give a file name",
    NotADirectoryError: "expected a folder, but it (or a folder above it) is a file: give a folder path",
    FileExistsError: "already exists: remove it or choose another path",
    PermissionError: "permission denied: choose a path you may read or write, or change its permissions",
}
"""The operating system's errors about a path (a file where a folder is expected and vice versa, an existing
output, no permission), with what to do: expected when they name the path (``filename``), a safety net for the
paths the commands do not check first. Without a path there is nothing the user could change: a bug."""

EXPECTED_ERRORS: tuple[type[BaseException], ...] = (UserError, FileNotFoundError)
"""The exceptions that report a user's mistake or situation (not a bug); also :data:`PATH_ERRORS` naming a path."""

_PACKAGE = str(Path(__file__).parent.parent)
_CLI = str(Path(__file__).parent)


def _is_disk_full(exc: BaseException) -> bool:
    """ENOSPC, or EDQUOT (a disk quota, as on a cluster's home folder), from ``open``/``write`` (an OSError) or
    from ``torch.save``, whose zip writer raises a RuntimeError ("[enforce fail at inline_container.cc:...]
    PytorchStreamWriter failed writing file ...: file write failed")."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if isinstance(exc, RuntimeError):
            text = str(exc)
            if "file write failed" in text or (
                "inline_container.cc" in text and ("PytorchStreamWriter" in text or "unexpected pos" in text)
            ):
                return True
        exc = exc.__cause__ or exc.__context__
    return False


def _written_path(exc: BaseException) -> str | None:
    """The file being written when ``exc`` was raised: its ``filename``, else the ``path`` argument of the
    innermost function of this package outside the CLI (the atomic writers of :mod:`asen.runs`, ``RunDir.log``)
    on the way."""
    if isinstance(exc, OSError) and exc.filename:
        return str(exc.filename)
    found = None
    tb = exc.__traceback__
    while tb is not None:
        where = tb.tb_frame.f_code.co_filename
        if where.startswith(_PACKAGE) and not where.startswith(_CLI):
            value = tb.tb_frame.f_locals.get("path")
            if isinstance(value, (str, Path)):
                found = str(value)
        tb = tb.tb_next
    return found


def _one_line(text: str) -> str:
    return " ".join(part.strip() for part in text.splitlines() if part.strip())


def _path_message(exc: OSError) -> str | None:
    """``<path>: <what is wrong and what to do>`` for an OS error of :data:`PATH_ERRORS` that names its path;
    ``None`` for others.

    The path is the user's: where a rename failed (the atomic writers of :mod:`asen.runs` rename a temporary file
    over the output), the target ``filename2``, not the temporary file."""
    for kind, advice in PATH_ERRORS.items():
        if isinstance(exc, kind) and not isinstance(exc, UserError):  # a UserError's message already says it
            path = exc.filename2 if exc.filename2 is not None else exc.filename
            return f"{path}: {advice}" if path is not None else None
    return None


def _read_only_folder(exc: BaseException) -> str | None:
    """The folder that could not be written for an ``EROFS`` error (a read-only mount: a dataset disk, a shared
    or network drive): the one the file or folder was to be made in (not a temporary file's name); else ``None``."""
    if isinstance(exc, OSError) and exc.errno == errno.EROFS and exc.filename is not None:
        return str(Path(exc.filename).parent)
    return None


def error_message(exc: BaseException) -> str | None:
    """The one-line message for an expected failure, or ``None`` for a bug (which keeps its traceback).

    Args:
        exc: the exception a command raised.
    Returns:
        ``"no space left on device while writing <path>: ..."`` for a full disk, ``"<folder>: a read-only file
        system, ..."`` for a read-only mount, ``"<path>: <what to do>"`` for
        :data:`PATH_ERRORS`, the exception's message (on one line) for the other :data:`EXPECTED_ERRORS`, else
        ``None``.
    """
    if _is_disk_full(exc):
        path = _written_path(exc) or "a file"
        what = "disk quota exceeded" if isinstance(exc, OSError) and exc.errno == errno.EDQUOT else \
            "no space left on device"
        return f"{what} while writing {path}: free space or choose another --run-dir/--out"
    if (folder := _read_only_folder(exc)) is not None:
        return (f"{folder}: a read-only file system, nothing can be written there; choose an output path "
                f"(--run-dir, --out, --json) on a writable disk")
    if isinstance(exc, OSError) and (message := _path_message(exc)) is not None:
        return message
    if isinstance(exc, EXPECTED_ERRORS):
        return _one_line(str(exc)) or type(exc).__name__
    return None
