"""The core: options and an environment in, a named exit status out."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
import threading
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterable, Iterator

from .batch.jobs import Job, JobResult, Runner, RunnerError, merge_shards, open_runner
from .batch.promote import Mover, promote
from .kernel.shard import Shard
from .batch.journal import Journal, state_dir
from .batch.merge import order_by_first_packet
from .batch.walk import walk_inputs
from .capture.stdin import STDIN_PATH
from .capture.writer import PcapWriter
from .environment import WARNING, Environment, Progress
from .exitstatus import REPORT_BUGS, ExitStatus, status_of
from .flow.naming import build_template
from .flow.record import FlowRecord
from .options import NS, Options
from .plan import RunPlan, make_plan
from .errors import StdoutClosed, UsageError
from .provenance import InputSummary
from .report.follow import Follower
from .report.outputs import outputs_written
from .report.registry import is_large, write_reports
from .report.spool import FlowSpool
from .report.validate import validate_report
from .runinfo import make_run_info, replay_info
from .scan.registry import MapWork, ScanContext, ScanResults, post_scanners, run_scanners
from .sink.console import ConsolePrinter
from .sink.packets import DirectionPcaps
from .sink.tap import TapSink

@contextlib.contextmanager
def _stop_on_signals() -> Iterator[threading.Event]:
    """SIGINT/SIGTERM ask the run to stop taking work and finish cleanly (only the main thread can listen)."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    saved = {sig: signal.signal(sig, lambda signum, frame: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


SHARD_MIN_BYTES = 32 << 20    # smaller captures are not worth reading twice
_SHARDABLE = ("%A", "%a", "%B", "%b", "%v")   # names unique per connection whatever shard made them


