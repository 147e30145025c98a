"""One extracted HTTP message body: the facts the report records, and the streaming writer
that decodes (gzip, zlib or raw deflate) and hashes it without holding it in memory."""

from __future__ import annotations

import hashlib
import os
import zlib
from dataclasses import dataclass
from pathlib import Path

OUT_CHUNK = 1 << 20      # decompressed bytes produced per step (a zip bomb stays bounded)


@dataclass(slots=True)
class BodyRecord:
    """Where a body lies in its flow file, where it was written, and what the exchange said."""

    filename: str                 # relative to OUT; "" for a message without a body (it keeps its number)
    filesize: int
    md5: str
    sha256: str
    kind: str                     # "response" | "request"
    index: int                    # the message's number in its connection, from 1
    file_offset: int              # first body byte in the flow file
    length: int                   # body bytes in the flow file (as sent: chunk framing, compression)
    method: str
    host: str
    uri: str
    status: int | None            # responses only
    content_type: str
    content_encoding: str
    complete: bool
    note: str = ""                # why it is incomplete or not decoded


def _zlib_wbits(head: bytes) -> int:
    """'deflate' is meant to be zlib (RFC 9110) but is often sent raw (RFC 1951), which tcpflow drops."""
    if len(head) >= 2 and head[0] & 0x0F == 8 and (head[0] << 8 | head[1]) % 31 == 0:
        return zlib.MAX_WBITS
    return -zlib.MAX_WBITS


class BodyWriter:
    """Write one body, decoding as it goes; `close` returns (size, md5, sha256, decode problem)."""

    def __init__(self, path: Path, encoding: str, decompress: bool) -> None:
        self.path = path
        self._fh = open(path, "wb")
        self._md5, self._sha256 = hashlib.md5(), hashlib.sha256()
        self._size = 0
        self._coding = encoding if decompress and encoding in ("gzip", "x-gzip", "deflate") else ""
        self._inflate: zlib._Decompress | None = None
        self._raw_in = 0
        self.problem = ""

    def write(self, data: bytes) -> None:
        if not self._coding:
            self._emit(data)
            return
        if self.problem:
            return
        if self._inflate is None:
            wbits = 16 + zlib.MAX_WBITS if self._coding != "deflate" else _zlib_wbits(data)
            self._inflate = zlib.decompressobj(wbits)
        self._inflate_all(data)
        self._raw_in += len(data)

    def _inflate_all(self, data: bytes) -> None:
        assert self._inflate is not None
        saved = (self._inflate.copy(), self._md5.copy(), self._sha256.copy(), self._size)
        try:
            self._inflate_steps(data)
        except zlib.error as exc:
            # zlib drops a failing call's output: rewind to the piece's start, replay it a byte at a time
            self._inflate, self._md5, self._sha256, self._size = saved
            self._fh.seek(self._size)
            self._fh.truncate()
            try:
                for index in range(len(data)):
                    self._inflate_steps(data[index:index + 1])
            except zlib.error:
                pass
            self.problem = f"corrupt {self._coding} stream after {self._raw_in} encoded bytes ({exc}); kept what decoded"

    def _inflate_steps(self, data: bytes) -> None:
        inflate = self._inflate
        assert inflate is not None
        while data:
            out = inflate.decompress(data, OUT_CHUNK)
            self._emit(out)
            data = inflate.unconsumed_tail
            if inflate.eof:
                rest = inflate.unused_data
                if rest.strip(b"\0\r\n") and self._coding != "deflate":   # another gzip member
                    self._inflate = inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
                    data = rest + data
                else:
                    return

    def _emit(self, data: bytes) -> None:
        if data:
            self._fh.write(data)
            self._md5.update(data)
            self._sha256.update(data)
            self._size += len(data)

    def close(self, whole: bool) -> tuple[int, str, str, str]:
        """`whole`: every encoded byte was there; an unfinished compressed stream is then a problem too."""
        inflate = self._inflate
        if inflate is not None and not self.problem:
            try:
                self._emit(inflate.flush())
            except zlib.error:
                pass
            if whole and not inflate.eof:
                self.problem = f"{self._coding} stream ends unfinished; kept what decoded"
        self._fh.close()
        return self._size, self._md5.hexdigest(), self._sha256.hexdigest(), self.problem

    def discard(self) -> None:
        self._fh.close()
        os.unlink(self.path)
