"""The project's user errors: a bad value, file or folder that the user can fix.

Not a paper concept; the ``asen`` command (:mod:`asen.cli`) prints any :class:`UserError` as one line
``error: ...`` and exits with status 2, while any other exception keeps its traceback (it is a bug).
"""
from __future__ import annotations


class UserError(Exception):
    """Base class of the errors a user can fix; the message names the file/key/value and what is expected."""


class BadValue(UserError, ValueError):
    """A value given by the user (an argument of a library function, a command-line option) is out of range.

    Also a ``ValueError``, so that library callers that catch ``ValueError`` keep working; the message names the
    value and what is allowed."""


class OutputExists(UserError, FileExistsError):
    """An output path exists and cannot be used as asked (a file where a folder is written, or a folder holding
    something else); also a ``FileExistsError``, as before. The message names the path and what to do."""
