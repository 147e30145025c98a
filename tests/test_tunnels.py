"""GRE (with PPTP's enhanced GRE), VXLAN, GRE-in-UDP, Geneve and IP-in-IP."""

from __future__ import annotations

import struct

import dpkt
import pytest

from forensics_tcpflow.capture.record import Record
from forensics_tcpflow.decode.decoder import Decoder

OUT_SRC, OUT_DST = b"\xc0\x00\x02\x01", b"\xc0\x00\x02\x02"
IN_SRC, IN_DST = b"\x0a\x01\x01\x01", b"\x0a\x01\x01\x02"
OUT6_SRC, OUT6_DST = b"\x20\x01\x0d\xb8" + bytes(11) + b"\x01", b"\x20\x01\x0d\xb8" + bytes(11) + b"\x02"
MAC_DST, MAC_SRC = bytes.fromhex("0200000000aa"), bytes.fromhex("0200000000bb")
TCP = bytes(dpkt.tcp.TCP(sport=3333, dport=80, seq=77, flags=0x18, data=b"inner"))
INNER4 = bytes(dpkt.ip.IP(src=IN_SRC, dst=IN_DST, p=6, data=TCP))
INNER6 = struct.pack("!IHBB16s16s", 6 << 28, len(TCP), 6, 64, bytes(15) + b"\x0a",
                     bytes(15) + b"\x0b") + TCP


def outer4(proto: int, body: bytes) -> bytes:
    return bytes(dpkt.ip.IP(src=OUT_SRC, dst=OUT_DST, p=proto, data=body))


def outer6(nh: int, body: bytes) -> bytes:
    return struct.pack("!IHBB16s16s", 6 << 28, len(body), nh, 64, OUT6_SRC, OUT6_DST) + body


def udp(dport: int, body: bytes) -> bytes:
    return struct.pack("!HHHH", 40000, dport, 8 + len(body), 0) + body


def eth(etype: int, body: bytes, dst: bytes = MAC_DST, src: bytes = MAC_SRC) -> bytes:
    return dst + src + struct.pack("!H", etype) + body


def gre(proto: int, body: bytes, flags: int = 0, words: bytes = b"") -> bytes:
    return struct.pack("!HH", flags, proto) + words + body


def decode(frame: bytes) -> tuple[list, Decoder]:
    dec = Decoder()
    return dec.decode(Record(1, 1, 0, len(frame), len(frame), frame, 0)), dec


def assert_inner(frame: bytes, tunnel: str, family: int = 4) -> None:
    segs, dec = decode(frame)
    assert len(segs) == 1, dec.stats.counters
    seg = segs[0]
    assert seg.payload == b"inner" and seg.family == family and seg.sport == 3333
    if family == 4:
        assert (seg.src, seg.dst) == (IN_SRC, IN_DST)
    assert (seg.mac_src, seg.mac_dst) == (MAC_SRC, MAC_DST)
    assert dec.stats.counters[f"tunnel:{tunnel}"] >= 1


@pytest.mark.parametrize("flags, words", [
    (0, b""), (0x8000, bytes(4)), (0x2000, b"KEY!"), (0x1000, b"SEQ#"),
    (0xB000, bytes(4) + b"KEY!" + b"SEQ#"),
])
def test_gre_optional_words(flags, words):
    assert_inner(eth(0x0800, outer4(47, gre(0x0800, INNER4, flags, words))), "gre")


def test_gre_carrying_ipv6_over_ipv6():
    assert_inner(eth(0x86DD, outer6(47, gre(0x86DD, INNER6))), "gre", family=6)


def test_gre_transparent_ethernet_keeps_outer_vlans_and_macs():
    inner = eth(0x8100, struct.pack("!HH", 99, 0x0800) + INNER4, dst=b"\x11" * 6, src=b"\x22" * 6)
    frame = eth(0x8100, struct.pack("!HH", 5, 0x0800) + outer4(47, gre(0x6558, inner)))
    [seg], _ = decode(frame)
    assert seg.vlans == (5,) and seg.mac_src == MAC_SRC and seg.payload == b"inner"


@pytest.mark.parametrize("ppp", [b"\xff\x03\x00\x21", b"\x00\x21", b"\x21"])
def test_pptp_enhanced_gre(ppp):
    body = ppp + INNER4
    words = struct.pack("!HH", len(body), 0x4000) + struct.pack("!I", 1) + struct.pack("!I", 0)
    assert_inner(eth(0x0800, outer4(47, gre(0x880B, body, 0x3081, words))), "gre")


