"""The Decoder as a whole: per-packet state, robustness, and the corpus against tshark."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forensics_tcpflow.capture.record import Record
from forensics_tcpflow.decode.decoder import DecodeStats, Decoder
from forensics_tcpflow.decode.dispatch import LINKTYPES

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
TCP = struct.pack("!HHIIBBHHH", 1, 2, 3, 4, 0x50, 0x18, 0, 0, 0) + b"data"
IPV4 = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(TCP), 0, 0, 64, 6, 0, bytes(4), bytes(4)) + TCP
ETH = bytes(12)


def record(data: bytes, linktype: int = 1, frame: int = 1) -> Record:
    return Record(frame, linktype, frame * 1000, len(data), len(data), data, 0)


def test_per_packet_state_does_not_leak():
    dec = Decoder()
    [tagged] = dec.decode(record(ETH + b"\x81\x00\x00\x05\x08\x00" + IPV4))
    [plain] = dec.decode(record(ETH + b"\x08\x00" + IPV4, frame=2))
    [raw] = dec.decode(record(IPV4, linktype=101, frame=3))
    assert tagged.vlans == (5,) and plain.vlans == () and plain.frame == 2
    assert raw.mac_src is None and raw.ts_ns == 3000


def test_stats_separate_undecodable_from_not_tcp():
    dec = Decoder()
    dec.decode(record(ETH + b"\x08\x06" + bytes(28)))
    dec.decode(record(ETH + b"\x08\x00" + IPV4[:10]))
    dec.decode(record(IPV4, linktype=9999))
    assert isinstance(dec.stats, DecodeStats)
    assert dec.stats.not_tcp == 1 and dec.stats.undecodable == 2
    assert dec.stats.counters["linktype:9999"] == 1 and dec.stats.counters["ethertype:0x0806"] == 1


def test_absurd_nesting_is_counted_not_raised():
    packet = IPV4
    for _ in range(1500):                                      # IP-in-IP, 1500 deep
        packet = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(packet), 0, 0, 64, 4, 0,
                             bytes(4), bytes(4)) + packet
    dec = Decoder()
    assert dec.decode(record(packet, linktype=101)) == []
    assert dec.stats.undecodable == 1


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(LINKTYPES)), st.binary(max_size=120),
       st.sampled_from([b"", ETH + b"\x08\x00", ETH + b"\x86\xdd", ETH + b"\x81\x00", ETH + b"\x88\x47"]))
def test_garbage_never_raises(linktype, tail, head):
    dec = Decoder()
    for segment in dec.decode(record(head + tail, linktype)):
        assert segment.missing >= 0
    dec.flush()


# A private classic-pcap reader, so this test does not depend on the capture stage.
def read_pcap(path: Path) -> Iterator[Record]:
    raw = path.read_bytes()
    order = "<" if raw[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    nanos = raw[:4] in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    linktype = struct.unpack_from(order + "I", raw, 20)[0] & 0x0FFFFFFF
    offset, frame = 24, 0
    while offset + 16 <= len(raw):
        sec, frac, caplen, origlen = struct.unpack_from(order + "IIII", raw, offset)
        frame += 1
        data = raw[offset + 16:offset + 16 + caplen]
        yield Record(frame, linktype, sec * 10**9 + frac * (1 if nanos else 1000), caplen, origlen,
                     data, offset)
        offset += 16 + caplen


# (TCP segments with payload, all TCP segments) as tshark 4.0 counts them, with fragments reassembled:
#   tshark -r F -Y "tcp.len>0" -T fields -e frame.number | wc -l     (and -Y tcp)
TSHARK_COUNTS = {
    "zeek__mixed-vlan-mpls.pcap": (17, 47),
    "suricata__bug-4810_pppoe-session-http.pcap": (12, 30),
    "suricata__bug-2576-02_temp1.pcap": (5, 17),
    "zeek__tunnels_vxlan-encapsulated-http.pcap": (3, 12),
    "zeek__tunnels_gre-over-udp-4754.pcap": (2, 10),
    "suricata__decode-sll2-01_input.pcap": (1, 5),
    "pcapplusplus__frag_http_req.pcap": (1, 1),
    "tcpflow__samplePcaps_jpegs.cap": (216, 464),
    "zeek__ipv6-http-atomic-frag.pcap": (8, 36),
    "suricata__defrag_bug-6887-defrag-eth-vlan-ipv6-tcp_frag-eth-vlan-ipv6-tcp.pcap": (1, 1),
    "suricata__defrag_bug-6887-defrag-ppp-ipv6-tcp_frag-ppp-ipv6-tcp.pcap": (1, 1),
    "tcpdump__pptp.pcap": (7, 22),
    "zeek__tunnels_4in6.pcap": (0, 1),
    "zeek__ipv4_fragmented-4.pcap": (1, 3),
    "suricata__linktype-228_flow-test-01.pcap": (2, 7),
    "pcapplusplus__raw_ip.pcap": (40, 92),
    "zeek__vlan-qinqinq.pcap": (5, 14),
}


@pytest.mark.parametrize("name", sorted(TSHARK_COUNTS))
def test_corpus_segment_counts_match_tshark(name):
    path = CORPUS / name
    if not path.exists():
        pytest.skip(f"corpus file {name} not present")
    dec = Decoder()
    segments = [seg for rec in read_pcap(path) for seg in dec.decode(rec)]
    dec.flush()
    with_payload = sum(1 for seg in segments if seg.payload or seg.missing)
    assert (with_payload, len(segments)) == TSHARK_COUNTS[name], dec.stats.counters
    assert dec.stats.undecodable == 0


def test_corpus_vlan_ids_are_twelve_bits():
    path = CORPUS / "zeek__vlan-qinqinq.pcap"
    if not path.exists():
        pytest.skip("corpus file not present")
    dec = Decoder()
    vlans = {seg.vlans for rec in read_pcap(path) for seg in dec.decode(rec)}
    assert len(vlans) == 1 and all(v < 4096 for v in vlans.pop())
