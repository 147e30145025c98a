"""The decoding stage: capture records in, TCP segments out, never raising on bad packets."""

from __future__ import annotations

import struct
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

from ..capture.record import Record
from . import linktypes, tunnels, wireless  # noqa: F401  (they register their handlers)
from .defrag import Defragmenter
from .dispatch import LINKTYPES
from .segment import Datagram, Segment


@dataclass(slots=True)
class DecodeStats:
    """Why packets gave no segment, what was decapsulated and what fragments did.

    Every packet without a segment is counted under its reason and under
    "undecodable" (could not be read) or "not-tcp" (read, but no TCP inside);
    held fragments count only as "fragments".
    """

    counters: Counter[str] = field(default_factory=Counter)
    fragment_overlaps: list[tuple[str, int, int, str]] = field(default_factory=list)

    @property
    def undecodable(self) -> int:
        return self.counters["undecodable"]

    @property
    def not_tcp(self) -> int:
        return self.counters["not-tcp"]


class Decoder:
    """Walks each record down its link type, ethertypes, IP and tunnels to TCP.

    Handlers keep the per-packet context (`frame`, `ts_ns`, outer `vlans` and
    MACs, whether inside a tunnel or a reassembled datagram, link-layer `facts`
    such as a firewall rule) on the decoder, so no context object is built per
    packet. A frame holding several packets (802.11 A-MSDU) leaves all but the
    last segment in `extra`.

    With `on_datagram` set (--udp), UDP datagrams that are not a tunnel we
    decapsulate are gathered in `datagrams` and handed to it once the record is
    decoded; without it UDP is counted as "ipproto:17", as it always was.
    """

    def __init__(self, *, overlap: str = "first", frag_timeout_ns: int = 60 * 10**9,
                 frag_memory: int = 64 * 2**20) -> None:
        self.stats = DecodeStats()
        self.counters = self.stats.counters
        self.defrag = Defragmenter(self.stats, overlap=overlap, timeout_ns=frag_timeout_ns,
                                   memory=frag_memory)
        self.frame = 0
        self.ts_ns = 0
        self.vlans: tuple[int, ...] = ()
        self.mac_src: bytes | None = None
        self.mac_dst: bytes | None = None
        self.tunnelled = False
        self.reassembled = False
        self.facts: dict[str, str] = {}
        self.extra: list[Segment] = []
        self.skipped = ""          # why the last packet held no TCP, when it was read fine
        self.on_datagram: Callable[[Datagram], None] | None = None
        self.datagrams: list[Datagram] = []

    def decode(self, record: Record) -> list[Segment]:
        self.frame = record.frame
        self.ts_ns = record.ts_ns
        self.vlans = ()
        self.mac_src = self.mac_dst = None
        self.tunnelled = self.reassembled = False
        if self.facts:
            self.facts = {}
        self.skipped = ""
        handler = LINKTYPES.get(record.linktype)
        if handler is None:
            self.fail(f"linktype:{record.linktype}")
            return []
        data = record.data
        try:
            segment = handler(self, data, 0, len(data))
        except (struct.error, IndexError):
            self.fail("truncated-header")
            self.extra = []           # an A-MSDU cut short: its earlier subframes go too
            self.datagrams.clear()
            return []
        except RecursionError:
            self.fail("nesting-too-deep")
            self.extra = []
            self.datagrams.clear()
            return []
        if self.datagrams:            # only with --udp: handed on outside the try, so a flow-stage error is not a packet's
            self._deliver(record)
        if self.extra:
            return self._several(segment, record)
        if segment is None:
            return []
        segment.wire_len, segment.cap_len = record.origlen, record.caplen
        return [segment]

    def _several(self, last: Segment | None, record: Record) -> list[Segment]:
        """The segments of a frame that held several packets, in frame order."""
        segments = self.extra + [last] if last is not None else self.extra
        self.extra = []
        for seg in segments:
            seg.wire_len, seg.cap_len = record.origlen, record.caplen
        return segments

    def _deliver(self, record: Record) -> None:
        datagrams, self.datagrams = self.datagrams, []
        assert self.on_datagram is not None
        for datagram in datagrams:
            datagram.wire_len, datagram.cap_len, datagram.record = record.origlen, record.caplen, record
            self.on_datagram(datagram)

    def datagram(self, buf: bytes, off: int, end: int, dend: int, family: int, src: bytes, dst: bytes,
                 sport: int, dport: int) -> None:
        """A UDP datagram of a flow (--udp): the UDP length bounds it unless it claims more than the
        IP datagram holds; what the snaplen cut off is `missing`."""
        length = (buf[off + 4] << 8) | buf[off + 5]
        stop = off + length if 8 <= length <= dend - off else dend
        start = off + 8
        payload = buf[start:min(stop, end)]
        missing = stop - max(end, start) if end < stop else 0
        if missing:
            self.counters["truncated"] += 1
        self.counters["udp-datagrams"] += 1
        self.datagrams.append(Datagram(family, src, dst, sport, dport, 0, 0, 0, payload, self.frame, self.ts_ns,
                                       self.vlans, self.mac_src, self.mac_dst, missing, self.reassembled,
                                       facts=self.facts or None))

    def flush(self) -> None:
        """End of input: fragments still waiting make incomplete datagrams."""
        self.defrag.flush()

    def fail(self, reason: str) -> None:
        """Count a packet that could not be decoded."""
        self.counters[reason] += 1
        self.counters["undecodable"] += 1

    def skip(self, reason: str) -> None:
        """Count a packet that was decoded and holds no TCP."""
        self.skipped = reason
        self.counters[reason] += 1
        self.counters["not-tcp"] += 1
