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

from ..errors import OutputError

BUFFER_LIMIT = 64 * 1024
DIRECT_WRITE = 16 * 1024           # an append this large (the kernel hands over 32 KiB) skips the buffer
HASH_BATCH = 1 << 20               # digest updates handed to the hashing thread together
BUFFER_BUDGET = 32 * 1024 * 1024   # all flows' write buffers together
HASH_BACKLOG = 8 * 1024 * 1024    # bytes queued for the hashing thread at most
THREADED_HASH_MIN = 8192           # hashlib releases the GIL for chunks this large: hash beside the parser
_ZEROS = bytes(BUFFER_LIMIT)
_OPEN_FLAGS = os.O_RDWR | os.O_CREAT | getattr(os, "O_BINARY", 0)


def _update(hashers: list, data: bytes) -> None:
    for h in hashers:
        h.update(data)


class HashBatch:
    """Digest updates for the hashing thread, handed over together: one wake-up (and one GIL
    hand-over) per megabyte instead of one per flush."""

    __slots__ = ("updates", "size", "future")

    def __init__(self) -> None:
        self.updates: list[tuple[list, bytes]] = []
        self.size = 0
        self.future: Future | None = None

    def run(self) -> None:
        for hashers, data in self.updates:
            _update(hashers, data)


class SinkError(OutputError, OSError):
    """A flow file could not be written (disk full, permissions)."""


class DiskFlowFile:
    """A flow file with an append buffer and running digests."""

    __slots__ = ("sink", "budget", "path", "fd", "buffer", "buffered", "flushed", "size",
                 "hashers", "hashed", "stale", "keep", "hashing")

    def __init__(self, sink: "FileSink", path: str, hash_names: tuple[str, ...], keep: bool) -> None:
        self.sink = sink                # its descriptors and hashing thread
        self.budget = sink.budget
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
        self.hashing: HashBatch | None = None   # the batch holding this file's last digest update

    # -- writing ---------------------------------------------------------
    def write(self, offset: int, data: bytes) -> None:
        if offset >= self.size:
            if offset > self.size:
                self._append_zeros(offset - self.size)
            self.append(data.tobytes() if isinstance(data, memoryview) else data)   # a view would pin its buffer
            return
        self.stale = True
        self.flush()
        self._pwrite(offset, data)
        self.size = max(self.size, offset + len(data))
        self.flushed = self.size

    def append(self, data: bytes) -> None:
        """Bytes that continue the file: the hot path, one call per in-order segment."""
        n = len(data)
        budget = self.budget
        if not self.buffered:
            if n >= DIRECT_WRITE:
                self._hash(data)
                self._pwrite(self.flushed, data)      # large in-order run: no copy into the buffer
                self.flushed += n
                self.size += n
                return
            budget.track(self)
        self.buffer.append(data)
        self.buffered += n
        self.size += n
        budget.total += n
        if self.buffered >= BUFFER_LIMIT:
            self.flush()
        elif budget.total > budget.limit:
            budget.spill()

    def _hash(self, data: bytes) -> None:
        """Digest bytes that continue the file in order, as they leave the buffer: chunks are
        then large enough to hash in the sink's thread, beside the parser."""
        if self.stale:
            return
        if self.hashing is not None and self.hashing.future is not None and self.hashing.future.done():
            self.hashing = None
        if self.hashing is not None or len(data) >= THREADED_HASH_MIN:
            self.hashing = self.sink.hash_later(self.hashers, data)
        else:
            _update(self.hashers, data)
        self.hashed += len(data)

    def _append_zeros(self, count: int) -> None:
        while count:
            n = min(count, BUFFER_LIMIT)
            self.append(_ZEROS[:n])
            count -= n

    def prepend(self, count: int) -> None:
        """Shift the stream right by `count` zero bytes (data found before the first byte seen)."""
        self.flush()
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
            self.fd = self.sink.descriptors.open(self)
        else:
            self.sink.descriptors.touch(self)
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

    def flush(self, fd: int = -1) -> None:
        """Write out the buffer (to `fd` when the caller already holds the descriptor)."""
        if self.buffer:
            data = b"".join(self.buffer) if len(self.buffer) > 1 else self.buffer[0]
            self.buffer.clear()
            self.sink.budget.remove(self, self.buffered)
            self.buffered = 0
            self._hash(data)
            self._pwrite(self.flushed, data, fd)
            self.flushed += len(data)

    def evict(self) -> None:
        """Called by the LRU, which already dropped us: write out the buffer, give the descriptor back."""
        self.flush(self.fd)
        os.close(self.fd)
        self.fd = -1

    # -- closing ---------------------------------------------------------
    def close(self, mtime_ns: int) -> tuple[int, dict[str, str]]:
        self.flush()
        if self.hashing is not None:
            self.sink.settle(self.hashing)     # digests are updated in order by one thread
            self.hashing = None
        if self.stale or self.hashed != self.size:
            self.hashers = [hashlib.new(h.name) for h in self.hashers]
            pos = 0
            while pos < self.size:
                chunk = self.read(pos, 1 << 20)
                _update(self.hashers, chunk)
                pos += len(chunk)
        if self.fd >= 0:
            self.sink.descriptors.close(self)
        digests = {h.name: h.hexdigest() for h in self.hashers}
        if self.keep:
            os.utime(self.path, ns=(mtime_ns, mtime_ns))
        else:
            os.unlink(self.path)
        return self.size, digests


