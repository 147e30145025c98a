"""IEEE 802.11 data frames and the radio headers captured before them: radiotap, Prism, PPI.

Protected frames cannot be read and frames whose FCS is wrong cannot be trusted: both are
counted (per capture, in the report), never guessed at.
"""

from __future__ import annotations

import struct
import zlib
from typing import TYPE_CHECKING

from .dispatch import LINKTYPES, register
from .ethertypes import llc
from .segment import Segment

if TYPE_CHECKING:
    from .decoder import Decoder

_LE16 = struct.Struct("<H")
_LE32 = struct.Struct("<I")
_PPI = struct.Struct("<xxHI")         # version, flags, header length, link type
_PPI_FIELD = struct.Struct("<HH")     # field type, field length
_AMSDU = struct.Struct("!6s6sH")      # subframe destination, source, length

DATA_TYPE = 0x08                      # frame control byte 0: type 2 (data), bits 2-3
BEACON, PROBE_RESPONSE = 0x80, 0x50   # frame control byte 0 of these management frames
MGMT_FIXED = 12                       # timestamp, beacon interval, capabilities
SSID_ELEMENT = 0
TYPE_MASK = 0x0C
QOS_SUBTYPE = 0x80
NULL_SUBTYPE = 0x40                   # the "no data" subtypes: null, CF-ack/poll without data
TO_DS, FROM_DS, PROTECTED, ORDER = 0x01, 0x02, 0x40, 0x80
AMSDU_PRESENT = 0x80                  # QoS control, first byte
HEADER = 24
ADDR4 = 6
QOS_CONTROL = 2
HT_CONTROL = 4
AMSDU_SUBFRAME = 14
FCS = 4

RADIOTAP_FLAGS_FCS = 0x10             # the frame ends in its 4-byte FCS
RADIOTAP_FLAGS_BAD_FCS = 0x40
PRISM_HEADER = 144                    # msgcode, msglen, device name, ten 12-byte items
PPI_80211_COMMON = 2
PPI_COMMON_FLAGS = 8                  # after the TSF timer
PPI_FCS, PPI_BAD_FCS = 0x0001, 0x0004

# (destination, source) address offsets by the to-DS/from-DS bits.
ADDRESSES = {0: (4, 10), FROM_DS: (4, 16), TO_DS: (16, 10), TO_DS | FROM_DS: (16, 24)}


@register(LINKTYPES, 105)
def ieee80211(dec: Decoder, buf: bytes, off: int, end: int) -> Segment | None:
    """Data and QoS data frames, every address form, A-MSDU subframes each decoded.
    By hand: dpkt's IEEE80211 has no A-MSDU and no HT control field."""
    if end - off < HEADER:
        return dec.fail("truncated-header")
    fc0, fc1 = buf[off], buf[off + 1]
    if fc0 & TYPE_MASK != DATA_TYPE:
        if fc0 in (BEACON, PROBE_RESPONSE):
            _ssid(dec, buf, off, end, fc0 == PROBE_RESPONSE)
        return dec.skip("802.11:not-data")
    if fc0 & NULL_SUBTYPE:
        return dec.skip("802.11:no-data")
    if fc1 & PROTECTED:
        return dec.skip("802.11:protected")
    ds = fc1 & (TO_DS | FROM_DS)
    dst, src = ADDRESSES[ds]
    body = off + HEADER + (ADDR4 if ds == TO_DS | FROM_DS else 0)
    amsdu = False
    if fc0 & QOS_SUBTYPE:
        amsdu = bool(buf[body] & AMSDU_PRESENT)
        body += QOS_CONTROL + (HT_CONTROL if fc1 & ORDER else 0)
    if not dec.tunnelled:
        dec.mac_dst, dec.mac_src = buf[off + dst:off + dst + 6], buf[off + src:off + src + 6]
    if amsdu:
        return _amsdu(dec, buf, body, end)
    return llc(dec, buf, body, end)


