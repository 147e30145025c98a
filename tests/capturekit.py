"""Reading a capture to the end in tests: the records, and the error that stopped it if any."""

from __future__ import annotations

from pathlib import Path

from forensics_tcpflow.capture.reader import open_capture
from forensics_tcpflow.capture.record import CaptureError, Record


def drain(path: Path) -> tuple[list[Record], CaptureError | None]:
    records: list[Record] = []
    try:
        with open_capture(path) as capture:
            records.extend(capture)
    except CaptureError as exc:
        return records, exc
    return records, None
