"""The Python side of the kernel: what it cannot decide alone goes through the flow table.

The kernel (compiled, or its twin) walks a window of capture bytes and applies every
packet of a bound direction that needs no judgement. When it stops it says why
(kernel/api.py): a record for the general decoder (tunnels, fragments, options, odd
link types), a TCP packet for the flow table (handshakes, FIN/RST, holes, conflicts,
unknown directions), or a full buffer to hand over. The flow table admits the
direction afterwards (`FlowTable.admit`) and the kernel binds it; when the flow
table closes a direction it first takes what the kernel still holds of it
(`FlowTable.on_evict`). So there is one reassembler: the kernel only applies what
the flow table's own rules say needs no judgement, and the output is the same by
construction (tests/kernel/test_pump.py holds the kernel path to the general one).
"""

from __future__ import annotations

import struct
from typing import Callable

from ..capture.evidence import EvidenceFile
from ..capture.record import Record
from ..decode.decoder import Decoder
from ..decode.segment import Segment
from ..flow.table import FlowTable, Half, Key
from . import Kernel
from .api import END, GENERAL, JUDGE, NO_SEQ, READER, SYNC
from .header import Header
from .shard import Shard, shard_of_key

CHUNK = 4 << 20
FOREIGN_LIMIT = 1 << 16          # other workers' connections the kernel skips at most, then forgets
_PORTS_ACK = struct.Struct("!HHII")     # ports, seq, ack


