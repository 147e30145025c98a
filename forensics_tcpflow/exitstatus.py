"""Named exit statuses: the exit code must tell the truth about a run."""

from __future__ import annotations

from enum import IntEnum


class ExitStatus(IntEnum):
    """0 all good; 1 some inputs had errors; 2 usage; 4 verify mismatch; 130 interrupted."""

    OK = 0
    INPUT_ERRORS = 1
    USAGE = 2
    VERIFY_MISMATCH = 4
    INTERRUPTED = 130
