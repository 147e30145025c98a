"""flows.csv: one row per flow direction for spreadsheets; lists are packed into single cells."""

from __future__ import annotations

import csv
import json
from operator import attrgetter
from pathlib import Path
from typing import Callable, ClassVar

from forensics_tcpflow.flow.record import FlowRecord
from forensics_tcpflow.report.atomic import AtomicFile, AtomicWriter
from forensics_tcpflow.report.bodies import BodyIndex
from forensics_tcpflow.report.codec import FLOW_FIELDS, iso_time, report_filename
from forensics_tcpflow.report.placement import named_after
from forensics_tcpflow.report.registry import ReportContext, register
from forensics_tcpflow.report.scanfacts import ScanIndex


def _ranges(items: list[tuple]) -> str:
    """"offset:length[:kept]" items separated by spaces."""
    return " ".join(":".join(str(part) for part in item) for item in items)


def _optional(value: object) -> str:
    return "" if value is None else str(value)


# Cells whose value is not just str(field).
_CELL: dict[str, Callable[[object], str]] = {
    "vlans": lambda v: " ".join(str(vid) for vid in v),  # type: ignore[attr-defined]
    "mac_src": _optional,
    "mac_dst": _optional,
    "holes": _ranges,  # type: ignore[dict-item]
    "truncated": _ranges,  # type: ignore[dict-item]
    "overlaps": _ranges,  # type: ignore[dict-item]
    "sources": lambda v: json.dumps(v) if v else "",  # capture paths may hold any separator
    "link_facts": lambda v: json.dumps(v, sort_keys=True) if v else "",  # an NFLOG prefix may hold anything
    "index_hashes": lambda v: json.dumps(v, sort_keys=True) if v else "",
}


@register
class CsvWriter(AtomicWriter):
    """Columns: the record's fields with `hashes` spread into one column per run hash, plus ISO times."""

    name: ClassVar[str] = "csv"

    @staticmethod
    def target(report_path: Path) -> Path:
        return named_after(report_path, "flows.csv")

    def __init__(self, path: Path, context: ReportContext) -> None:
        self._context = context
        self._hashes = tuple(context.options.hashes)
        fields = tuple(name for name in FLOW_FIELDS if name != "hashes")
        self._values = attrgetter(*fields)
        self._cells = tuple(_CELL.get(name, str) for name in fields)
        self._filename_columns = (fields.index("filename"), fields.index("index_filename"))
        self._out = AtomicFile(path, "w", encoding="utf-8", errors="backslashreplace", newline="")
        self._csv = csv.writer(self._out.file, lineterminator="\n")
        self._csv.writerow([*fields, *self._hashes, "start_time", "end_time"])
        self._bodies = BodyIndex(context, "csv")
        self._scans = ScanIndex(context, "csv")
        self._companions = ((self._bodies.out,) if self._bodies.out else ()) + self._scans.files

    def add(self, rec: FlowRecord) -> None:
        cells = [cell(value) for cell, value in zip(self._cells, self._values(rec))]
        for column in self._filename_columns:
            cells[column] = report_filename(cells[column], self._context.options.outdir, self._context.report_dir)
        cells += [rec.hashes.get(algorithm, "") for algorithm in self._hashes]
        cells += [iso_time(rec.first_ts_ns), iso_time(rec.last_ts_ns)]
        self._csv.writerow(cells)
        self._bodies.add(rec)
        self._scans.add(rec)
