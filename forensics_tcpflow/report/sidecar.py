"""Report formats written by a second process, beside the one that writes the DFXML report.

Formats are independent passes over the same spool, and formatting is pure
Python (one core per process), so on a large run a second interpreter halves
the time to the last report. It imports only the report package (no capture
or fast-path code), reads the spool's run files, and leaves each format
complete under its temporary name until the parent says commit: a report
never appears unless every format was written.
"""

from __future__ import annotations

import json
import pickle
import sys
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from forensics_tcpflow import child

if TYPE_CHECKING:
    from forensics_tcpflow.report.registry import ReportContext
    from forensics_tcpflow.report.spool import FlowSpool

_READY, _COMMIT = b"ready\n", b"commit\n"


class SidecarError(OSError):
    """The second process could not write its formats."""


class Sidecar:
    """The parent's handle: start, then finish() (formats complete), then commit() or discard()."""

    def __init__(self, names: list[str], context: "ReportContext", spool: "FlowSpool", report_path: Path) -> None:
        spool.settle()    # the run files are final: both processes only read them
        self._proc = child.start(__name__)
        self._err: bytes | None = b""
        assert self._proc.stdin is not None
        try:
            pickle.dump((names, context, spool, report_path), self._proc.stdin)
            self._proc.stdin.flush()
        except OSError:
            self._fail()

    def finish(self) -> None:
        assert self._proc.stdout is not None
        if self._proc.stdout.readline() != _READY:
            self._fail()

    def commit(self) -> dict[str, Path]:
        out, self._err = self._proc.communicate(_COMMIT)
        if self._proc.returncode or not out:
            self._fail()
        return {name: Path(path) for name, path in json.loads(out).items()}

    def discard(self) -> None:
        """End of input without a commit: the child removes its temporary files (waited for)."""
        if self._proc.returncode is None:
            _, self._err = self._proc.communicate()

    def _fail(self) -> NoReturn:
        self.discard()
        raise SidecarError(f"the report writer process failed: {child.failure(self._proc, self._err)}")


def _serve() -> int:
    from forensics_tcpflow.report.registry import open_writer

    names, context, spool, report_path = pickle.load(sys.stdin.buffer)
    writers = []
    try:
        writers += (open_writer(name, context, report_path) for name in names)
        for rec in spool:
            for writer in writers:
                writer.add(rec)
        for writer in writers:
            writer.finish()
        sys.stdout.buffer.write(_READY)
        sys.stdout.buffer.flush()
        if sys.stdin.buffer.readline() == _COMMIT:
            paths = {name: str(writer.commit()) for name, writer in zip(names, writers)}
            sys.stdout.buffer.write(json.dumps(paths).encode() + b"\n")
            sys.stdout.buffer.flush()
            return 0
        status = 0            # discarded by the parent (or the parent is gone)
    except Exception as exc:
        sys.stderr.write(f"{type(exc).__name__}: {exc}\n")
        status = 1
    for writer in writers:
        writer.discard()
    return status


if __name__ == "__main__":
    sys.exit(_serve())
