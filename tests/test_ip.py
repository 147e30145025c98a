"""IPv4 (options, lengths, padding, truncation), IPv6 extension headers and TCP."""

from __future__ import annotations

import struct

import pytest

from forensics_tcpflow.capture.record import Record
from forensics_tcpflow.decode.decoder import Decoder
from forensics_tcpflow.decode.segment import TH_ACK, TH_PSH

SRC4, DST4 = bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])
SRC6, DST6 = bytes(15) + b"\x01", bytes(15) + b"\x02"
RAW = 101


def tcp(payload: bytes = b"hello", options: bytes = b"", doff: int | None = None) -> bytes:
    words = doff if doff is not None else 5 + len(options) // 4
    return struct.pack("!HHIIBBHHH", 1234, 80, 1000, 2000, words << 4, TH_ACK | TH_PSH,
                       8192, 0, 0) + options + payload


def ip4(body: bytes, proto: int = 6, options: bytes = b"", total: int | None = None,
        frag: int = 0, ident: int = 7, ihl: int | None = None, version: int = 4) -> bytes:
    hl = ihl if ihl is not None else 5 + len(options) // 4
    length = 4 * (5 + len(options) // 4) + len(body) if total is None else total
    return struct.pack("!BBHHHBBH4s4s", version << 4 | hl, 0, length, ident, frag, 64, proto, 0,
                       SRC4, DST4) + options + body


def ip6(nh: int, body: bytes, plen: int | None = None) -> bytes:
    return struct.pack("!IHBB16s16s", 6 << 28, len(body) if plen is None else plen, nh, 64,
                       SRC6, DST6) + body


def ext(nh: int, size: int = 8) -> bytes:
    """A generic 8-octet-unit extension header of `size` bytes."""
    return struct.pack("!BB", nh, size // 8 - 1) + bytes(size - 2)


def decode(data: bytes, linktype: int = RAW) -> tuple[list, Decoder]:
    dec = Decoder()
    return dec.decode(Record(1, linktype, 5, len(data), len(data), data, 0)), dec


def test_ipv4_tcp_fields():
    [seg], _ = decode(ip4(tcp(b"GET /")))
    assert (seg.family, seg.src, seg.dst, seg.sport, seg.dport) == (4, SRC4, DST4, 1234, 80)
    assert (seg.seq, seg.ack, seg.flags, seg.payload) == (1000, 2000, TH_ACK | TH_PSH, b"GET /")
    assert (seg.frame, seg.ts_ns, seg.missing, seg.reassembled) == (1, 5, 0, False)


def test_ipv4_options_skipped_by_ihl():
    options = b"\x07\x07\x04" + bytes(4) + b"\x01" * 1   # record route + NOP = 8 bytes
    [seg], _ = decode(ip4(tcp(b"data"), options=options))
    assert seg.payload == b"data"


def test_tcp_options_skipped_by_data_offset():
    [seg], _ = decode(ip4(tcp(b"xyz", options=b"\x02\x04\x05\xb4" + b"\x01" * 8)))
    assert seg.payload == b"xyz"


def test_trailing_bytes_beyond_ip_length_are_not_data():
    [seg], _ = decode(ip4(tcp(b"abc")) + b"\x00" * 6)
    assert seg.payload == b"abc" and seg.missing == 0


def test_zero_total_length_uses_captured_length():
    [seg], _ = decode(ip4(tcp(b"offloaded"), total=0))
    assert seg.payload == b"offloaded"


def test_snaplen_truncation_reports_missing_payload():
    packet = ip4(tcp(b"0123456789"))
    [seg], dec = decode(packet[:-4])
    assert seg.payload == b"012345" and seg.missing == 4
    assert dec.stats.counters["truncated"] == 1


def test_truncation_inside_tcp_options_keeps_the_segment():
    packet = ip4(tcp(b"0123", options=b"\x01" * 12))
    [seg], _ = decode(packet[:20 + 24])
    assert seg.payload == b"" and seg.missing == 4


@pytest.mark.parametrize("packet, reason", [
    (ip4(tcp(), version=5), "bad-ip-header"),
    (ip4(tcp(), ihl=4), "bad-ip-header"),
    (ip4(tcp(), total=12), "bad-ip-header"),
    (ip4(tcp(), ihl=15, total=80), "truncated-header"),
    (ip4(tcp())[:30], "truncated-header"),
    (ip4(tcp(doff=3)), "bad-tcp-header"),
    (ip4(tcp(doff=15, payload=b"")), "bad-tcp-header"),
    (b"\x45", "truncated-header"),
    (b"", "truncated-header"),
    (ip6(6, tcp())[:39], "truncated-header"),
], ids=["version", "ihl<5", "total<ihl", "options-cut", "tcp-cut", "doff<5", "doff>len",
        "one-byte", "empty", "ipv6-cut"])
def test_malformed_is_counted_not_raised(packet, reason):
    segs, dec = decode(packet)
    assert segs == []
    assert dec.stats.counters[reason] == 1 and dec.stats.undecodable == 1


def test_non_tcp_is_counted_as_such():
    segs, dec = decode(ip4(b"\x08\x00" + bytes(6), proto=1))
    assert segs == [] and dec.stats.counters["ipproto:1"] == 1 and dec.stats.not_tcp == 1
    assert dec.stats.undecodable == 0


def test_ipv6_tcp():
    [seg], _ = decode(ip6(6, tcp(b"v6")))
    assert (seg.family, seg.src, seg.dst, seg.payload) == (6, SRC6, DST6, b"v6")


@pytest.mark.parametrize("nh", [0, 43, 60])
def test_ipv6_each_extension_header(nh):
    [seg], _ = decode(ip6(nh, ext(6, 16) + tcp(b"ext")))
    assert seg.payload == b"ext"


def test_ipv6_authentication_header_counts_in_4_octet_units():
    ah = struct.pack("!BBHII", 6, 4, 0, 0x100, 1) + bytes(12)    # (4 + 2) * 4 = 24 bytes
    [seg], _ = decode(ip6(51, ah + tcp(b"auth")))
    assert seg.payload == b"auth"


def test_ipv6_extension_chain_with_atomic_fragment():
    frag = struct.pack("!BxHI", 6, 0, 99)        # offset 0, M=0
    chain = ext(43) + ext(44) + frag + tcp(b"chain")
    [seg], dec = decode(ip6(0, ext(60) + chain))
    assert seg.payload == b"chain" and not seg.reassembled
    assert dec.stats.counters["atomic-fragments"] == 1


def test_ipv6_padding_and_truncation():
    packet = ip6(6, tcp(b"abcdef"))
    [seg], _ = decode(packet + bytes(8))
    assert seg.payload == b"abcdef"
    [seg], _ = decode(packet[:-2])
    assert seg.payload == b"abcd" and seg.missing == 2


@pytest.mark.parametrize("nh, key", [(58, "ipproto:58"), (59, "ipproto:59"), (50, "ipproto:50")])
def test_ipv6_non_tcp(nh, key):
    segs, dec = decode(ip6(nh, bytes(16)))
    assert segs == [] and dec.stats.counters[key] == 1


def test_ipv6_extension_running_past_capture():
    segs, dec = decode(ip6(0, b"\x06\x05"))
    assert segs == [] and dec.stats.undecodable == 1
