"""-e netviz: the one-page picture of a corpus capture shows the report's own totals."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from batchkit import CORPUS, run_cli
from conftest import require_extra
from forensics_tcpflow.batch.verify import verify_report
from forensics_tcpflow.environment import Environment
from forensics_tcpflow.exitstatus import ExitStatus
from forensics_tcpflow.report.dfxml import FTF_NS
from forensics_tcpflow.scan import netviz

GAP = "suricata__http-gap-simple_input.pcap"     # HTTP with a hole in the evidence


def _totals(report: Path) -> tuple[dict[str, str], dict[str, str]]:
    doc = etree.parse(str(report))
    return (doc.find(f".//{{{FTF_NS}}}input_totals").attrib, doc.find(f".//{{{FTF_NS}}}flow_totals").attrib)


def test_minus_a_writes_bodies_and_a_page_with_the_report_totals(tmp_path: Path, corpus: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    require_extra("matplotlib", "netviz")
    drawn: list[Any] = []
    real = netviz.draw
    monkeypatch.setattr(netviz, "draw", lambda *args: drawn.append(real(*args)) or drawn[-1])
    out = tmp_path / "o"
    assert run_cli("-q", "-a", "-r", str(CORPUS / GAP), "-o", str(out)) == ExitStatus.OK
    assert len(list(out.glob("*-HTTPBODY-*"))) == 3
    inputs, flows = _totals(out / "report.xml")
    fig, = drawn
    texts = " | ".join(t.get_text() for t in fig.texts) + fig.get_suptitle()
    assert GAP in texts
    assert f"packets: {inputs['packets']} " in texts
    assert f"TCP flow directions: {flows['flows']} " in texts
    assert f"TCP packets: {flows['packets']} " in texts
    assert f"bytes in flow files: {flows['bytes']}" in texts
    assert f"holes: {flows['holes']} ({flows['hole_bytes']} bytes)" in texts and flows["holes"] != "0"
    assert f"overlaps: {flows['overlaps']} " in texts
    assert f"undecodable packets: {inputs['undecodable_packets']}" in texts
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[:2] == [f"{what} over time, by destination port (flows spread over their lifetime)"
                          for what in ("packets", "bytes")]
    assert titles[2:] == ["top source addresses", "top destination addresses", "top source ports",
                          "top destination ports", "flow sizes", "flow durations"]
    packets_axis = fig.axes[0]
    assert packets_axis.get_ylabel() == "packets" and packets_axis.get_xlabel().startswith("seconds since ")
    stacked = sum(patch.get_height() for patch in packets_axis.patches)
    assert stacked == pytest.approx(int(flows["packets"]))
    assert any(label.startswith("dst port ") for label in packets_axis.get_legend_handles_labels()[1])
    dst = [tick.get_text() for tick in fig.axes[3].get_yticklabels()]
    assert dst and all(address.count(".") == 3 for address in dst)
    png = (out / "report.png").read_bytes()
    pdf = (out / "report.pdf").read_bytes()
    assert png.startswith(b"\x89PNG") and pdf.count(b"/Type /Page") - pdf.count(b"/Type /Pages") == 1
    assert verify_report(out / "report.xml").ok


def test_without_matplotlib_the_run_goes_on(tmp_path: Path, corpus: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)      # import fails as if not installed
    lines: list[str] = []
    out = tmp_path / "o"
    status = run_cli("-a", "-r", str(CORPUS / GAP), "-o", str(out), env=Environment(log=lines.append))   # -q would hide the warning
    assert status == ExitStatus.OK
    assert any("netviz" in line and "pip install 'forensics-tcpflow[netviz]'" in line for line in lines)
    assert not (out / "report.png").exists() and (out / "report.xml").exists()
    assert list(out.glob("*HTTPBODY*"))
