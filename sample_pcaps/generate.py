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
  wifi-radiotap.pcap  802.11 behind radiotap (127): QoS data to and from the AP, client frames with
                    the FCS-at-end flag, the response as a 2-subframe A-MSDU, one protected frame and
                    one frame with a wrong FCS (both counted, never decoded).
  wifi-beacons.pcap  radiotap 802.11 beacons and probe responses of three access points (one with a
                    hidden SSID) around the exchange, every frame with its FCS (for -e wifiviz).
  wifi-prism.pcap   802.11 behind a Prism header (119): plain data frames, the server's in the
                    4-address (to-DS and from-DS) form.
  wifi-ppi.pcap     802.11 behind PPI (192) with an 802.11-common field saying the FCS is present.
  pflog.pcap        OpenBSD pflog (117): rule 7, action pass, direction in.
  l2tp.pcap         L2TPv2 data messages (UDP 1701, length and sequence fields) carrying PPP.
  ayiya.pcap        AYIYA (UDP 5072, 16-byte identity, 20-byte signature) carrying IPv6.
  teredo.pcap       Teredo (UDP 3544) carrying IPv6, server packets behind an origin indication,
                    the first behind an authentication header too.
  erspan3.pcap      ERSPAN type III (GRE 0x22EB) with the platform subheader, mirroring Ethernet.
  aruba/aruba-XXXX.pcap  Aruba GRE of every type Wireshark registers (0x8200-0x8370, step 0x10):
                    QoS data frames, the response as an A-MSDU, no FCS.
  rst-inflight.pcap the server resets while the client's request is still arriving: the client's
                    next segment continues its stream (same file); 5 s later, past the linger
                    time, its last segment starts a new c1 file.

Usage: python sample_pcaps/generate.py [OUTDIR]   (default: this directory)
"""

from __future__ import annotations

import gzip
import struct
import zlib
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


def outer_udp(port: int, wrap: Callable[[bytes, bool], bytes]) -> Callable[[bytes, bool], bytes]:
    """A tunnel over Ethernet/IPv4/UDP between two fixed endpoints; `wrap` puts its header on a packet."""
    ends = {True: (v4("192.0.2.1"), v4("192.0.2.2")), False: (v4("192.0.2.2"), v4("192.0.2.1"))}
    link = ethernet(ETH_IPV4)

    def frame(packet: bytes, from_client: bool) -> bytes:
        body = wrap(packet, from_client)
        udp = struct.pack("!HHHH", 40000 if from_client else port, port if from_client else 40000,
                          8 + len(body), 0) + body
        src, dst = ends[from_client]
        return link(bytes(dpkt.ip.IP(src=src, dst=dst, p=17, ttl=64, data=udp)), from_client)
    return frame


SNAP_IPV4 = b"\xaa\xaa\x03\x00\x00\x00\x08\x00"
MAC_AP = bytes.fromhex("020000000099")
QOS_DATA, DATA = 0x88, 0x08


def wlan(packet: bytes, from_client: bool, subtype: int = QOS_DATA, wds: bool = False,
         flags: int = 0) -> bytes:
    """An 802.11 data frame: client to the AP (to-DS), AP to client (from-DS), or WDS (both)."""
    if wds:
        addrs, ds = MAC_AP + MAC_AP + (MAC_CLIENT if from_client else MAC_SERVER), 0x03
        addrs += MAC_SERVER if from_client else MAC_CLIENT
        addrs = addrs[:18] + b"\0\0" + addrs[18:]
    elif from_client:
        addrs, ds = MAC_AP + MAC_CLIENT + MAC_SERVER + b"\0\0", 0x01
    else:
        addrs, ds = MAC_CLIENT + MAC_AP + MAC_SERVER + b"\0\0", 0x02
    qos = b"\0\0" if subtype == QOS_DATA else b""
    if flags & 0x80:          # the A-MSDU bit lives in the QoS control field
        qos, flags = b"\x80\0", flags & ~0x80
    return bytes([subtype, ds | flags]) + b"\0\0" + addrs + qos + packet


def fcs(frame: bytes) -> bytes:
    return frame + struct.pack("<I", zlib.crc32(frame))


def radiotap(with_fcs: bool) -> bytes:
    """Version 0, 9-byte header with one field: the flags (0x10: the frame ends in its FCS)."""
    return struct.pack("<BxHIB", 0, 9, 0x02, 0x10 if with_fcs else 0)


def amsdu_response(conv: Conversation) -> bytes:
    """The server's response as the two subframes of one A-MSDU (each padded to 4 bytes)."""
    half = len(RESPONSE) // 2
    subframes = b""
    for part in (RESPONSE[:half], RESPONSE[half:]):
        body = SNAP_IPV4 + conv.ip(False, conv.segment(False, PSH | ACK, part))
        subframes += MAC_CLIENT + MAC_SERVER + struct.pack("!H", len(body)) + body
        subframes += b"\0" * (-len(subframes) % 4)
    return subframes


