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
import signal
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

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
        self._proc = subprocess.Popen([sys.executable, "-m", __name__], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE)
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
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.write(_COMMIT)
        self._proc.stdin.flush()
        line = self._proc.stdout.readline()
        if not line:
            self._fail()
        self._proc.wait()
        return {name: Path(path) for name, path in json.loads(line).items()}

    def discard(self) -> None:
        """End of input without a commit: the child removes its temporary files."""
        try:
            self._proc.stdin.close()   # type: ignore[union-attr]
        except OSError:
            pass
        self._proc.wait()

    def _fail(self) -> None:
        self.discard()
        message = self._proc.stderr.read().decode("utf-8", "replace").strip()   # type: ignore[union-attr]
        raise SidecarError(f"the report writer process failed: {message or f'exit status {self._proc.returncode}'}")


def _serve() -> int:
    from forensics_tcpflow.report.registry import WRITERS

    signal.signal(signal.SIGINT, signal.SIG_IGN)    # the parent decides what an interruption means
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    names, context, spool, report_path = pickle.load(sys.stdin.buffer)
    writers = []
    try:
        for name in names:
            factory = WRITERS[name]
            writers.append(factory(factory.target(report_path), context))
        for rec in spool:
            for writer in writers:
                writer.add(rec)
        for writer in writers:
            writer.finish()
        sys.stdout.buffer.write(_READY)
        sys.stdout.buffer.flush()
        if sys.stdin.buffer.readline() != _COMMIT:
            raise SystemExit(0)     # discarded by the parent (or the parent is gone)
        paths = {name: str(writer.commit()) for name, writer in zip(names, writers)}
    except BaseException as exc:
        for writer in writers:
            writer.discard()
        if isinstance(exc, SystemExit):
            return 0
        sys.stderr.write(f"{type(exc).__name__}: {exc}\n")
        return 1
    sys.stdout.buffer.write(json.dumps(paths).encode() + b"\n")
    sys.stdout.buffer.flush()
    return 0


if __name__ == "__main__":
    sys.exit(_serve())