def test_pptp_acknowledgement_without_payload_is_not_tcp():
    words = struct.pack("!HHI", 0, 0x4000, 5)
    segs, dec = decode(eth(0x0800, outer4(47, gre(0x880B, b"", 0x2081, words))))
    assert segs == [] and dec.stats.counters["gre:no-payload"] == 1 and dec.stats.not_tcp == 1


@pytest.mark.parametrize("flags, proto, reason", [(0x0002, 0x0800, "bad-gre-header"),
                                                  (0x0001, 0x0800, "bad-gre-header"),
                                                  (0x4000, 0x0800, "gre:source-routed")])
def test_gre_unusable_headers(flags, proto, reason):
    segs, dec = decode(eth(0x0800, outer4(47, gre(proto, INNER4, flags))))
    assert segs == [] and dec.stats.counters[reason] == 1


def test_vxlan_inner_ethernet():
    inner = eth(0x0800, INNER4, dst=b"\x33" * 6, src=b"\x44" * 6)
    frame = eth(0x0800, outer4(17, udp(4789, struct.pack("!II", 0x08000000, 42 << 8) + inner)))
    assert_inner(frame, "vxlan")


def test_vxlan_without_valid_vni_is_not_tcp():
    frame = eth(0x0800, outer4(17, udp(4789, bytes(8) + eth(0x0800, INNER4))))
    segs, dec = decode(frame)
    assert segs == [] and dec.stats.counters["vxlan:invalid"] == 1


def test_gre_in_udp():
    assert_inner(eth(0x0800, outer4(17, udp(4754, gre(0x0800, INNER4)))), "gre-udp")


def test_geneve():
    header = struct.pack("!BBHI", 1, 0, 0x6558, 7 << 8) + bytes(4)     # one 4-byte option
    inner = eth(0x0800, INNER4, dst=b"\x55" * 6, src=b"\x66" * 6)
    assert_inner(eth(0x86DD, outer6(17, udp(6081, header + inner))), "geneve")


def test_other_udp_is_not_tcp():
    segs, dec = decode(eth(0x0800, outer4(17, udp(53, bytes(12)))))
    assert segs == [] and dec.stats.counters["ipproto:17"] == 1 and dec.stats.not_tcp == 1


@pytest.mark.parametrize("outer, proto, inner, family", [
    (outer4, 4, INNER4, 4), (outer6, 4, INNER4, 4), (outer4, 41, INNER6, 6), (outer6, 41, INNER6, 6),
], ids=["4in4", "4in6", "6in4", "6in6"])
def test_ip_in_ip(outer, proto, inner, family):
    etype = 0x0800 if outer is outer4 else 0x86DD
    assert_inner(eth(etype, outer(proto, inner)), "ipip", family)


def test_truncated_inner_segment_reports_missing():
    frame = eth(0x0800, outer4(47, gre(0x0800, INNER4)))
    [seg], dec = decode(frame[:-3])
    assert seg.payload == b"in" and seg.missing == 3 and dec.stats.counters["truncated"] == 1


def test_nested_tunnels():
    inner = outer4(4, INNER4)                                  # IP-in-IP inside GRE inside VXLAN
    vx = eth(0x0800, outer4(47, gre(0x0800, inner)), dst=b"\x77" * 6, src=b"\x88" * 6)
    frame = eth(0x0800, outer4(17, udp(4789, struct.pack("!II", 0x08000000, 0) + vx)))
    assert_inner(frame, "ipip")


@pytest.mark.parametrize("proto, header", [
    (0x88BE, b""),                                     # type I: no sequence number, no header
    (0x88BE, bytes(8)),                                # type II
    (0x22EB, bytes(12)),                               # type III
    (0x22EB, bytes(11) + b"\x01" + bytes(8)),          # type III with the platform subheader
])
def test_erspan_types(proto, header):
    flags, words = (0x1000, b"SEQ#") if header else (0, b"")
    mirrored = eth(0x0800, INNER4, dst=b"\x11" * 6, src=b"\x22" * 6)
    assert_inner(eth(0x0800, outer4(47, gre(proto, header + mirrored, flags, words))), "erspan")


