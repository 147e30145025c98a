"""Every supported capture link type leads to the same TCP segment."""

from __future__ import annotations

import struct

import dpkt
import pytest

from forensics_tcpflow.capture.record import Record
from forensics_tcpflow.decode.decoder import Decoder

SRC, DST = bytes([192, 168, 1, 1]), bytes([192, 168, 1, 2])
SRC6, DST6 = b"\x20\x01" + bytes(13) + b"\x01", b"\x20\x01" + bytes(13) + b"\x02"
MAC_DST, MAC_SRC = bytes.fromhex("020000000002"), bytes.fromhex("020000000001")


def tcp(payload: bytes = b"payload") -> dpkt.tcp.TCP:
    return dpkt.tcp.TCP(sport=4000, dport=80, seq=1, flags=0x18, data=payload)


IPV4 = bytes(dpkt.ip.IP(src=SRC, dst=DST, p=6, data=tcp()))
_T6 = bytes(tcp())
IPV6 = struct.pack("!IHBB16s16s", 6 << 28, len(_T6), 6, 64, SRC6, DST6) + _T6


def decode(linktype: int, data: bytes) -> tuple[list, Decoder]:
    dec = Decoder()
    return dec.decode(Record(3, linktype, 0, len(data), len(data), data, 0)), dec


def assert_payload(linktype: int, data: bytes, family: int = 4) -> None:
    segs, dec = decode(linktype, data)
    assert len(segs) == 1, dec.stats.counters
    assert segs[0].payload == b"payload" and segs[0].family == family


def test_ethernet_records_macs():
    frame = MAC_DST + MAC_SRC + b"\x08\x00" + IPV4 + bytes(10)
    [seg], _ = decode(1, frame)
    assert (seg.mac_src, seg.mac_dst, seg.vlans) == (MAC_SRC, MAC_DST, ())
    assert seg.payload == b"payload"


@pytest.mark.parametrize("family", [2, 10, 23, 24, 28, 30])
@pytest.mark.parametrize("order", ["<", ">"])
def test_bsd_null_any_family_either_byte_order(family, order):
    body = IPV4 if family == 2 else IPV6
    assert_payload(0, struct.pack(order + "I", family) + body, 4 if family == 2 else 6)


@pytest.mark.parametrize("family", [2, 24, 28, 30])
def test_bsd_loop_network_order(family):
    body = IPV4 if family == 2 else IPV6
    assert_payload(108, struct.pack("!I", family) + body, 4 if family == 2 else 6)


def test_bsd_null_unknown_family_is_not_tcp():
    segs, dec = decode(0, struct.pack("<I", 7) + IPV4)
    assert segs == [] and dec.stats.counters["af:7"] == 1 and dec.stats.not_tcp == 1


@pytest.mark.parametrize("linktype", [9, 50])
@pytest.mark.parametrize("header", [b"\xff\x03\x00\x21", b"\x00\x21", b"\xff\x03\x21", b"\x21"])
def test_ppp_with_and_without_address_control_and_compression(linktype, header):
    assert_payload(linktype, header + IPV4)


def test_ppp_ipv6_and_control_protocol():
    assert_payload(9, b"\xff\x03\x00\x57" + IPV6, 6)
    segs, dec = decode(9, b"\xff\x03\xc0\x21" + bytes(8))
    assert segs == [] and dec.stats.counters["ppp:0xc021"] == 1


def test_ppp_ether_starts_with_pppoe_session_header():
    assert_payload(51, struct.pack("!BBHH", 0x11, 0, 1, len(IPV4) + 2) + b"\x00\x21" + IPV4)


def test_cisco_hdlc():
    assert_payload(104, b"\x0f\x00\x08\x00" + IPV4)
    assert_payload(50, b"\x8f\x00\x86\xdd" + IPV6, 6)


def test_linux_sll():
    header = struct.pack("!HHH8sH", 0, 1, 6, MAC_SRC + b"\0\0", 0x0800)
    assert_payload(113, header + IPV4)


def test_linux_sll2():
    header = struct.pack("!HHIHBB8s", 0x86DD, 0, 2, 1, 0, 6, MAC_SRC + b"\0\0")
    assert_payload(276, header + IPV6, 6)


@pytest.mark.parametrize("linktype", [12, 14, 101])
def test_raw_ip_by_version_nibble(linktype):
    assert_payload(linktype, IPV4)
    assert_payload(linktype, IPV6, 6)


