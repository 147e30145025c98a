#!/usr/bin/env python3
"""Writes the project's own small sample captures, byte-for-byte reproducibly.

Every packet, address, sequence number and timestamp below is fixed (no clock,
no randomness), so running this again gives identical files. TCP headers and
checksums come from dpkt; link layers, IPv6 and the capture files themselves are
packed here with struct so every byte is visible.

  http.pcap         Ethernet, IPv4: handshake, one HTTP GET and its response, FIN both ways.
  http.pcap.gz      http.pcap, gzip-compressed (mtime 0): compression is detected from magic bytes.
  vlan-qinq.pcap    the same exchange inside QinQ: an 802.1ad S-tag (0x88a8, VID 100) around an
                    802.1Q C-tag (0x8100, VID 200, PCP 5).
  ipv6.pcap         the same exchange over IPv6; the request segment carries a Destination
                    Options extension header before TCP (tcpflow 1.6.1 drops such packets).
  reorder.pcap      one client direction with out-of-order delivery, an identical retransmission,
                    a conflicting overlap (bytes 25-29 resent as "XXXXX"), and a hole (bytes 40-49
                    never captured); the expected stream is documented in sample_pcaps/README.md.
  fragments.pcap    an HTTP request whose 1220-byte TCP segment is split into three IPv4 fragments,
                    sent first, last, middle.
  multi-if.pcapng   two interfaces with different link types: Ethernet (usec timestamps) and raw
                    IP (LINKTYPE_RAW 101, if_tsresol 9 = nanoseconds), one HTTP flow on each,
                    interleaved in time.

Usage: python sample_pcaps/generate.py [OUTDIR]   (default: this directory)
"""

from __future__ import annotations

import gzip
import struct
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import dpkt

NS = 1_000_000_000
BASE_NS = 1_700_000_000 * NS          # 2023-11-14T22:13:20Z
STEP_NS = 1_000_000                   # 1 ms between packets
SNAPLEN = 262144

LINKTYPE_ETHERNET, LINKTYPE_RAW = 1, 101
ETH_IPV4, ETH_IPV6, ETH_8021Q, ETH_8021AD = 0x0800, 0x86DD, 0x8100, 0x88A8
IPPROTO_TCP, IPPROTO_DSTOPTS = 6, 60

MAC_CLIENT = bytes.fromhex("020000000001")
MAC_SERVER = bytes.fromhex("020000000002")

REQUEST = (b"GET /index.html HTTP/1.1\r\nHost: example.test\r\nUser-Agent: forensics-tcpflow-sample\r\n"
           b"Accept: */*\r\n\r\n")
BODY = b"<html><body><h1>forensics_tcpflow sample</h1><p>Hello, examiner.</p></body></html>\n"
RESPONSE = (b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
            % len(BODY)) + BODY

SYN, FIN, PSH, ACK = dpkt.tcp.TH_SYN, dpkt.tcp.TH_FIN, dpkt.tcp.TH_PUSH, dpkt.tcp.TH_ACK

def checksum_tcp(src: bytes, dst: bytes, segment: dpkt.tcp.TCP) -> bytes:
    """TCP bytes with the checksum over the IPv4 or IPv6 pseudo-header."""
    segment.sum = 0
    raw = bytes(segment)
    if len(src) == 4:
        pseudo = src + dst + struct.pack("!xBH", IPPROTO_TCP, len(raw))
    else:
        pseudo = src + dst + struct.pack("!I3xB", len(raw), IPPROTO_TCP)
    segment.sum = dpkt.in_cksum(pseudo + raw)
    return bytes(segment)


def ipv4(src: bytes, dst: bytes, payload: bytes, ident: int, offset: int = 0, more: bool = False) -> bytes:
    """`offset` in bytes (a multiple of 8); dpkt's field counts 8-byte units."""
    return bytes(dpkt.ip.IP(src=src, dst=dst, p=IPPROTO_TCP, ttl=64, id=ident, offset=offset // 8,
                            mf=int(more), data=payload))


def ipv6(src: bytes, dst: bytes, payload: bytes, dstopts: bool = False) -> bytes:
    """IPv6 header, optionally followed by an 8-byte Destination Options header (PadN only)."""
    if dstopts:
        payload = struct.pack("!BBBB4x", IPPROTO_TCP, 0, 1, 4) + payload
    nxt = IPPROTO_DSTOPTS if dstopts else IPPROTO_TCP
    return struct.pack("!IHBB16s16s", 6 << 28, len(payload), nxt, 64, src, dst) + payload


