"""The run's journal in OUT: what --resume may keep after an interruption, even a kill -9.

A job is written to the journal only once its flow files are in place and its
spool is on disk, each line fsync'd: a job not in the journal is simply done
again, and its files replace whatever an earlier attempt left.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Iterator

from ..options import Options
from ..provenance import InputSummary, KernelShare
from ..kernel.shard import Shard
from ..report.atomic import AtomicFile
from ..errors import UsageError
from ..report.spool import FlowSpool
from .jobs import Job, JobResult, Workspace

STATE_DIR = ".forensics-tcpflow"
JOURNAL = "journal.jsonl"
FORMAT = 1
RUN_SPECIFIC = ("jobs", "resume", "fresh", "quiet", "cluster")   # options that may differ between a run and its resumption


class JournalError(UsageError):
    """A journal that does not belong to this run (other inputs or options)."""


def state_dir(outdir: str | os.PathLike[str]) -> Path:
    return Path(outdir) / STATE_DIR


def workspace(state: Path) -> Workspace:
    return Workspace(staging=(state / "staging").resolve(), spools=(state / "spools").resolve())


def _plan(options: Options, jobs: list[Job]) -> dict[str, Any]:
    settings = {k: v for k, v in asdict(options).items() if k not in RUN_SPECIFIC}
    plan = {"format": FORMAT, "options": settings,
            "jobs": [[job.subdir, job.captures, job.shard.index, job.shard.count] for job in jobs]}
    return json.loads(json.dumps(plan))  # tuples as lists, so a plan read back compares equal


_SUMMARY_TUPLES = {"linktypes": tuple, "stat_before": tuple, "stat_after": tuple, "fragment_overlaps": lambda items: [tuple(item) for item in items],
                   "kernel": lambda share: KernelShare(**share) if share else None}


def summary_from_dict(data: dict[str, Any]) -> InputSummary:
    return InputSummary(**{f.name: _SUMMARY_TUPLES.get(f.name, lambda v: v)(data[f.name])
                           for f in fields(InputSummary) if f.name in data})


def _differences(header: Any, plan: dict[str, Any]) -> str:
    """What differs between the journal's fingerprint and this run's, in the examiner's words."""
    if not isinstance(header, dict) or header.get("format") != plan["format"]:
        return "journal format (it cannot be read)"
    said = []
    recorded = [capture for job in header.get("jobs", []) for capture in job[1]]
    now = [capture for job in plan["jobs"] for capture in job[1]]
    if sorted(map(str, recorded)) != sorted(map(str, now)):
        said.append(f"inputs (it read {len(recorded)}: {', '.join(c[0] for c in recorded[:3])}"
                    f"{'...' if len(recorded) > 3 else ''})")
    options, given = header.get("options", {}), plan["options"]
    names = sorted(name for name in options.keys() | given.keys() if options.get(name) != given.get(name))
    if names:
        said.append("options: " + ", ".join(f"{name} (was {options.get(name)!r}, now {given.get(name)!r})"
                                           for name in names))
    return "; ".join(said) or "job split"


@dataclass(slots=True)
class Finished:
    """A job the journal says is complete: its summaries and its spool."""

    summaries: list[InputSummary]
    spool: FlowSpool


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Journal:
    def __init__(self, state: Path) -> None:
        self.state = state
        self.path = state / JOURNAL
        self.workspace = workspace(state)

    def planned(self, jobs: list[Job]) -> list[Job]:
        """The earlier attempt's jobs when they cover the same captures, however they were split.

        A capture is split by connection across workers depending on -j; resuming
        with another -j must go on with the split the finished jobs were made with.
        """
        try:
            with self.path.open("rb") as fh:
                recorded = json.loads(fh.readline())["jobs"]
            before = [Job(i, tuple(tuple(c) for c in captures), subdir, Shard(index, count))
                      for i, (subdir, captures, index, count) in enumerate(recorded)]
        except (OSError, ValueError, KeyError, TypeError):
            return jobs
        same = {(job.subdir, job.captures) for job in before} == {(job.subdir, job.captures) for job in jobs}
        return before if same else jobs

    def open(self, options: Options, jobs: list[Job]) -> dict[int, Finished]:
        """Start the journal, or with --resume read back the jobs an earlier attempt finished.

        Staging folders of half-done jobs are removed; their spool files stay until the run completes.
        """
        plan = _plan(options, jobs)
        finished: dict[int, Finished] = {}
        if options.resume and self.path.exists():
            finished = self._read(plan)
        else:
            shutil.rmtree(self.state, ignore_errors=True)
        shutil.rmtree(self.workspace.staging, ignore_errors=True)
        self.workspace.spools.mkdir(parents=True, exist_ok=True)
        if not finished:
            self._write_line(plan, truncate=True)
        return finished

    def _read(self, plan: dict[str, Any]) -> dict[int, Finished]:
        with self.path.open("rb") as fh:
            lines = fh.read().splitlines()
        try:
            header = json.loads(lines[0])
        except (IndexError, ValueError):
            header = None
        if header != plan:
            raise JournalError(f"--resume: {self.path} was written by a run with other {_differences(header, plan)}:"
                               " resume it with the same command line, or use a new output directory")
        finished: dict[int, Finished] = {}
        for line in lines[1:]:
            try:
                entry = json.loads(line)
                with open(self.workspace.spools / entry["spool"], "rb") as fh:
                    spool = pickle.load(fh)
            except (ValueError, KeyError, OSError, pickle.UnpicklingError, EOFError):
                continue   # the line a kill cut short, or a spool gone: that job is done again
            finished[entry["job"]] = Finished([summary_from_dict(s) for s in entry["summaries"]], spool)
        return finished

    def placed(self) -> Iterator[str]:
        """Names (relative to OUT) of the flow files the journaled jobs moved into place, whatever
        the plan: what starting afresh must take back. A damaged line or spool names nothing."""
        try:
            lines = self.path.read_bytes().splitlines()[1:]
        except OSError:
            return
        for line in lines:
            try:
                with open(self.workspace.spools / json.loads(line)["spool"], "rb") as fh:
                    spool = pickle.load(fh)
            except (ValueError, KeyError, TypeError, OSError, pickle.UnpicklingError, EOFError):
                continue
            yield from (rec.filename for rec in spool if rec.filename)

    def record(self, result: JobResult) -> None:
        """Log a finished job (its files already promoted): spool first, then the journal line."""
        name = f"job-{result.index}.pickle"
        spool_file = AtomicFile(self.workspace.spools / name, "wb")
        pickle.dump(result.spool, spool_file.file)
        spool_file.commit()
        _fsync_dir(self.workspace.spools)
        self._write_line({"job": result.index, "spool": name,
                          "summaries": [asdict(summary) for summary in result.summaries]})

    def _write_line(self, data: dict[str, Any], truncate: bool = False) -> None:
        self.state.mkdir(parents=True, exist_ok=True)
        with open(self.path, "wb" if truncate else "ab") as fh:
            fh.write(json.dumps(data, separators=(",", ":")).encode("ascii") + b"\n")
            fh.flush()
            os.fsync(fh.fileno())
        if truncate:
            _fsync_dir(self.state)

    def remove(self) -> None:
        """A run that completed needs no journal: OUT keeps only flows and reports."""
        shutil.rmtree(self.state)
