"""`reproduce REPORT -o NEWOUT`: run again what a report describes, then diff the two runs.

The inputs are checked first (every recorded one still there, with its recorded size and digests;
otherwise nothing runs). The replay is the recorded arguments exactly as given, parsed by the real CLI,
run in the folder they were given in, so every input resolves to the file it named then; only the
output paths (-o, -X, -w) move into NEWOUT, keeping their layout, and --resume/--fresh are left out.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..report.outputs import digests
from ..environment import Environment
from ..exitstatus import ExitStatus
from ..runinfo import replay_info
from .argv import OUTPUTS, parse, rewrite
from .runs import Run, read_header


class CannotReproduce(Exception):
    """Why the run cannot be replayed, and the exit status that says so."""

    def __init__(self, message: str, status: ExitStatus) -> None:
        super().__init__(f"cannot reproduce: {message}")
        self.status = status


@dataclass(frozen=True, slots=True)
class Replay:
    """The command to run, where, and where its report will be."""

    argv: tuple[str, ...]
    cwd: str
    report: Path
    folders: tuple[Path, ...]     # where a moved -X or -w file goes: made in NEWOUT before the run


def versions_line(run: Run) -> str:
    """The first line: whether this program and its libraries are the ones that made the report."""
    here = replay_info((), "")
    now = {"forensics-tcpflow": here.version, **here.libraries, "platform": here.platform,
           "implementation": here.implementation}
    then = {"forensics-tcpflow": run.version, **run.libraries}
    differ = [f"{name} {then[name]} recorded, {now.get(name, 'absent')} now"
              for name in then if then[name] != now.get(name)]
    if differ:
        return "versions differ from the recorded ones: " + "; ".join(differ)
    return "versions as recorded: " + ", ".join(f"{name} {now[name]}" for name in then if name != "platform")


def plan(run: Run, newout: Path) -> Replay:
    """The replay of `run` into newout; raises CannotReproduce for a live, stdin or old-format run."""
    if run.argv is None:
        raise CannotReproduce("the report lacks the arguments as given (<ftf:replay>), which older versions of"
                              " forensics-tcpflow did not record", ExitStatus.INPUT_ERRORS)
    try:
        params = parse(run.argv)
    except Exception as exc:    # the vendored click's usage errors: this CLI no longer reads them
        raise CannotReproduce(f"the recorded arguments do not parse with this version: {exc}", ExitStatus.USAGE)
    if params.get("interface") or any(inp.live for inp in run.inputs):
        raise CannotReproduce("a live capture (-i) cannot be replayed; reproduce from its --save-capture file",
                              ExitStatus.USAGE)
    if "-" in (*params.get("read", ()), *params.get("finish", ())) or any(inp.stream for inp in run.inputs):
        raise CannotReproduce("standard input (-r -) was read once and cannot be replayed", ExitStatus.USAGE)
    given = {name: params.get(name) for name in OUTPUTS}
    given["outdir_given"] = given["outdir_given"] or "."
    absolute = {name: os.path.normpath(os.path.join(run.cwd, path)) for name, path in given.items() if path}
    base = os.path.commonpath(list(absolute.values()))
    target = os.path.abspath(newout)

    def move(path: str) -> str:
        return os.path.normpath(os.path.join(target, os.path.relpath(os.path.join(run.cwd, path), base)))

    report = absolute.get("report_path") or os.path.join(absolute["outdir_given"], "report.xml")
    return Replay(rewrite(run.argv, move), run.cwd, Path(move(report)),
                  tuple(Path(move(path)).parent for name, path in given.items() if path and name != "outdir_given"))


def check_inputs(run: Run) -> list[str]:
    """Every recorded input that is missing or not what it was, one line each."""
    problems = []
    if not os.path.isdir(run.cwd):
        problems.append(f"missing: {run.cwd} (the folder the command was given in)")
    for inp in run.inputs:
        path = Path(inp.abspath or os.path.join(run.cwd, inp.path))
        if not path.is_file():
            problems.append(f"missing: {path}")
        elif path.stat().st_size != inp.size:
            problems.append(f"changed: {path}: {inp.size:,} bytes recorded, {path.stat().st_size:,} now")
        else:
            recorded = {name: digest for name, digest in (("md5", inp.md5), ("sha256", inp.sha256)) if digest}
            found = digests(path, list(recorded))
            problems.extend(f"changed: {path}: {name} {digest} recorded, {found[name]} now"
                            for name, digest in recorded.items() if found[name] != digest)
    return problems


def replay(report: Path, newout: Path, env: Environment, say: Callable[[str], None]) -> tuple[int, Path | None]:
    """Check, then run; (exit status, the new report) — no report when nothing could run."""
    run = read_header(report)
    say(versions_line(run))
    try:
        planned = plan(run, newout)
    except CannotReproduce as exc:
        env.error(str(exc))
        return int(exc.status), None
    problems = check_inputs(run)
    if problems:
        for line in problems:
            say(line)
        env.error("cannot reproduce: the evidence is not what the report recorded (above); nothing was run")
        return int(ExitStatus.VERIFY_MISMATCH), None
    from ..cli import main
    for folder in planned.folders:
        folder.mkdir(parents=True, exist_ok=True)
    here = os.getcwd()
    os.chdir(planned.cwd)        # relative inputs name what they named then
    try:
        status = main(list(planned.argv), Environment(stdout=env.stdout, log=env.log))
    finally:
        os.chdir(here)
    if status not in (ExitStatus.OK, ExitStatus.INPUT_ERRORS) or not planned.report.is_file():
        env.error(f"the replay ended with exit status {status} and no report to compare")
        return status or int(ExitStatus.INPUT_ERRORS), None
    return status, planned.report
