"""Reading a capture to the end in tests: the records, and the error that stopped it if any; and
sample_pcaps/generate.py's builders, to make captures of our own in a test."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

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


SAMPLES = Path(__file__).resolve().parents[1] / "sample_pcaps"


def sample_generator() -> ModuleType:
    """sample_pcaps/generate.py as a module (it is a script, not a package)."""
    name = "sample_pcaps_generate"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, SAMPLES / "generate.py")
        assert spec is not None and spec.loader is not None
        sys.modules[name] = module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return sys.modules[name]
