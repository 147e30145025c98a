"""One direction of a TCP connection: sequence numbers to file offsets.

Offsets are 64-bit stream positions derived with signed 32-bit sequence
arithmetic against the next expected byte, so wrap-around is invisible.
Bytes are written once they are contiguous; out-of-order data waits in
`pending` (disjoint chunks) until the hole before it fills or the direction
closes, when the hole is left as zeros at its true offset and recorded.
Every conflicting overlap is recorded with the copy kept; every hole and
snaplen-truncated range is recorded, so a gap is never mistaken for zeros.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from typing import Callable

from ..sink import FlowFile

HOLE = "hole"
TRUNCATED = "truncated"


def signed32(x: int) -> int:
    return ((x + 0x80000000) & 0xFFFFFFFF) - 0x80000000


class Direction:
    """Reassembly state for one direction; knows nothing of names or reports."""

    __slots__ = ("policy", "open_file", "max_bytes", "max_shift", "file", "isn_known", "next_seq",
                 "frontier", "pending", "pending_starts", "pending_bytes", "gaps",
                 "overlaps", "fin_seq", "stream_end", "out_of_order", "violations",
                 "syn_seen")

    def __init__(self, policy: str, open_file: Callable[[], FlowFile],
                 max_bytes: int | None, max_shift: int = 16 * 1024 * 1024) -> None:
        self.policy = policy
        self.open_file = open_file            # called on the first byte to store
        self.max_bytes = max_bytes
        self.max_shift = max_shift            # how far before the first byte seen a stream may start (-m)
        self.file: FlowFile | None = None
        self.isn_known = False
        self.next_seq = 0                     # sequence number of `frontier`
        self.frontier = 0                     # every offset below is written or a recorded gap
        self.pending: dict[int, bytes] = {}
        self.pending_starts: list[int] = []
        self.pending_bytes = 0
        self.gaps: list[list] = []            # [start, end, kind], sorted, disjoint
        self.overlaps: list[tuple[int, int, str]] = []
        self.fin_seq: int | None = None        # absolute: the FIN may come before the start is known
        self.stream_end = 0                   # highest offset + 1 that any data reached
        self.out_of_order = 0
        self.violations = 0
        self.syn_seen = False

    # -- sequence space --------------------------------------------------
    def syn(self, seq: int) -> None:
        """A SYN fixes the stream origin: its first data byte is seq + 1.

        A SYN that arrives after data (a reordered capture) moves the origin
        back; bytes between it and the first data seen become a recorded hole.
        """
        if not self.isn_known:
            self.isn_known = True
            self.next_seq = (seq + 1) & 0xFFFFFFFF
        elif not self.syn_seen:
            off = self.offset(seq + 1)
            if off < 0:
                self._shift(-off)
        self.syn_seen = True

    def offset(self, seq: int) -> int:
        return self.frontier + signed32(seq - self.next_seq)

    def distance(self, seq: int) -> int:
        """How far beyond everything seen so far a segment lands (for -m)."""
        if not self.isn_known:
            return 0
        return self.offset(seq) - max(self.frontier, self.stream_end)

    # -- data ------------------------------------------------------------
    def add(self, seq: int, payload: bytes, missing: int = 0) -> int | None:
        """Place a segment's bytes; `missing` bytes after them were cut by the snaplen.
        Returns the offset the segment starts at, None when it lies before the stream's start."""
        if not self.isn_known:
            self.isn_known = True
            self.next_seq = seq
        off = self.offset(seq)
        placed: int | None = max(off, 0)
        if off < 0:
            if self.syn_seen or -off > self.max_shift:
                # data before the SYN's sequence number, or too far back to be this stream's start
                self.violations += 1
                placed = None
                cut = -off
                if cut >= len(payload) + missing:
                    return placed
                payload, missing = payload[cut:], missing - max(0, cut - len(payload))
                off = 0
            else:
                self._shift(-off)        # mid-stream: the stream really starts earlier
                off = 0
        end = off + len(payload)
        if off != self.frontier:
            self.out_of_order += 1
        if missing > 0:
            self._note_truncated(end, end + missing)
        self.stream_end = max(self.stream_end, end + max(missing, 0))
        if payload:
            if off < self.frontier:
                payload, off = self._overlap_written(off, payload)
            if payload:
                self._insert(off, payload)
        self._drain()
        return placed

    def append(self, data: bytes) -> None:
        """In-order bytes at the frontier, nothing pending, the file open, no -b limit (see
        FlowTable.admit): `add` without the judgement, for the kernel."""
        n = len(data)
        self.file.write(self.frontier, data)      # the file may end before the frontier (a hole, a cut)
        self.frontier += n
        if self.frontier > self.stream_end:
            self.stream_end = self.frontier
        self.next_seq = (self.next_seq + n) & 0xFFFFFFFF

    def fin(self, seq: int, payload_len: int) -> None:
        self.fin_seq = (seq + payload_len) & 0xFFFFFFFF

    @property
    def fin_offset(self) -> int | None:
        if self.fin_seq is None or not self.isn_known:
            return None
        return self.offset(self.fin_seq)

    @property
    def finished(self) -> bool:
        """All bytes up to the FIN have arrived (never while the stream's start is unknown)."""
        end = self.fin_offset
        return end is not None and self.frontier >= end and not self.pending

    # -- internals -------------------------------------------------------
    def _shift(self, count: int) -> None:
        """Data seen before the first byte of a mid-stream flow: move everything right."""
        if self.file is not None:
            self.file.prepend(count)
        self.pending = {o + count: d for o, d in self.pending.items()}
        self.pending_starts = [o + count for o in self.pending_starts]
        for g in self.gaps:
            g[0] += count
            g[1] += count
        self.overlaps = [(o + count, n, k) for o, n, k in self.overlaps]
        self.stream_end += count
        if self.frontier > 0:
            self.gaps.insert(0, [0, count, HOLE])
            self.frontier += count
        else:
            # nothing written yet: the origin simply moves back
            self.next_seq = (self.next_seq - count) & 0xFFFFFFFF

    def _note_truncated(self, start: int, end: int) -> None:
        """Snaplen-cut bytes: the stream moves past them but they stay a recorded gap.

        They wait in `pending` as a length-only marker; below the frontier the
        bytes were already written by another copy, so nothing is missing.
        """
        if start >= self.frontier:
            self._insert(start, None, end - start)

    def _overlap_written(self, off: int, payload: bytes) -> tuple[bytes, int]:
        """Compare bytes that land below the frontier with what is there; return the rest."""
        end = off + len(payload)
        limit = min(end, self.frontier)
        pos = off
        while pos < limit:
            gap = self._gap_at(pos)
            if gap is not None:
                g_end = min(gap[1], limit)
                self._fill_gap(pos, payload[pos - off:g_end - off])
                pos = g_end
                continue
            nxt = self._next_gap_start(pos, limit)
            self._compare_rewrite(pos, payload[pos - off:nxt - off])
            pos = nxt
        return payload[limit - off:], limit

    def _compare_rewrite(self, off: int, new: bytes) -> None:
        old = self._read(off, len(new))
        new = new[:len(old)]          # bytes past -b were never stored: nothing to compare
        if self._record_conflict(off, old, new, self.policy) and self.policy == "last":
            self._store(off, new)

    def _read(self, off: int, n: int) -> bytes:
        return self.file.read(off, n) if self.file is not None else bytes(n)

    def _gap_at(self, pos: int) -> list | None:
        for g in self.gaps:
            if g[0] <= pos < g[1]:
                return g
            if g[0] > pos:
                break
        return None

    def _next_gap_start(self, pos: int, limit: int) -> int:
        for g in self.gaps:
            if g[0] > pos:
                return min(g[0], limit)
        return limit

    def _fill_gap(self, off: int, data: bytes) -> None:
        """A late copy fills (part of) a recorded hole: not a conflict."""
        end = off + len(data)
        self._store(off, data)
        kept: list[list] = []
        for g in self.gaps:
            if g[1] <= off or g[0] >= end:
                kept.append(g)
                continue
            if g[0] < off:
                kept.append([g[0], off, g[2]])
            if g[1] > end:
                kept.append([end, g[1], g[2]])
        self.gaps = kept

    def _insert(self, off: int, data: bytes | None, marker_len: int = 0) -> None:
        """Add a chunk beyond the frontier, resolving overlaps with pending chunks by policy."""
        if not self.pending and data is not None and off == self.frontier:
            self._advance(off, data)
            return
        length = len(data) if data is not None else marker_len
        end = off + length
        i = bisect_left(self.pending_starts, off)
        if i > 0:
            i -= 1
        overlapping = []
        while i < len(self.pending_starts) and self.pending_starts[i] < end:
            s = self.pending_starts[i]
            chunk = self.pending[s]
            c_end = s + _chunk_len(chunk)
            if c_end > off:
                overlapping.append(s)
            i += 1
        if data is None:
            # markers only claim bytes nobody else has
            pieces = _uncovered(off, end, [(s, s + _chunk_len(self.pending[s])) for s in overlapping])
            for a, b in pieces:
                self._put(a, _Marker(b - a))
            return
        if self.policy == "first":
            covered = []
            for s in overlapping:
                chunk = self.pending[s]
                c_end = s + _chunk_len(chunk)
                if isinstance(chunk, _Marker):
                    continue   # real bytes replace a truncation marker
                a, b = max(s, off), min(c_end, end)
                self._record_conflict(a, chunk[a - s:b - s], data[a - off:b - off], "first")
                covered.append((s, c_end))
            for s in overlapping:
                if isinstance(self.pending[s], _Marker):
                    self._trim(s, off, end)
            for a, b in _uncovered(off, end, covered):
                self._put(a, data[a - off:b - off])
        else:
            for s in overlapping:
                chunk = self.pending[s]
                c_end = s + _chunk_len(chunk)
                if not isinstance(chunk, _Marker):
                    a, b = max(s, off), min(c_end, end)
                    self._record_conflict(a, chunk[a - s:b - s], data[a - off:b - off], "last")
                self._trim(s, off, end)
            self._put(off, data)

    def _record_conflict(self, off: int, old: bytes, new: bytes, kept: str) -> bool:
        if old == new:
            return False
        first = next(i for i in range(len(old)) if old[i] != new[i])
        last = next(i for i in range(len(old) - 1, -1, -1) if old[i] != new[i])
        self.overlaps.append((off + first, last - first + 1, kept))
        return True

    def _trim(self, s: int, off: int, end: int) -> None:
        """Remove [off, end) from the pending chunk at s, keeping what lies outside."""
        chunk = self._pop(s)
        c_end = s + _chunk_len(chunk)
        if s < off:
            self._put(s, chunk[:off - s] if not isinstance(chunk, _Marker) else _Marker(off - s))
        if c_end > end:
            self._put(end, chunk[end - s:] if not isinstance(chunk, _Marker) else _Marker(c_end - end))

    def _put(self, off: int, chunk) -> None:
        self.pending[off] = chunk
        insort(self.pending_starts, off)
        self.pending_bytes += _chunk_len(chunk)

    def _pop(self, off: int):
        chunk = self.pending.pop(off)
        self.pending_starts.remove(off)
        self.pending_bytes -= _chunk_len(chunk)
        return chunk

    def _drain(self) -> None:
        while self.pending_starts and self.pending_starts[0] <= self.frontier:
            s = self.pending_starts[0]
            self._advance(s, self._pop(s))

    def _advance(self, off: int, chunk) -> None:
        n = _chunk_len(chunk)
        if isinstance(chunk, _Marker):
            self._add_gap(off, off + n, TRUNCATED)
        else:
            self._store(off, chunk)
        self._move_frontier(off + n)

    def _move_frontier(self, new: int) -> None:
        self.next_seq = (self.next_seq + new - self.frontier) & 0xFFFFFFFF
        self.frontier = new

    def _add_gap(self, start: int, end: int, kind: str) -> None:
        if self.gaps and self.gaps[-1][1] == start and self.gaps[-1][2] == kind:
            self.gaps[-1][1] = end
        else:
            self.gaps.append([start, end, kind])

    def _store(self, off: int, data: bytes) -> None:
        if self.max_bytes is not None:
            if off >= self.max_bytes:
                return
            data = data[:self.max_bytes - off]
        if self.file is None:
            self.file = self.open_file()
        self.file.write(off, data)

    def flush(self) -> None:
        """Close every hole still open: what never arrived stays zeros, recorded."""
        while self.pending_starts:
            s = self.pending_starts[0]
            if s > self.frontier:
                self._add_gap(self.frontier, s, HOLE)
                self._move_frontier(s)
            self._drain()

    def ranges(self, kind: str) -> list[tuple[int, int]]:
        return [(a, b - a) for a, b, k in self.gaps if k == kind]


class _Marker(int):
    """A pending range of snaplen-truncated bytes: length only, no data."""


def _chunk_len(chunk) -> int:
    return int(chunk) if isinstance(chunk, _Marker) else len(chunk)


def _uncovered(start: int, end: int, covered: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The parts of [start, end) outside every covered range."""
    out = []
    pos = start
    for a, b in sorted(covered):
        if a > pos:
            out.append((pos, min(a, end)))
        pos = max(pos, b)
        if pos >= end:
            break
    if pos < end:
        out.append((pos, end))
    return [(a, b) for a, b in out if b > a]
