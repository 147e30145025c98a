"""Jobs (one capture, or one --merge set) run in this process, in a pool of worker processes,
or on a Dask cluster (batch/cluster.py): a runner, chosen by option, runs the same run_job.

A job writes its flow files into its own staging folder and its flow records
into its own spool file; the parent moves the files into OUT and merges the
spools, so the result does not depend on how many workers ran or in what order
they finished. Everything handed to a worker is plain data (spawn-safe).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import queue
import shutil
import signal
import threading
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Protocol

from ..capture.bpf import PacketFilter
from ..engine import process_captures, process_live
from ..environment import Progress
from ..kernel.shard import Shard
from ..flow.record import FlowRecord
from ..options import Options
from ..privileges import hand_over
from ..provenance import InputSummary
from ..errors import UsageError
from ..report.spool import FlowSpool
from ..sink import FlowSink

SinkFactory = Callable[[Path, tuple[str, ...], int, bool], FlowSink]
POLL_SECONDS = 0.1


@dataclass(frozen=True, slots=True)
class Job:
    """Captures read as one packet stream, as (path, label); flows go to OUT/subdir ("" is OUT)."""

    index: int
    captures: tuple[tuple[str, str], ...]
    subdir: str
    shard: Shard = Shard()


@dataclass(slots=True)
class JobResult:
    index: int
    summaries: list[InputSummary]
    spool: FlowSpool
    interrupted: bool
    stage: Path               # where its flow files wait to be moved into place


@dataclass(frozen=True, slots=True)
class Workspace:
    """The run's private folders: staging/<job> for flow files, spools/ for flow records."""

    staging: Path
    spools: Path

    def stage(self, job: Job, attempt: str = "") -> Path:
        """An attempt of its own gets a folder of its own: a lost attempt that still writes mixes nothing in."""
        return self.staging / (f"{job.index}-{attempt}" if attempt else str(job.index))


def run_job(job: Job, options: Options, workspace: Workspace, make_sink: SinkFactory,
            progress: Callable[[Progress], None], stop: Callable[[], bool], attempt: str = "") -> JobResult:
    """Process one job from scratch (a half-done earlier attempt's staging folder is discarded).

    A live capture writes straight into OUT, so flow files appear there as connections close
    (its staging folder stays empty: a live capture cannot be resumed anyway)."""
    stage = workspace.stage(job, attempt)
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir(parents=True)
    root = Path(options.outdir) / job.subdir if options.interface else stage
    sink = make_sink(root, options.hashes, options.max_fds, "X" not in options.fflags)
    spool = FlowSpool(workspace.spools, captures=[label for _, label in job.captures])
    prefix = f"{job.subdir}/" if job.subdir else ""

    def emit(rec: FlowRecord) -> None:
        if rec.filename and prefix:
            rec.filename = prefix + rec.filename
        spool.add(rec)

    if options.interface:
        if options.user:       # the run's state folder holds staging/ and spools/
            hand_over(options.user, [Path(options.outdir)], [workspace.staging.parent])
        summaries, interrupted = process_live(options, sink, emit, progress, stop), False
    else:
        packet_filter = PacketFilter(options.bpf) if options.bpf else None
        summaries, interrupted = process_captures(job.captures, options, sink, emit, progress, packet_filter,
                                                  stop, job.shard)
    for summary in summaries:
        summary.output_dir = job.subdir
    spool.close()
    return JobResult(job.index, summaries, spool, interrupted, stage)


def merge_shards(summaries: list[InputSummary]) -> list[InputSummary]:
    """One summary per capture: the shards of a split capture saw the same packets, their own flows."""
    merged: dict[str, InputSummary] = {}
    for summary in summaries:
        first = merged.setdefault(summary.path, summary)
        if first is summary:
            continue
        counters = dict(first.counters)
        for name, value in summary.counters.items():
            counters[name] = counters.get(name, 0) + value
        first.counters = dict(sorted(counters.items()))
        first.error = first.error or summary.error
        first.workers = list(dict.fromkeys(first.workers + summary.workers))
    return list(merged.values())


class RunnerError(UsageError):
    """The runner cannot start, or cannot go on: the message says why (jobs finished so far stay)."""


class Runner(Protocol):
    """Where jobs run: results as they finish, none started once `stop` is set."""

    facts: dict[str, str]    # for the report (empty when the jobs ran on this machine)
    slots: int               # jobs it runs at once (0: as -j says)

    def check(self, captures: list[str], outdir: Path) -> None:
        """Raise RunnerError unless whatever runs the jobs can read every capture and write OUT."""

    def run(self, jobs: list[Job], options: Options, workspace: Workspace, make_sink: SinkFactory,
            progress: Callable[[Progress], None], stop: threading.Event) -> Iterator[JobResult]: ...

    def map_work(self, function: Callable[[Any], Any], items: list[Any]) -> Iterator[Any]:
        """Scanners' per-file work where the jobs ran: `function(item)` for each item, results in order."""