def _ssid(dec: Decoder, buf: bytes, off: int, end: int, probe: bool) -> None:
    """The SSID element of a beacon or probe response, counted by BSSID (for -e wifiviz); a frame
    without a whole SSID element is counted under the empty SSID, as tcpflow's parser leaves it."""
    element, ssid = off + HEADER + MGMT_FIXED, b""
    while element + 2 <= end:
        kind, length = buf[element], buf[element + 1]
        if kind == SSID_ELEMENT:
            if element + 2 + length <= end:
                ssid = buf[element + 2:element + 2 + length]
            break
        element += 2 + length
    dec.stats.ssids[(buf[off + 16:off + 22], ssid, probe)] += 1


def _amsdu(dec: Decoder, buf: bytes, off: int, end: int) -> Segment | None:
    """Subframes (destination, source, length, LLC payload, padded to 4 bytes): every one's
    segment but the last goes to the decoder's extra segments."""
    segment = None
    while end - off >= AMSDU_SUBFRAME:
        dst, src, length = _AMSDU.unpack_from(buf, off)
        if segment is not None:
            dec.extra.append(segment)
        if not dec.tunnelled:
            dec.mac_dst, dec.mac_src = dst, src
        start = off + AMSDU_SUBFRAME
        if start + length > end:
            return dec.fail("truncated-header") if segment is None else segment
        segment = llc(dec, buf, start, start + length)
        off += (AMSDU_SUBFRAME + length + 3) & ~3
    return segment


def _checked(dec: Decoder, buf: bytes, off: int, end: int, fcs: bool, bad: bool) -> Segment | None:
    """The 802.11 frame after a radio header, its FCS checked and cut off when it has one.
    With -S check_fcs=NO a wrong FCS is counted and the frame read all the same."""
    if fcs:
        end -= FCS
        if end < off:
            return dec.fail("802.11:bad-fcs")
        bad = bad or zlib.crc32(buf[off:end]) != _LE32.unpack_from(buf, end)[0]
    if bad and dec.check_fcs:
        return dec.fail("802.11:bad-fcs")
    if bad:
        dec.counters["802.11:bad-fcs-accepted"] += 1
    return ieee80211(dec, buf, off, end)


@register(LINKTYPES, 127)
def radiotap(dec: Decoder, buf: bytes, off: int, end: int) -> Segment | None:
    """dpkt reads the radiotap fields (alignment, extended bitmaps); given the header alone,
    it does not go on to parse the 802.11 frame its own way. Imported here: only radiotap
    captures pay for loading dpkt."""
    from dpkt import Error, radiotap as layout

    length = _LE16.unpack_from(buf, off + 2)[0]
    if off + length > end:
        return dec.fail("truncated-header")
    try:
        header = layout.Radiotap(buf[off:off + length])
    except Error:
        return dec.fail("bad-radiotap-header")
    flags = header.flags.val if header.flags_present else 0
    return _checked(dec, buf, off + length, end, bool(flags & RADIOTAP_FLAGS_FCS),
                    bool(flags & RADIOTAP_FLAGS_BAD_FCS))


@register(LINKTYPES, 119)
def prism(dec: Decoder, buf: bytes, off: int, end: int) -> Segment | None:
    """By hand: dpkt has no Prism. Its header length is in the header; no FCS follows."""
    length = _LE32.unpack_from(buf, off + 4)[0]
    if length < 8 or off + length > end:
        return dec.fail("bad-prism-header")
    return ieee80211(dec, buf, off + length, end)


@register(LINKTYPES, 192)
def ppi(dec: Decoder, buf: bytes, off: int, end: int) -> Segment | None:
    """By hand: dpkt has no PPI. The 802.11-common field says whether an FCS ends the frame."""
    length, linktype = _PPI.unpack_from(buf, off)
    if length < 8 or off + length > end:
        return dec.fail("bad-ppi-header")
    fcs = bad = False
    field = off + 8
    while field + 4 <= off + length:
        kind, size = _PPI_FIELD.unpack_from(buf, field)
        if kind == PPI_80211_COMMON and size >= PPI_COMMON_FLAGS + 2:
            flags = _LE16.unpack_from(buf, field + 4 + PPI_COMMON_FLAGS)[0]
            fcs, bad = bool(flags & PPI_FCS), bool(flags & PPI_BAD_FCS)
        field += 4 + size
    if linktype == 105:
        return _checked(dec, buf, off + length, end, fcs, bad)
    handler = LINKTYPES.get(linktype)
    if handler is None:
        return dec.fail(f"linktype:{linktype}")
    return handler(dec, buf, off + length, end)