def test_aruba_gre_carries_802_11():
    wlan = b"\x88\x01\x00\x00" + b"\x01" * 6 + b"\x02" * 6 + b"\x03" * 6 + b"\x00\x00" + b"\x00\x00"
    body = wlan + b"\xaa\xaa\x03\x00\x00\x00\x08\x00" + INNER4
    assert_inner(eth(0x0800, outer4(47, gre(0x8200, body))), "aruba")


@pytest.mark.parametrize("header", [
    b"\x30\xff" + bytes(6),                                          # no optional fields
    b"\x32\xff" + bytes(6) + bytes(4),                               # sequence number
    b"\x34\xff" + bytes(6) + b"\x00\x00\x00\xc0" + b"\x01\x09\x04\x85" + b"\x01\x00\x00\x00",  # 2 extensions
])
def test_gtp_u_with_optional_fields_and_extension_headers(header):
    assert_inner(eth(0x0800, outer4(17, udp(2152, header + INNER4))), "gtp")


def test_gtp_signalling_is_not_tcp():
    segs, dec = decode(eth(0x0800, outer4(17, udp(2152, b"\x32\x01" + bytes(10)))))
    assert segs == [] and dec.stats.counters["gtp:not-g-pdu"] == 1


@pytest.mark.parametrize("header", [
    struct.pack("!HHH", 0x0002, 7, 9),
    struct.pack("!HHHHHH", 0x4802, 0, 7, 9, 1, 2),
    struct.pack("!HHHHH", 0x0202, 7, 9, 2, 0),                       # offset size 2, 2 pad bytes
])
def test_l2tpv2_data_messages(header):
    assert_inner(eth(0x0800, outer4(17, udp(1701, header + b"\xff\x03\x00\x21" + INNER4))), "l2tp")


def test_l2tp_control_and_v3_are_not_tcp():
    for flags, key in ((0xC802, "l2tp:control"), (0x0003, "l2tp:version-3")):
        segs, dec = decode(eth(0x0800, outer4(17, udp(1701, struct.pack("!HHHH", flags, 12, 0, 0)))))
        assert segs == [] and dec.stats.counters[key] == 1


def test_ayiya_ipv4_and_ipv6():
    header = struct.pack("!BBBBI", 0x41, 0x52, 0x11, 4, 0) + bytes(16) + bytes(20)
    assert_inner(eth(0x0800, outer4(17, udp(5072, header + INNER4))), "ayiya")
    header = struct.pack("!BBBBI", 0x21, 0x00, 0x01, 41, 0) + bytes(4)
    assert_inner(eth(0x0800, outer4(17, udp(5072, header + INNER6))), "ayiya", family=6)


@pytest.mark.parametrize("header", [
    b"", bytes(8), struct.pack("!HBB", 1, 2, 3) + bytes(5) + bytes(9),
    struct.pack("!HBB", 1, 0, 0) + bytes(9) + bytes(8),
])
def test_teredo_with_authentication_and_origin_headers(header):
    assert_inner(eth(0x0800, outer4(17, udp(3544, header + INNER6))), "teredo", family=6)


def test_teredo_bubble_is_not_tcp():
    segs, dec = decode(eth(0x0800, outer4(17, udp(3544, bytes(8)))))
    assert segs == [] and dec.stats.counters["teredo:not-ipv6"] == 1


def test_pbb_keeps_backbone_macs_and_vlans():
    customer = eth(0x8100, struct.pack("!HH", 4020, 0x0800) + INNER4, dst=b"\x11" * 6, src=b"\x22" * 6)
    frame = eth(0x8100, struct.pack("!HH", 4051, 0x88E7) + b"\x00\x1e\xbb\x30" + customer)
    [seg], dec = decode(frame)
    assert (seg.vlans, seg.mac_src, seg.payload) == ((4051,), MAC_SRC, b"inner")
    assert dec.stats.counters["tunnel:pbb"] == 1


def test_ieee_802_3_length_and_llc_snap():
    body = b"\xaa\xaa\x03\x00\x00\x00\x08\x00" + INNER4
    [seg], _ = decode(eth(len(body), body + bytes(6)))        # padding after the length is not data
    assert seg.payload == b"inner" and seg.mac_src == MAC_SRC
    segs, dec = decode(eth(6, b"\x42\x42\x03" + bytes(40)))    # spanning tree: LLC without SNAP
    assert segs == [] and dec.stats.counters["llc:not-snap"] == 1
