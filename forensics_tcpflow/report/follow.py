"""The run-time check of a large DFXML report, in its own process, while the report is written.

Checking a finished report costs about as much as writing it (libxml2 parses and
validates what lxml serialised); in a second interpreter that reads the report
as it grows, the check runs beside the writing instead of after it. The parent
says "done" on the child's stdin when the report is complete; closing stdin
without it means the report was abandoned.
"""

from __future__ import annotations

import json
import select
import sys
from pathlib import Path

from forensics_tcpflow import child

_DONE = b"done\n"


class FollowerError(OSError):
    """The checking process failed before it could give its verdict."""


class Follower:
    """The parent's handle on the checking process of one report file, whose problems are
    worded as if found in `shown_as` (where the report is going; default: where it is)."""

    def __init__(self, path: Path, shown_as: Path | None = None) -> None:
        self._proc = child.start(__name__, str(path), str(shown_as or path))

    def problems(self) -> list[str]:
        """The report is complete: its problems as `validate_report` words them (empty: valid)."""
        out, err = self._proc.communicate(_DONE)
        if self._proc.returncode:
            raise FollowerError(f"the report check process failed: {child.failure(self._proc, err)}")
        return list(json.loads(out))

    def abandon(self) -> None:
        self._proc.communicate()


def _finished(seconds: float) -> bool:
    """True once the parent has said the report is complete; exit when it gave up on it."""
    if not select.select([sys.stdin.buffer], [], [], seconds)[0]:
        return False
    if sys.stdin.buffer.readline() != _DONE:
        raise SystemExit(0)
    return True


def _serve(path: str, shown_as: str) -> int:
    from forensics_tcpflow.report.validate import follow_report

    try:
        problems = follow_report(Path(path), _finished, Path(shown_as))
    except (OSError, ValueError) as exc:
        sys.stderr.write(f"{type(exc).__name__}: {exc}\n")
        return 1
    sys.stdout.write(json.dumps(problems))
    return 0


if __name__ == "__main__":
    sys.exit(_serve(sys.argv[1], sys.argv[2]))
