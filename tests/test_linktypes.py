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
