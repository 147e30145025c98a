"""Extracted bodies in the reports: the DFXML byte_run attributes, and the bodies.jsonl /
bodies.csv companions of the flow indexes (one row per body, written only when a scanner found some)."""

from __future__ import annotations

import csv
import json
from dataclasses import fields
from typing import Any

from forensics_tcpflow.flow.record import FlowRecord
from forensics_tcpflow.report.atomic import AtomicFile
from forensics_tcpflow.report.codec import report_filename
from forensics_tcpflow.report.registry import ReportContext
from forensics_tcpflow.scan.body import BodyRecord

BODY_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(BodyRecord))
BODY_INDEXES = ("bodies.jsonl", "bodies.csv")
# DFXML has file_offset and len on a byte_run; every other fact is an ftf attribute.
_DFXML_NAMES = {"file_offset": "file_offset", "length": "len"}


def body_row(rec: FlowRecord, body: BodyRecord, context: ReportContext) -> dict[str, Any]:
    """The body's facts with its file and its flow's file named from the report's folder."""
    row: dict[str, Any] = {"flow": report_filename(rec.filename, context.options.outdir, context.report_dir)}
    row.update((name, getattr(body, name)) for name in BODY_FIELDS)
    row["filename"] = report_filename(body.filename, context.options.outdir, context.report_dir)
    return row


def byte_run_attributes(rec: FlowRecord, body: BodyRecord, context: ReportContext) -> dict[str, str]:
    """Attribute names as written (DFXML's bare, ours with the ftf: prefix); values as XML text
    (booleans true/false, no status: no attribute)."""
    attrs: dict[str, str] = {}
    for name, value in body_row(rec, body, context).items():
        if name == "flow" or value is None or value == "":
            continue
        text = ("true" if value else "false") if isinstance(value, bool) else str(value)
        attrs[_DFXML_NAMES.get(name) or f"ftf:{name}"] = text
    return attrs


def _cell(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


class BodyIndex:
    """bodies.jsonl or bodies.csv beside the report (see named_after), filled as the flows go by."""

    def __init__(self, context: ReportContext, kind: str) -> None:
        self._context, self._kind = context, kind
        self.out: AtomicFile | None = None
        if context.scans.bodies:
            path = context.beside(f"bodies.{kind}")
            self.out = AtomicFile(path, "w", encoding="utf-8", errors="backslashreplace",
                                  newline="\n" if kind == "jsonl" else "")
            if kind == "csv":
                self._csv = csv.writer(self.out.file, lineterminator="\n")
                self._csv.writerow(["flow", *BODY_FIELDS])

    def add(self, rec: FlowRecord) -> None:
        if self.out is None:
            return
        for body in self._context.scans.bodies.get(rec.filename, ()):
            row = body_row(rec, body, self._context)
            if self._kind == "jsonl":
                self.out.file.write(json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n")
            else:
                self._csv.writerow([_cell(value) for value in row.values()])
