"""pcapng files: sections, interfaces and packet blocks, with their layouts as data.

Every section (SHB) sets its own byte order and restarts interface numbering;
every interface (IDB) has its own link type, snaplen and timestamp unit, so a
multi-interface capture is read completely rather than stopped at the first
interface that differs (as libpcap does).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from .record import CaptureError, Record
from .window import ByteWindow

NS = 1_000_000_000

SHB, IDB, PB, SPB, EPB = 0x0A0D0D0A, 1, 2, 3, 6
MAGICS = frozenset({struct.pack("<I", SHB)})
BYTE_ORDERS = {b"\x4d\x3c\x2b\x1a": "<", b"\x1a\x2b\x3c\x4d": ">"}

# Smallest body (between length fields) each handled block type needs.
MIN_BODY = {SHB: 16, IDB: 8, PB: 20, EPB: 20, SPB: 4}
# Larger blocks are taken as corruption: reading them would only exhaust memory.
MAX_BLOCK = 1 << 26

OPT_END, IF_TSRESOL, IF_TSOFFSET = 0, 9, 14
DEFAULT_TSRESOL = 6


@dataclass(frozen=True, slots=True)
class Layout:
    """Every struct the reader needs, in one byte order."""

    block: struct.Struct        # block type, total length
    length: struct.Struct       # the trailing total length
    shb: struct.Struct          # byte-order magic, major, minor, section length
    idb: struct.Struct          # link type, reserved, snaplen
    option: struct.Struct       # option code, value length
    tsoffset: struct.Struct
    spb: struct.Struct          # original length
    packet: dict[int, struct.Struct]   # EPB / obsolete PB: interface, ts high, ts low, caplen, origlen

    @classmethod
    def build(cls, order: str) -> Layout:
        return cls(
            block=struct.Struct(order + "II"),
            length=struct.Struct(order + "I"),
            shb=struct.Struct(order + "4sHHq"),
            idb=struct.Struct(order + "H2xI"),
            option=struct.Struct(order + "HH"),
            tsoffset=struct.Struct(order + "q"),
            spb=struct.Struct(order + "I"),
            packet={EPB: struct.Struct(order + "IIIII"), PB: struct.Struct(order + "H2xIIII")},
        )


LAYOUTS = {order: Layout.build(order) for order in BYTE_ORDERS.values()}


@dataclass(frozen=True, slots=True)
class Interface:
    """An IDB reduced to what decoding a packet needs; ts_ns = ts * mul // div + offset_ns."""

    number: int         # capture-wide index (as Wireshark's frame.interface_id)
    linktype: int
    snaplen: int
    mul: int
    div: int
    offset_ns: int


def timestamp_scale(tsresol: int) -> tuple[int, int]:
    """(mul, div) turning if_tsresol units into nanoseconds exactly."""
    exponent = tsresol & 0x7F
    if tsresol & 0x80:
        return NS, 1 << exponent
    if exponent <= 9:
        return 10 ** (9 - exponent), 1
    return 1, 10 ** (exponent - 9)


Handler = Callable[[int, bytes, int, int, int, int], Record | None]


