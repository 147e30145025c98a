"""One extracted HTTP message body: the facts the report records, and the streaming writer
that decodes (gzip, zlib or raw deflate) and hashes it without holding it in memory.

A body that spans a hole keeps every captured byte at its offset, the hole zero-filled as in
the flow file. A compressed stream cannot be decoded across missing bytes: it is decoded up
to the hole, and the body as sent is kept beside it (a second file, `form` "as-sent")."""

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
    form: str = "as-sent"         # "decoded" (gzip/deflate undone) | "as-sent" (the bytes sent, de-chunked)
    holes: tuple[tuple[int, int], ...] = ()   # (flow-file offset, length) of the body never captured


RAW_SUFFIX = "-as-sent"          # the as-sent twin of a decoded body cut by a hole: NAME-as-sent


def _zlib_wbits(head: bytes) -> int:
    """'deflate' is meant to be zlib (RFC 9110) but is often sent raw (RFC 1951), which tcpflow drops."""
    if len(head) >= 2 and head[0] & 0x0F == 8 and (head[0] << 8 | head[1]) % 31 == 0:
        return zlib.MAX_WBITS
    return -zlib.MAX_WBITS


class _Plain:
    """A file written and hashed as it goes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fh = open(path, "wb")
        self.md5, self.sha256 = hashlib.md5(), hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        self.fh.write(data)
        self.md5.update(data)
        self.sha256.update(data)
        self.size += len(data)

    def close(self) -> tuple[int, str, str]:
        self.fh.close()
        return self.size, self.md5.hexdigest(), self.sha256.hexdigest()

    def discard(self) -> None:
        self.fh.close()
        os.unlink(self.path)


class BodyWriter:
    """Write one body, decoding as it goes; `close` returns (size, md5, sha256, decode problem).
    A decoded body also keeps its bytes as sent in `as_sent`, until `close` finds no hole in them."""

    def __init__(self, path: Path, encoding: str, decompress: bool) -> None:
        self.path = path
        self._out = _Plain(path)
        self._coding = encoding if decompress and encoding in ("gzip", "x-gzip", "deflate") else ""
        self._inflate: zlib._Decompress | None = None
        self._raw_in = 0
        self.problem = ""
        self.as_sent = _Plain(path.with_name(path.name + RAW_SUFFIX)) if self._coding else None
        self.hole_at: int | None = None     # where decoding stopped at a hole (bytes as sent)

    def write(self, data: bytes, hole: bool = False) -> None:
        """`hole`: these bytes were never captured (zeros); a decoder stops before them."""
        if self.as_sent is None:
            self._emit(data)
            return
        self.as_sent.write(data)
        if hole and self.hole_at is None:
            self.hole_at = self._raw_in
        if self.problem or self.hole_at is not None:
            return
        if self._inflate is None:
            wbits = 16 + zlib.MAX_WBITS if self._coding != "deflate" else _zlib_wbits(data)
            self._inflate = zlib.decompressobj(wbits)
        self._inflate_all(data)
        self._raw_in += len(data)

    def _inflate_all(self, data: bytes) -> None:
        assert self._inflate is not None
        out = self._out
        saved = (self._inflate.copy(), out.md5.copy(), out.sha256.copy(), out.size)
        try:
            self._inflate_steps(data)
        except zlib.error as exc:
            # zlib drops a failing call's output: rewind to the piece's start, replay it a byte at a time
            self._inflate, out.md5, out.sha256, out.size = saved
            out.fh.seek(out.size)
            out.fh.truncate()
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
            self._out.write(data)

    def close(self, whole: bool) -> tuple[int, str, str, str]:
        """`whole`: every encoded byte was there; an unfinished compressed stream is then a problem too.
        The as-sent copy stays only when decoding stopped at a hole."""
        inflate = self._inflate
        if self.as_sent is not None and self.hole_at is None:
            self.as_sent.discard()
            self.as_sent = None
        elif self.as_sent is not None:
            self.as_sent.close()
            self.problem = self.problem or (f"{self._coding} decoded up to the hole at byte {self.hole_at}"
                                            f" of the body as sent ({self.as_sent.path.name})")
        if inflate is not None and not self.problem:
            try:
                self._emit(inflate.flush())
            except zlib.error:
                pass
            if whole and not inflate.eof:
                self.problem = f"{self._coding} stream ends unfinished; kept what decoded"
        return (*self._out.close(), self.problem)

    def discard(self) -> None:
        self._out.discard()
        if self.as_sent is not None:
            self.as_sent.discard()
