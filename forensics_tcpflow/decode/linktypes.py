"""Capture link types (LINKTYPE_* values) and the first header each one puts on a packet."""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from .dispatch import LINKTYPES, LayerHandler, register
from .ethertypes import cisco_hdlc, ethernet, ethertype, llc, ppp_frame, pppoe_session
from .ip import ipv4, ipv6, raw_ip
from .segment import Segment

if TYPE_CHECKING:
    from .decoder import Decoder

_SLL = struct.Struct("!14xH")         # pkttype, arphrd, addr len, addr[8], protocol
_SLL2 = struct.Struct("!H")           # protocol first, then 18 bytes we do not need
_AF_LE = struct.Struct("<I")
_AF_BE = struct.Struct("!I")

SLL_HEADER = 16
SLL2_HEADER = 20
AF_HEADER = 4

# BSD address families: IPv6 differs between Linux, the BSDs and macOS.
ADDRESS_FAMILIES: dict[int, LayerHandler] = {2: ipv4, 10: ipv6, 23: ipv6, 24: ipv6, 28: ipv6, 30: ipv6}

register(LINKTYPES, 1)(ethernet)
register(LINKTYPES, 9, 50)(ppp_frame)
register(LINKTYPES, 51)(pppoe_session)   # PPP_ETHER: the PPPoE session header comes first
register(LINKTYPES, 104)(cisco_hdlc)
register(LINKTYPES, 228)(ipv4)
register(LINKTYPES, 229)(ipv6)
register(LINKTYPES, 12, 14, 101)(raw_ip)


def _family(dec: Decoder, family: int, buf: bytes, off: int, end: int) -> Segment | None:
    """The packet at `off`, by its address family."""
    handler = ADDRESS_FAMILIES.get(family)
    if handler is None:
        return dec.skip(f"af:{family}")
    return handler(dec, buf, off, end)


@register(LINKTYPES, 0)
def bsd_null(dec: Decoder, buf: bytes, off: int, end: int) -> Segment | None:
    """The family is in the writer's byte order; a real one fits in 16 bits."""
    if end - off < AF_HEADER:
        return dec.fail("truncated-header")
    family = _AF_LE.unpack_from(buf, off)[0]
    if family > 0xFFFF:
        family = _AF_BE.unpack_from(buf, off)[0]
    return _family(dec, family, buf, off + AF_HEADER, end)


@register(LINKTYPES, 108)
def bsd_loop(dec: Decoder, buf: bytes, off: int, end: int) -> Segment | None:
    if end - off < AF_HEADER:
        return dec.fail("truncated-header")
    return _family(dec, _AF_BE.unpack_from(buf, off)[0], buf, off + AF_HEADER, end)


@register(LINKTYPES, 113)
def linux_sll(dec: Decoder, buf: bytes, off: int, end: int) -> Segment | None:
    if end - off < SLL_HEADER:
        return dec.fail("truncated-header")
    return ethertype(dec, _SLL.unpack_from(buf, off)[0], buf, off + SLL_HEADER, end)


@register(LINKTYPES, 276)
def linux_sll2(dec: Decoder, buf: bytes, off: int, end: int) -> Segment | None:
    if end - off < SLL2_HEADER:
        return dec.fail("truncated-header")
    return ethertype(dec, _SLL2.unpack_from(buf, off)[0], buf, off + SLL2_HEADER, end)


# NFLOG: TLVs in the logging host's byte order; type 9 holds the packet, 10 the rule's prefix.
NFLOG_HEADER = 4                      # address family, version, resource id
NFULA_PAYLOAD = 9
NFULA_PREFIX = 10
NFLOG_TYPE_MASK = 0x3FFF              # the top bits flag nested and net-order attributes
_TLV_LE = struct.Struct("<HH")
_TLV_BE = struct.Struct("!HH")


@register(LINKTYPES, 239)
def nflog(dec: Decoder, buf: bytes, off: int, end: int) -> Segment | None:
    """By hand: dpkt has no NFLOG. The prefix is kept as a per-flow fact."""
    if end - off < NFLOG_HEADER:
        return dec.fail("truncated-header")
    family = buf[off]
    off += NFLOG_HEADER
    # Types are below 256, so a big-endian type read as little-endian is 256 or more.
    tlv = _TLV_LE if end - off < 4 or _TLV_LE.unpack_from(buf, off)[1] & NFLOG_TYPE_MASK < 0x100 else _TLV_BE
    payload = None
    while end - off >= 4:
        length, kind = tlv.unpack_from(buf, off)
        if length < 4 or off + length > end:
            return dec.fail("bad-nflog-tlv")
        kind &= NFLOG_TYPE_MASK
        if kind == NFULA_PAYLOAD:
            payload = (off + 4, off + length)
        elif kind == NFULA_PREFIX:
            prefix = buf[off + 4:off + length].split(b"\0", 1)[0]
            if prefix:
                dec.facts["nflog_prefix"] = prefix.decode("utf-8", "replace")
        off += (length + 3) & ~3
    if payload is None:
        return dec.skip("nflog:no-payload")
    return _family(dec, family, buf, *payload)


