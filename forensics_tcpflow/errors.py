"""The package's one exception base and its kinds, so that an exit status can tell the truth.

A user's mistake is a UsageError (exit 2), a capture or file we cannot read an
InputError, a place we cannot write an OutputError (both exit 1), and only what
none of them covers, a bug of ours, is an "internal error" (exit 3). The
mapping to exit statuses lives in exitstatus.status_of alone.
"""

from __future__ import annotations


class ForensicsError(Exception):
    """Something the program knows how to explain: its message is said as it is, never as a traceback."""


class UsageError(ForensicsError, ValueError):
    """Options that cannot work together, or a value outside its choices; nothing was written."""


class InputError(ForensicsError):
    """An input (capture, report, journal) cannot be read as what it should be."""


class OutputError(ForensicsError):
    """OUT, the report or another output cannot be written."""


class StdoutClosed(BaseException):
    """Whoever read standard output closed it (`| head`): a console run ends at once and quietly, as
    other Unix tools do (exit 141, the SIGPIPE convention). A BaseException, so that no per-capture
    error handler takes it for a failure of the evidence."""


class InternalError(ForensicsError):
    """A state the program should never reach: a bug of ours, reported as such."""