def ethernet(ethertype: int, tags: tuple[tuple[int, int], ...] = ()) -> Callable[[bytes, bool], bytes]:
    """Ethernet framing; `tags` are (TPID, TCI) pairs, outermost first."""
    def frame(packet: bytes, from_client: bool) -> bytes:
        src, dst = (MAC_CLIENT, MAC_SERVER) if from_client else (MAC_SERVER, MAC_CLIENT)
        tagged = b"".join(struct.pack("!HH", tpid, tci) for tpid, tci in tags)
        return dst + src + tagged + struct.pack("!H", ethertype) + packet
    return frame


@dataclass
class Conversation:
    """One TCP connection; tracks each side's next sequence number so scripts stay short."""

    client: bytes
    server: bytes
    cport: int
    sport: int
    isn: dict[bool, int]
    link: Callable[[bytes, bool], bytes]
    next_seq: dict[bool, int] = field(default_factory=dict)
    ident: int = 0x100

    def __post_init__(self) -> None:
        self.next_seq = dict(self.isn)

    def segment(self, from_client: bool, flags: int, payload: bytes = b"", rel: int | None = None) -> bytes:
        """TCP bytes; `rel` places payload at that offset of the side's data stream (reordering)."""
        seq = self.next_seq[from_client] if rel is None else self.isn[from_client] + 1 + rel
        ack = self.next_seq[not from_client] if flags & ACK else 0
        src, dst = (self.client, self.server) if from_client else (self.server, self.client)
        sport, dport = (self.cport, self.sport) if from_client else (self.sport, self.cport)
        tcp = dpkt.tcp.TCP(sport=sport, dport=dport, seq=seq, ack=ack, flags=flags, win=65535, data=payload)
        end = seq + len(payload) + bool(flags & SYN) + bool(flags & FIN)
        self.next_seq[from_client] = max(self.next_seq[from_client], end)
        return checksum_tcp(src, dst, tcp)

    def ip(self, from_client: bool, tcp: bytes, **extra: bool) -> bytes:
        src, dst = (self.client, self.server) if from_client else (self.server, self.client)
        if len(src) == 16:
            return ipv6(src, dst, tcp, **extra)
        self.ident += 1
        return ipv4(src, dst, tcp, self.ident)

    def packet(self, from_client: bool, flags: int, payload: bytes = b"", rel: int | None = None,
               **extra: bool) -> bytes:
        """A whole frame for one segment."""
        return self.link(self.ip(from_client, self.segment(from_client, flags, payload, rel), **extra),
                         from_client)

    def handshake(self) -> list[bytes]:
        return [self.packet(True, SYN), self.packet(False, SYN | ACK), self.packet(True, ACK)]

    def close(self) -> list[bytes]:
        return [self.packet(False, FIN | ACK), self.packet(True, ACK),
                self.packet(True, FIN | ACK), self.packet(False, ACK)]

    def http(self, **request_extra: bool) -> list[bytes]:
        """Handshake, GET, response, FINs: the baseline exchange."""
        return (self.handshake()
                + [self.packet(True, PSH | ACK, REQUEST, **request_extra),
                   self.packet(False, ACK),
                   self.packet(False, PSH | ACK, RESPONSE),
                   self.packet(True, ACK)]
                + self.close())


def v4(text: str) -> bytes:
    return bytes(int(part) for part in text.split("."))


def v6(last: int) -> bytes:
    return bytes.fromhex("20010db8" + "00" * 11) + bytes([last])


def conversation(link: Callable[[bytes, bool], bytes], family: int = 4, cport: int = 49152,
                 sport: int = 80, net: int = 0) -> Conversation:
    client, server = (v4(f"10.0.{net}.1"), v4(f"10.0.{net}.2")) if family == 4 else (v6(1), v6(2))
    return Conversation(client, server, cport, sport, {True: 0x1000_0000, False: 0x2000_0000}, link)


def timed(frames: Iterable[bytes], start_ns: int = BASE_NS) -> list[tuple[int, bytes]]:
    return [(start_ns + i * STEP_NS, frame) for i, frame in enumerate(frames)]


# ---------------------------------------------------------------- capture files

def pcap_bytes(linktype: int, packets: Iterable[tuple[int, bytes]]) -> bytes:
    """Classic pcap, little endian, microsecond timestamps."""
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, SNAPLEN, linktype)]
    for ts_ns, frame in packets:
        sec, frac = divmod(ts_ns, NS)
        out.append(struct.pack("<IIII", sec, frac // 1000, len(frame), len(frame)) + frame)
    return b"".join(out)


def pcapng_block(btype: int, body: bytes) -> bytes:
    body += b"\0" * (-len(body) % 4)
    length = len(body) + 12
    return struct.pack("<II", btype, length) + body + struct.pack("<I", length)


def pcapng_option(code: int, value: bytes) -> bytes:
    return struct.pack("<HH", code, len(value)) + value + b"\0" * (-len(value) % 4)


def pcapng_bytes(interfaces: list[tuple[int, int]], packets: Iterable[tuple[int, int, bytes]]) -> bytes:
    """interfaces: (linktype, if_tsresol); packets: (interface, ts_ns, frame)."""
    out = [pcapng_block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))]
    for linktype, tsresol in interfaces:
        options = pcapng_option(9, bytes([tsresol])) + pcapng_option(0, b"")
        out.append(pcapng_block(1, struct.pack("<HHI", linktype, 0, SNAPLEN) + options))
    for interface, ts_ns, frame in packets:
        units = ts_ns * 10 ** interfaces[interface][1] // NS
        out.append(pcapng_block(6, struct.pack("<IIIII", interface, units >> 32, units & 0xFFFFFFFF,
                                               len(frame), len(frame)) + frame))
    return b"".join(out)


