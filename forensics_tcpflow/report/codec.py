"""Values shared by every report format: flow records as plain data, UTC times, report-relative names."""

from __future__ import annotations

import os
from dataclasses import fields
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from forensics_tcpflow.flow.record import FlowRecord

FLOW_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(FlowRecord))
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_NS = 1_000_000_000


def _same(value: Any) -> Any:
    return value


def _tuples(items: list[list[Any]]) -> list[tuple]:
    return [tuple(item) for item in items]


# JSON turns tuples into lists: these fields get their declared shapes back.
_DECODE: dict[str, Callable[[Any], Any]] = {
    "vlans": tuple,
    "holes": _tuples,
    "truncated": _tuples,
    "overlaps": _tuples,
}


def flow_to_dict(rec: FlowRecord) -> dict[str, Any]:
    """Every field of the record, in declaration order, JSON-ready."""
    return {name: getattr(rec, name) for name in FLOW_FIELDS}


def flow_from_dict(data: dict[str, Any]) -> FlowRecord:
    return FlowRecord(**{name: _DECODE.get(name, _same)(data[name]) for name in FLOW_FIELDS if name in data})


def iso_time(ns: int) -> str:
    """UTC xs:dateTime with all nine fractional digits, computed in integers (a float loses nanoseconds)."""
    seconds, frac = divmod(ns, _NS)
    moment = _EPOCH + timedelta(seconds=seconds)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{frac:09d}Z"


def seconds_text(ns: int) -> str:
    """A duration in seconds with microsecond digits, for DFXML's float-typed rusage fields."""
    return f"{ns // _NS}.{ns % _NS // 1000:06d}"


def report_filename(filename: str, outdir: str, report_dir: str | os.PathLike[str]) -> str:
    """A flow file's name as seen from the report's folder ("" stays "": no file was written)."""
    if not filename:
        return ""
    rel = os.path.relpath(os.path.join(os.path.abspath(outdir), filename), os.path.abspath(report_dir))
    return rel.replace(os.sep, "/")
