"""Framings that carry an ethertype: Ethernet (and 802.3 + LLC/SNAP), 802.1Q/802.1ad,
802.1ah PBB, MPLS, PPPoE, PPP."""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from .dispatch import ETHERTYPES, LayerHandler, register
from .ip import ipv4, ipv6
from .segment import Segment

if TYPE_CHECKING:
    from .decoder import Decoder

_U16 = struct.Struct("!H")
_VLAN = struct.Struct("!HH")          # TCI, next ethertype
_PPPOE_LEN = struct.Struct("!4xH")    # ver/type, code, session id, payload length

ETH_HEADER = 14
VLAN_TPIDS = frozenset((0x8100, 0x88A8, 0x9100))
MPLS_BOTTOM = 0x01                    # in the third byte of a label entry
PPP_ADDRESS_CONTROL = b"\xff\x03"
CISCO_HDLC_ADDRESSES = frozenset((0x0F, 0x8F))
MAX_8023_LENGTH = 0x05FF              # below 0x0600 the field is an 802.3 length, not a type
SNAP_HEADER = b"\xaa\xaa\x03"        # LLC DSAP, SSAP, UI control: a SNAP header follows
LLC_SNAP = 8                          # LLC (3) + OUI (3) + type (2)
PBB_ITAG = 4                          # priority, flags, 24-bit I-SID

register(ETHERTYPES, 0x0800)(ipv4)
register(ETHERTYPES, 0x86DD)(ipv6)


def ethertype(dec: Decoder, etype: int, buf: bytes, off: int, end: int) -> Segment | None:
    handler = ETHERTYPES.get(etype)
    if handler is None:
        return dec.skip("ethertype:llc" if etype < 0x0600 else f"ethertype:0x{etype:04x}")
    return handler(dec, buf, off, end)


@register(ETHERTYPES, 0x6558)          # transparent Ethernet bridging (GRE)
def ethernet(dec: Decoder, buf: bytes, off: int, end: int) -> Segment | None:
    if end - off < ETH_HEADER:
        return dec.fail("truncated-header")
    if not dec.tunnelled:
        dec.mac_dst = buf[off:off + 6]
        dec.mac_src = buf[off + 6:off + 12]
    etype = (buf[off + 12] << 8) | buf[off + 13]
    if etype == 0x0800:                 # hot path: skip the table
        return ipv4(dec, buf, off + ETH_HEADER, end)
    if etype <= MAX_8023_LENGTH:        # IEEE 802.3: a length, then 802.2 LLC
        return llc(dec, buf, off + ETH_HEADER, min(end, off + ETH_HEADER + etype))
    return ethertype(dec, etype, buf, off + ETH_HEADER, end)


def llc(dec: Decoder, buf: bytes, off: int, end: int) -> Segment | None:
    """802.2 LLC; only SNAP carries an ethertype (by hand: dpkt's LLC parses the payload we
    decode ourselves). Any OUI: 000000 is RFC 1042, 0000F8 bridge tunnelling, both a type."""
    if end - off < len(SNAP_HEADER):
        return dec.fail("truncated-header")
    if buf[off:off + 3] != SNAP_HEADER:
        return dec.skip("llc:not-snap")      # e.g. spanning tree
    if end - off < LLC_SNAP:
        return dec.fail("truncated-header")
    return ethertype(dec, _U16.unpack_from(buf, off + 6)[0], buf, off + LLC_SNAP, end)


@register(ETHERTYPES, 0x88E7)
def pbb(dec: Decoder, buf: bytes, off: int, end: int) -> Segment | None:
    """802.1ah provider backbone bridging: the I-TAG, then the customer's Ethernet frame.
    Like a tunnel: the backbone's MACs and VLANs name the flow, the customer's are inside."""
    dec.counters["tunnel:pbb"] += 1
    dec.tunnelled = True
    return ethernet(dec, buf, off + PBB_ITAG, end)


