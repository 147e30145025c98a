"""An input capture opened as evidence: read once, fingerprinted from the bytes read, watched for change.

The digests are taken from the very bytes the readers parse, so no second read
is needed and no later change can slip into them. Whether anything wrote the file
while it was read is decided from its identity and times before and after
(size, mtime, ctime, inode, device): a read-only open plus an unchanged ctime
show that nothing wrote it. A full second read (`--rehash-inputs`) is optional.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor

HASHES = ("md5", "sha256")
THREADED_MIN = 1 << 16        # hashlib releases the GIL on large updates: hash those beside the parser
BACKLOG = 16 << 20            # bytes queued for the hashing thread at most (RSS stays flat on long captures)
DRAIN_CHUNK = 4 << 20
STAT_FIELDS = ("size", "mtime_ns", "ctime_ns", "inode", "device")


class NotEvidence(OSError):
    """The path is not a regular file that can be read (a FIFO, socket, device or directory)."""


def identity(st: os.stat_result) -> tuple[int, int, int, int, int]:
    """What changes when anything writes or replaces a file, in STAT_FIELDS order."""
    return st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev


def _update(hashers: list, data: bytes) -> None:
    for h in hashers:
        h.update(data)


class Digests:
    """Running digests fed in stream order; large chunks are hashed in a thread beside the parser."""

    def __init__(self, names: tuple[str, ...] = HASHES) -> None:
        self._hashers = [hashlib.new(name) for name in names]
        self._pool: ThreadPoolExecutor | None = None
        self._queued: deque[tuple[Future, int]] = deque()
        self._backlog = 0

    def __bool__(self) -> bool:
        return bool(self._hashers)

    def update(self, data: bytes) -> None:
        if len(data) < THREADED_MIN:
            self._wait(0)
            _update(self._hashers, data)
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="ftf-evidence")
        self._queued.append((self._pool.submit(_update, self._hashers, data), len(data)))
        self._backlog += len(data)
        self._wait(BACKLOG)

    def _wait(self, backlog: int) -> None:
        """Until at most `backlog` bytes are queued (0: every update has been applied)."""
        while self._queued and self._backlog > backlog:
            future, size = self._queued.popleft()
            future.result()
            self._backlog -= size

    def hexdigests(self) -> dict[str, str]:
        self._wait(0)
        self.close()
        return {h.name: h.hexdigest() for h in self._hashers}

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None


def drain(source: io.RawIOBase, digests: Digests) -> dict[str, str]:
    """Read `source` to its end, every byte feeding `digests`; then the hex digests."""
    buffer = memoryview(bytearray(DRAIN_CHUNK))
    while source.readinto(buffer):
        pass
    return digests.hexdigests()


class EvidenceFile(io.RawIOBase):
    """A capture file opened read-only, non-blocking (a FIFO named like a capture cannot hang
    the run), refused unless it is a regular file. Every byte read the first time feeds the
    digests; bytes read again after a seek back are not hashed twice."""

    def __init__(self, path: str, hashes: tuple[str, ...] = HASHES) -> None:
        super().__init__()
        self.path = path
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise NotEvidence(0, "not a regular file (a FIFO, socket, device or folder cannot be evidence)")
            os.set_blocking(fd, True)
        except BaseException:
            os.close(fd)
            raise
        self.fd = fd
        self.before = identity(st)
        self.digests = Digests(hashes)
        self._pos = 0
        self._hashed = 0

    def readable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self.fd

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:      # type: ignore[override]
        n = os.readv(self.fd, [buffer])
        self._account(memoryview(buffer)[:n], copy=True)     # readers reuse their buffers
        return n

    def read(self, size: int = -1) -> bytes:
        """Up to `size` bytes as one immutable object, hashed without a copy."""
        if size < 0:
            return self.readall()
        data = os.read(self.fd, size)
        self._account(data, copy=False)
        return data

    def _account(self, data: bytes | memoryview, copy: bool) -> None:
        """Feed the digests what lies past everything hashed so far (seek() reads any gap first)."""
        end = self._pos + len(data)
        if end > self._hashed:
            if self.digests:
                fresh = data[self._hashed - self._pos:]
                self.digests.update(bytes(fresh) if copy or self._hashed > self._pos else fresh)
            self._hashed = end
        self._pos = end

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        target = os.lseek(self.fd, offset, whence)
        if target > self._hashed:               # skipped bytes still belong to the fingerprint
            self._pos = os.lseek(self.fd, self._hashed, io.SEEK_SET)
            buffer = bytearray(min(DRAIN_CHUNK, target - self._hashed))
            while self._pos < target and self.readinto(memoryview(buffer)[:target - self._pos]):
                pass
        self._pos = os.lseek(self.fd, target, io.SEEK_SET)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def finish(self) -> dict[str, str]:
        """Read what the readers left unread (a damaged tail, a decompressor's trailer), so the
        digests cover the whole file as `verify` will read it; then the hex digests."""
        self.seek(self._hashed)
        return drain(self, self.digests)

    def close(self) -> None:
        if not self.closed:
            self.digests.close()
            os.close(self.fd)
        super().close()


def rehash(path: str, hashes: tuple[str, ...] = HASHES) -> dict[str, str]:
    """A full second read (--rehash-inputs): the digests of the file as it is now."""
    with EvidenceFile(path, hashes) as f:
        return f.finish()


def changes(before: tuple[int, ...], after: tuple[int, ...]) -> list[str]:
    """What differs between two identities, worded for the examiner."""
    return [f"{name} {a} before, {b} after" for name, a, b in zip(STAT_FIELDS, before, after) if a != b]
