"""Ethernet payload framings: VLAN stacks, MPLS, PPPoE and unknown ethertypes."""

from __future__ import annotations

import struct

import dpkt
import pytest

from forensics_tcpflow.capture.record import Record
from forensics_tcpflow.decode.decoder import Decoder

MAC_DST, MAC_SRC = bytes.fromhex("0a0000000002"), bytes.fromhex("0a0000000001")
TCP = dpkt.tcp.TCP(sport=5000, dport=23, seq=9, flags=0x18, data=b"telnet")
IPV4 = bytes(dpkt.ip.IP(src=b"\x0a\0\0\x01", dst=b"\x0a\0\0\x02", p=6, data=TCP))
IPV6 = struct.pack("!IHBB16s16s", 6 << 28, len(bytes(TCP)), 6, 64, bytes(16), bytes(15) + b"\1") \
    + bytes(TCP)


def eth(etype: int, body: bytes, dst: bytes = MAC_DST, src: bytes = MAC_SRC) -> bytes:
    return dst + src + struct.pack("!H", etype) + body


def tag(tci: int, etype: int) -> bytes:
    return struct.pack("!HH", tci, etype)


def label(value: int, bottom: bool) -> bytes:
    return struct.pack("!I", value << 12 | (0x100 if bottom else 0) | 64)


def decode(frame: bytes) -> tuple[list, Decoder]:
    dec = Decoder()
    return dec.decode(Record(1, 1, 0, len(frame), len(frame), frame, 0)), dec


def test_single_vlan_keeps_only_the_vlan_id():
    [seg], _ = decode(eth(0x8100, tag(0xB000 | 0, 0x0800) + IPV4))      # PCP 5, DEI 1, VID 0
    assert seg.vlans == (0,) and seg.payload == b"telnet"


@pytest.mark.parametrize("tpids", [(0x88A8, 0x8100), (0x9100, 0x8100), (0x8100, 0x8100, 0x8100),
                                   (0x88A8, 0x88A8, 0x9100, 0x8100, 0x8100)])
def test_vlan_stacks_outer_first(tpids):
    vids = list(range(10, 10 + len(tpids)))
    body = b"".join(tag(0xE000 | vid, tpid) for vid, tpid in zip(vids, tpids[1:] + (0x86DD,)))
    [seg], _ = decode(eth(tpids[0], body + IPV6))
    assert seg.vlans == tuple(vids) and seg.family == 6 and seg.mac_src == MAC_SRC


@pytest.mark.parametrize("etype", [0x8847, 0x8848])
@pytest.mark.parametrize("depth", [1, 3])
def test_mpls_stack_then_ip_by_version_nibble(etype, depth):
    stack = b"".join(label(100 + i, i == depth - 1) for i in range(depth))
    [seg], _ = decode(eth(etype, stack + IPV4))
    assert seg.payload == b"telnet"
    [seg], _ = decode(eth(etype, stack + IPV6))
    assert seg.family == 6


def test_vlan_then_mpls():
    [seg], _ = decode(eth(0x8100, tag(42, 0x8847) + label(16, True) + IPV4))
    assert seg.vlans == (42,) and seg.payload == b"telnet"


def test_mpls_ethernet_pseudowire_keeps_outer_macs():
    inner = eth(0x8100, tag(7, 0x0800) + IPV4, dst=b"\xee" * 6, src=b"\xdd" * 6)
    [seg], dec = decode(eth(0x8847, label(16, True) + bytes(4) + inner))
    assert (seg.mac_src, seg.mac_dst, seg.vlans) == (MAC_SRC, MAC_DST, ())
    assert dec.stats.counters["tunnel:mpls-pw"] == 1


def test_mpls_unknown_payload_and_truncated_stack():
    segs, dec = decode(eth(0x8847, label(16, True) + b"\x90" + bytes(30)))
    assert segs == [] and dec.stats.counters["mpls:unknown-payload"] == 1
    segs, dec = decode(eth(0x8847, label(16, False) + label(17, False)))
    assert segs == [] and dec.stats.undecodable == 1


def test_pppoe_session_bounded_by_its_length():
    ppp = b"\x00\x21" + IPV4
    [seg], _ = decode(eth(0x8864, struct.pack("!BBHH", 0x11, 0, 0x1234, len(ppp)) + ppp + bytes(6)))
    assert seg.payload == b"telnet"
    ppp6 = b"\x00\x57" + IPV6
    [seg], _ = decode(eth(0x8100, tag(3, 0x8864) + struct.pack("!BBHH", 0x11, 0, 1, len(ppp6)) + ppp6))
    assert seg.family == 6 and seg.vlans == (3,)


@pytest.mark.parametrize("etype, key", [(0x88CC, "ethertype:0x88cc"), (0x0806, "ethertype:0x0806"),
                                        (0x8863, "ethertype:0x8863"), (0x0026, "llc:not-snap")])
def test_other_ethertypes_are_not_tcp(etype, key):
    segs, dec = decode(eth(etype, bytes(40)))
    assert segs == [] and dec.stats.counters[key] == 1 and dec.stats.not_tcp == 1


@pytest.mark.parametrize("frame", [eth(0x8100, b"\x00"), eth(0x8100, tag(1, 0x8100)),
                                   eth(0x8864, bytes(7)), eth(0x8864, struct.pack("!BBHH", 0x11, 0, 1, 0))])
def test_truncated_framings_are_counted(frame):
    segs, dec = decode(frame)
    assert segs == [] and dec.stats.undecodable == 1
