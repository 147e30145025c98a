"""flows.jsonl: one JSON object per flow direction, every FlowRecord field, for scripts and SIEMs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import ClassVar

from forensics_tcpflow.flow.record import FlowRecord
from forensics_tcpflow.report.atomic import AtomicFile, AtomicWriter
from forensics_tcpflow.report.bodies import BodyIndex
from forensics_tcpflow.report.codec import flow_to_dict, iso_time, report_filename
from forensics_tcpflow.report.placement import named_after
from forensics_tcpflow.report.registry import ReportContext, register
from forensics_tcpflow.report.scanfacts import ScanIndex


@register
class JsonlWriter(AtomicWriter):
    """Rows carry the record's own field names; `filename` is relative to the report's folder."""

    name: ClassVar[str] = "jsonl"

    @staticmethod
    def target(report_path: Path) -> Path:
        return named_after(report_path, "flows.jsonl")

    def __init__(self, path: Path, context: ReportContext) -> None:
        self._context = context
        self._out = AtomicFile(path, "w", encoding="utf-8", errors="backslashreplace", newline="\n")
        self._bodies = BodyIndex(context, "jsonl")
        self._scans = ScanIndex(context, "jsonl")
        self._companions = ((self._bodies.out,) if self._bodies.out else ()) + self._scans.files

    def add(self, rec: FlowRecord) -> None:
        row = flow_to_dict(rec)
        row["filename"] = report_filename(rec.filename, self._context.options.outdir, self._context.report_dir)
        row["index_filename"] = report_filename(rec.index_filename, self._context.options.outdir,
                                                self._context.report_dir)
        row["start_time"] = iso_time(rec.first_ts_ns)
        row["end_time"] = iso_time(rec.last_ts_ns)
        self._out.file.write(json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n")
        self._bodies.add(rec)
        self._scans.add(rec)
