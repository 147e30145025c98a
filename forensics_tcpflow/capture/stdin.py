"""Standard input as a capture source (`-r -`): read as it arrives, fingerprinted from the bytes read.

A pipe cannot seek, yet the readers look at the first bytes twice (compression
magic, then format magic): the first bytes stay in memory until the stream
moves past them, so a seek back into them is served from there. Nothing can
be said about the input's identity after the run: it was a stream.
"""

from __future__ import annotations

import io
import os
import select
from typing import Callable

from .evidence import HASHES, Digests, drain

HEAD = 1 << 16          # bytes kept for the readers' second look at the start
IDLE_POLL_SECONDS = 0.1    # how often an idle stream asks whether the run was told to stop
STDIN_PATH = "-"
STDIN_LABEL = "(standard input)"


class StdinSource(io.RawIOBase):
    """The bytes of file descriptor `fd` (standard input), read once; seeks only back into the head."""

    path = STDIN_PATH
    before: tuple[int, ...] = ()        # no identity: a stream is not a file to compare after the run

    def __init__(self, fd: int = 0, hashes: tuple[str, ...] = HASHES,
                 stop: Callable[[], bool] = lambda: False) -> None:
        super().__init__()
        self.fd = fd
        self.stop = stop       # asked while the stream is idle: a signal must not wait for the writer
        self.digests = Digests(hashes)
        self.head = bytearray()
        self.size = 0          # bytes read from the stream
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True            # within the head only; see seek()

    def fileno(self) -> int:
        return self.fd

    def readinto(self, buffer) -> int:      # type: ignore[override]
        view = memoryview(buffer).cast("B")
        if self._pos < len(self.head):
            n = min(len(view), len(self.head) - self._pos)
            view[:n] = self.head[self._pos:self._pos + n]
            self._pos += n
            return n
        while not self.stop():     # once told to stop, the stream ends here for this run (it was interrupted)
            if select.select([self.fd], [], [], IDLE_POLL_SECONDS)[0]:
                break
        else:
            return 0
        n = os.readv(self.fd, [view])
        data = bytes(view[:n])
        if self.size == len(self.head) and self.size + n <= HEAD:
            self.head += data
        self.digests.update(data)
        self.size += n
        self._pos += n
        return n

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        target = {io.SEEK_SET: offset, io.SEEK_CUR: self._pos + offset}.get(whence)
        if target != self._pos:
            if target is None or not 0 <= target <= len(self.head) or self.size != len(self.head):
                raise io.UnsupportedOperation("standard input is read as a stream: it cannot seek")
            self._pos = target
        return self._pos

    def tell(self) -> int:
        return self._pos

    def finish(self) -> dict[str, str]:
        """Read the rest of the stream, so the digests cover everything that was sent."""
        self._pos = max(self._pos, len(self.head))
        return drain(self, self.digests)

    def close(self) -> None:
        self.digests.close()      # the descriptor is the process's standard input: it stays open
        super().close()