def test_raw_ipv4_and_ipv6_link_types_take_only_their_version():
    assert_payload(228, IPV4)
    assert_payload(229, IPV6, 6)
    for linktype, body in ((228, IPV6), (229, IPV4)):
        segs, dec = decode(linktype, body)
        assert segs == [] and dec.stats.counters["bad-ip-header"] == 1


def test_unknown_link_type_is_counted():
    segs, dec = decode(147, IPV4)
    assert segs == [] and dec.stats.counters["linktype:147"] == 1 and dec.stats.undecodable == 1


@pytest.mark.parametrize("linktype, data", [
    (1, MAC_DST), (0, b"\x02\x00"), (108, b""), (113, bytes(15)), (276, bytes(19)),
    (9, b"\xff"), (101, b""), (104, b"\x0f\x00"),
])
def test_truncated_link_headers(linktype, data):
    segs, dec = decode(linktype, data)
    assert segs == [] and dec.stats.undecodable == 1


def nflog(*tlvs: tuple[int, bytes], order: str = "<") -> bytes:
    out = b"\x02\x00\x00\x2a"
    for kind, value in tlvs:
        out += struct.pack(order + "HH", 4 + len(value), kind) + value + bytes(-len(value) % 4)
    return out


@pytest.mark.parametrize("order", ["<", ">"])
def test_nflog_payload_tlv_and_prefix_fact(order):
    data = nflog((1, bytes(4)), (10, b"DROP-IN\0"), (9, IPV4), order=order)
    [seg], _ = decode(239, data)
    assert seg.payload == b"payload" and seg.facts == {"nflog_prefix": "DROP-IN"}


def test_nflog_without_payload_and_with_a_bad_tlv():
    segs, dec = decode(239, nflog((1, bytes(4))))
    assert segs == [] and dec.stats.counters["nflog:no-payload"] == 1
    segs, dec = decode(239, b"\x02\x00\x00\x00" + struct.pack("<HH", 400, 9) + IPV4)
    assert segs == [] and dec.stats.counters["bad-nflog-tlv"] == 1


def test_arcnet_rfc1051_and_rfc1201():
    assert_payload(129, b"\x01\x02\x00\x00\xf0" + IPV4)
    assert_payload(129, b"\x01\x02\x00\x00\xd4\x00\x00\x01" + IPV4)
    assert_payload(129, b"\x01\x02\x00\x00\xd4\xff\xff\xff\xd4\x00\x00\x01" + IPV4)   # exception packet
    assert_payload(129, b"\x01\x02\x00\x00\xc4\x00\x00\x01" + IPV6, 6)
    segs, dec = decode(129, b"\x01\x02\x00\x00\xd4\x03\x00\x01" + IPV4)
    assert segs == [] and dec.stats.counters["arcnet:split"] == 1
    segs, dec = decode(129, b"\x01\x02\x00\x00\xf1" + bytes(28))
    assert segs == [] and dec.stats.counters["arcnet:0xf1"] == 1


def test_fddi_llc_snap_records_macs():
    frame = b"\x50" + MAC_DST + MAC_SRC + b"\xaa\xaa\x03\x00\x00\x00\x08\x00" + IPV4
    [seg], _ = decode(10, frame)
    assert (seg.mac_src, seg.mac_dst, seg.payload) == (MAC_SRC, MAC_DST, b"payload")


def test_ipoib_pseudo_header():
    assert_payload(242, bytes(40) + b"\x08\x00\x00\x00" + IPV4)
    assert_payload(242, bytes(40) + b"\x86\xdd\x00\x00" + IPV6, 6)


def test_juniper_ethernet_with_extensions_and_without_l2():
    eth = MAC_DST + MAC_SRC + b"\x08\x00" + IPV4
    assert_payload(178, b"MGC\x80" + struct.pack("!H", 6) + bytes(6) + eth)
    assert_payload(178, b"MGC\x00" + eth)
    assert_payload(178, b"MGC\x02" + bytes(4) + IPV6, 6)
    segs, dec = decode(178, b"XYZ\x00" + eth)
    assert segs == [] and dec.stats.counters["bad-juniper-header"] == 1


@pytest.mark.parametrize("family", [2, 24])
def test_pflog_rule_action_direction_are_facts(family):
    header = struct.pack("!BBBB16s16sIIIIIIB3x", 61, family, 1, 0, b"em0", b"", 7, 0xFFFFFFFF, 0, 0, 0, 0, 2)
    [seg], _ = decode(117, header + (IPV4 if family == 2 else IPV6))
    assert seg.payload == b"payload"
    assert seg.facts == {"pflog_rule": "7", "pflog_action": "block", "pflog_direction": "out"}
