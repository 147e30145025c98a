"""Formats written by a second process: the same bytes as in one process, and all-or-nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from forensics_tcpflow.report import FlowSpool, registry, write_reports
from forensics_tcpflow.report.sidecar import SidecarError
from report_samples import make_flow, make_inputs, make_options, make_run, sample_flows

FORMATS = ("dfxml", "jsonl", "csv")


def spool_of(tmp_path: Path) -> FlowSpool:
    spool = FlowSpool(tmp_path / "spool", ("captures/a.pcap", "captures/b.pcapng"))
    for rec in [*sample_flows(), *(make_flow(index) for index in range(300))]:
        spool.add(rec)
    return spool


def write(tmp_path: Path, name: str, **kwargs) -> list[Path]:
    out = tmp_path / name
    return write_reports(FORMATS, make_run(), make_inputs(), spool_of(tmp_path / f"{name}-spool"), make_options(str(out)),
                         out / "report.xml", **kwargs)


def test_same_reports_from_one_or_two_processes(tmp_path, monkeypatch):
    alone = write(tmp_path, "alone")
    monkeypatch.setattr(registry, "SIDECAR_MIN_FLOWS", 1)
    seen: list[dict[str, Path]] = []
    paired = write(tmp_path, "paired", check=seen.append)
    assert [p.name for p in paired] == ["report.xml", "flows.jsonl", "flows.csv"]
    assert [p.read_bytes() for p in paired[1:]] == [p.read_bytes() for p in alone[1:]]
    assert paired[0].read_text().count("<fileobject>") == 305
    (checked,) = seen                       # only this process's format, before it was put in place
    assert list(checked) == ["dfxml"] and checked["dfxml"].name.startswith(".report.xml.")


def test_a_failed_check_leaves_no_report(tmp_path, monkeypatch):
    monkeypatch.setattr(registry, "SIDECAR_MIN_FLOWS", 1)

    def refuse(written: dict[str, Path]) -> None:
        raise OSError("disk gone")

    with pytest.raises(OSError, match="disk gone"):
        write(tmp_path, "out", check=refuse)
    assert list((tmp_path / "out").iterdir()) == []


def test_a_failed_sidecar_leaves_no_report(tmp_path, monkeypatch):
    monkeypatch.setattr(registry, "SIDECAR_MIN_FLOWS", 1)
    spool = spool_of(tmp_path)
    spool.settle()
    for run in spool._runs:          # the second process meets a damaged run file
        run.write_bytes(b"\xff\xff")
    out = tmp_path / "out"
    with pytest.raises(SidecarError, match="report writer process failed"):
        write_reports(FORMATS, make_run(), make_inputs(), spool, make_options(str(out)), out / "report.xml",
                      count=lambda flows: [make_flow(1)])
    assert list(out.iterdir()) == []
