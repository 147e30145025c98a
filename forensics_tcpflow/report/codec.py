"""Values shared by every report format: flow records as plain data, UTC times, report-relative names."""

from __future__ import annotations

import os
from functools import lru_cache
from dataclasses import fields
from typing import Any

from forensics_tcpflow.flow.record import FlowRecord

FLOW_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(FlowRecord))
_NS = 1_000_000_000


def flow_to_dict(rec: FlowRecord) -> dict[str, Any]:
    """Every field of the record, in declaration order, JSON-ready."""
    return {name: getattr(rec, name) for name in FLOW_FIELDS}


def iso_time(ns: int) -> str:
    """UTC xs:dateTime with all nine fractional digits, computed in integers (a float loses nanoseconds)."""
    seconds, frac = divmod(ns, _NS)
    return f"{_second_text(seconds)}.{frac:09d}Z"


@lru_cache(maxsize=4096)     # flows start and end in the same seconds by the thousand
def _second_text(seconds: int) -> str:
    days, secs = divmod(seconds, 86400)
    year, month, day = _civil(days)
    hour, rest = divmod(secs, 3600)
    return f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{rest // 60:02d}:{rest % 60:02d}"


def _civil(days: int) -> tuple[int, int, int]:
    """Proleptic Gregorian date of a day count from 1970-01-01, for any year.

    Captures carry absurd timestamps (a corrupt pcapng block says year 584554);
    datetime stops at 9999, but the report must still say what the file says.
    """
    z = days + 719468
    era, doe = divmod(z, 146097)
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = mp + 3 if mp < 10 else mp - 9
    return yoe + era * 400 + (month <= 2), month, day


def seconds_text(ns: int) -> str:
    """A duration in seconds with microsecond digits, for DFXML's float-typed rusage fields."""
    return f"{ns // _NS}.{ns % _NS // 1000:06d}"


def report_filename(filename: str, outdir: str, report_dir: str | os.PathLike[str]) -> str:
    """A flow file's name as seen from the report's folder ("" stays "": no file was written)."""
    if not filename:
        return ""
    prefix = _outdir_from_report(outdir, os.fspath(report_dir))
    return filename if not prefix else f"{prefix}/{filename}"


@lru_cache(maxsize=16)
def _outdir_from_report(outdir: str, report_dir: str) -> str:
    """OUT as seen from the report's folder ("" when they are the same): once per run, not per flow."""
    rel = os.path.relpath(os.path.abspath(outdir), os.path.abspath(report_dir)).replace(os.sep, "/")
    return "" if rel == "." else rel
