"""Report formats by name, and the single pass that feeds every requested format."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, ClassVar, Iterable, Protocol

from forensics_tcpflow.flow.record import FlowRecord
from forensics_tcpflow.options import Options
from forensics_tcpflow.provenance import InputSummary, RunInfo


@dataclass(frozen=True, slots=True)
class ReportContext:
    """What every writer knows besides the flows."""

    run: RunInfo
    inputs: list[InputSummary]
    options: Options
    report_dir: Path


class ReportWriter(Protocol):
    """One output format: opened on a temporary file, fed every flow in order, then committed."""

    name: ClassVar[str]

    @staticmethod
    def target(report_path: Path) -> Path: ...

    def add(self, rec: FlowRecord) -> None: ...

    def commit(self) -> Path: ...

    def discard(self) -> None: ...


WriterFactory = Callable[[Path, ReportContext], ReportWriter]
WRITERS: dict[str, WriterFactory] = {}


def register(cls: type) -> type:
    WRITERS[cls.name] = cls
    return cls


def write_reports(formats: Iterable[str], run: RunInfo, inputs: list[InputSummary],
                  flows: Iterable[FlowRecord], options: Options, report_path: Path) -> list[Path]:
    """Write each requested format in one pass over `flows`; return the committed paths in request order.

    Nothing appears at a target path unless every format was written completely.
    """
    report_path = Path(report_path)
    names = list(dict.fromkeys(formats))
    unknown = [name for name in names if name not in WRITERS]
    if unknown:
        raise ValueError(f"unknown report format(s) {', '.join(unknown)}; known: {', '.join(sorted(WRITERS))}")
    context = ReportContext(run, list(inputs), options, report_path.parent)
    writers: list[ReportWriter] = []
    try:
        for name in names:
            factory = WRITERS[name]
            writers.append(factory(factory.target(report_path), context))
        for rec in flows:
            for writer in writers:
                writer.add(rec)
    except BaseException:
        for writer in writers:
            writer.discard()
        raise
    return [writer.commit() for writer in writers]