class LocalRunner:
    """This process, or -j worker processes of this machine."""

    facts: dict[str, str] = {}
    slots = 0

    def __init__(self, jobs: int = 0) -> None:
        self._jobs = jobs

    def map_work(self, function: Callable[[Any], Any], items: list[Any]) -> Iterator[Any]:
        """Worker processes only when there are several items to share (starting one costs ~0.3 s)."""
        workers = min(self._jobs or os.cpu_count() or 1, len(items))
        if workers <= 1:
            yield from map(function, items)
            return
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(workers, mp_context=context, initializer=_ignore_signals) as executor:
            yield from executor.map(function, items)

    def check(self, captures: list[str], outdir: Path) -> None:
        """This process listed the captures and made OUT: the jobs run as the same user, on the same files."""

    def run(self, jobs: list[Job], options: Options, workspace: Workspace, make_sink: SinkFactory,
            progress: Callable[[Progress], None], stop: threading.Event) -> Iterator[JobResult]:
        workers = min(options.jobs or os.cpu_count() or 1, len(jobs))
        return run_jobs(jobs, options, workspace, workers, make_sink, progress, stop)


@contextlib.contextmanager
def open_runner(options: Options) -> Iterator[Runner]:
    """The runner --cluster asks for (connected and checked), else the local one."""
    if not options.cluster:
        yield LocalRunner(options.jobs)
        return
    from .cluster import ClusterRunner     # Dask loads only for a cluster run
    runner = ClusterRunner(options)
    try:
        yield runner
    finally:
        runner.close()


# -- worker processes -------------------------------------------------------
_events: "multiprocessing.Queue[Progress] | None" = None
_stop: threading.Event | None = None


def _ignore_signals() -> None:
    """The parent alone handles SIGINT/SIGTERM."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def _init_worker(events: "multiprocessing.Queue[Progress]", stop: threading.Event) -> None:
    """The parent alone handles SIGINT/SIGTERM and tells the workers through `stop`."""
    global _events, _stop
    _ignore_signals()
    _events, _stop = events, stop


def _work(job: Job, options: Options, workspace: Workspace, make_sink: SinkFactory) -> JobResult:
    assert _events is not None and _stop is not None
    return run_job(job, options, workspace, make_sink, _events.put, _stop.is_set)


def run_jobs(jobs: list[Job], options: Options, workspace: Workspace, workers: int, make_sink: SinkFactory,
             progress: Callable[[Progress], None], stop: threading.Event) -> Iterator[JobResult]:
    """Results as jobs finish; no new job starts once `stop` is set. One worker runs in this process."""
    if workers <= 1:
        for job in jobs:
            if stop.is_set():
                return
            result = run_job(job, options, workspace, make_sink, progress, stop.is_set)
            yield result
            if result.interrupted:
                return
        return
    yield from _pool(jobs, options, workspace, workers, make_sink, progress, stop)


def _pool(jobs: Iterable[Job], options: Options, workspace: Workspace, workers: int, make_sink: SinkFactory,
          progress: Callable[[Progress], None], stop: threading.Event) -> Iterator[JobResult]:
    """Worker processes; `make_sink` goes to them too (it must be picklable: a module-level function)."""
    context = multiprocessing.get_context("spawn")
    events: multiprocessing.Queue[Progress] = context.Queue()
    told_workers = context.Event()
    pending = iter(jobs)
    running: set[Future[JobResult]] = set()
    executor = ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker,
                                   initargs=(events, told_workers))
    try:
        while True:
            while not stop.is_set() and len(running) < workers and (job := next(pending, None)) is not None:
                running.add(executor.submit(_work, job, options, workspace, make_sink))
            if not running:
                break
            done, running = wait(running, timeout=POLL_SECONDS, return_when=FIRST_COMPLETED)
            _drain(events, progress)
            if stop.is_set():
                told_workers.set()
            for future in sorted(done, key=lambda f: f.result().index):
                yield future.result()
    finally:
        told_workers.set()
        executor.shutdown(wait=True, cancel_futures=True)
        _drain(events, progress)
        events.close()


def _drain(events: "multiprocessing.Queue[Progress]", progress: Callable[[Progress], None]) -> None:
    while True:
        try:
            progress(events.get_nowait())
        except queue.Empty:
            return
