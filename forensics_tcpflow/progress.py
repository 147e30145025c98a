"""tqdm progress bars fed by the core's progress callback; only the CLI draws."""

from __future__ import annotations

import sys
from types import TracebackType

from tqdm import tqdm

from .environment import Environment, Progress


class ProgressBars:
    """Input bytes with rate and ETA, captures done and flows written (live: packets, open flows, drops).

    Off when stderr is not a terminal or with --quiet; while on, log lines go
    through tqdm.write so they do not break the bars.
    """

    def __init__(self, env: Environment, enabled: bool = True) -> None:
        self.env = env
        self.enabled = enabled and sys.stderr.isatty()
        self.bytes_bar: tqdm | None = None
        self.done: dict[str, int] = {}     # bytes read per capture in progress (workers run several at once)
        self.captures = 0
        self.flows = 0
        self.current = ""
        self.planned = False                # "start-run" gave the total: ETA is right from the start

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
        if event.kind == "start-run":
            bar.total, self.planned = event.amount, True
        elif event.kind == "start-capture":
            if not self.planned:
                bar.total = (bar.total or 0) + event.amount
            self.done[event.capture] = 0
        elif event.kind == "bytes":
            self._advance(event.capture, event.amount)
        elif event.kind == "end-capture":
            self._advance(event.capture, event.amount)
            self.done.pop(event.capture, None)
            self.captures += 1
        elif event.kind == "flows":
            self.flows = event.amount
        elif event.kind == "live":       # no total: bytes captured with their rate, and the capture's counts
            self._advance(event.capture, event.counts["bytes"])
            bar.set_postfix(packets=event.counts["packets"], open_flows=event.counts["flows"],
                            dropped=event.counts["dropped"], current=event.capture)   # also while nothing arrives
            return
        if event.capture:
            self.current = event.capture[-40:]
        bar.set_postfix(captures=self.captures, flows=self.flows, current=self.current, refresh=False)

    def _advance(self, capture: str, done: int) -> None:
        assert self.bytes_bar is not None
        before = self.done.get(capture, 0)
        if done > before:
            self.bytes_bar.update(done - before)
            self.done[capture] = done

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self.bytes_bar is not None:
            self.bytes_bar.close()
            self.env.progress, self.env.log = self._saved