@register(ETHERTYPES, *VLAN_TPIDS)
def vlan(dec: Decoder, buf: bytes, off: int, end: int) -> Segment | None:
    """A whole tag stack at once; VLAN IDs only (the TCI's low 12 bits)."""
    vids = []
    while True:
        if end - off < 4:
            return dec.fail("truncated-header")
        tci, etype = _VLAN.unpack_from(buf, off)
        vids.append(tci & 0x0FFF)
        off += 4
        if etype not in VLAN_TPIDS:
            break
    if not dec.tunnelled:
        dec.vlans += tuple(vids)
    return ethertype(dec, etype, buf, off, end)


@register(ETHERTYPES, 0x8847, 0x8848)
def mpls(dec: Decoder, buf: bytes, off: int, end: int) -> Segment | None:
    while True:
        if end - off < 4:
            return dec.fail("truncated-header")
        bottom = buf[off + 2] & MPLS_BOTTOM
        off += 4
        if bottom:
            break
    if off >= end:
        return dec.fail("truncated-header")
    handler = MPLS_PAYLOADS.get(buf[off] >> 4)
    if handler is None:
        return dec.skip("mpls:unknown-payload")
    return handler(dec, buf, off, end)


def mpls_pseudowire(dec: Decoder, buf: bytes, off: int, end: int) -> Segment | None:
    """Ethernet pseudowire behind a 4-byte control word (first nibble 0)."""
    dec.counters["tunnel:mpls-pw"] += 1
    dec.tunnelled = True
    return ethernet(dec, buf, off + 4, end)


# After the bottom label there is no type field: the first nibble tells.
MPLS_PAYLOADS: dict[int, LayerHandler] = {4: ipv4, 6: ipv6, 0: mpls_pseudowire}


@register(ETHERTYPES, 0x8864)
def pppoe_session(dec: Decoder, buf: bytes, off: int, end: int) -> Segment | None:
    if end - off < 8:
        return dec.fail("truncated-header")
    end = min(end, off + 6 + _PPPOE_LEN.unpack_from(buf, off)[0])
    return ppp_protocol(dec, buf, off + 6, end)


@register(ETHERTYPES, 0x880B)          # PPP in (enhanced) GRE
def ppp_frame(dec: Decoder, buf: bytes, off: int, end: int) -> Segment | None:
    """PPP with or without address/control bytes; Cisco HDLC shares the link types."""
    if end - off < 2:
        return dec.fail("truncated-header")
    if buf[off] in CISCO_HDLC_ADDRESSES:
        return cisco_hdlc(dec, buf, off, end)
    if buf[off:off + 2] == PPP_ADDRESS_CONTROL:
        off += 2
    return ppp_protocol(dec, buf, off, end)


def cisco_hdlc(dec: Decoder, buf: bytes, off: int, end: int) -> Segment | None:
    if end - off < 4:
        return dec.fail("truncated-header")
    return ethertype(dec, _U16.unpack_from(buf, off + 2)[0], buf, off + 4, end)


def ppp_protocol(dec: Decoder, buf: bytes, off: int, end: int) -> Segment | None:
    """By hand: two bytes on the PPPoE/PPTP/L2TP path, and dpkt's PPP parses the payload too."""
    if off >= end:
        return dec.fail("truncated-header")
    if buf[off] & 1:                    # protocol field compressed to one byte
        proto, off = buf[off], off + 1
    elif end - off >= 2:
        proto, off = _U16.unpack_from(buf, off)[0], off + 2
    else:
        return dec.fail("truncated-header")
    handler = PPP_PROTOCOLS.get(proto)
    if handler is None:
        return dec.skip(f"ppp:0x{proto:04x}")
    return handler(dec, buf, off, end)


PPP_PROTOCOLS: dict[int, LayerHandler] = {0x0021: ipv4, 0x0057: ipv6, 0x0281: mpls, 0x0283: mpls}
