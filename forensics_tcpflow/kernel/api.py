"""The kernel's contract: what `Kernel.run` reports, and the settings both implementations take.

The kernel walks capture records, parses the common layers (Ethernet with at
most one 802.1Q tag, or raw IP; IPv4 without options or fragments, IPv6 without
extension headers; TCP) and applies, without Python, every packet of a bound
direction that needs no judgement: pure ACKs, in-order data, one segment that
arrives early (held until the bytes before it come), identical retransmissions
of bytes it still holds. Whatever else it meets, it stops and says why with one
of the events below; the Python side (kernel.pump) handles that one record
and calls `run` again from `next`.

Both implementations (`_kernel` compiled, `pure` its twin) take exactly these
settings and return exactly these events; tests/kernel/test_kernel.py holds
them to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

END = 0        # the buffer holds no further whole record: read more; `pos` is where to resume
READER = 1     # a block or record the general reader must take from `pos` on (another section, damage)
GENERAL = 2    # a record the kernel does not parse: the general decoder gets it
JUDGE = 3      # a parsed TCP packet that needs the flow table's judgement (`slot` is its binding or -1)
SYNC = 4       # `slot` holds a full buffer of in-order bytes: hand it to its direction

NO_SEQ = -1    # a bound direction that takes no data without judgement (pure ACKs are still counted)

SYNC_BYTES = 32 * 1024     # in-order bytes a direction gathers before they are handed over ...
BUDGET = 48 << 20          # ... unless the bound directions together would hold more: then less each
MAX_BLOCK = 64 << 20       # a pcapng block this large is damage: the general reader names it


@dataclass(frozen=True, slots=True)
class Interface:
    """What the kernel needs of one capture interface: its link type and time scale."""

    linktype: int
    frac_ns: int       # nanoseconds per timestamp unit
    offset_ns: int     # added to every timestamp (pcapng if_tsoffset)


@dataclass(frozen=True, slots=True)
class Settings:
    """A capture's layout and the one flow knob the kernel needs (-m)."""

    pcapng: bool
    big: bool
    interfaces: tuple[Interface, ...]
    snaplimit: int             # a pcap record longer than this is damage
    max_seek: int              # -m: a segment this far ahead is not held, the flow table judges it
    sync_bytes: int = SYNC_BYTES
    budget: int = BUDGET


Batch = tuple[int, int, int, int, int, bytes, int, int, bytes | None]
"""What a direction gathered since it was last handed over: packets, wire bytes, captured bytes,
last time, last frame, in-order bytes, segments that came out of order (identical retransmissions,
an early segment already placed), held segment's sequence number and bytes (None when nothing is held)."""


class Kernel(Protocol):
    """One capture's per-record loop and its index of bound directions."""

    # after every `run`: where things stand
    pos: int            # the record the event is about (END/READER: where to resume)
    next: int           # the record after it
    packets: int        # records walked so far (frame number of the last one)
    truncated: int      # of them, cut by the snaplen
    first_ts: int       # the first and last record's time (meaningful once `packets` > 0)
    last_ts: int
    # the record of a GENERAL or JUDGE event
    interface: int
    data: int           # offset of its packet bytes in the buffer
    end: int
    caplen: int
    origlen: int
    ts: int
    # a JUDGE event's parse
    l3: int
    tcp: int
    payload: int
    ip_end: int
    seq: int
    flags: int
    vlan: int           # -1: untagged
    v4: bool
    key: bytes          # addresses then ports, as in the packet
    slot: int           # JUDGE: the key's binding (-1: none); SYNC: the full direction

    def run(self, buf: bytes, pos: int) -> int: ...

    def bind(self, key: bytes, vlan: int, seq: int) -> int: ...

    def foreign(self, key: bytes, vlan: int) -> None: ...

    def forget_foreign(self) -> None: ...

    def update(self, slot: int, seq: int) -> None: ...

    def unbind(self, slot: int) -> None: ...

    def take(self, slot: int, held: bool) -> Batch | None: ...

    def bound(self) -> list[int]: ...
