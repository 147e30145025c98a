"""-S tcp_cmd / http_cmd and tcp_alert_fd / http_alert_fd: tcpflow's hooks on finished files.

tcpflow runs `system(cmd + " " + path)` from inside its reassembler as each flow file closes
(and from its HTTP scanner as each body closes), and writes `open\\tPATH` / `close\\tPATH`
lines to the alert descriptors. Here they are a step over finished files: each flow file
once the run has written them all, each body once the scanners have; the command runs
without a shell (its words split as a shell would, the path appended as one argument),
one at a time, bounded in time, its exit status kept for the report. Nothing it does
can stop the run: a command that cannot start, fails or hangs is one line in the report.
"""

from __future__ import annotations

import os
import signal
import subprocess
from dataclasses import dataclass
from typing import ClassVar

from forensics_tcpflow.flow.record import FlowRecord
from forensics_tcpflow.environment import WARNING
from forensics_tcpflow.scan.registry import ScanContext, ScanResults

COMMAND_TIMEOUT_S = 60.0        # a command still running then is killed: one file never holds up the run


@dataclass(frozen=True, slots=True)
class CommandRun:
    """One run of a -S command on one file."""

    setting: str                # "tcp_cmd" | "http_cmd"
    filename: str               # the file, relative to OUT
    status: int | None          # its exit status (negative: killed by that signal); None: never ended by itself
    note: str = ""              # why there is no status


class FileCommands:
    """Sees every finished flow (tcp_*), then at the end every extracted body (http_*)."""

    name: ClassVar[str] = "commands"

    def __init__(self, ctx: ScanContext) -> None:
        self._ctx = ctx
        self._runs: list[CommandRun] = []

    def add(self, rec: FlowRecord) -> None:
        if rec.filename:
            self._hooks("tcp_cmd", self._ctx.options.settings.tcp_cmd, self._ctx.options.settings.tcp_alert_fd,
                        rec.filename)

    def finish(self, results: ScanResults) -> None:
        settings = self._ctx.options.settings
        for bodies in results.bodies.values():
            for body in bodies:
                if body.filename:
                    self._hooks("http_cmd", settings.http_cmd, settings.http_alert_fd, body.filename)
        failed = sum(run.status != 0 for run in self._runs)
        if failed:
            self._ctx.log(f"{WARNING}{failed} of {len(self._runs)} -S command runs did not"
                          " exit 0 (each is in the report)")
        results.commands.extend(self._runs)

    def _hooks(self, setting: str, command: tuple[str, ...], alert_fd: int, filename: str) -> None:
        path = os.path.join(self._ctx.options.outdir, filename)
        if alert_fd >= 0:
            _alert(alert_fd, f"open\t{path}\nclose\t{path}\n")
        if command:
            self._runs.append(_run(setting, command, path, filename))


def _alert(fd: int, lines: str) -> None:
    """As tcpflow: a descriptor that no longer takes the lines is not a reason to stop."""
    try:
        os.write(fd, lines.encode("utf-8", "surrogateescape"))
    except OSError:
        pass


def _run(setting: str, command: tuple[str, ...], path: str, filename: str) -> CommandRun:
    """In a session of its own, so a command that times out is ended with everything it started."""
    try:
        child = subprocess.Popen([*command, path], stdin=subprocess.DEVNULL, start_new_session=True)
    except OSError as exc:
        return CommandRun(setting, filename, None, f"cannot run {command[0]}: {exc.strerror or exc}")
    try:
        return CommandRun(setting, filename, child.wait(COMMAND_TIMEOUT_S))
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()
        return CommandRun(setting, filename, None, f"killed after {COMMAND_TIMEOUT_S:g} s")