class Descriptors:
    """The open descriptors of every flow file: an LRU of at most `limit` (-f), so hundreds of
    thousands of concurrent flows never exhaust them."""

    def __init__(self, limit: int) -> None:
        self.limit = max(1, limit)
        self.lru: OrderedDict[int, DiskFlowFile] = OrderedDict()

    def open(self, f: DiskFlowFile, extra_flags: int = 0) -> int:
        while len(self.lru) >= self.limit:
            _, oldest = self.lru.popitem(last=False)
            oldest.evict()
        try:
            fd = os.open(f.path, _OPEN_FLAGS | extra_flags, 0o644)
        except FileExistsError:
            raise          # only O_EXCL meets it: the sink takes it as "name in use"
        except OSError as exc:
            raise SinkError(exc.errno, f"cannot open {f.path}: {exc.strerror}") from exc
        self.lru[id(f)] = f
        return fd

    def touch(self, f: DiskFlowFile) -> None:
        self.lru.move_to_end(id(f))

    def close(self, f: DiskFlowFile) -> None:
        del self.lru[id(f)]
        os.close(f.fd)
        f.fd = -1

    def close_all(self) -> None:
        for f in list(self.lru.values()):
            f.evict()
        self.lru.clear()


class BufferBudget:
    """All flows' write buffers together stay under `limit`: past it, the longest-waiting are written out."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.total = 0
        self.waiting: OrderedDict[int, DiskFlowFile] = OrderedDict()   # files with a buffer, oldest first

    def track(self, f: DiskFlowFile) -> None:
        """`f` starts a buffer (the file adds its bytes to `total` itself: that is per segment)."""
        self.waiting[id(f)] = f

    def remove(self, f: DiskFlowFile, count: int) -> None:
        """`f` wrote out its buffer of `count` bytes."""
        self.total -= count
        del self.waiting[id(f)]

    def spill(self) -> None:
        """Write out the longest-waiting buffers until half the budget is free."""
        while self.total > self.limit // 2 and self.waiting:
            next(iter(self.waiting.values())).flush()

    def flush_all(self) -> None:
        for f in list(self.waiting.values()):
            f.flush()


class FileSink:
    """Flow files under `root`; `keep=False` is tcpflow's -FX (report only)."""

    per_packet = False

    def __init__(self, root: Path, hash_names: tuple[str, ...], max_fds: int = 1000,
                 keep: bool = True) -> None:
        self.root = str(root)
        self.made_dirs: set[str] = set()
        self.hash_names = tuple(hash_names)
        self.keep = keep
        self.descriptors = Descriptors(max_fds)
        self.budget = BufferBudget(BUFFER_BUDGET)
        self.hash_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ftf-hash")
        self.hash_queue: deque[tuple[Future, int]] = deque()
        self.hash_backlog = 0
        self.batch = HashBatch()

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
            f.fd = self.descriptors.open(f, os.O_EXCL)
        except FileExistsError:
            return None
        return f

    def hash_later(self, hashers: list, data: bytes) -> HashBatch:
        """Queue a digest update; a backlog past HASH_BACKLOG bytes waits, so queued data cannot pile up."""
        batch = self.batch
        batch.updates.append((hashers, data))
        batch.size += len(data)
        if batch.size >= HASH_BATCH:
            self._submit()
        return batch

    def _submit(self) -> None:
        batch, self.batch = self.batch, HashBatch()
        batch.future = self.hash_thread.submit(batch.run)
        self.hash_queue.append((batch.future, batch.size))
        self.hash_backlog += batch.size
        while self.hash_backlog > HASH_BACKLOG:
            done, size = self.hash_queue.popleft()
            done.result()
            self.hash_backlog -= size

    def settle(self, batch: HashBatch) -> None:
        """Wait until `batch` (and every update before it) is applied."""
        if batch.future is None:
            self._submit()
        assert batch.future is not None
        batch.future.result()

    def close(self) -> None:
        self.budget.flush_all()
        self.descriptors.close_all()
        if self.batch.updates:
            self._submit()
        self.hash_thread.shutdown(wait=True)
