"""tcpdump filter expressions applied to records as captured."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from forensics_tcpflow.capture import PacketFilter, Record, open_capture
from forensics_tcpflow.errors import InputError

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "sample_pcaps"
CORPUS = ROOT.parent / "shared" / "corpus"


def records(path: Path) -> list[Record]:
    with open_capture(path) as capture:
        return list(capture)


def count(expr: str, path: Path) -> int:
    packet_filter = PacketFilter(expr)
    return sum(packet_filter.matches(record) for record in records(path))


def test_port_80() -> None:
    assert count("port 80", SAMPLES / "http.pcap") == 11
    assert count("port 80", CORPUS / "tcpflow__local.pcap") == 0
    assert count("tcp port 80", CORPUS / "zeek__wikipedia.pcap") < 136


def test_vlan_and_tcp_sees_the_tags_as_captured() -> None:
    assert count("vlan and tcp", SAMPLES / "http.pcap") == 0
    assert count("vlan and tcp", CORPUS / "zeek__http-vlan-0.pcap") == 14
    assert count("vlan 100 and vlan 200 and tcp", SAMPLES / "vlan-qinq.pcap") == 11


def test_host_across_link_types() -> None:
    """Raw IP (LINKTYPE_RAW 101) is compiled as libpcap's DLT_RAW, next to Ethernet."""
    packet_filter = PacketFilter("host 10.0.1.1")
    matched = [(r.interface, r.linktype) for r in records(SAMPLES / "multi-if.pcapng") if packet_filter.matches(r)]
    assert matched == [(1, 101)] * 11
    assert count("host 10.0.0.1", SAMPLES / "multi-if.pcapng") == 11


def test_bad_expression_is_refused_at_construction() -> None:
    with pytest.raises(ValueError, match="bad filter expression 'port 80 and'"):
        PacketFilter("port 80 and")


def test_link_type_libpcap_cannot_filter_is_named() -> None:
    packet_filter = PacketFilter("vlan")
    raw = Record(1, 101, 0, 20, 20, b"\x45" + b"\0" * 19, 24)
    with pytest.raises(InputError, match="link type 101"):
        packet_filter.matches(raw)
    with pytest.raises(InputError, match="link type 65000"):
        PacketFilter("tcp").matches(Record(1, 65000, 0, 0, 0, b"", 24))


def test_filter_pickles_as_its_expression() -> None:
    copy = pickle.loads(pickle.dumps(PacketFilter("port 80")))
    assert copy.expr == "port 80"
    assert sum(copy.matches(record) for record in records(SAMPLES / "http.pcap")) == 11
