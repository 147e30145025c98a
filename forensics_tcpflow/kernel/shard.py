"""Which worker owns a connection when one capture is split across processes.

The fast path asks it of the packets it parses itself, the general path of the
segments the decoder makes: symmetric in the two endpoints, so both directions
land in one shard.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..decode.segment import Segment

_M64 = (1 << 64) - 1


@dataclass(frozen=True, slots=True)
class Shard:
    """This worker's part of a capture: connections whose shard_of is `index` out of `count`."""

    index: int = 0
    count: int = 1

    def owned(self, add: Callable[[Segment], None]) -> Callable[[Segment], None]:
        """`add` for the segments of this shard's connections: `add` itself when nothing is split,
        so the per-packet loops test nothing then."""
        if self.count == 1:
            return add
        count, index = self.count, self.index

        def add_owned(seg: Segment) -> None:
            if shard_of(seg, count) == index:
                add(seg)
        return add_owned


def _words(family: int, packed: bytes) -> int:
    if family == 4:
        return int.from_bytes(packed, "big")
    return int.from_bytes(packed[:8], "big") ^ int.from_bytes(packed[8:], "big")


def shard_of(seg: Segment, shards: int) -> int:
    return shard_of_key(seg.family, seg.src, seg.dst, seg.sport, seg.dport, seg.vlans, shards)


def shard_of_key(family: int, src: bytes, dst: bytes, sport: int, dport: int, vlans: tuple[int, ...],
                 shards: int) -> int:
    """Symmetric in the endpoints: both directions of a connection land in one shard."""
    x = _words(family, src) ^ _words(family, dst)
    x ^= ((sport ^ dport) * 0x9E3779B1) & _M64
    vlan = vlans[0] if vlans else -1
    x ^= ((vlan + 1) * 0x85EBCA6B) & _M64
    x = ((x * 0x9E3779B97F4A7C15) & _M64) >> 32
    return x % shards
