"""The file-system sink: flow files under an output directory.

Hashes are computed while bytes arrive in order, so a file is never re-read
unless a rewrite (an overlap kept as "last", or a mid-stream prefix) made the
running digest stale. Open descriptors are an LRU bounded by `-f`, so hundreds
of thousands of concurrent flows never exhaust them; a file's write buffer
lives only while its descriptor is open.
"""

from __future__ import annotations

import hashlib
import os
from collections import OrderedDict, deque
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

BUFFER_LIMIT = 64 * 1024
BUFFER_BUDGET = 32 * 1024 * 1024   # all flows' write buffers together
HASH_BACKLOG = 8 * 1024 * 1024    # bytes queued for the hashing thread at most
THREADED_HASH_MIN = 8192           # hashlib releases the GIL for chunks this large: hash beside the parser
_ZEROS = bytes(BUFFER_LIMIT)
_OPEN_FLAGS = os.O_RDWR | os.O_CREAT | getattr(os, "O_BINARY", 0)


def _update(hashers: list, data: bytes) -> None:
    for h in hashers:
        h.update(data)


class SinkError(OSError):
    """A flow file could not be written (disk full, permissions)."""


class DiskFlowFile:
    """A flow file with an append buffer and running digests."""

    __slots__ = ("sink", "path", "fd", "buffer", "buffered", "flushed", "size",
                 "hashers", "hashed", "stale", "keep", "hashing")

    def __init__(self, sink: "FileSink", path: str, hash_names: tuple[str, ...], keep: bool) -> None:
        self.sink = sink
        self.path = path
        self.fd = -1
        self.buffer: list[bytes] = []
        self.buffered = 0
        self.flushed = 0        # bytes on disk (the buffer continues from here)
        self.size = 0           # logical size, buffer included
        self.hashers = [hashlib.new(n) for n in hash_names]
        self.hashed = 0         # digests cover [0, hashed) while not stale
        self.stale = False
        self.keep = keep
        self.hashing: Future | None = None   # the last digest update handed to the hashing thread

    # -- writing ---------------------------------------------------------
    def write(self, offset: int, data: bytes) -> None:
        if offset >= self.size:
            if offset > self.size:
                self._append_zeros(offset - self.size)
            self._append(data)
            return
        self.stale = True
        self._flush()
        self._pwrite(offset, data)
        self.size = max(self.size, offset + len(data))
        self.flushed = self.size

    def _append(self, data: bytes) -> None:
        if isinstance(data, memoryview):
            data = data.tobytes()     # a view would keep the caller's whole window alive while queued
        if not self.buffered and len(data) >= BUFFER_LIMIT:
            self._hash(data)
            self._pwrite(self.flushed, data)      # large in-order run: no copy into the buffer
            self.flushed += len(data)
            self.size += len(data)
            return
        if not self.buffered:
            self.sink._buffering(self)
        self.buffer.append(data)
        self.buffered += len(data)
        self.sink.buffered_total += len(data)
        self.size += len(data)
        if self.buffered >= BUFFER_LIMIT:
            self._flush()
        elif self.sink.buffered_total > self.sink.buffer_budget:
            self.sink._spill()

    def _hash(self, data: bytes) -> None:
        """Digest bytes that continue the file in order, as they leave the buffer: chunks are
        then large enough to hash in the sink's thread, beside the parser."""
        if self.stale:
            return
        if self.hashing is not None and self.hashing.done():
            self.hashing = None
        if self.hashing is not None or len(data) >= THREADED_HASH_MIN:
            self.hashing = self.sink.hash_later(self.hashers, data)
        else:
            _update(self.hashers, data)
        self.hashed += len(data)

    def _append_zeros(self, count: int) -> None:
        while count:
            n = min(count, BUFFER_LIMIT)
            self._append(_ZEROS[:n])
            count -= n

    def prepend(self, count: int) -> None:
        """Shift the stream right by `count` zero bytes (data found before the first byte seen)."""
        self._flush()
        body = self.read(0, self.size)
        self._pwrite(0, bytes(count) + body)
        self.size += count
        self.flushed = self.size
        self.stale = True

    def read(self, offset: int, length: int) -> bytes:
        """Bytes from the file and its buffer (the buffer continues the file at `flushed`):
        comparing a retransmission with what is stored must not flush a small write each time."""
        end = min(offset + length, self.size)
        if offset >= end:
            return b""
        head = os.pread(self._fd(), min(end, self.flushed) - offset, offset) if offset < self.flushed else b""
        if end <= self.flushed:
            return head
        if len(self.buffer) > 1:
            self.buffer[:] = [b"".join(self.buffer)]
        return head + self.buffer[0][max(offset, self.flushed) - self.flushed:end - self.flushed]

    # -- descriptors -----------------------------------------------------
    def _fd(self) -> int:
        if self.fd < 0:
            self.fd = self.sink._open(self)
        else:
            self.sink._touch(self)
        return self.fd

    def _pwrite(self, offset: int, data: bytes, fd: int = -1) -> None:
        if fd < 0:
            fd = self._fd()
        view = memoryview(data)
        try:
            while view:
                n = os.pwrite(fd, view, offset)
                view = view[n:]
                offset += n
        except OSError as exc:
            raise SinkError(exc.errno, f"cannot write {self.path}: {exc.strerror}") from exc

    def _flush(self, fd: int = -1) -> None:
        if self.buffer:
            data = b"".join(self.buffer) if len(self.buffer) > 1 else self.buffer[0]
            self.buffer.clear()
            self.sink._unbuffering(self)
            self._hash(data)
            self._pwrite(self.flushed, data, fd)
            self.flushed += len(data)

    def evict(self) -> None:
        """Called by the LRU, which already dropped us: write out the buffer, give the descriptor back."""
        self._flush(self.fd)
        os.close(self.fd)
        self.fd = -1

    # -- closing ---------------------------------------------------------
    def close(self, mtime_ns: int) -> tuple[int, dict[str, str]]:
        self._flush()
        if self.hashing is not None:
            self.hashing.result()          # digests are updated in order by one thread
            self.hashing = None
        if self.stale or self.hashed != self.size:
            self.hashers = [hashlib.new(h.name) for h in self.hashers]
            pos = 0
            while pos < self.size:
                chunk = self.read(pos, 1 << 20)
                _update(self.hashers, chunk)
                pos += len(chunk)
        if self.fd >= 0:
            self.sink._release(self)
        digests = {h.name: h.hexdigest() for h in self.hashers}
        if self.keep:
            os.utime(self.path, ns=(mtime_ns, mtime_ns))
        else:
            os.unlink(self.path)
        return self.size, digests