class PcapngReader:
    """Checks the first section header at construction; `records()` streams every block."""

    def __init__(self, window: ByteWindow, path: str, linktypes: set[int]) -> None:
        self._window = window
        self._path = path
        self._linktypes = linktypes
        self._interfaces: list[Interface] = []
        self._numbered = 0
        self._layout = LAYOUTS["<"]
        buf, _ = window.refill(0, 12)
        if len(buf) < 12:
            raise CaptureError(path, f"truncated section header block: {len(buf)} of 12 bytes", offset=0)
        self._byte_order(buf, 0, None)
        self._handlers: dict[int, Handler] = {
            SHB: self._section, IDB: self._interface, EPB: self._packet, PB: self._packet, SPB: self._simple,
        }

    @property
    def snaplen(self) -> int:
        return max((interface.snaplen for interface in self._interfaces), default=0)

    def _fail(self, message: str, frame: int | None, offset: int) -> CaptureError:
        return CaptureError(self._path, message, frame=frame, offset=offset)

    def _byte_order(self, buf: bytes, pos: int, frame: int | None) -> None:
        order = BYTE_ORDERS.get(bytes(buf[pos + 8:pos + 12]))
        if order is None:
            raise self._fail(f"bad section byte-order magic {bytes(buf[pos + 8:pos + 12]).hex()}",
                             frame, self._window.base + pos)
        self._layout = LAYOUTS[order]

    def records(self) -> Iterator[Record]:
        window, handlers = self._window, self._handlers
        buf, pos, base = window.buf, 0, window.base
        end = len(buf)
        frame = 0
        while True:
            if pos + 12 > end:
                buf, pos = window.refill(pos, 12, frame + 1)
                base, end = window.base, len(buf)
                if pos == end:
                    return
                if pos + 8 > end:
                    raise self._fail(f"truncated block header: {end - pos} of 8 bytes", frame + 1, base + pos)
            btype, _ = self._layout.block.unpack_from(buf, pos)
            if btype == SHB:
                if pos + 12 > end:
                    raise self._fail(f"truncated section header block: {end - pos} of 12 bytes",
                                     frame + 1, base + pos)
                self._byte_order(buf, pos, frame + 1)
            layout = self._layout
            _, length = layout.block.unpack_from(buf, pos)
            if length < 12 or length % 4 or length > MAX_BLOCK or length - 12 < MIN_BODY.get(btype, 0):
                raise self._fail(f"bad block length {length} for block type 0x{btype:08x}",
                                 frame + 1, base + pos)
            if pos + length > end:
                buf, pos = window.refill(pos, length, frame + 1)
                base, end = window.base, len(buf)
                if pos + length > end:
                    raise self._fail(f"truncated block: {end - pos} of {length} bytes", frame + 1, base + pos)
            trailer, = layout.length.unpack_from(buf, pos + length - 4)
            if trailer != length:
                raise self._fail(f"block length mismatch: header says {length}, trailer says {trailer}",
                                 frame + 1, base + pos)
            handler = handlers.get(btype)
            if handler is not None:
                record = handler(btype, buf, pos + 8, pos + length - 4, frame + 1, base + pos)
                if record is not None:
                    frame += 1
                    yield record
            pos += length

    def _section(self, btype: int, buf: bytes, body: int, stop: int, frame: int, offset: int) -> None:
        _, major, minor, _ = self._layout.shb.unpack_from(buf, body)
        if major != 1:
            raise self._fail(f"unsupported pcapng version {major}.{minor}", frame, offset)
        self._numbered += len(self._interfaces)
        self._interfaces = []

    def _interface(self, btype: int, buf: bytes, body: int, stop: int, frame: int, offset: int) -> None:
        layout = self._layout
        linktype, snaplen = layout.idb.unpack_from(buf, body)
        options = self._options(buf, body + layout.idb.size, stop)
        tsresol = options.get(IF_TSRESOL, b"")
        mul, div = timestamp_scale(tsresol[0] if tsresol else DEFAULT_TSRESOL)
        tsoffset = options.get(IF_TSOFFSET, b"")
        offset_s = layout.tsoffset.unpack(tsoffset)[0] if len(tsoffset) == layout.tsoffset.size else 0
        self._interfaces.append(Interface(self._numbered + len(self._interfaces), linktype, snaplen,
                                          mul, div, offset_s * NS))
        self._linktypes.add(linktype)

    def _options(self, buf: bytes, pos: int, stop: int) -> dict[int, bytes]:
        """The first value of each option code; a damaged option list just ends early."""
        unpack = self._layout.option.unpack_from
        options: dict[int, bytes] = {}
        while pos + 4 <= stop:
            code, size = unpack(buf, pos)
            if code == OPT_END:
                break
            options.setdefault(code, bytes(buf[pos + 4:min(pos + 4 + size, stop)]))
            pos += 4 + ((size + 3) & ~3)
        return options

    def _lookup(self, number: int, frame: int, offset: int) -> Interface:
        if number >= len(self._interfaces):
            raise self._fail(f"packet refers to interface {number}, but its section describes "
                             f"{len(self._interfaces)}", frame, offset)
        return self._interfaces[number]

    def _packet(self, btype: int, buf: bytes, body: int, stop: int, frame: int, offset: int) -> Record:
        number, high, low, caplen, origlen = self._layout.packet[btype].unpack_from(buf, body)
        interface = self._lookup(number, frame, offset)
        start = body + 20
        if start + caplen > stop:
            raise self._fail(f"record {frame} claims caplen {caplen} but its block holds {stop - start} bytes",
                             frame, offset)
        ts_ns = ((high << 32) | low) * interface.mul // interface.div + interface.offset_ns
        return Record(frame, interface.linktype, ts_ns, caplen, origlen, buf[start:start + caplen],
                      offset, interface.number)

    def _simple(self, btype: int, buf: bytes, body: int, stop: int, frame: int, offset: int) -> Record:
        """SPB: interface 0, no timestamp (ts_ns 0), caplen bounded by snaplen and the block."""
        origlen, = self._layout.spb.unpack_from(buf, body)
        interface = self._lookup(0, frame, offset)
        start = body + 4
        caplen = min(origlen, stop - start)
        if interface.snaplen:
            caplen = min(caplen, interface.snaplen)
        return Record(frame, interface.linktype, 0, caplen, origlen, buf[start:start + caplen],
                      offset, interface.number)
