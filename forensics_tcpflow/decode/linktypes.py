"""Capture link types (LINKTYPE_* values) and the first header each one puts on a packet."""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from .dispatch import LINKTYPES, LayerHandler, register
from .ethertypes import cisco_hdlc, ethernet, ethertype, ppp_frame, pppoe_session
from .ip import ipv4, ipv6
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
IP_VERSIONS: dict[int, LayerHandler] = {4: ipv4, 6: ipv6}

register(LINKTYPES, 1)(ethernet)
register(LINKTYPES, 9, 50)(ppp_frame)
register(LINKTYPES, 51)(pppoe_session)   # PPP_ETHER: the PPPoE session header comes first
register(LINKTYPES, 104)(cisco_hdlc)
register(LINKTYPES, 228)(ipv4)
register(LINKTYPES, 229)(ipv6)


@register(LINKTYPES, 12, 14, 101)
def raw_ip(dec: Decoder, buf: bytes, off: int, end: int) -> Segment | None:
    if off >= end:
        return dec.fail("truncated-header")
    handler = IP_VERSIONS.get(buf[off] >> 4)
    if handler is None:
        return dec.fail("bad-ip-header")
    return handler(dec, buf, off, end)


def _family(dec: Decoder, family: int, buf: bytes, off: int, end: int) -> Segment | None:
    handler = ADDRESS_FAMILIES.get(family)
    if handler is None:
        return dec.skip(f"af:{family}")
    return handler(dec, buf, off + AF_HEADER, end)


@register(LINKTYPES, 0)
def bsd_null(dec: Decoder, buf: bytes, off: int, end: int) -> Segment | None:
    """The family is in the writer's byte order; a real one fits in 16 bits."""
    if end - off < AF_HEADER:
        return dec.fail("truncated-header")
    family = _AF_LE.unpack_from(buf, off)[0]
    if family > 0xFFFF:
        family = _AF_BE.unpack_from(buf, off)[0]
    return _family(dec, family, buf, off, end)


@register(LINKTYPES, 108)
def bsd_loop(dec: Decoder, buf: bytes, off: int, end: int) -> Segment | None:
    if end - off < AF_HEADER:
        return dec.fail("truncated-header")
    return _family(dec, _AF_BE.unpack_from(buf, off)[0], buf, off, end)


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
