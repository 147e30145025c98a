"""Classic libpcap files: the variants and their record layouts, as data."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

from .record import CaptureError, Record
from .window import ByteWindow

NS = 1_000_000_000
# libpcap's MAXIMUM_SNAPLEN: no sane writer produces a larger record.
MAX_SNAPLEN = 262144


@dataclass(frozen=True, slots=True)
class Variant:
    """One pcap flavour: byte order, timestamp unit and record header size."""

    order: str          # struct byte-order prefix
    frac_ns: int        # nanoseconds per unit of the sub-second field
    header_size: int    # per-record header (the modified-pcap format adds 8 bytes)


# Magic number as it appears on disk -> variant.
VARIANTS: dict[bytes, Variant] = {
    b"\xd4\xc3\xb2\xa1": Variant("<", 1000, 16),   # usec, little endian
    b"\xa1\xb2\xc3\xd4": Variant(">", 1000, 16),   # usec, big endian
    b"\x4d\x3c\xb2\xa1": Variant("<", 1, 16),      # nsec, little endian
    b"\xa1\xb2\x3c\x4d": Variant(">", 1, 16),      # nsec, big endian
    b"\x34\xcd\xb2\xa1": Variant("<", 1000, 24),   # Kuznetzov's modified pcap
    b"\xa1\xb2\xcd\x34": Variant(">", 1000, 24),
}
MAGICS = frozenset(VARIANTS)

FILE_HEADER = {order: struct.Struct(order + "4sHHiIII") for order in "<>"}
RECORD_HEADER = {order: struct.Struct(order + "IIII") for order in "<>"}


class PcapReader:
    """Parses the file header at construction; `records()` streams the rest."""

    def __init__(self, window: ByteWindow, path: str, linktypes: set[int]) -> None:
        self._window = window
        self._path = path
        head = FILE_HEADER["<"]
        buf, _ = window.refill(0, head.size)
        if len(buf) < head.size:
            raise CaptureError(path, f"truncated pcap file header: {len(buf)} of {head.size} bytes",
                               offset=0)
        self.variant = VARIANTS[bytes(buf[:4])]
        *_, self.snaplen, network = FILE_HEADER[self.variant.order].unpack_from(buf, 0)
        self.linktype = network & 0xFFFF
        linktypes.add(self.linktype)
        self._start = head.size

    def records(self) -> Iterator[Record]:
        window, path = self._window, self._path
        unpack = RECORD_HEADER[self.variant.order].unpack_from
        hsize, frac_ns = self.variant.header_size, self.variant.frac_ns
        linktype = self.linktype
        limit = max(self.snaplen, MAX_SNAPLEN)
        buf, pos, base = window.buf, self._start, window.base
        end = len(buf)
        frame = 0
        while True:
            if pos + hsize > end:
                buf, pos = window.refill(pos, hsize, frame + 1)
                base, end = window.base, len(buf)
                if pos == end:
                    return
                if pos + hsize > end:
                    raise CaptureError(path, f"truncated record header: {end - pos} of {hsize} bytes",
                                       frame=frame + 1, offset=base + pos)
            sec, frac, caplen, origlen = unpack(buf, pos)
            frame += 1
            if caplen > limit:
                raise CaptureError(path, f"record {frame} claims caplen {caplen} > {limit}",
                                   frame=frame, offset=base + pos)
            stop = pos + hsize + caplen
            if stop > end:
                buf, pos = window.refill(pos, hsize + caplen, frame)
                base, end = window.base, len(buf)
                stop = pos + hsize + caplen
                if stop > end:
                    raise CaptureError(path, f"truncated record data: {end - pos - hsize} of {caplen} bytes",
                                       frame=frame, offset=base + pos)
            yield Record(frame, linktype, sec * NS + frac * frac_ns, caplen, origlen,
                         buf[pos + hsize:stop], base + pos, 0)
            pos = stop