# ---------------------------------------------------------------- the samples

def http_pcap() -> bytes:
    return pcap_bytes(LINKTYPE_ETHERNET, timed(conversation(ethernet(ETH_IPV4)).http()))


def vlan_qinq_pcap() -> bytes:
    link = ethernet(ETH_IPV4, ((ETH_8021AD, 100), (ETH_8021Q, (5 << 13) | 200)))
    return pcap_bytes(LINKTYPE_ETHERNET, timed(conversation(link).http()))


def ipv6_pcap() -> bytes:
    return pcap_bytes(LINKTYPE_ETHERNET, timed(conversation(ethernet(ETH_IPV6), family=6).http(dstopts=True)))


STREAM = bytes(range(0x41, 0x41 + 26)) + bytes(range(0x61, 0x61 + 26)) + b"0123456789"   # 62 bytes


def reorder_pcap() -> bytes:
    conv = conversation(ethernet(ETH_IPV4))
    frames = conv.handshake()
    for start, stop, data in ((0, 10, None), (20, 30, None), (10, 20, None),   # 20-29 before 10-19
                              (0, 10, None),                                   # identical retransmission
                              (25, 35, b"XXXXX" + STREAM[30:35]),              # conflicts on 25-29
                              (30, 40, None),
                              (50, 62, None)):                                 # 40-49: a hole
        frames.append(conv.packet(True, PSH | ACK, STREAM[start:stop] if data is None else data, rel=start))
    frames.append(conv.packet(False, ACK))
    frames += conv.close()
    return pcap_bytes(LINKTYPE_ETHERNET, timed(frames))


def fragments_pcap() -> bytes:
    conv = conversation(ethernet(ETH_IPV4))
    frames = conv.handshake()
    request = REQUEST[:-2] + b"X-Padding: " + b"p" * (1200 - len(REQUEST) - 13) + b"\r\n\r\n"
    tcp = conv.segment(True, PSH | ACK, request)
    conv.ident += 1
    pieces = [(0, 512), (1024, len(tcp)), (512, 1024)]        # first, last, middle
    for start, stop in pieces:
        packet = ipv4(conv.client, conv.server, tcp[start:stop], conv.ident, offset=start,
                      more=stop < len(tcp))
        frames.append(conv.link(packet, True))
    frames += [conv.packet(False, ACK), conv.packet(False, PSH | ACK, RESPONSE), conv.packet(True, ACK)]
    frames += conv.close()
    return pcap_bytes(LINKTYPE_ETHERNET, timed(frames))


def multi_if_pcapng() -> bytes:
    eth = conversation(ethernet(ETH_IPV4)).http()
    raw = conversation(lambda packet, _: packet, cport=50000, sport=8080, net=1).http()
    packets = [(0, BASE_NS + i * STEP_NS, frame) for i, frame in enumerate(eth)]
    # Interface 1 keeps nanoseconds: offsets that a microsecond clock could not hold.
    packets += [(1, BASE_NS + i * STEP_NS + 500_000 + 123 + i, frame) for i, frame in enumerate(raw)]
    packets.sort(key=lambda item: item[1])
    return pcapng_bytes([(LINKTYPE_ETHERNET, 6), (LINKTYPE_RAW, 9)], packets)


def gzip_bytes(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=9, mtime=0)


SAMPLES: dict[str, Callable[[], bytes]] = {
    "http.pcap": http_pcap,
    "http.pcap.gz": lambda: gzip_bytes(http_pcap()),
    "vlan-qinq.pcap": vlan_qinq_pcap,
    "ipv6.pcap": ipv6_pcap,
    "reorder.pcap": reorder_pcap,
    "fragments.pcap": fragments_pcap,
    "multi-if.pcapng": multi_if_pcapng,
}


def main(argv: list[str]) -> None:
    outdir = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parent
    outdir.mkdir(parents=True, exist_ok=True)
    for name, build in SAMPLES.items():
        data = build()
        (outdir / name).write_bytes(data)
        print(f"{name}: {len(data)} bytes")


if __name__ == "__main__":
    main(sys.argv)
