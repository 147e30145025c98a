"""Whether a capture can take the fast path, decided from its first bytes.

The layouts come from capture/ (one definition of every magic and field); this
module only says which of them the fast path walks: uncompressed classic pcap
(16-byte records, usec or nsec), or pcapng whose first section opens with one
interface, carrying Ethernet or raw IP.
"""

from __future__ import annotations

import struct

from ..capture import pcap, pcapng

LINKTYPES = frozenset({1, 12, 14, 101})        # Ethernet and raw IP


class PcapHeader:
    """What the fast path needs from a classic pcap file header."""

    __slots__ = ("big", "frac_ns", "snaplen", "linktype", "start")
    format = "pcap"

    def __init__(self, head: bytes) -> None:
        variant = pcap.VARIANTS[head[:4]]
        self.big, self.frac_ns = variant.order == ">", variant.frac_ns
        *_, self.snaplen, network = pcap.FILE_HEADER[variant.order].unpack_from(head, 0)
        self.linktype = network & 0xFFFF
        self.start = pcap.FILE_HEADER[variant.order].size


class PcapngHeader:
    """A pcapng file whose first section opens with one interface (the usual capture)."""

    __slots__ = ("big", "frac_ns", "offset_ns", "linktype", "start")
    format = "pcapng"

    def __init__(self, big: bool, frac_ns: int, offset_ns: int, linktype: int, start: int) -> None:
        self.big, self.frac_ns, self.offset_ns, self.linktype, self.start = big, frac_ns, offset_ns, linktype, start


def _pcapng_header(head: bytes) -> PcapngHeader | None:
    """Section header then interface description; anything less plain is the general reader's."""
    order = pcapng.BYTE_ORDERS.get(head[8:12])
    if order is None:
        return None
    layout = pcapng.LAYOUTS[order]
    (shb_len,) = layout.length.unpack_from(head, 4)
    if len(head) < shb_len + 16:
        return None
    idb_type, idb_len = layout.block.unpack_from(head, shb_len)
    (linktype, _snaplen) = layout.idb.unpack_from(head, shb_len + 8)
    if idb_type != pcapng.IDB or len(head) < shb_len + idb_len:
        return None
    resolution, offset = pcapng.DEFAULT_TSRESOL, 0
    pos, stop = shb_len + 16, shb_len + idb_len - 4
    while pos + 4 <= stop:
        code, length = layout.option.unpack_from(head, pos)
        if code == pcapng.OPT_END:
            break
        if code == pcapng.IF_TSRESOL and length == 1:
            resolution = head[pos + 4]
        elif code == pcapng.IF_TSOFFSET and length == 8:
            (offset,) = layout.tsoffset.unpack_from(head, pos + 4)
        pos += 4 + (length + 3) // 4 * 4
    if resolution & 0x80 or resolution > 9:
        return None          # binary or sub-nanosecond resolution
    return PcapngHeader(order == ">", 10 ** (9 - resolution), offset * pcapng.NS, linktype, shb_len + idb_len)


def fast_header(head: bytes) -> PcapHeader | PcapngHeader | None:
    """How to walk the capture that starts with `head` (its first 64 KiB) on the fast path;
    None for everything else (compressed, other link types, several interfaces first)."""
    header: PcapHeader | PcapngHeader | None = None
    if len(head) >= 24 and head[:4] in pcap.VARIANTS and pcap.VARIANTS[head[:4]].header_size == 16:
        header = PcapHeader(head)
    elif head[:4] in pcapng.MAGICS and len(head) >= 28:
        try:
            header = _pcapng_header(head)
        except struct.error:
            return None
    return header if header is not None and header.linktype in LINKTYPES else None
