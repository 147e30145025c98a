"""-q as tcpflow's: warnings are silenced, errors still print."""

from __future__ import annotations

from pathlib import Path

from capturekit import SAMPLES
from forensics_tcpflow.cli import main
from forensics_tcpflow.environment import WARNING, Environment


def _lines(tmp: Path, *args: str) -> list[str]:
    evidence = tmp / "evidence"
    evidence.mkdir(exist_ok=True)
    (evidence / "http.pcap").write_bytes((SAMPLES / "http.pcap").read_bytes())
    (evidence / "notes.txt").write_text("not a capture: skipped with a warning")
    lines: list[str] = []
    main([*args, str(evidence), str(tmp / "missing.pcap"), "-o", str(tmp / f"out{len(args)}")],
         Environment(log=lines.append))
    return lines


def test_quiet_drops_warnings_and_keeps_errors(tmp_path: Path) -> None:
    loud = _lines(tmp_path)
    assert any(line.startswith(WARNING) and "skipped" in line for line in loud)
    quiet = _lines(tmp_path, "-q")
    assert not any(line.startswith(WARNING) for line in quiet)
    assert any("error:" in line and "missing.pcap" in line for line in quiet)


def test_without_warnings_passes_every_other_line() -> None:
    lines: list[str] = []
    env = Environment(log=lines.append).without_warnings()
    env.warn("dropped")
    env.error("kept")
    env.log("forensics-tcpflow: captures: 1 of 1 processed")
    assert lines == ["forensics-tcpflow: error: kept", "forensics-tcpflow: captures: 1 of 1 processed"]
