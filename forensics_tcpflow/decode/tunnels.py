"""Tunnels whose inner TCP we want: GRE (and PPTP's enhanced GRE), ERSPAN, Aruba GRE,
VXLAN, GRE-in-UDP, Geneve, GTP-U, L2TPv2, AYIYA, Teredo and IP-in-IP. Inside a tunnel
the outer VLANs and MACs stay. All by hand: dpkt has none of these but GRE, and its GRE
parses the payload we decode ourselves."""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from .dispatch import ETHERTYPES, IPPROTOS, UDP_PORTS, LayerHandler, register
from .ethertypes import ethernet, ethertype, ppp_frame
from .ip import ipv4, ipv6, raw_ip
from .wireless import ieee80211
from .segment import Segment

if TYPE_CHECKING:
    from .decoder import Decoder

_GRE = struct.Struct("!HH")           # flags/version, protocol type
_UDP_PORTS = struct.Struct("!HH")
_GENEVE = struct.Struct("!BxH")       # version/option length, protocol type
_U16 = struct.Struct("!H")

UDP_HEADER = 8
VXLAN_HEADER = 8
VXLAN_VNI_VALID = 0x08
GENEVE_HEADER = 8

GRE_ROUTING = 0x4000
GRE_ACK = 0x0080                      # version 1 only
GRE_VERSION = 0x0007
# Optional 32-bit words selected by the C/R, K and S bits (flags >> 12).
GRE_OPTION_BYTES = tuple(4 * (bool(b & 0xC) + bool(b & 0x2) + bool(b & 0x1)) for b in range(16))
GRE_PPP = 0x880B
GRE_SEQUENCE = 0x1000


def _enter(dec: Decoder, name: str) -> None:
    dec.counters[f"tunnel:{name}"] += 1
    dec.tunnelled = True


def gre(dec: Decoder, buf: bytes, off: int, end: int) -> Segment | None:
    if end - off < 4:
        return dec.fail("truncated-header")
    flags, proto = _GRE.unpack_from(buf, off)
    version = flags & GRE_VERSION
    if version > 1 or (version == 1 and proto != GRE_PPP):
        return dec.fail("bad-gre-header")
    if flags & GRE_ROUTING:
        return dec.skip("gre:source-routed")
    off += 4 + GRE_OPTION_BYTES[flags >> 12] + (4 if version and flags & GRE_ACK else 0)
    if off >= end:
        return dec.skip("gre:no-payload")   # e.g. a PPTP acknowledgement
    if proto == ERSPAN_II and not flags & GRE_SEQUENCE:
        return erspan_i(dec, buf, off, end)
    return ethertype(dec, proto, buf, off, end)


ERSPAN_II = 0x88BE
ERSPAN_II_HEADER = 8
ERSPAN_III_HEADER = 12
ERSPAN_III_PLATFORM = 8               # optional platform-specific subheader, flagged by the O bit


def erspan_i(dec: Decoder, buf: bytes, off: int, end: int) -> Segment | None:
    """ERSPAN type I: GRE 0x88BE without a sequence number, no ERSPAN header."""
    dec.counters["tunnel:erspan"] += 1
    return ethernet(dec, buf, off, end)


@register(ETHERTYPES, ERSPAN_II)
def erspan_ii(dec: Decoder, buf: bytes, off: int, end: int) -> Segment | None:
    dec.counters["tunnel:erspan"] += 1
    return ethernet(dec, buf, off + ERSPAN_II_HEADER, end)


@register(ETHERTYPES, 0x22EB)
def erspan_iii(dec: Decoder, buf: bytes, off: int, end: int) -> Segment | None:
    if end - off < ERSPAN_III_HEADER:
        return dec.fail("truncated-header")
    dec.counters["tunnel:erspan"] += 1
    platform = ERSPAN_III_PLATFORM if buf[off + 11] & 0x01 else 0
    return ethernet(dec, buf, off + ERSPAN_III_HEADER + platform, end)


@register(ETHERTYPES, 0x8200, 0x8210)
def aruba(dec: Decoder, buf: bytes, off: int, end: int) -> Segment | None:
    """Aruba's GRE protocols carry a bare 802.11 frame (no FCS) from the access point."""
    dec.counters["tunnel:aruba"] += 1
    return ieee80211(dec, buf, off, end)


@register(IPPROTOS, 47)
def gre_in_ip(dec: Decoder, buf: bytes, off: int, end: int, dend: int, family: int,
              src: bytes, dst: bytes) -> Segment | None:
    _enter(dec, "gre")
    return gre(dec, buf, off, end)


@register(IPPROTOS, 4)
def ipv4_in_ip(dec: Decoder, buf: bytes, off: int, end: int, dend: int, family: int,
               src: bytes, dst: bytes) -> Segment | None:
    _enter(dec, "ipip")
    return ipv4(dec, buf, off, end)


@register(IPPROTOS, 41)
def ipv6_in_ip(dec: Decoder, buf: bytes, off: int, end: int, dend: int, family: int,
               src: bytes, dst: bytes) -> Segment | None:
    _enter(dec, "ipip")
    return ipv6(dec, buf, off, end)


@register(IPPROTOS, 17)
def udp(dec: Decoder, buf: bytes, off: int, end: int, dend: int, family: int,
        src: bytes, dst: bytes) -> Segment | None:
    if end - off < UDP_HEADER:
        return dec.skip("ipproto:17")
    sport, dport = _UDP_PORTS.unpack_from(buf, off)
    handler = UDP_PORTS.get(dport) or UDP_PORTS.get(sport)
    if handler is None:
        if dec.on_datagram is not None:       # --udp: a flow of its own (tunnels' datagrams never are)
            return dec.datagram(buf, off, end, dend, family, src, dst, sport, dport)
        return dec.skip("ipproto:17")
    return handler(dec, buf, off + UDP_HEADER, end)