class KernelPump:
    """Runs one capture's records through the kernel and the flow table; counts what the summary needs."""

    def __init__(self, source: EvidenceFile, header: Header, decoder: Decoder, table: FlowTable,
                 on_window: Callable[[int, int], None], shard: Shard = Shard()) -> None:
        self.source = source
        self.header = header
        self.decoder = decoder
        self.table = table
        self.on_window = on_window      # (records so far, file bytes so far); may raise to stop
        self.add = shard.owned(table.add)
        self.shard = shard
        self.kernel = Kernel(header.settings(table.options.max_seek))
        self.slots: dict[Key, int] = {}          # bound directions by flow-table key
        self.halves: dict[int, Half] = {}        # ... and by slot
        self.foreign = 0
        self.python = 0                          # records left to Python (judged or decoded)

    @property
    def packets(self) -> int:
        return self.kernel.packets

    @property
    def truncated(self) -> int:
        return self.kernel.truncated

    @property
    def first_ts(self) -> int | None:
        return self.kernel.first_ts if self.kernel.packets else None

    @property
    def last_ts(self) -> int | None:
        return self.kernel.last_ts if self.kernel.packets else None

    def run(self) -> bool:
        """True when the whole file was read; False when the rest needs the general reader
        (every record before that point is done; the general reader skips `packets` records)."""
        previous, self.table.on_evict = self.table.on_evict, self._evict
        try:
            return self._run()
        finally:
            for slot in list(self.halves):
                self._hand_over(slot)
            self.table.on_evict = previous

    def _run(self) -> bool:
        source, kernel = self.source, self.kernel
        source.seek(self.header.start)
        buf, pos, base = b"", 0, self.header.start
        while True:
            chunk = source.read(CHUNK)
            if pos:
                base += pos
                buf = buf[pos:] + chunk if chunk else buf[pos:]
            else:
                buf = buf + chunk if buf else chunk
            pos = 0
            while True:
                event = kernel.run(buf, pos)
                if event == END or event == READER:
                    pos = kernel.pos
                    break
                if event == SYNC:
                    self._sync(kernel.slot)
                elif event == JUDGE:
                    self.python += 1
                    self._judge(buf)
                elif event == GENERAL:
                    self.python += 1
                    self._general(buf, base)
                pos = kernel.next
            self.on_window(kernel.packets, base + pos)
            if event == READER:
                return False
            if not chunk:
                return pos == len(buf)      # a cut record at the end: the general reader reports it

    # -- events ----------------------------------------------------------------------------
    def _sync(self, slot: int) -> None:
        """A full buffer: its bytes and counts to the direction; the kernel keeps what it holds early."""
        batch = self.kernel.take(slot, False)
        if batch is not None:
            self.table.absorb(self.halves[slot], *batch)

    def _hand_over(self, slot: int) -> None:
        """Everything the kernel holds of a direction, before the flow table looks at it."""
        batch = self.kernel.take(slot, True)
        if batch is not None:
            self.table.absorb(self.halves[slot], *batch)

    def _evict(self, half: Half) -> None:
        """The flow table closes `half`: it gets what the kernel holds, and the kernel forgets it."""
        slot = self.slots.get(half.key)
        if slot is not None and self.halves[slot] is half:
            self._hand_over(slot)
            self._unbind(half.key, slot)

    def _unbind(self, key: Key, slot: int) -> None:
        self.kernel.unbind(slot)
        del self.slots[key], self.halves[slot]

    def _general(self, buf: bytes, base: int) -> None:
        """A record the kernel does not parse, as the general reader would hand it over."""
        k = self.kernel
        linktype = self.header.interfaces[k.interface].linktype
        record = Record(k.packets, linktype, k.ts, k.caplen, k.origlen, buf[k.data:k.end], base + k.pos, k.interface)
        for seg in self.decoder.decode(record):
            self._through_table(seg, None)

    def _judge(self, buf: bytes) -> None:
        """A plain TCP packet that needs the flow table's judgement: the segment the decoder would
        make of it (built here, the headers are parsed already)."""
        k = self.kernel
        l3, t, vid = k.l3, k.tcp, k.vlan
        if k.slot < 0 and self.shard.count > 1 and self._foreign(buf, l3, t, vid, k.v4, k.key):
            return
        src, dst = (buf[l3 + 12:l3 + 16], buf[l3 + 16:l3 + 20]) if k.v4 else (buf[l3 + 8:l3 + 24], buf[l3 + 24:l3 + 40])
        sport, dport, _, ack = _PORTS_ACK.unpack_from(buf, t)
        d = k.data
        macs = (buf[d + 6:d + 12], buf[d:d + 6]) if self.header.interfaces[k.interface].linktype == 1 else (None, None)
        self._through_table(Segment(4 if k.v4 else 6, src, dst, sport, dport, k.seq, ack, k.flags,
                                    buf[k.payload:k.ip_end], k.packets, k.ts, (vid,) if vid >= 0 else (),
                                    macs[0], macs[1], wire_len=k.origlen, cap_len=k.caplen), k.key)

    def _through_table(self, seg: Segment, fkey: bytes | None) -> None:
        """The flow table judges `seg`; then the kernel's bindings of its connection follow what it
        decided. `fkey` (the packet's own address-and-port bytes) binds a direction not yet bound;
        segments of the general decoder only update bindings that exist."""
        key = (seg.src, seg.dst, seg.sport, seg.dport, seg.vlans)
        slot = self.slots.get(key)
        if slot is not None:
            self._hand_over(slot)
        self.add(seg)
        self._follow(key, fkey)
        self._follow((seg.dst, seg.src, seg.dport, seg.sport, seg.vlans), None)

    def _follow(self, key: Key, fkey: bytes | None) -> None:
        admitted = self.table.admit(key)
        slot = self.slots.get(key)
        if admitted is None:
            if slot is not None:
                self._unbind(key, slot)
            return
        half, seq = admitted
        if slot is not None:
            if self.halves[slot] is half:
                self.kernel.update(slot, seq if seq >= 0 else NO_SEQ)
                return
            self._unbind(key, slot)           # another half took the key (closed ones were evicted)
        if fkey is not None:
            slot = self.kernel.bind(fkey, key[4][0] if key[4] else -1, seq if seq >= 0 else NO_SEQ)
            self.slots[key], self.halves[slot] = slot, half

    def _foreign(self, buf: bytes, l3: int, t: int, vid: int, v4: bool, fkey: bytes) -> bool:
        """Whether another worker owns this connection (the kernel then skips it: half the
        packets ask, with -j 2)."""
        family, (src, dst) = (4, (buf[l3 + 12:l3 + 16], buf[l3 + 16:l3 + 20])) if v4 else \
            (6, (buf[l3 + 8:l3 + 24], buf[l3 + 24:l3 + 40]))
        sport, dport = (buf[t] << 8) | buf[t + 1], (buf[t + 2] << 8) | buf[t + 3]
        shard = self.shard
        if shard_of_key(family, src, dst, sport, dport, (vid,) if vid >= 0 else (), shard.count) == shard.index:
            return False
        if self.foreign >= FOREIGN_LIMIT:
            self.kernel.forget_foreign()
            self.foreign = 0
        self.kernel.foreign(fkey, vid)
        self.foreign += 1
        return True
