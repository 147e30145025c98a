"""-K: a pcap per flow direction, named as its flow file (cN included), with the capture's snap length."""

from __future__ import annotations

import struct
from pathlib import Path

from capturekit import drain
from conftest import CORPUS, require_corpus
from forensics_tcpflow.cli import main
from forensics_tcpflow.environment import Environment

EVASION = "suricata__bug-3286-02-linux-evasion_with_evasion_linux.pcap"   # a RST, then a new connection
SNAPLEN_2000 = "zeek__tcp_reassembly.pcap"


def _run(capture: Path, out: Path, *args: str) -> None:
    assert main([*args, "-q", "-r", str(capture), "-o", str(out)], Environment(log=lambda line: None)) == 0


def _pcaps(out: Path) -> dict[str, int]:
    return {p.name: len(drain(p)[0]) for p in out.iterdir() if p.suffix == ".pcap"}


def test_names_follow_the_flow_files_with_their_connection_count(tmp_path: Path) -> None:
    require_corpus()
    capture = CORPUS / EVASION
    _run(capture, tmp_path / "flows")
    _run(capture, tmp_path / "k", "-K")
    flows = {p.name for p in (tmp_path / "flows").iterdir() if p.name[0].isdigit()}
    pcaps = _pcaps(tmp_path / "k")
    assert {name + ".pcap" for name in flows} <= set(pcaps)
    assert any("c1.pcap" in name for name in pcaps)          # the first, data-less server side of the evasion
    assert sum(pcaps.values()) == len(drain(capture)[0])
    assert not [p for p in (tmp_path / "k").iterdir() if p.name.startswith(".")]    # no provisional file left


def test_the_capture_snap_length_is_kept(tmp_path: Path) -> None:
    require_corpus()
    _run(CORPUS / SNAPLEN_2000, tmp_path, "-K")
    headers = {struct.unpack("<IHHiIII", (tmp_path / name).read_bytes()[:24])[5:] for name in _pcaps(tmp_path)}
    assert headers == {(2000, 1)}
