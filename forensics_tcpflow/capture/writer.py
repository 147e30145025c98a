"""A classic pcap writer (microsecond timestamps, little-endian), as libpcap's pcap_dump writes.

Shared by -w (packets not processed) and anything else that saves packets.
The header's link type is that of the first packet written.
"""

from __future__ import annotations

import struct
from typing import BinaryIO

from ..options import NS
from .record import Record

MAGIC_USEC = 0xA1B2C3D4
SNAPLEN = 262144               # libpcap's MAXIMUM_SNAPLEN, what tcpflow's -w file says
LINKTYPE_ETHERNET = 1
_HEADER = struct.Struct("<IHHiIII")
_RECORD = struct.Struct("<IIII")
USEC = NS // 1_000_000


def file_header(linktype: int) -> bytes:
    return _HEADER.pack(MAGIC_USEC, 2, 4, 0, 0, SNAPLEN, linktype)


def record_bytes(record: Record) -> bytes:
    return _RECORD.pack(record.ts_ns // NS, record.ts_ns % NS // USEC, len(record.data), record.origlen) + record.data


class PcapWriter:
    """Records appended to a pcap file opened by the caller."""

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.packets = 0
        self._started = False

    def _start(self, linktype: int) -> None:
        self.out.write(file_header(linktype))
        self._started = True

    def write(self, record: Record) -> None:
        if not self._started:
            self._start(record.linktype)
        self.out.write(record_bytes(record))
        self.packets += 1

    def close(self) -> None:
        """An empty capture still gets its header, as tcpflow's does. Closing again does nothing."""
        if self.out.closed:
            return
        if not self._started:
            self._start(LINKTYPE_ETHERNET)
        self.out.close()
