"""Where the files a run writes beside its report go: one rule, used by the writers, the
scanners, the plan (which refuses to replace any of them) and `verify` (which hashes them)."""

from __future__ import annotations

from pathlib import Path

OUT_FROM_REPORT = "out_from_report"     # a derived option: OUT as seen from the report's folder (what `verify` checks)
DEFAULT_REPORT = "report.xml"     # OUT/report.xml unless -X


def named_after(report_path: Path, default: str) -> Path:
    """Where a file the run writes beside its report goes: under its own name beside report.xml
    (flows.jsonl, report.png...), else named after the report (-X case/rep2.xml: rep2.jsonl,
    rep2.png, rep2.bodies.csv, rep2.tls.jsonl), so that reports kept in one folder never share a sibling."""
    if report_path.name == DEFAULT_REPORT:
        return report_path.parent / default
    stem, _, kind = default.partition(".")
    return report_path.with_name(f"{report_path.stem}.{kind if stem in ('flows', 'report') else default}")