class FileSink:
    """Flow files under `root`; `keep=False` is tcpflow's -FX (report only)."""

    per_packet = False

    def __init__(self, root: Path, hash_names: tuple[str, ...], max_fds: int = 1000,
                 keep: bool = True) -> None:
        self.root = str(root)
        self.made_dirs: set[str] = set()
        self.hash_names = tuple(hash_names)
        self.max_fds = max(1, max_fds)
        self.keep = keep
        self.lru: OrderedDict[int, DiskFlowFile] = OrderedDict()
        self.with_buffer: OrderedDict[int, DiskFlowFile] = OrderedDict()
        self.buffered_total = 0
        self.buffer_budget = BUFFER_BUDGET
        self.hash_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ftf-hash")
        self.hash_queue: deque[tuple[Future, int]] = deque()
        self.hash_backlog = 0

    def create(self, name: str) -> DiskFlowFile | None:
        """The directory itself remembers the names in use, as tcpflow's does: no set grows with the
        flows, and O_EXCL both checks and reserves a name in one step."""
        path = os.path.join(self.root, name)
        folder = os.path.dirname(path)
        if folder not in self.made_dirs:
            os.makedirs(folder, exist_ok=True)
            self.made_dirs.add(folder)
        f = DiskFlowFile(self, path, self.hash_names, self.keep)
        try:
            f.fd = self._open(f, os.O_EXCL)
        except FileExistsError:
            return None
        return f

    def _open(self, f: DiskFlowFile, extra_flags: int = 0) -> int:
        while len(self.lru) >= self.max_fds:
            _, oldest = self.lru.popitem(last=False)
            oldest.evict()
        try:
            fd = os.open(f.path, _OPEN_FLAGS | extra_flags, 0o644)
        except FileExistsError:
            raise          # only O_EXCL meets it: create() takes it as "name in use"
        except OSError as exc:
            raise SinkError(exc.errno, f"cannot open {f.path}: {exc.strerror}") from exc
        self.lru[id(f)] = f
        return fd

    def hash_later(self, hashers: list, data: bytes) -> Future:
        """Queue a digest update; a backlog past HASH_BACKLOG bytes waits, so queued data cannot pile up."""
        future = self.hash_thread.submit(_update, hashers, data)
        self.hash_queue.append((future, len(data)))
        self.hash_backlog += len(data)
        while self.hash_backlog > HASH_BACKLOG:
            done, size = self.hash_queue.popleft()
            done.result()
            self.hash_backlog -= size
        return future

    def _buffering(self, f: DiskFlowFile) -> None:
        self.with_buffer[id(f)] = f

    def _unbuffering(self, f: DiskFlowFile) -> None:
        self.buffered_total -= f.buffered
        f.buffered = 0
        del self.with_buffer[id(f)]

    def _spill(self) -> None:
        """Flush the longest-waiting buffers until the budget holds again."""
        while self.buffered_total > self.buffer_budget // 2 and self.with_buffer:
            next(iter(self.with_buffer.values()))._flush()

    def _touch(self, f: DiskFlowFile) -> None:
        self.lru.move_to_end(id(f))

    def _release(self, f: DiskFlowFile) -> None:
        del self.lru[id(f)]
        os.close(f.fd)
        f.fd = -1

    def close(self) -> None:
        for f in list(self.with_buffer.values()):
            f._flush()
        for f in list(self.lru.values()):
            f.evict()
        self.lru.clear()
        self.hash_thread.shutdown(wait=True)
