"""-e netviz: a print-ready page (A4 PDF, 150 dpi PNG, dates, whole counts) showing the report's own totals,
for one flow, a corpus capture, and a folder of captures decades apart."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from batchkit import CORPUS, run_cli
from capturekit import write_exchange
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


def _texts(fig: Any) -> str:
    return " | ".join(text.get_text() for ax in fig.axes for text in ax.texts)


def _stacked(ax: Any) -> int:
    """What the bars of a stacked panel add up to (their heights are whole numbers)."""
    heights = [patch.get_height() for patch in ax.patches]
    assert all(float(height).is_integer() for height in heights)
    return int(sum(heights))


def _drawing(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The figures netviz draws in this test."""
    drawn: list[Any] = []
    real = netviz.draw
    monkeypatch.setattr(netviz, "draw", lambda *args: drawn.append(real(*args)) or drawn[-1])
    return drawn


def _print_ready(fig: Any, out: Path) -> None:
    """A4 PDF of one page, PNG at 150 dpi, no text under 8 pt, whole-number ticks on count axes,
    dates on the time axes."""
    from PIL import Image
    pdf = (out / "report.pdf").read_bytes()
    assert pdf.count(b"/Type /Page") - pdf.count(b"/Type /Pages") == 1
    width, height = map(float, re.search(rb"/MediaBox \[\s*0 0 ([\d.]+) ([\d.]+)", pdf).groups())
    assert (round(width / 72 * 25.4), round(height / 72 * 25.4)) == (210, 297)          # A4, millimetres
    with Image.open(out / "report.png") as png:
        assert png.info["dpi"][0] == pytest.approx(150, abs=0.1) and png.size == (1240, 1753)
    fig.canvas.draw()
    sizes = [text.get_fontsize() for ax in fig.axes for text in (*ax.texts, ax.title, ax.xaxis.label, ax.yaxis.label,
                                                                  *ax.get_xticklabels(), *ax.get_yticklabels())]
    assert min(sizes) >= netviz.FONT
    time_axes = [ax for ax in fig.axes if "over time" in ax.get_title(loc="left")]
    counts = [ax.yaxis for ax in time_axes] + [ax.yaxis for ax in fig.axes if ax.get_ylabel() == "flow directions"]
    for axis in counts:
        assert all(float(tick).is_integer() for tick in axis.get_ticklocs())
    import matplotlib.dates as mdates
    for ax in fig.axes:
        if ax.get_title(loc="left").startswith(("packets over time", "bytes over time")):
            assert isinstance(ax.xaxis.get_major_formatter(), mdates.ConciseDateFormatter)


def test_one_flow_has_whole_counts_and_a_readable_page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    require_extra("matplotlib", "netviz")
    drawn = _drawing(monkeypatch)
    capture = tmp_path / "one.pcap"
    write_exchange(capture, 1_700_000_000, b"GET / HTTP/1.1\r\nHost: h\r\n\r\n", b"HTTP/1.1 204 No Content\r\n\r\n")
    out = tmp_path / "o"
    assert run_cli("-q", "-E", "netviz", "-r", str(capture), "-o", str(out), "--report", "dfxml") == ExitStatus.OK
    fig, = drawn
    _print_ready(fig, out)
    assert _stacked(fig.axes[1]) == 6                       # six packets, never half of one
    assert "2023-11-14T22:13:20" in _texts(fig)


def test_a_folder_of_captures_decades_apart_gets_a_broken_time_axis(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    require_extra("matplotlib", "netviz")
    drawn = _drawing(monkeypatch)
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    starts = {"a-1970.pcap": 5, "b-2001.pcap": 1_000_000_000, "c-2026.pcap": 1_780_000_000, "d-2026.pcap": 1_780_000_100}
    for index, (name, start) in enumerate(starts.items()):
        write_exchange(evidence / name, start, b"GET / HTTP/1.1\r\nHost: h\r\n\r\n", b"HTTP/1.1 200 OK\r\n\r\n",
                       sport=40000 + index)
    out = tmp_path / "o"
    assert run_cli("-q", "-E", "netviz", str(evidence), "-o", str(out), "--report", "dfxml") == ExitStatus.OK
    fig, = drawn
    _print_ready(fig, out)
    panels = [ax for ax in fig.axes if ax.get_ylabel() == "packets" or ax.get_shared_y_axes().joined(ax, fig.axes[1])]
    assert len(panels) == 3                                  # 1970, 2001, and the two 2026 captures together
    assert [_stacked(ax) for ax in panels] == [6, 6, 12]
    years = [ax.xaxis.get_major_formatter().format_ticks(ax.get_xticks()) for ax in panels]
    spans = [ax.get_xlim()[1] - ax.get_xlim()[0] for ax in panels]
    assert max(spans) < 1                                    # each period in days: none squeezed into a sliver
    assert "1970" in _texts(fig) or any("1970" in label for labels in years for label in labels)


def test_minus_a_writes_bodies_and_a_page_with_the_report_totals(tmp_path: Path, corpus: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    require_extra("matplotlib", "netviz")
    drawn = _drawing(monkeypatch)
    out = tmp_path / "o"
    assert run_cli("-q", "-a", "-r", str(CORPUS / GAP), "-o", str(out)) == ExitStatus.OK
    assert len(list(out.glob("*-HTTPBODY-*"))) == 3
    inputs, flows = _totals(out / "report.xml")
    fig, = drawn
    texts = _texts(fig)
    assert GAP in texts
    assert f"packets: {inputs['packets']} " in texts
    assert f"TCP flow directions: {flows['flows']} " in texts
    assert f"TCP packets: {flows['packets']} " in texts
    assert f"bytes in flow files: {flows['bytes']}" in texts
    assert f"holes: {flows['holes']} ({flows['hole_bytes']} bytes)" in texts and flows["holes"] != "0"
    assert f"overlaps: {flows['overlaps']} " in texts
    assert f"undecodable packets: {inputs['undecodable_packets']}" in texts
    head, packets_axis, bytes_axis, *rest = fig.axes
    assert packets_axis.get_title(loc="left").startswith("packets over time (UTC) by destination port")
    assert bytes_axis.get_title(loc="left").startswith("bytes over time (UTC)")
    assert [ax.get_title() for ax in rest] == ["top source addresses", "top destination addresses", "top source ports",
                                               "top destination ports", "flow sizes", "flow durations"]
    assert packets_axis.get_ylabel() == "packets"
    assert _stacked(packets_axis) == int(flows["packets"])
    assert any(label.startswith("dst port ") for label in packets_axis.get_legend_handles_labels()[1])
    dst = [tick.get_text() for tick in rest[1].get_yticklabels()]
    assert dst and all(address.count(".") == 3 for address in dst)
    _print_ready(fig, out)
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
