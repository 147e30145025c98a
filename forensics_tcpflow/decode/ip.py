"""IPv4, IPv6 (extension-header chain, fragment header) and TCP.

`dend` is where the IP header says the datagram ends and `end` where the
captured bytes stop (never past `dend`, so link padding is never data); the
difference is what the snaplen cut off.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from .dispatch import IPPROTOS, register
from .segment import Segment

if TYPE_CHECKING:
    from .decoder import Decoder

_IP4 = struct.Struct("!BxHHHxB2x4s4s")    # ver/ihl, total length, id, flags/offset, proto, src, dst
_IP6 = struct.Struct("!IHB1x16s16s")      # ver/class/flow, payload length, next header, src, dst
_TCP = struct.Struct("!HHIIBB")           # ports, seq, ack, data offset, flags
_IP6_FRAG = struct.Struct("!BxHI")        # next header, offset/M, id
_IP6_EXT_HDR = struct.Struct("!BB")       # next header, length field

IP4_MF = 0x2000
IP4_OFFSET = 0x1FFF
IP6_OFFSET = 0xFFF8
IP6_MF = 0x0001
IP6_FRAGMENT = 44

# Extension headers walked over: next header -> (unit, bias); length = (len field + bias) * unit.
IP6_EXTENSIONS: dict[int, tuple[int, int]] = {
    0: (8, 1),      # hop-by-hop options
    43: (8, 1),     # routing
    60: (8, 1),     # destination options
    51: (4, 2),     # authentication header
    135: (8, 1),    # mobility
}


def ipproto(dec: Decoder, proto: int, buf: bytes, off: int, end: int, dend: int,
            family: int, src: bytes, dst: bytes) -> Segment | None:
    handler = IPPROTOS.get(proto)
    if handler is None:
        return dec.skip(f"ipproto:{proto}")
    return handler(dec, buf, off, end, dend, family, src, dst)


def ipv4(dec: Decoder, buf: bytes, off: int, end: int) -> Segment | None:
    if end - off < 20:
        return dec.fail("truncated-header")
    vhl, total, ident, frag, proto, src, dst = _IP4.unpack_from(buf, off)
    hl = (vhl & 0x0F) << 2
    if vhl >> 4 != 4 or hl < 20 or (total and total < hl):
        return dec.fail("bad-ip-header")
    if total:                     # 0: segmentation offload, the capture holds the truth
        dend = off + total
        if dend < end:
            end = dend
    else:
        dend = end
    start = off + hl
    if start > end:
        return dec.fail("truncated-header")
    if frag & (IP4_MF | IP4_OFFSET):
        return _fragment(dec, (src, dst, proto, ident), proto, (frag & IP4_OFFSET) << 3,
                         frag & IP4_MF, buf, start, end, dend, 4, src, dst)
    handler = IPPROTOS.get(proto)    # hot path: ipproto() inlined
    if handler is None:
        return dec.skip(f"ipproto:{proto}")
    return handler(dec, buf, start, end, dend, 4, src, dst)


def raw_ip(dec: Decoder, buf: bytes, off: int, end: int) -> Segment | None:
    """IPv4 or IPv6, told apart by the version nibble (raw IP links, GTP-U)."""
    if off >= end:
        return dec.fail("truncated-header")
    version = buf[off] >> 4
    if version == 4:
        return ipv4(dec, buf, off, end)
    if version == 6:
        return ipv6(dec, buf, off, end)
    return dec.fail("bad-ip-header")


def ipv6(dec: Decoder, buf: bytes, off: int, end: int) -> Segment | None:
    if end - off < 40:
        return dec.fail("truncated-header")
    vtf, plen, nh, src, dst = _IP6.unpack_from(buf, off)
    if vtf >> 28 != 6:
        return dec.fail("bad-ip-header")
    off += 40
    if plen:                      # 0: jumbogram or offload
        dend = off + plen
        if dend < end:
            end = dend
    else:
        dend = end
    return ip6_chain(dec, nh, buf, off, end, dend, src, dst)


def ip6_chain(dec: Decoder, nh: int, buf: bytes, off: int, end: int, dend: int,
              src: bytes, dst: bytes) -> Segment | None:
    """Walk extension headers up to the upper-layer protocol."""
    while True:
        ext = IP6_EXTENSIONS.get(nh)
        if ext is None:
            break
        if off + 2 > end:
            return dec.fail("truncated-header")
        nh, length = _IP6_EXT_HDR.unpack_from(buf, off)
        off += (length + ext[1]) * ext[0]
    if nh == IP6_FRAGMENT:
        if off + 8 > end:
            return dec.fail("truncated-header")
        nxt, offm, ident = _IP6_FRAG.unpack_from(buf, off)
        off += 8
        if not offm & (IP6_OFFSET | IP6_MF):     # atomic fragment: a whole datagram
            dec.counters["atomic-fragments"] += 1
            return ip6_chain(dec, nxt, buf, off, end, dend, src, dst)
        return _fragment(dec, (src, dst, ident), nxt, offm & IP6_OFFSET, offm & IP6_MF,
                         buf, off, end, dend, 6, src, dst)
    if off > end:
        return dec.fail("truncated-header")
    return ipproto(dec, nh, buf, off, end, dend, 6, src, dst)


def _fragment(dec: Decoder, key: tuple, proto: int, offset: int, more: int, buf: bytes,
              off: int, end: int, dend: int, family: int, src: bytes, dst: bytes) -> Segment | None:
    """Hand a fragment to the reassembler; decode the datagram it may complete."""
    dec.counters["fragments"] += 1
    if end < dend:
        return dec.fail("truncated-fragment")
    done = dec.defrag.add(key, proto, offset, buf[off:end], bool(more), dec.ts_ns)
    if done is None:
        return None
    proto, data = done
    dec.reassembled = True
    if family == 6:
        return ip6_chain(dec, proto, data, 0, len(data), len(data), src, dst)
    return ipproto(dec, proto, data, 0, len(data), len(data), 4, src, dst)


@register(IPPROTOS, 6)
def tcp(dec: Decoder, buf: bytes, off: int, end: int, dend: int, family: int,
        src: bytes, dst: bytes) -> Segment | None:
    if end - off < 20:
        return dec.fail("truncated-header")
    sport, dport, seq, ack, doff, flags = _TCP.unpack_from(buf, off)
    start = off + ((doff >> 4) << 2)
    if start < off + 20 or start > dend:
        return dec.fail("bad-tcp-header")
    if start < end:
        payload = buf[start:end]
        missing = dend - end
    else:                         # options or all payload beyond the snaplen
        payload = b""
        missing = dend - start
    if missing:
        dec.counters["truncated"] += 1
    segment = Segment(family, src, dst, sport, dport, seq, ack, flags, payload, dec.frame,
                      dec.ts_ns, dec.vlans, dec.mac_src, dec.mac_dst, missing, dec.reassembled)
    if dec.facts:
        segment.facts = dec.facts
    return segment
