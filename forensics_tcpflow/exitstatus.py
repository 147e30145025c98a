"""Named exit statuses: the exit code must tell the truth about a run."""

from __future__ import annotations

from enum import IntEnum


class ExitStatus(IntEnum):
    """0 all good; 1 some inputs had errors; 2 usage; 3 a bug of ours; 4 verify mismatch; 130 interrupted."""

    OK = 0
    INPUT_ERRORS = 1
    USAGE = 2
    INTERNAL_ERROR = 3
    VERIFY_MISMATCH = 4
    INTERRUPTED = 130


# Where an internal error (exit 3) is to be reported: said on stderr whenever one happens.
REPORT_BUGS = ("this is a bug in forensics-tcpflow, not a verdict on the evidence: please report it with this"
               " message and the command line to the forensics-tcpflow issue tracker (see README, Exit status)")
