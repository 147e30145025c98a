"""Aruba GRE: every protocol type Wireshark registers decodes to tshark's flows; others are named."""

from __future__ import annotations

from pathlib import Path

import pytest

from capturekit import SAMPLES, sample_generator
from conftest import require_oracle
from forensics_tcpflow.capture.record import Record
from forensics_tcpflow.cli import main
from forensics_tcpflow.decode.aruba import WLAN_TYPES
from forensics_tcpflow.decode.decoder import Decoder
from forensics_tcpflow.environment import Environment
from oracles import TSHARK, format_flow_name, read_flow_dir, tshark_streams



def test_wireshark_registers_0x8200_to_0x8370() -> None:
    assert len(WLAN_TYPES) == 24 and WLAN_TYPES[0] == 0x8200 and WLAN_TYPES[-1] == 0x8370


def test_samples_are_generated_for_every_type() -> None:
    assert sorted(p.name for p in (SAMPLES / "aruba").iterdir()) == [f"aruba-{t:04x}.pcap" for t in WLAN_TYPES]


@pytest.mark.parametrize("proto", WLAN_TYPES, ids=lambda t: f"0x{t:04x}")
def test_every_registered_type_matches_tshark_follow(proto: int, tmp_path: Path) -> None:
    require_oracle(TSHARK)
    capture = SAMPLES / "aruba" / f"aruba-{proto:04x}.pcap"
    assert main([str(capture), "-o", str(tmp_path), "-q"]) == 0
    ours = read_flow_dir(tmp_path)
    theirs = {format_flow_name(d.src, d.sport, d.dst, d.dport): d.data for d in tshark_streams(capture) if d.data}
    assert len(theirs) == 2 and ours == theirs


def test_an_unregistered_type_in_gre_is_undecodable_and_warned(tmp_path: Path) -> None:
    capture = tmp_path / "aruba-8205.pcap"
    capture.write_bytes(sample_generator().aruba_pcap(0x8205))
    lines: list[str] = []
    assert main([str(capture), "-o", str(tmp_path / "out")], Environment(log=lines.append)) == 0
    assert any("packets of Aruba GRE type 0x8205" in line for line in lines)
    report = (tmp_path / "out" / "report.xml").read_text()
    assert 'name="aruba:type-0x8205"' in report


def test_the_same_type_outside_a_tunnel_is_an_unknown_ethertype() -> None:
    frame = bytes(12) + b"\x82\x05" + bytes(40)
    dec = Decoder()
    assert dec.decode(Record(1, 1, 0, len(frame), len(frame), frame, 0)) == []
    assert dec.stats.counters["ethertype:0x8205"] == 1 and dec.stats.not_tcp == 1