# ARCNET protocol IDs: RFC 1201 framing adds split flag and sequence number, RFC 1051 does not.
ARCNET_LINUX_HEADER = 4               # source, destination, 2-byte offset
ARCNET_RFC1051: dict[int, LayerHandler] = {0xF0: ipv4}             # 0xF1 is ARP
ARCNET_RFC1201: dict[int, LayerHandler] = {0xD4: ipv4, 0xC4: ipv6}  # 0xD5 is ARP
ARCNET_EXCEPTION = 0xFF               # RFC 1201 exception packet: flag, 2 pad bytes, protocol again
ARCNET_SPLIT = 3                      # split flag, sequence number


@register(LINKTYPES, 129)
def arcnet_linux(dec: Decoder, buf: bytes, off: int, end: int) -> Segment | None:
    """By hand: dpkt has no ARCNET."""
    off += ARCNET_LINUX_HEADER
    proto = buf[off]
    off += 1
    handler = ARCNET_RFC1051.get(proto)
    if handler is not None:
        return handler(dec, buf, off, end)
    handler = ARCNET_RFC1201.get(proto)
    if handler is None:
        return dec.skip(f"arcnet:0x{proto:02x}")
    if buf[off] == ARCNET_EXCEPTION:
        off += 4
    if buf[off]:
        return dec.skip("arcnet:split")      # a fragment of a split packet: not reassembled
    return handler(dec, buf, off + ARCNET_SPLIT, end)


FDDI_HEADER = 13                      # frame control, destination, source


@register(LINKTYPES, 10)
def fddi(dec: Decoder, buf: bytes, off: int, end: int) -> Segment | None:
    """By hand: dpkt has no FDDI. MACs as captured (FDDI bit order is the capturer's)."""
    if end - off < FDDI_HEADER:
        return dec.fail("truncated-header")
    dec.mac_dst = buf[off + 1:off + 7]
    dec.mac_src = buf[off + 7:off + 13]
    return llc(dec, buf, off + FDDI_HEADER, end)


IPOIB_HEADER = 44                     # 40-byte pseudo-header (addresses), ethertype, 2 reserved


@register(LINKTYPES, 242)
def ipoib(dec: Decoder, buf: bytes, off: int, end: int) -> Segment | None:
    """By hand: dpkt has no IPoIB."""
    if end - off < IPOIB_HEADER:
        return dec.fail("truncated-header")
    return ethertype(dec, _SLL2.unpack_from(buf, off + 40)[0], buf, off + IPOIB_HEADER, end)


JUNIPER_MAGIC = b"MGC"
JUNIPER_NO_L2 = 0x02                  # no link header: a 4-byte protocol family, then IP
JUNIPER_EXT = 0x80                    # a 2-byte length and TLV extensions follow the flags


@register(LINKTYPES, 178)
def juniper_ether(dec: Decoder, buf: bytes, off: int, end: int) -> Segment | None:
    """By hand: dpkt has no Juniper pseudo-headers."""
    if end - off < 4 or buf[off:off + 3] != JUNIPER_MAGIC:
        return dec.fail("bad-juniper-header")
    flags = buf[off + 3]
    off += 4
    if flags & JUNIPER_EXT:
        off += 2 + _SLL2.unpack_from(buf, off)[0]
    if flags & JUNIPER_NO_L2:
        return raw_ip(dec, buf, off + 4, end)
    return ethernet(dec, buf, off, end)


PFLOG_RULE = struct.Struct("!BBBB16s16sII4x4x4x4xB")   # length, af, action, reason, ifname,
PFLOG_ACTIONS = ("pass", "block", "scrub", "noscrub", "nat", "nonat", "binat", "nobinat",
                 "rdr", "nordr", "synproxy-drop", "defer", "match", "divert", "rt", "afrt")
PFLOG_DIRECTIONS = ("inout", "in", "out", "fwd")


@register(LINKTYPES, 117)
def pflog(dec: Decoder, buf: bytes, off: int, end: int) -> Segment | None:
    """By hand: dpkt has no pflog. Rule, action and direction become per-flow facts;
    the header is padded to 4 bytes (BSD BPF_WORDALIGN) before the packet."""
    length, family, action, _, _, _, rule, _, direction = PFLOG_RULE.unpack_from(buf, off)
    dec.facts["pflog_rule"] = str(rule if rule != 0xFFFFFFFF else -1)
    dec.facts["pflog_action"] = PFLOG_ACTIONS[action] if action < len(PFLOG_ACTIONS) else str(action)
    dec.facts["pflog_direction"] = (PFLOG_DIRECTIONS[direction] if direction < len(PFLOG_DIRECTIONS)
                                    else str(direction))
    return _family(dec, family, buf, off + ((length + 3) & ~3), end)
