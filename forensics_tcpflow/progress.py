"""tqdm progress bars fed by the core's progress callback; only the CLI draws."""

from __future__ import annotations

import sys
from types import TracebackType

from tqdm import tqdm

from .environment import Environment, Progress


class ProgressBars:
    """Input bytes with rate and ETA, captures done and flows written.

    Off when stderr is not a terminal or with --quiet; while on, log lines go
    through tqdm.write so they do not break the bars.
    """

    def __init__(self, env: Environment, enabled: bool = True) -> None:
        self.env = env
        self.enabled = enabled and sys.stderr.isatty()
        self.bytes_bar: tqdm | None = None
        self.done_in_finished = 0
        self.current = 0
        self.captures = 0
        self.flows = 0

    def __enter__(self) -> "ProgressBars":
        if self.enabled:
            self.bytes_bar = tqdm(total=0, unit="B", unit_scale=True, unit_divisor=1024,
                                  dynamic_ncols=True, file=sys.stderr, desc="input")
            self._saved = (self.env.progress, self.env.log)
            self.env.progress = self.update
            self.env.log = lambda line: tqdm.write(line, file=sys.stderr)
        return self

    def update(self, event: Progress) -> None:
        bar = self.bytes_bar
        assert bar is not None
        if event.kind == "start-capture":
            bar.total = (bar.total or 0) + event.amount
            self.current = 0
        elif event.kind == "bytes":
            bar.update(max(0, event.amount - self.current))
            self.current = max(self.current, event.amount)
        elif event.kind == "end-capture":
            bar.update(max(0, event.amount - self.current))
            self.captures += 1
        elif event.kind == "flows":
            self.flows = event.amount
        bar.set_postfix(captures=self.captures, flows=self.flows, current=event.capture[-40:], refresh=False)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self.bytes_bar is not None:
            self.bytes_bar.close()
            self.env.progress, self.env.log = self._saved