def wifi_radiotap_pcap() -> bytes:
    def link(packet: bytes, from_client: bool) -> bytes:
        frame = wlan(SNAP_IPV4 + packet, from_client)
        return radiotap(from_client) + (fcs(frame) if from_client else frame)

    conv = conversation(link)
    frames = conv.handshake() + [conv.packet(True, PSH | ACK, REQUEST), conv.packet(False, ACK)]
    frames.append(radiotap(False) + wlan(amsdu_response(conv), False, flags=0x80))
    frames.append(radiotap(False) + wlan(b"\x01" * 40, False, flags=0x40))              # protected
    bad = wlan(SNAP_IPV4 + conv.ip(True, conv.segment(True, PSH | ACK, b"NOT THIS", rel=0)), True)
    frames.append(radiotap(True) + bad + b"\xde\xad\xbe\xef")                              # wrong FCS
    frames += [conv.packet(True, ACK)] + conv.close()
    return pcap_bytes(127, timed(frames))


BEACON, PROBE_RESPONSE = 0x80, 0x50


def management(subtype: int, bssid: bytes, ssid: bytes) -> bytes:
    """A beacon or probe response from `bssid`: timestamp, interval, capabilities, then the SSID
    and supported-rates elements."""
    body = struct.pack("<QHH", 0, 100, 0x0401) + bytes([0, len(ssid)]) + ssid + b"\x01\x04\x82\x84\x8b\x96"
    return bytes([subtype, 0]) + b"\0\0" + b"\xff" * 6 + bssid + bssid + b"\0\0" + body


def wifi_beacons_pcap() -> bytes:
    """Beacons and probe responses of three access points (one hiding its SSID) around the exchange,
    every frame with its FCS, behind radiotap."""
    def link(packet: bytes, from_client: bool) -> bytes:
        return radiotap(True) + fcs(wlan(SNAP_IPV4 + packet, from_client))

    aps = [(bytes.fromhex("020000000099"), b"CaseNet"), (bytes.fromhex("0200000000a1"), b"Lab 5G & <guests>"),
           (bytes.fromhex("0200000000b2"), b"")]
    frames = [radiotap(True) + fcs(management(BEACON, bssid, ssid)) for bssid, ssid in aps for _ in range(2)]
    frames.append(radiotap(True) + fcs(management(PROBE_RESPONSE, aps[1][0], aps[1][1])))
    frames.append(radiotap(True) + fcs(management(PROBE_RESPONSE, aps[2][0], b"Hidden")))
    frames += conversation(link).http()
    frames.append(radiotap(True) + fcs(management(BEACON, aps[0][0], aps[0][1])))
    return pcap_bytes(127, timed(frames))


def wifi_prism_pcap() -> bytes:
    header = struct.pack("<II16s", 0x41, 144, b"wlan0") + bytes(120)
    conv = conversation(lambda packet, c: header + wlan(SNAP_IPV4 + packet, c, DATA, wds=not c))
    return pcap_bytes(119, timed(conv.http()))


def wifi_ppi_pcap() -> bytes:
    common = struct.pack("<HHQHHHHBBbb", 2, 20, 0, 0x0001, 0, 2412, 0x00A0, 0, 0, -40, -90)   # FCS present
    header = struct.pack("<BBHI", 0, 0, 8 + len(common), 105) + common
    conv = conversation(lambda packet, c: header + fcs(wlan(SNAP_IPV4 + packet, c)))
    return pcap_bytes(192, timed(conv.http()))


def pflog_pcap() -> bytes:
    header = struct.pack("!BBBB16s16sIIIIIIB3x", 61, 2, 0, 0, b"em0", b"", 7, 0xFFFFFFFF, 0, 0, 0, 0, 1)
    conv = conversation(lambda packet, _: header + packet)
    return pcap_bytes(117, timed(conv.http()))


def l2tp_pcap() -> bytes:
    def wrap(packet: bytes, _: bool) -> bytes:    # L and S bits, version 2; tunnel 7, session 9
        return struct.pack("!HHHHHH", 0x4802, 16 + len(packet), 7, 9, 0, 0) + b"\xff\x03\x00\x21" + packet
    return pcap_bytes(LINKTYPE_ETHERNET, timed(conversation(outer_udp(1701, wrap)).http()))