def plan_jobs(options: Options, captures: list[tuple[str, str]], slots: int = 0) -> list[Job]:
    """One job per capture, or with --merge one job over every capture in first-packet order.

    With more workers than captures, large captures are split by connection
    into shards that run side by side (each reads the whole capture and keeps
    its share of the connections), so one big file uses every core.
    """
    if options.interface:
        return [Job(0, ((options.interface, options.interface),), "")]
    if options.merge and captures:
        ordered = order_by_first_packet(captures)
        return [Job(0, tuple((path, path) for path, _ in ordered), "")]
    if options.finish_inputs and captures:     # -R: the connections run on from the -r captures
        return [Job(0, tuple((path, path) for path, _ in captures), "")]
    workers = options.jobs or slots or os.cpu_count() or 1
    shards = workers // len(captures) if captures else 1
    template = build_template(options.template, options.fflags)
    if shards < 2 or not all(v in template for v in _SHARDABLE):
        shards = 1
    jobs: list[Job] = []
    for path, subdir in captures:
        count = shards if _size(path) >= SHARD_MIN_BYTES else 1
        jobs.extend(Job(len(jobs), ((path, path),), subdir, Shard(k, count)) for k in range(count))
    return jobs


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of the planned captures: the same numbers in the summary, the report and --resume.
    A capture is reached when every job that reads it ran to its end (not cut short by a signal)."""

    planned: int
    processed: int        # read to the end without an error
    failed: int           # reached, with an error (unreadable, damaged, missing)
    not_reached: int      # not read, or cut short by an interruption: --resume reads them
    skipped: int = 0      # other files among the inputs, not captures

    @classmethod
    def of(cls, jobs: list[Job], done: dict[int, tuple[list[InputSummary], FlowSpool]], cut: set[int],
           skipped: int = 0) -> Outcome:
        labels = list(dict.fromkeys(label for job in jobs for _, label in job.captures))
        unfinished = {label for job in jobs if job.index not in done or job.index in cut for _, label in job.captures}
        errors = {s.path for index in done if index not in cut for s in done[index][0] if s.error}
        reached = [label for label in labels if label not in unfinished]
        failed = sum(label in errors for label in reached)
        return cls(len(labels), len(reached) - failed, failed, len(labels) - len(reached), skipped)

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass(slots=True)
class Tally:
    """What the closing summary lines say (the capture counts: Outcome)."""

    flows: int = 0
    flow_bytes: int = 0
    warnings: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def watch(self, log: Callable[[str], None]) -> Callable[[str], None]:
        """`log`, counting every warning line on its way, whoever says it (scanners too)."""
        def counted(line: str) -> None:
            self.warnings += line.startswith(WARNING)
            log(line)
        return counted

    def count(self, flows: Iterable[FlowRecord]) -> Iterator[FlowRecord]:
        for rec in flows:
            self.flows += 1
            self.flow_bytes += rec.filesize
            yield rec


def run(options: Options, env: Environment) -> ExitStatus:
    """Plan the run from the options as given, then run it: jobs over captures, or per-packet taps here."""
    start_ns = env.clock_ns()
    try:
        plan = make_plan(options)
    except UsageError as exc:
        env.error(str(exc))
        return status_of(exc)
    if plan.runner == "taps":
        return _with_taps(plan, env, start_ns)
    return _guarded(plan, env, start_ns)


def _with_taps(plan: RunPlan, env: Environment, start_ns: int) -> ExitStatus:
    """Per-packet outputs (console, -K, -w) follow the packets of all captures in the order given, as
    tcpflow's do: one job at a time in this process. Console mode and -K keep no flow files; console
    mode's workspace is a scratch folder, and its report (only with -X or -o) goes to the plan's report path."""
    options = plan.options
    template = build_template(options.template, options.fflags)
    printer = writer = None
    if options.console:
        env.stdout.flush()
        printer = ConsolePrinter(env.stdout.buffer, template=template, outdir=options.outdir,
                                 fmt=options.console_format, header=options.console_header,
                                 color=options.console_color, newline=options.console_newline,
                                 max_bytes=options.max_bytes)
    try:
        if options.unprocessed:
            Path(options.unprocessed).parent.mkdir(parents=True, exist_ok=True)
            writer = PcapWriter(open(options.unprocessed, "xb"))
    except OSError as exc:
        env.error(f"cannot write {options.unprocessed}: {exc.strerror or exc}")
        return ExitStatus.USAGE
    taps = replace(env, make_sink=lambda root, *args: TapSink(
        env.make_sink(root, *args), printer, writer,
        DirectionPcaps(str(root), template) if options.packet_files else None))
    try:
        done = writer.close if writer is not None else _nothing    # the -w file is complete, then hashed
        if not plan.scratch:
            return _guarded(plan, taps, start_ns, done)
        with tempfile.TemporaryDirectory(prefix="forensics-tcpflow-") as scratch:
            return _guarded(plan.in_scratch(scratch), taps, start_ns, done)
    finally:
        if writer is not None:
            writer.close()
        if options.console:
            _flush(env)


def _flush(env: Environment) -> None:
    try:
        env.stdout.buffer.flush()
    except BrokenPipeError:
        raise StdoutClosed from None


def _nothing() -> None:
    """No per-packet output to complete."""


def _guarded(plan: RunPlan, env: Environment, start_ns: int, taps_done: Callable[[], None] = _nothing) -> ExitStatus:
    options = plan.options
    with _stop_on_signals() as stop:
        try:
            with open_runner(options) as runner:
                return _run(plan, env, start_ns, stop, runner, taps_done)
        except UsageError as exc:        # a journal of another run, a cluster that cannot run this
            env.error(str(exc))
            return status_of(exc)
        except FileExistsError as exc:   # not for --resume: that would replace the file in the way
            env.error(f"cannot write to {exc.filename}: {exc.strerror}; no report was written")
            return ExitStatus.INPUT_ERRORS
        except OSError as exc:
            env.error(f"cannot write to {exc.filename or options.outdir}: {exc.strerror or exc};"
                      f" no report was written; {_kept(options.outdir)}")
            return ExitStatus.INPUT_ERRORS


def _discard(journal: Journal, outdir: Path, env: Environment) -> None:
    """--fresh: the flow files an unfinished run already moved into OUT, then what it kept for --resume."""
    removed = 0
    for name in journal.placed():
        with contextlib.suppress(FileNotFoundError):
            (outdir / name).unlink()
            removed += 1
    if journal.state.exists():
        held = _held(journal.state)
        shutil.rmtree(journal.state)
        env.log(f"forensics-tcpflow: started afresh: removed {removed} flow files of the unfinished run and"
                f" {held:,} bytes it kept for --resume")


def _held(state: Path) -> int:
    return sum(os.lstat(Path(top) / name).st_size for top, _, names in os.walk(state) for name in names)


def _kept(outdir: str) -> str:
    """What a failed run leaves for --resume and the space it holds, so a full disk can be freed knowingly."""
    state = state_dir(outdir)
    if not state.exists():
        return "nothing is kept"
    return (f"kept for --resume: {state} ({_held(state):,} bytes: the journal and the staged flow files of unfinished"
            f" captures); to start afresh instead, run again with --fresh (it removes them) or choose a new"
            f" output directory")


def _run(plan: RunPlan, env: Environment, start_ns: int, stop: threading.Event, runner: Runner,
         taps_done: Callable[[], None]) -> ExitStatus:
    options, report_path = plan.options, plan.report_path
    tally = Tally()
    env = replace(env, log=tally.watch(env.log))
    captures, tally.skipped = walk_inputs(options.inputs + options.finish_inputs)
    for path, reason in tally.skipped:
        env.warn(f"{path}: skipped: {reason}")
    if not captures and not options.interface:
        env.error(f"nothing to read: no capture in {', '.join(options.inputs + options.finish_inputs)}"
                  f" ({len(tally.skipped)} other files skipped); nothing was written")
        return ExitStatus.INPUT_ERRORS
    outdir = Path(options.outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    report_path.parent.mkdir(parents=True, exist_ok=True)
    runner.check([path for path, _ in captures], outdir)
    journal = Journal(state_dir(outdir))
    if options.fresh:
        _discard(journal, outdir, env)
    jobs = plan_jobs(options, captures, runner.slots)
    if options.resume:
        jobs = journal.planned(jobs)
    done: dict[int, tuple[list[InputSummary], FlowSpool]] = {
        index: (finished.summaries, finished.spool) for index, finished in journal.open(options, jobs).items()}
    if options.resume:
        reached = Outcome.of(jobs, done, cut=set())
        env.log(f"forensics-tcpflow: resuming: {reached.processed + reached.failed} of {reached.planned}"
                " captures already done")
    for summaries, _ in done.values():
        _report_errors(env, summaries)
    todo = [job for job in jobs if job.index not in done]
    env.progress(Progress("start-run", "", sum(_size(path) for job in todo for path, _ in job.captures)))
    interrupted = False
    cut: set[int] = set()              # jobs a signal cut short: --resume does them again
    last: JobResult | None = None      # its files move while the reports are written
    results = _until_lost(runner.run(todo, options, journal.workspace, env.make_sink, env.progress, stop), env, stop)
    def places(result: JobResult) -> tuple[Path, Path, bool]:
        """Where a job's files wait (staging), where they belong, and whether they may replace files there:
        only with --resume or --fresh, which take the unfinished run in OUT as theirs."""
        return result.stage, outdir / jobs[result.index].subdir, options.resume or options.fresh

    with contextlib.closing(results):
        for result in results:
            if last is not None:
                promote(*places(last))
                _record(journal, last)
            last = result
            interrupted = interrupted or result.interrupted
            if result.interrupted:
                cut.add(result.index)
            done[result.index] = (result.summaries, result.spool)
            _report_errors(env, result.summaries)
            env.progress(Progress("flows", "", sum(len(spool) for _, spool in done.values())))
    interrupted = interrupted or (stop.is_set() and not options.interface)   # a signal ends a live capture
    if interrupted:
        streams = [path for path in options.inputs if path == STDIN_PATH]
        env.warn("interrupted: every open flow was closed; " + (
            "standard input cannot be read again, so this run cannot be resumed" if streams
            else "continue the run with --resume"))
    large = is_large(sum(len(spool) for _, spool in done.values()), options)
    settle = _Settle(journal, last, places, in_child=large)
    try:
        return _finish(plan, env, start_ns, jobs, done, Outcome.of(jobs, done, cut, len(tally.skipped)),
                       interrupted, tally, journal,
                       _ReportGate(report_path, large, settle), runner.facts, runner.map_work, taps_done)
    finally:
        settle.close()


def _until_lost(results: Iterator[JobResult], env: Environment, stop: threading.Event) -> Iterator[JobResult]:
    """A runner that cannot go on (its scheduler is gone) stops the run as an interruption does."""
    try:
        yield from results
    except RunnerError as exc:
        env.error(str(exc))
        stop.set()


def _record(journal: Journal, result: JobResult) -> None:
    """A job is journaled once its files are in place, unless it was cut short (--resume redoes it)."""
    if not result.interrupted:
        journal.record(result)


class _Settle:
    """The last job's files moved into place and the job journaled: in a child process beside
    the reports on a large run, else now; done() before the reports are put in place."""

    def __init__(self, journal: Journal, result: JobResult | None,
                 places: Callable[[JobResult], tuple[Path, Path, bool]], in_child: bool) -> None:
        self._journal, self._result = journal, result
        self._mover: Mover | None = None
        if result is not None and in_child:
            self._mover = Mover(*places(result))
        elif result is not None:
            promote(*places(result))

    def done(self) -> None:
        if self._result is None:
            return
        if self._mover is not None:
            self._mover.wait()
        _record(self._journal, self._result)
        self._result = None

    def close(self) -> None:
        if self._mover is not None:
            self._mover.close()


def _report_errors(env: Environment, summaries: list[InputSummary]) -> None:
    for summary in summaries:
        if summary.error:
            env.error(summary.error)


def _warn_unknown_links(env: Environment, summaries: list[InputSummary]) -> None:
    """The report counts packets of a link type we cannot read; say it on stderr too, so none are lost unseen."""
    for summary in summaries:
        for name, count in summary.counters.items():
            if name.startswith("linktype:"):
                env.warn(f"{summary.path}: {count} packets of unsupported link type {name.split(':', 1)[1]}"
                         " were not decoded")


def _size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def _finish(plan: RunPlan, env: Environment, start_ns: int, jobs: list[Job],
            done: dict[int, tuple[list[InputSummary], FlowSpool]], outcome: Outcome, interrupted: bool, tally: Tally,
            journal: Journal, gate: "_ReportGate", cluster: dict[str, str], map_work: MapWork,
            taps_done: Callable[[], None]) -> ExitStatus:
    options, report_path = plan.options, plan.report_path
    summaries = merge_shards([summary for index in sorted(done) for summary in done[index][0]])
    _warn_unknown_links(env, summaries)
    processed = {summary.path for summary in summaries}
    not_done = [(path, "not processed: the run was interrupted")
                for job in jobs for path, _ in job.captures if path not in processed]
    errors = [summary.error for summary in summaries if summary.error]
    internal = any(summary.internal_error for summary in summaries)
    if internal:
        env.log(f"forensics-tcpflow: {REPORT_BUGS}")
    status = (ExitStatus.INTERRUPTED if interrupted else ExitStatus.INTERNAL_ERROR if internal
              else ExitStatus.INPUT_ERRORS if errors else ExitStatus.OK)
    run_info = make_run_info(env.command_line, plan.given, plan.derived(), start_ns)
    run_info.skipped = tally.skipped + not_done
    run_info.interrupted = interrupted
    run_info.cluster = cluster
    run_info.replay = replay_info(env.argv, env.cwd)
    run_info.exit_status = int(status)
    run_info.outcome = outcome.as_dict()
    labels = list(dict.fromkeys(label for job in jobs for _, label in job.captures))
    spools = [spool for _, spool in (done[index] for index in sorted(done))]
    spool = FlowSpool.merge(spools, captures=labels) if spools else FlowSpool(journal.workspace.spools, labels)
    scans = ScanResults()     # an interrupted run scans once --resume has finished it
    if post_scanners(options.scanners) and not interrupted:
        gate.settle.done()    # scanners read finished flow files where they belong
        scans = run_scanners(ScanContext(options, Path(options.outdir), report_path, summaries, env.log, map_work),
                             spool)
    taps_done()
    if options.findx or options.packet_files:
        gate.settle.done()    # the last job's files are in place before they are hashed
    others = [("unprocessed", Path(options.unprocessed))] if options.unprocessed else []
    run_info.outputs = outputs_written(Path(options.outdir), report_path.parent, options.packet_files,
                                       [*others, *(("picture", path) for path in scans.files)])
    run_info.end_ns = env.clock_ns()
    write_reports(options.reports, run_info, summaries, spool, options, report_path, tally.count, gate, scans)
    problems = gate.problems
    for problem in problems:
        env.error(f"{report_path}: invalid report: {problem}")
    if problems and status == ExitStatus.OK:
        status = ExitStatus.INPUT_ERRORS
    if not interrupted:
        journal.remove()
    if not options.quiet and options.verbosity > 0:
        _summary(env, summaries, outcome, errors, tally, env.clock_ns() - start_ns, scans.summary)
    return status


class _ReportGate:
    """What must hold before the reports are put in place: the flow files they name are in
    place, and the DFXML report was checked (on a large run by a process that read it while
    it was written, else once it was complete)."""

    def __init__(self, report_path: Path, follow: bool, settle: _Settle) -> None:
        self.report_path = report_path
        self.follow = follow
        self.settle = settle
        self.problems: list[str] = []
        self._written: Path | None = None
        self._follower: Follower | None = None

    def begin(self, writing: dict[str, Path]) -> None:
        self._written = writing.get("dfxml")
        if self._written is not None and self.follow:
            self._follower = Follower(self._written, self.report_path)

    def end(self) -> None:
        self.settle.done()
        if self._written is None:
            return
        self.problems = (self._follower.problems() if self._follower
                         else validate_report(self._written, shown_as=self.report_path))

    def abandon(self) -> None:
        if self._follower is not None:
            self._follower.abandon()


def _summary(env: Environment, summaries: list[InputSummary], outcome: Outcome, errors: list[str], tally: Tally,
             elapsed_ns: int, scanned: list[str]) -> None:
    log = env.log
    log(f"forensics-tcpflow: captures: {outcome.processed} processed, {outcome.failed} failed,"
        f" {outcome.not_reached} not reached (of {outcome.planned}); {outcome.skipped} other files skipped")
    log(f"forensics-tcpflow: packets: {sum(s.packets for s in summaries)}"
        f" ({sum(s.size for s in summaries)} input bytes)")
    for live in (s.live for s in summaries if s.live):
        log(f"forensics-tcpflow: live capture on {live.interface}: {live.received} packets received by libpcap,"
            f" {live.dropped} dropped by the kernel, {live.interface_dropped} dropped by the interface")
    log(f"forensics-tcpflow: flows: {tally.flows} ({tally.flow_bytes} bytes in flow files)")
    for line in scanned:
        log(f"forensics-tcpflow: {line}")
    log(f"forensics-tcpflow: warnings: {tally.warnings}, errors: {len(errors)},"
        f" elapsed: {elapsed_ns / NS:.2f} s")
