"""Whether the kernel walks a capture, decided from its first bytes.

The layouts come from capture/ (one definition of every magic and field); this
module only says which of them the kernel walks: uncompressed classic pcap
(16-byte records, usec or nsec), or pcapng whose first section opens with its
interfaces (one or several) in decimal time units. Records of link types the
kernel does not parse go to the general decoder one by one; anything the header
cannot tell (a later section or interface, damage) goes to the general reader.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from ..capture import pcap, pcapng
from .api import Interface, Settings

INT64 = 1 << 63


@dataclass(frozen=True, slots=True)
class Header:
    """Where the records start and how to read them."""

    format: str                # "pcap" | "pcapng"
    big: bool
    interfaces: tuple[Interface, ...]
    start: int                 # the first record's offset
    snaplimit: int = 0         # pcap: a record longer than this is damage

    @property
    def linktypes(self) -> tuple[int, ...]:
        return tuple(sorted({i.linktype for i in self.interfaces}))

    def settings(self, max_seek: int) -> Settings:
        return Settings(self.format == "pcapng", self.big, self.interfaces, self.snaplimit, max_seek)


def _pcap_header(head: bytes) -> Header:
    variant = pcap.VARIANTS[head[:4]]
    *_, snaplen, network = pcap.FILE_HEADER[variant.order].unpack_from(head, 0)
    return Header("pcap", variant.order == ">", (Interface(network & 0xFFFF, variant.frac_ns, 0),),
                  pcap.FILE_HEADER[variant.order].size, max(snaplen, pcap.MAX_SNAPLEN))


def _pcapng_header(head: bytes) -> Header | None:
    """A section header then its interfaces; anything less plain is the general reader's."""
    order = pcapng.BYTE_ORDERS.get(head[8:12])
    if order is None:
        return None
    layout = pcapng.LAYOUTS[order]
    (shb_len,) = layout.length.unpack_from(head, 4)
    _, major, _, _ = layout.shb.unpack_from(head, 8)
    if (major != 1 or shb_len < 28 or shb_len % 4 or len(head) < shb_len
            or layout.length.unpack_from(head, shb_len - 4)[0] != shb_len):
        return None
    interfaces: list[Interface] = []
    pos = shb_len
    while len(head) >= pos + 20:
        btype, blen = layout.block.unpack_from(head, pos)
        if btype != pcapng.IDB:
            break
        if blen < 20 or blen % 4 or len(head) < pos + blen or layout.length.unpack_from(head, pos + blen - 4)[0] != blen:
            return None
        interface = _interface(layout, head, pos, blen)
        if interface is None:
            return None
        interfaces.append(interface)
        pos += blen
    if not interfaces:
        return None
    return Header("pcapng", order == ">", tuple(interfaces), pos)


def _interface(layout: pcapng.Layout, head: bytes, pos: int, blen: int) -> Interface | None:
    """One IDB in decimal time units (binary or sub-nanosecond ones are the general reader's)."""
    (linktype, _snaplen) = layout.idb.unpack_from(head, pos + 8)
    resolution, offset = pcapng.DEFAULT_TSRESOL, 0
    seen: set[int] = set()
    opt, stop = pos + 16, pos + blen - 4
    while opt + 4 <= stop:
        code, length = layout.option.unpack_from(head, opt)
        if code == pcapng.OPT_END:
            break
        if code not in seen:                 # the first value of each option counts, as the reader takes it
            seen.add(code)
            if code == pcapng.IF_TSRESOL:
                resolution = head[opt + 4] if length >= 1 and opt + 4 < stop else pcapng.DEFAULT_TSRESOL
            elif code == pcapng.IF_TSOFFSET:
                offset = layout.tsoffset.unpack_from(head, opt + 4)[0] if length == 8 and opt + 12 <= stop else 0
        opt += 4 + (length + 3) // 4 * 4
    if resolution & 0x80 or resolution > 9 or not -INT64 <= offset * pcapng.NS < INT64:
        return None
    return Interface(linktype, 10 ** (9 - resolution), offset * pcapng.NS)


def kernel_header(head: bytes) -> Header | None:
    """How the kernel walks the capture that starts with `head` (its first 64 KiB); None when
    the general reader must (compressed, modified pcap, odd time units, damage in the header)."""
    if len(head) >= 24 and head[:4] in pcap.VARIANTS and pcap.VARIANTS[head[:4]].header_size == 16:
        return _pcap_header(head)
    if head[:4] in pcapng.MAGICS and len(head) >= 28:
        try:
            return _pcapng_header(head)
        except struct.error:
            return None
    return None
