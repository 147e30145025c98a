"""Named exit statuses: the exit code must tell the truth about a run."""

from __future__ import annotations

from enum import IntEnum

from .errors import InputError, OutputError, StdoutClosed, UsageError


class ExitStatus(IntEnum):
    """0 all good; 1 some inputs had errors; 2 usage; 3 a bug of ours; 4 verify mismatch; 130 interrupted;
    141 standard output closed by its reader."""

    OK = 0
    INPUT_ERRORS = 1
    USAGE = 2
    INTERNAL_ERROR = 3
    VERIFY_MISMATCH = 4
    INTERRUPTED = 130
    STDOUT_CLOSED = 141          # 128 + SIGPIPE, as a tool killed by writing to a closed pipe


def status_of(exc: BaseException) -> ExitStatus:
    """The one mapping from an error's kind to the exit status it ends a run with."""
    if isinstance(exc, UsageError):
        return ExitStatus.USAGE
    if isinstance(exc, (InputError, OutputError)):
        return ExitStatus.INPUT_ERRORS
    if isinstance(exc, StdoutClosed):
        return ExitStatus.STDOUT_CLOSED
    if isinstance(exc, KeyboardInterrupt):
        return ExitStatus.INTERRUPTED
    return ExitStatus.INTERNAL_ERROR     # InternalError, and anything that is not a ForensicsError


# Where an internal error (exit 3) is to be reported: said on stderr whenever one happens.
REPORT_BUGS = ("this is a bug in forensics-tcpflow, not a verdict on the evidence: please report it with this"
               " message and the command line to the forensics-tcpflow issue tracker (see README, Exit status)")
