"""IP fragment reassembly (IPv4 and IPv6) in capture time, with bounded memory.

Missing bytes are never invented: a datagram is released only when every byte
from 0 to the last fragment's end arrived; otherwise it is counted incomplete
(on timeout, eviction or end of input). Overlaps whose bytes disagree follow
the overlap policy and each one is recorded for the report.
"""

from __future__ import annotations

import ipaddress
from collections import Counter
from dataclasses import dataclass, field
from typing import Protocol

OVERLAP_POLICIES = ("first", "last")

# Datagram keys: IPv4 (src, dst, proto, id), IPv6 (src, dst, id); addresses packed.
FragmentKey = tuple


class FragmentStats(Protocol):
    counters: Counter[str]
    fragment_overlaps: list[tuple[str, int, int, str]]


@dataclass(slots=True)
class _Pending:
    first_ts: int
    buf: bytearray = field(default_factory=bytearray)
    spans: list[tuple[int, int]] = field(default_factory=list)   # sorted, disjoint, non-adjacent
    proto: int | None = None      # from the fragment at offset 0
    total: int | None = None      # from the last fragment


def key_text(key: FragmentKey) -> str:
    src, dst = (ipaddress.ip_address(a) for a in key[:2])
    if len(key) == 4:
        return f"{src}>{dst} proto {key[2]} id {key[3]}"
    return f"{src}>{dst} id {key[2]}"


class Defragmenter:
    def __init__(self, stats: FragmentStats, *, overlap: str = "first",
                 timeout_ns: int = 60 * 10**9, memory: int = 64 * 2**20) -> None:
        if overlap not in OVERLAP_POLICIES:
            raise ValueError(f"overlap policy must be one of {OVERLAP_POLICIES}, not {overlap!r}")
        self.stats = stats
        self.counters = stats.counters
        self.overlap = overlap
        self.timeout_ns = timeout_ns
        self.memory = memory
        self.pending_bytes = 0
        self._pending: dict[FragmentKey, _Pending] = {}   # oldest first

    def add(self, key: FragmentKey, proto: int, offset: int, data: bytes, more: bool,
            ts_ns: int) -> tuple[int, bytes] | None:
        """Store one fragment's payload; return (protocol, datagram) once it is whole."""
        self._expire(ts_ns)
        entry = self._pending.get(key)
        if entry is not None and ts_ns - entry.first_ts > self.timeout_ns:
            self._drop(key, "datagrams-timed-out")
            entry = None
        if entry is None:
            entry = self._pending[key] = _Pending(ts_ns)
        end = offset + len(data)
        if not self._consistent(entry, end, more):
            self.counters["fragments-inconsistent"] += 1
            return None
        if offset == 0:
            entry.proto = proto
        if data:
            grow = end - len(entry.buf)
            if grow > 0:
                entry.buf.extend(bytes(grow))
                self.pending_bytes += grow
            self._merge(key, entry, offset, data)
        if entry.total is not None and entry.spans == [(0, entry.total)]:
            del self._pending[key]
            self.pending_bytes -= len(entry.buf)
            self.counters["datagrams-reassembled"] += 1
            return entry.proto, bytes(entry.buf)
        self._bound()
        return None

    def flush(self) -> None:
        """End of input: whatever is still pending will never complete."""
        for key in list(self._pending):
            self._drop(key, "datagrams-unfinished")

    def _consistent(self, entry: _Pending, end: int, more: bool) -> bool:
        """A fragment must not contradict the datagram end already known."""
        if entry.total is not None:
            return end <= entry.total if more else end == entry.total
        if not more:
            if entry.spans and entry.spans[-1][1] > end:
                return False
            entry.total = end
        return True

    def _merge(self, key: FragmentKey, entry: _Pending, offset: int, data: bytes) -> None:
        end = offset + len(data)
        buf = entry.buf
        gaps = []
        cursor = offset
        lo, hi = offset, end                  # the merged span
        kept: list[tuple[int, int]] = []
        for s, e in entry.spans:
            if e < offset or s > end:         # neither overlapping nor adjacent
                kept.append((s, e))
                continue
            lo, hi = min(lo, s), max(hi, e)
            a, b = max(s, offset), min(e, end)
            if a < b:
                self.counters["fragment-overlaps"] += 1
                if buf[a:b] != data[a - offset:b - offset]:
                    self._conflict(key, a, b - a)
            if s > cursor:
                gaps.append((cursor, min(s, end)))
            cursor = max(cursor, e)
        if cursor < end:
            gaps.append((cursor, end))
        if self.overlap == "last":
            gaps = [(offset, end)]
        for a, b in gaps:
            buf[a:b] = data[a - offset:b - offset]
        kept.append((lo, hi))
        kept.sort()
        entry.spans = kept

    def _conflict(self, key: FragmentKey, offset: int, length: int) -> None:
        self.counters["fragment-overlap-conflicts"] += 1
        self.stats.fragment_overlaps.append((key_text(key), offset, length, self.overlap))

    def _expire(self, ts_ns: int) -> None:
        while self._pending:
            key, entry = next(iter(self._pending.items()))
            if ts_ns - entry.first_ts <= self.timeout_ns:
                return
            self._drop(key, "datagrams-timed-out")

    def _bound(self) -> None:
        while self.pending_bytes > self.memory and self._pending:
            self._drop(next(iter(self._pending)), "datagrams-evicted")

    def _drop(self, key: FragmentKey, reason: str) -> None:
        entry = self._pending.pop(key)
        self.pending_bytes -= len(entry.buf)
        self.counters["datagrams-incomplete"] += 1
        self.counters[reason] += 1
