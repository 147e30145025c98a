"""All I/O a run touches, behind one object that tests swap."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, TextIO

from .sink import FlowSink


@dataclass(slots=True)
class Progress:
    """What the core tells whoever draws progress (the CLI's bars, or nobody)."""

    kind: str                 # "start-run" | "start-capture" | "bytes" | "flows" | "live" | "end-capture"
    capture: str = ""
    amount: int = 0           # total bytes ("start-run", "start-capture"), bytes done ("bytes"), flows ("flows")
    counts: dict[str, int] = field(default_factory=dict)   # "live": packets, bytes, flows (open), dropped


def file_sink(root: Path, hashes: tuple[str, ...], max_fds: int, keep: bool) -> FlowSink:
    """The sink of a real run: flow files under `root` (loaded for a run, not for --help)."""
    from .sink.files import FileSink
    return FileSink(root, hashes, max_fds=max_fds, keep=keep)


WARNING = "forensics-tcpflow: warning: "     # every warning line begins so: the summary counts them by it


def _stderr_line(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass
class Environment:
    """Streams, clock, sink factory and callbacks of one run."""

    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    clock_ns: Callable[[], int] = time.time_ns
    make_sink: Callable[[Path, tuple[str, ...], int, bool], FlowSink] = file_sink
    progress: Callable[[Progress], None] = lambda event: None
    log: Callable[[str], None] = _stderr_line
    command_line: str = ""
    argv: tuple[str, ...] = ()        # the arguments exactly as given, and the folder they were given in:
    cwd: str = ""                     # what `reproduce` replays

    def error(self, message: str) -> None:
        self.log(f"forensics-tcpflow: error: {message}")

    def warn(self, message: str) -> None:
        self.log(f"{WARNING}{message}")
