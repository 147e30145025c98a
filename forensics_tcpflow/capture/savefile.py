"""--save-capture: every packet read, kept as pcapng beside the flows, rotated by size and hashed.

A live capture leaves no evidence file of its own; this one is written once,
as the packets arrive, and its digests are taken from the bytes written, so the
report can vouch for it. Rotated files are named as tcpdump -C names them:
FILE, FILE1, FILE2, ...
"""

from __future__ import annotations

import hashlib
import os
import struct
from collections.abc import Iterable, Iterator

from ..provenance import SavedFile
from .record import Record

SHB, IDB, EPB = 0x0A0D0D0A, 0x00000001, 0x00000006
BYTE_ORDER_MAGIC = 0x1A2B3C4D
OPT_END, IF_NAME = 0, 2
US = 1000                     # the default if_tsresol: microseconds


def _block(kind: int, body: bytes) -> bytes:
    """A pcapng block: type, total length, body padded to 32 bits, total length again."""
    body += b"\0" * (-len(body) % 4)
    length = len(body) + 12
    return struct.pack("<II", kind, length) + body + struct.pack("<I", length)


def _option(code: int, value: bytes) -> bytes:
    return struct.pack("<HH", code, len(value)) + value + b"\0" * (-len(value) % 4)


def section_header(linktype: int, snaplen: int, interface: str) -> bytes:
    """The section header and the one interface description every file of the set starts with."""
    shb = _block(SHB, struct.pack("<IHHq", BYTE_ORDER_MAGIC, 1, 0, -1))
    options = _option(IF_NAME, interface.encode()) + _option(OPT_END, b"")
    return shb + _block(IDB, struct.pack("<HHI", linktype, 0, snaplen) + options)


def packet_block(record: Record) -> bytes:
    ts = record.ts_ns // US
    return _block(EPB, struct.pack("<IIIII", 0, ts >> 32, ts & 0xFFFFFFFF, record.caplen, record.origlen)
                  + record.data)


class CaptureSaver:
    """Writes the records it passes on (tee) into FILE, FILE1, ... of at most `limit` bytes each
    (0: one file); each file holds at least one packet, so an oversized packet still gets saved."""

    def __init__(self, path: str, limit: int, linktype: int, snaplen: int, interface: str) -> None:
        self.path, self.limit = path, limit
        self._header = section_header(linktype, snaplen, interface)
        self.files: list[SavedFile] = []
        self._fd = -1
        self._open(path)

    def _open(self, name: str) -> None:
        self._fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        self._name, self._size, self._packets = name, 0, 0
        self._md5, self._sha256 = hashlib.md5(), hashlib.sha256()
        self._write(self._header)

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view):]
        self._md5.update(data)
        self._sha256.update(data)
        self._size += len(data)

    def _finish(self) -> None:
        os.close(self._fd)
        self._fd = -1
        self.files.append(SavedFile(self._name, self._size, self._packets, self._md5.hexdigest(),
                                    self._sha256.hexdigest()))

    def write(self, record: Record) -> None:
        block = packet_block(record)
        if self.limit and self._packets and self._size + len(block) > self.limit:
            self._finish()
            self._open(f"{self.path}{len(self.files)}")
        self._write(block)
        self._packets += 1

    def tee(self, records: Iterable[Record]) -> Iterator[Record]:
        for record in records:
            self.write(record)
            yield record

    def close(self) -> None:
        if self._fd >= 0:
            self._finish()