@register(UDP_PORTS, 4789)
def vxlan(dec: Decoder, buf: bytes, off: int, end: int) -> Segment | None:
    if end - off < VXLAN_HEADER or not buf[off] & VXLAN_VNI_VALID:
        return dec.skip("vxlan:invalid")
    _enter(dec, "vxlan")
    return ethernet(dec, buf, off + VXLAN_HEADER, end)


@register(UDP_PORTS, 4754)
def gre_in_udp(dec: Decoder, buf: bytes, off: int, end: int) -> Segment | None:
    _enter(dec, "gre-udp")
    return gre(dec, buf, off, end)


@register(UDP_PORTS, 6081)
def geneve(dec: Decoder, buf: bytes, off: int, end: int) -> Segment | None:
    if end - off < GENEVE_HEADER:
        return dec.skip("geneve:invalid")
    optlen, proto = _GENEVE.unpack_from(buf, off)
    _enter(dec, "geneve")
    return ethertype(dec, proto, buf, off + GENEVE_HEADER + ((optlen & 0x3F) << 2), end)


GTP_HEADER = 8
GTP_V1_GTP = 0x30                     # version 1 in the top 3 bits of the flags, protocol type bit 0x10
GTP_OPTIONAL = 0x07                   # E, S or PN: sequence, N-PDU and next extension type follow
GTP_EXTENSION = 0x04
GTP_G_PDU = 0xFF


@register(UDP_PORTS, 2152)
def gtp_u(dec: Decoder, buf: bytes, off: int, end: int) -> Segment | None:
    """GTPv1-U; extension headers are chained by their last byte, length in 4-byte units."""
    if end - off < GTP_HEADER or buf[off] & 0xF0 != GTP_V1_GTP:
        return dec.skip("gtp:invalid")
    flags = buf[off]
    if buf[off + 1] != GTP_G_PDU:
        return dec.skip("gtp:not-g-pdu")
    next_type = buf[off + GTP_HEADER + 3] if flags & GTP_EXTENSION else 0
    off += GTP_HEADER + (4 if flags & GTP_OPTIONAL else 0)
    while next_type:
        length = buf[off] << 2
        if not length:
            return dec.fail("bad-gtp-extension")
        next_type = buf[off + length - 1]
        off += length
    _enter(dec, "gtp")
    return raw_ip(dec, buf, off, end)


L2TP_CONTROL = 0x8000
L2TP_LENGTH = 0x4000
L2TP_SEQUENCE = 0x0800
L2TP_OFFSET = 0x0200
L2TP_VERSION = 0x000F


@register(UDP_PORTS, 1701)
def l2tp(dec: Decoder, buf: bytes, off: int, end: int) -> Segment | None:
    """L2TPv2 data messages carry a PPP frame; control messages and L2TPv3 do not."""
    if end - off < 6:
        return dec.skip("l2tp:invalid")
    flags = _U16.unpack_from(buf, off)[0]
    if flags & L2TP_VERSION != 2:
        return dec.skip(f"l2tp:version-{flags & L2TP_VERSION}")
    if flags & L2TP_CONTROL:
        return dec.skip("l2tp:control")
    off += 6 + (2 if flags & L2TP_LENGTH else 0) + (4 if flags & L2TP_SEQUENCE else 0)
    if flags & L2TP_OFFSET:
        off += 2 + _U16.unpack_from(buf, off)[0]
    _enter(dec, "l2tp")
    return ppp_frame(dec, buf, off, end)


AYIYA_HEADER = 8                      # id len/type, sig len/hash, auth/opcode, next header, epoch
AYIYA_FORWARD = 1
AYIYA_PAYLOADS: dict[int, LayerHandler] = {4: ipv4, 41: ipv6}


@register(UDP_PORTS, 5072)
def ayiya(dec: Decoder, buf: bytes, off: int, end: int) -> Segment | None:
    """Anything In Anything: identity (2^n bytes) and signature (4n bytes) follow the header."""
    if end - off < AYIYA_HEADER or buf[off + 2] & 0x0F != AYIYA_FORWARD:
        return dec.skip("ayiya:not-forward")
    handler = AYIYA_PAYLOADS.get(buf[off + 3])
    if handler is None:
        return dec.skip(f"ayiya:next-header-{buf[off + 3]}")
    off += AYIYA_HEADER + (1 << (buf[off] >> 4)) + ((buf[off + 1] >> 4) << 2)
    _enter(dec, "ayiya")
    return handler(dec, buf, off, end)


TEREDO_AUTH = 0x0001                  # id len, auth len, client id, auth value, nonce (8), confirmation
TEREDO_ORIGIN = 0x0000                # origin port and address, 8 bytes in all


@register(UDP_PORTS, 3544)
def teredo(dec: Decoder, buf: bytes, off: int, end: int) -> Segment | None:
    """IPv6 over UDP, behind optional authentication and origin-indication headers."""
    if end - off >= 4 and _U16.unpack_from(buf, off)[0] == TEREDO_AUTH:
        off += 4 + buf[off + 2] + buf[off + 3] + 9
    if end - off >= 8 and _U16.unpack_from(buf, off)[0] == TEREDO_ORIGIN:
        off += 8
    if off >= end or buf[off] >> 4 != 6:
        return dec.skip("teredo:not-ipv6")     # e.g. a bubble or router solicitation only
    _enter(dec, "teredo")
    return ipv6(dec, buf, off, end)
