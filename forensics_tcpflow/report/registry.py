"""Report formats by name, and the single pass that feeds every requested format."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, ClassVar, Iterable, Protocol

from forensics_tcpflow.flow.record import FlowRecord
from forensics_tcpflow.options import Options
from forensics_tcpflow.errors import UsageError
from forensics_tcpflow.provenance import InputSummary, RunInfo
from forensics_tcpflow.report.placement import DEFAULT_REPORT, named_after
from forensics_tcpflow.report.sidecar import Sidecar
from forensics_tcpflow.report.spool import FlowSpool
from forensics_tcpflow.scan.registry import ScanResults


@dataclass(frozen=True, slots=True)
class ReportContext:
    """What every writer knows besides the flows."""

    run: RunInfo
    inputs: list[InputSummary]
    options: Options
    report_dir: Path
    scans: ScanResults = field(default_factory=ScanResults)   # what the scanners found (bodies)
    report_name: str = DEFAULT_REPORT                         # the DFXML report's own name, in report_dir

    def beside(self, default: str) -> Path:
        """A sibling of the report (see named_after)."""
        return named_after(self.report_dir / self.report_name, default)


class ReportWriter(Protocol):
    """One output format: opened on a temporary file, fed every flow in order, finished, then committed."""

    name: ClassVar[str]

    @staticmethod
    def target(report_path: Path) -> Path: ...

    @staticmethod
    def folders(report_path: Path) -> tuple[Path, ...]: ...

    @property
    def temp(self) -> Path: ...

    def add(self, rec: FlowRecord) -> None: ...

    def finish(self) -> Path: ...

    def commit(self) -> Path: ...

    def discard(self) -> None: ...


WriterFactory = Callable[[Path, ReportContext], ReportWriter]
WRITERS: dict[str, WriterFactory] = {}


def register(cls: type) -> type:
    WRITERS[cls.name] = cls
    return cls


LARGE_RUN_FLOWS = 20_000     # from here on, helper processes save more than they cost to start


def is_large(flows: int, options: Options) -> bool:
    """The one place that decides whether a run's reports get helper processes
    (a sidecar writer, a follower that checks the report, a mover for the last files):
    from LARGE_RUN_FLOWS on, unless the run is shut into a jail (-z), which cannot start Python again."""
    return flows >= LARGE_RUN_FLOWS and not options.chroot


class Check(Protocol):
    """Sees the formats this process writes: `begin` with their temporary paths as writing
    starts, `end` once they are complete (before any is put in place), `abandon` if it failed."""

    def begin(self, writing: dict[str, Path]) -> None: ...

    def end(self) -> None: ...

    def abandon(self) -> None: ...


def write_reports(formats: Iterable[str], run: RunInfo, inputs: list[InputSummary],
                  flows: Iterable[FlowRecord], options: Options, report_path: Path,
                  count: Callable[[Iterable[FlowRecord]], Iterable[FlowRecord]] = iter,
                  check: Check | None = None, scans: ScanResults | None = None) -> list[Path]:
    """Write each requested format; return the committed paths in request order.

    `count` sees every flow on its way to this process's writers; `check` sees the
    formats this process writes, under their temporary names, from the start, and
    ends before any is put in place. On a large spool the formats other than DFXML
    are written by a second process at the same time (see sidecar). Nothing
    appears at a target path unless every format was written completely.
    """
    report_path = Path(report_path)
    names = list(dict.fromkeys(formats))
    unknown = [name for name in names if name not in WRITERS]
    if unknown:
        raise UsageError(f"unknown report format(s) {', '.join(unknown)}; known: {', '.join(sorted(WRITERS))}")
    context = ReportContext(run, list(inputs), options, report_path.parent, scans or ScanResults(), report_path.name)
    here, beside = _divide(names, flows, options)
    writers: list[ReportWriter] = []
    sidecar: Sidecar | None = None
    try:
        if beside:
            sidecar = Sidecar(beside, context, flows, report_path)   # type: ignore[arg-type]
        writers += (open_writer(name, context, report_path) for name in here)
        if check is not None:
            check.begin({name: writer.temp for name, writer in zip(here, writers)})
        for rec in count(flows):
            for writer in writers:
                writer.add(rec)
        for writer in writers:
            writer.finish()
        if check is not None:
            check.end()
            check = None
        if sidecar is not None:
            sidecar.finish()
    except BaseException:
        for writer in writers:
            writer.discard()
        if sidecar is not None:
            sidecar.discard()
        if check is not None:
            check.abandon()
        raise
    paths = {name: writer.commit() for name, writer in zip(here, writers)}
    if sidecar is not None:
        paths.update(sidecar.commit())
    return [paths[name] for name in names]


def open_writer(name: str, context: ReportContext, report_path: Path) -> ReportWriter:
    """Format `name`, opened on a temporary file beside where it belongs."""
    factory = WRITERS[name]
    return factory(factory.target(report_path), context)


def _divide(names: list[str], flows: Iterable[FlowRecord], options: Options) -> tuple[list[str], list[str]]:
    """Formats for this process (DFXML, whose rusage and check belong here) and for a sidecar."""
    if len(names) < 2 or not isinstance(flows, FlowSpool) or not is_large(len(flows), options):
        return names, []
    here = ["dfxml"] if "dfxml" in names else names[:1]
    return here, [name for name in names if name not in here]
