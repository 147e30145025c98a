"""A sliding window of contiguous bytes over a (decompressed) capture stream.

Readers parse records straight out of `buf` with `Struct.unpack_from`, and only
call `refill` when a record runs past its end, so the per-packet cost is one
unpack and one slice. `read1` hands over whatever a decompressor has produced
before it meets damage, so every complete record before a cut is still read.
"""

from __future__ import annotations

from typing import BinaryIO

from .compression import STREAM_ERRORS
from .record import CaptureError

CHUNK = 1 << 20


class ByteWindow:
    """`buf` holds the stream bytes starting at stream offset `base`."""

    __slots__ = ("buf", "base", "_stream", "_path", "_label")

    def __init__(self, stream: BinaryIO, path: str, label: str) -> None:
        self.buf = b""
        self.base = 0
        self._stream = stream
        self._path = path
        self._label = label or "file"

    def refill(self, pos: int, need: int, frame: int | None = None) -> tuple[bytes, int]:
        """Drop `buf[:pos]` and read until `need` bytes follow it or the stream ends.

        Returns the new `(buf, pos)`; fewer than `need` bytes after `pos` means
        end of stream. A stream that cannot be read on raises CaptureError.
        """
        rest = self.buf[pos:]
        parts = [rest]
        have = len(rest)
        while have < need:
            try:
                chunk = self._stream.read1(max(CHUNK, need - have))
            except STREAM_ERRORS as exc:
                raise CaptureError(self._path, f"{self._label} stream unreadable: {exc}",
                                   frame=frame, offset=self.base + pos + have) from exc
            if not chunk:
                break
            parts.append(chunk)
            have += len(chunk)
        self.base += pos
        self.buf = b"".join(parts) if len(parts) > 1 else rest
        return self.buf, 0
