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


class Recorder:
    """A report check that only remembers what it was shown."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def begin(self, writing: dict[str, Path]) -> None:
        self.calls.append(("begin", dict(writing), {name: path.exists() for name, path in writing.items()}))

    def end(self) -> None:
        self.calls.append(("end",))

    def abandon(self) -> None:
        self.calls.append(("abandon",))


def test_same_reports_from_one_or_two_processes(tmp_path, monkeypatch):
    alone = write(tmp_path, "alone")
    monkeypatch.setattr(registry, "LARGE_RUN_FLOWS", 1)
    check = Recorder()
    paired = write(tmp_path, "paired", check=check)
    assert [p.name for p in paired] == ["report.xml", "flows.jsonl", "flows.csv"]
    assert [p.read_bytes() for p in paired[1:]] == [p.read_bytes() for p in alone[1:]]
    assert paired[0].read_text().count("<fileobject>") == 305
    (_, writing, existed), end = check.calls      # only this process's format, under its temporary name
    assert list(writing) == ["dfxml"] and writing["dfxml"].name.startswith(".report.xml.")
    assert existed == {"dfxml": True} and end == ("end",)


def test_a_failed_check_leaves_no_report(tmp_path, monkeypatch):
    monkeypatch.setattr(registry, "LARGE_RUN_FLOWS", 1)

    class Refuse(Recorder):
        def end(self) -> None:
            raise OSError("disk gone")

    check = Refuse()
    with pytest.raises(OSError, match="disk gone"):
        write(tmp_path, "out", check=check)
    assert list((tmp_path / "out").iterdir()) == []
    assert check.calls[-1] == ("abandon",)


def test_a_failed_sidecar_leaves_no_report(tmp_path, monkeypatch):
    monkeypatch.setattr(registry, "LARGE_RUN_FLOWS", 1)
    spool = spool_of(tmp_path)
    spool.settle()
    for run in spool._runs:          # the second process meets a damaged run file
        run.write_bytes(b"\xff\xff")
    out = tmp_path / "out"
    with pytest.raises(SidecarError, match="report writer process failed"):
        write_reports(FORMATS, make_run(), make_inputs(), spool, make_options(str(out)), out / "report.xml",
                      count=lambda flows: [make_flow(1)])
    assert list(out.iterdir()) == []
