"""Tunnels whose inner TCP we want: GRE (and PPTP's enhanced GRE), VXLAN,
GRE-in-UDP, Geneve and IP-in-IP. Inside a tunnel the outer VLANs and MACs stay."""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from .dispatch import IPPROTOS, UDP_PORTS, register
from .ethertypes import ethernet, ethertype
from .ip import ipv4, ipv6
from .segment import Segment

if TYPE_CHECKING:
    from .decoder import Decoder

_GRE = struct.Struct("!HH")           # flags/version, protocol type
_UDP_PORTS = struct.Struct("!HH")
_GENEVE = struct.Struct("!BxH")       # version/option length, protocol type

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
    return ethertype(dec, proto, buf, off, end)


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
