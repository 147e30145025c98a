"""timeline.jsonl: Timesketch's JSON lines (`message`, `datetime`, `timestamp_desc`), one event at
each flow direction's first and last packet and one per extracted body, with the facts as fields."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

from forensics_tcpflow.flow.record import FlowRecord
from forensics_tcpflow.report.atomic import AtomicFile, AtomicWriter
from forensics_tcpflow.report.bodies import body_row
from forensics_tcpflow.report.codec import flow_to_dict, iso_time, report_filename
from forensics_tcpflow.report.placement import named_after
from forensics_tcpflow.report.registry import ReportContext, register

_EVENTS = (("first_ts_ns", "First Packet", "first packet of"), ("last_ts_ns", "Last Packet", "last packet of"))


def _datetime(ns: int) -> str:
    """ISO 8601 with microseconds and an explicit offset, the form Timesketch's importer documents."""
    return f"{iso_time(ns)[:-4]}+00:00"


def _flat(value: Any) -> Any:
    """Timesketch indexes flat fields: lists and mappings become JSON text."""
    return value if value is None or isinstance(value, (str, int, float, bool)) else json.dumps(value)


@register
class TimesketchWriter(AtomicWriter):
    """`timestamp` is Timesketch's microseconds since 1970; the record's own nanoseconds stay in fields."""

    name: ClassVar[str] = "timesketch"

    @staticmethod
    def target(report_path: Path) -> Path:
        return named_after(report_path, "timeline.jsonl")

    def __init__(self, path: Path, context: ReportContext) -> None:
        self._context = context
        self._out = AtomicFile(path, "w", encoding="utf-8", errors="backslashreplace", newline="\n")

    def _event(self, ns: int, desc: str, message: str, data_type: str, facts: dict[str, Any]) -> None:
        event = {"message": message, "datetime": _datetime(ns), "timestamp": ns // 1000, "timestamp_desc": desc,
                 "data_type": data_type}
        event.update((name, _flat(value)) for name, value in facts.items())
        self._out.file.write(json.dumps(event, ensure_ascii=False, separators=(",", ":")) + "\n")

    def add(self, rec: FlowRecord) -> None:
        ctx = self._context
        facts = flow_to_dict(rec)
        facts.update(facts.pop("hashes"))
        facts["filename"] = report_filename(rec.filename, ctx.options.outdir, ctx.report_dir)
        what = (f"{rec.protocol.upper()} {rec.src}:{rec.sport} -> {rec.dst}:{rec.dport} ({rec.direction}, {rec.packets} packets,"
                f" {rec.stream_length} bytes, closed by {rec.close_reason})")
        for field, desc, prefix in _EVENTS:
            self._event(getattr(rec, field), desc, f"{prefix} {what}", "forensics_tcpflow:flow", facts)
        for body in ctx.scans.bodies.get(rec.filename, ()):
            row = body_row(rec, body, ctx)
            message = (f"HTTP {body.kind} body {body.index:03d} {body.method} {body.host}{body.uri}"
                       f" ({body.content_type or 'no type'}, {body.filesize} bytes"
                       f"{'' if body.complete else ', incomplete'}) in {what}")
            self._event(rec.first_ts_ns, "First Packet of its Flow", message, "forensics_tcpflow:http_body", row)