def ayiya_pcap() -> bytes:
    def wrap(packet: bytes, _: bool) -> bytes:    # identity 2^4 bytes, signature 5 words, forward, IPv6
        return struct.pack("!BBBBI", 0x41, 0x52, 0x11, 41, 1_700_000_000) + bytes(16) + bytes(20) + packet
    return pcap_bytes(LINKTYPE_ETHERNET, timed(conversation(outer_udp(5072, wrap), family=6).http()))


def teredo_pcap() -> bytes:
    first = [True]

    def wrap(packet: bytes, from_client: bool) -> bytes:
        if from_client:
            return packet
        origin = struct.pack("!HH4s", 0, 40000 ^ 0xFFFF, bytes(b ^ 0xFF for b in v4("192.0.2.1")))
        if first:
            first.clear()
            origin = struct.pack("!HBB", 1, 0, 0) + bytes(8) + b"\0" + origin    # authentication first
        return origin + packet
    return pcap_bytes(LINKTYPE_ETHERNET, timed(conversation(outer_udp(3544, wrap), family=6).http()))


def erspan3_pcap() -> bytes:
    inner = ethernet(ETH_IPV4)
    outer = ethernet(ETH_IPV4)
    sequence = iter(range(1, 1000))

    def link(packet: bytes, from_client: bool) -> bytes:
        erspan = struct.pack("!HHIHH", (2 << 12) | 10, 1, 123456, 0, 0x0001) + struct.pack("!II", 0x08000001, 0)
        gre = struct.pack("!HHI", 0x1000, 0x22EB, next(sequence)) + erspan + inner(packet, from_client)
        return outer(bytes(dpkt.ip.IP(src=v4("192.0.2.1"), dst=v4("192.0.2.9"), p=47, ttl=64, data=gre)), True)
    return pcap_bytes(LINKTYPE_ETHERNET, timed(conversation(link).http()))


ARUBA_TYPES = range(0x8200, 0x8380, 0x10)      # every GRE protocol type Wireshark registers for Aruba


def aruba_pcap(proto: int) -> bytes:
    """An access point tunnels the exchange to its controller in Aruba GRE of type `proto`: client
    frames as QoS data to-DS, the response as a 2-subframe A-MSDU from-DS."""
    outer = ethernet(ETH_IPV4)

    def tunnel(frame: bytes) -> bytes:
        gre = struct.pack("!HH", 0, proto) + frame
        return outer(bytes(dpkt.ip.IP(src=v4("192.0.2.1"), dst=v4("192.0.2.9"), p=47, ttl=64, data=gre)), True)

    conv = conversation(lambda packet, c: tunnel(wlan(SNAP_IPV4 + packet, c)))
    frames = conv.handshake() + [conv.packet(True, PSH | ACK, REQUEST), conv.packet(False, ACK),
                                 tunnel(wlan(amsdu_response(conv), False, flags=0x80)), conv.packet(True, ACK)]
    return pcap_bytes(LINKTYPE_ETHERNET, timed(frames + conv.close()))


def rst_inflight_pcap() -> bytes:
    RST = dpkt.tcp.TH_RST
    conv = conversation(ethernet(ETH_IPV4))
    frames = conv.handshake() + [conv.packet(True, PSH | ACK, REQUEST[:40]), conv.packet(False, ACK),
                                 conv.packet(False, RST | ACK),
                                 conv.packet(True, PSH | ACK, REQUEST[40:]), conv.packet(False, RST)]
    late = [conv.packet(True, PSH | ACK, b"after the linger time\r\n")]
    return pcap_bytes(LINKTYPE_ETHERNET, timed(frames) + timed(late, BASE_NS + 5 * NS))


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
    "wifi-radiotap.pcap": wifi_radiotap_pcap,
    "wifi-prism.pcap": wifi_prism_pcap,
    "wifi-beacons.pcap": wifi_beacons_pcap,
    "wifi-ppi.pcap": wifi_ppi_pcap,
    "pflog.pcap": pflog_pcap,
    "l2tp.pcap": l2tp_pcap,
    "ayiya.pcap": ayiya_pcap,
    "teredo.pcap": teredo_pcap,
    "erspan3.pcap": erspan3_pcap,
    "rst-inflight.pcap": rst_inflight_pcap,
    **{f"aruba/aruba-{proto:04x}.pcap": (lambda proto=proto: aruba_pcap(proto)) for proto in ARUBA_TYPES},
}


def main(argv: list[str]) -> None:
    outdir = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parent
    outdir.mkdir(parents=True, exist_ok=True)
    for name, build in SAMPLES.items():
        data = build()
        (outdir / name).parent.mkdir(exist_ok=True)
        (outdir / name).write_bytes(data)
        print(f"{name}: {len(data)} bytes")


if __name__ == "__main__":
    main(sys.argv)
