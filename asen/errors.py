"""The project's user errors: a bad value, file or folder that the user can fix.

Not a paper concept; the ``asen`` command (:mod:`asen.cli`) prints any :class:`UserError` as one line
``error: ...`` and exits with status 2, while any other exception keeps its traceback (it is a bug).
"""
from __future__ import annotations


class UserError(Exception):
    """Base class of the errors a user can fix; the message names the file/key/value and what is expected."""
