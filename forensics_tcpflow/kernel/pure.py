"""The kernel in plain Python: the twin of `_kernel.pyx`, used where the extension is not built
(or FTF_KERNEL=python asks for it). Same settings, same events, same batches: kernel/api.py
states the contract and tests/kernel/test_kernel.py holds both to it record by record.
"""

from __future__ import annotations

import struct

from ..capture import pcap, pcapng
from .api import END, GENERAL, JUDGE, MAX_BLOCK, NO_SEQ, READER, SYNC, Batch, Settings

NS = 1_000_000_000
INT64_MAX = (1 << 63) - 1
INT64_MIN = -(1 << 63)
ETHERNET = 1

_IP4 = struct.Struct("!BxH2xHxB")          # ver/ihl, total length, flags/offset, protocol
_IP6 = struct.Struct("!IHB")                # ver/class/flow, payload length, next header
_TCP = struct.Struct("!4xI4xBB")            # seq, data offset, flags

FREE, BOUND, FOREIGN = 0, 1, 2


def _signed32(x: int) -> int:
    return ((x + 0x80000000) & 0xFFFFFFFF) - 0x80000000


class _Slot:
    """A bound direction's state between two hand-overs."""

    __slots__ = ("state", "ident", "seq", "packets", "wire", "captured", "last_ts", "last_frame", "data",
                 "unordered", "held_seq", "held")

    def __init__(self, state: int, ident: tuple[bytes, int], seq: int) -> None:
        self.state = state
        self.ident = ident
        self.seq = seq
        self.packets = self.wire = self.captured = self.last_ts = self.last_frame = self.unordered = 0
        self.data = bytearray()
        self.held_seq = 0
        self.held: bytes | None = None


class Kernel:
    """One capture's per-record loop (see kernel/api.py for the contract)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        order = ">" if settings.big else "<"
        self._record = pcap.RECORD_HEADER[order].unpack_from
        layout = pcapng.LAYOUTS[order]
        self._block, self._epb = layout.block.unpack_from, layout.packet[pcapng.EPB].unpack_from
        self._length = layout.length.unpack_from
        self._ethernet = tuple(i.linktype == ETHERNET for i in settings.interfaces)
        self._parsed = tuple(i.linktype in (1, 12, 14, 101) for i in settings.interfaces)
        self._index: dict[tuple[bytes, int], int] = {}
        self._slots: list[_Slot | None] = []
        self._free: list[int] = []
        self.pos = self.next = self.packets = self.truncated = 0
        self.first_ts = self.last_ts = -1
        self.interface = self.data = self.end = self.caplen = self.origlen = self.ts = 0
        self.l3 = self.tcp = self.payload = self.ip_end = self.seq = self.flags = 0
        self.vlan = -1
        self.v4 = False
        self.key = b""
        self.slot = -1

    # -- the loop ----------------------------------------------------------------------------
    def run(self, buf: bytes, pos: int) -> int:
        return self._run_pcapng(buf, pos) if self.settings.pcapng else self._run_pcap(buf, pos)

    def _run_pcap(self, buf: bytes, pos: int) -> int:
        frac_ns = self.settings.interfaces[0].frac_ns
        limit = self.settings.snaplimit
        end = len(buf)
        while True:
            self.pos = pos
            if pos + 16 > end:
                return END
            sec, frac, caplen, origlen = self._record(buf, pos)
            if caplen > limit:
                return READER                # the general reader names the damage
            stop = pos + 16 + caplen
            if stop > end:
                return END
            event = self._walked(buf, 0, pos + 16, stop, caplen, origlen, sec * NS + frac * frac_ns, stop)
            if event != END:
                return event
            pos = stop

    def _run_pcapng(self, buf: bytes, pos: int) -> int:
        interfaces = self.settings.interfaces
        end = len(buf)
        while True:
            self.pos = pos
            if pos + 8 > end:
                return END
            btype, blen = self._block(buf, pos)
            if btype in (pcapng.SHB, pcapng.IDB, pcapng.PB, pcapng.SPB) or blen < 12 or blen % 4 or blen > MAX_BLOCK:
                return READER
            if pos + blen > end:
                return END
            if self._length(buf, pos + blen - 4)[0] != blen:
                return READER                # the trailer disagrees: the general reader names it
            if btype == pcapng.EPB:
                if blen < 32:
                    return READER
                iface, hi, lo, caplen, origlen = self._epb(buf, pos + 8)
                if iface >= len(interfaces) or 28 + caplen > blen - 4:
                    return READER
                raw = (hi << 32) | lo
                scaled = raw * interfaces[iface].frac_ns
                ts = scaled + interfaces[iface].offset_ns
                if raw > INT64_MAX or scaled > INT64_MAX or not INT64_MIN <= ts <= INT64_MAX:
                    return READER            # beyond 64-bit nanoseconds: the general reader's exact arithmetic
                event = self._walked(buf, iface, pos + 28, pos + 28 + caplen, caplen, origlen, ts, pos + blen)
                if event != END:
                    return event
            pos += blen

    def _walked(self, buf: bytes, iface: int, d: int, e: int, caplen: int, origlen: int, ts: int, stop: int) -> int:
        """Count one record, then apply it; END when applied, else the event to report."""
        self.packets += 1
        if self.packets == 1:
            self.first_ts = ts
        self.last_ts = ts
        if caplen < origlen:
            self.truncated += 1
        self.next = stop
        self.interface, self.data, self.end, self.caplen, self.origlen, self.ts = iface, d, e, caplen, origlen, ts
        if not self._parsed[iface]:
            return GENERAL
        return self._packet(buf, d, e, self._ethernet[iface], caplen, origlen, ts)

    # -- one packet --------------------------------------------------------------------------
    def _packet(self, buf: bytes, d: int, e: int, ethernet: bool, caplen: int, origlen: int, ts: int) -> int:
        vid = -1
        if ethernet:
            if e - d < 14:
                return GENERAL
            etype = (buf[d + 12] << 8) | buf[d + 13]
            l3 = d + 14
            if etype == 0x8100 and e - l3 >= 4:
                vid = ((buf[l3] & 0x0F) << 8) | buf[l3 + 1]
                etype = (buf[l3 + 2] << 8) | buf[l3 + 3]
                l3 += 4
        else:
            l3 = d
            etype = 0x0800 if e > d and buf[d] >> 4 == 4 else 0x86DD
        if etype == 0x0800 and e - l3 >= 20:
            vhl, total, frag, proto = _IP4.unpack_from(buf, l3)
            ip_end = l3 + total
            if vhl != 0x45 or proto != 6 or frag & 0x3FFF or total < 20 or ip_end > e:
                return GENERAL
            t, key, v4 = l3 + 20, buf[l3 + 12:l3 + 24], True
        elif etype == 0x86DD and e - l3 >= 40:
            vtf, plen, nh = _IP6.unpack_from(buf, l3)
            ip_end = l3 + 40 + plen
            if vtf >> 28 != 6 or nh != 6 or not plen or ip_end > e:
                return GENERAL
            t, key, v4 = l3 + 40, buf[l3 + 8:l3 + 44], False
        else:
            return GENERAL
        if ip_end - t < 20:
            return GENERAL
        seq, doff, flags = _TCP.unpack_from(buf, t)
        p = t + ((doff >> 4) << 2)
        if p < t + 20 or p > ip_end:
            return GENERAL
        slot = self._index.get((key, vid), -1)
        if slot >= 0:
            s = self._slots[slot]
            assert s is not None
            if s.state == FOREIGN:
                return END
            if not flags & 0x07 and self._apply(s, buf, p, ip_end, seq, caplen, origlen, ts):
                return SYNC if self._full(s, slot) else END
        self.l3, self.tcp, self.payload, self.ip_end, self.seq, self.flags = l3, t, p, ip_end, seq, flags
        self.vlan, self.v4, self.key, self.slot = vid, v4, key, slot
        return JUDGE

    def _apply(self, s: _Slot, buf: bytes, p: int, ip_end: int, seq: int, caplen: int, origlen: int, ts: int) -> bool:
        """Apply a plain packet of a bound direction; False when it needs judgement."""
        n = ip_end - p
        if n:
            if s.seq == NO_SEQ:
                return False
            delta = _signed32(seq - s.seq)
            if delta == 0:
                if s.held is not None:
                    ahead = _signed32(s.held_seq - s.seq)
                    if n > ahead:
                        return False
                    s.data += buf[p:ip_end]
                    s.seq += n
                    if n == ahead:
                        s.data += s.held
                        s.seq += len(s.held)
                        s.held = None
                        s.unordered += 1     # it arrived out of order, as the flow table counts it
                else:
                    s.data += buf[p:ip_end]
                    s.seq += n
                s.seq &= 0xFFFFFFFF
            elif delta > 0:
                if s.held is not None or delta > self.settings.max_seek:
                    return False
                s.held_seq, s.held = seq, bytes(buf[p:ip_end])
            else:
                start = len(s.data) + delta
                if delta + n > 0 or start < 0 or s.data[start:start + n] != buf[p:ip_end]:
                    return False
                s.unordered += 1
        s.packets += 1
        s.wire += origlen
        s.captured += caplen
        s.last_ts = ts
        s.last_frame = self.packets
        return True

    def _full(self, s: _Slot, slot: int) -> bool:
        bound = len(self._slots) - len(self._free)
        if len(s.data) < min(self.settings.sync_bytes, self.settings.budget // bound):
            return False
        self.slot = slot
        return True

    # -- bindings ----------------------------------------------------------------------------
    def _new_slot(self, ident: tuple[bytes, int], state: int, seq: int) -> int:
        slot = self._free.pop() if self._free else len(self._slots)
        if slot == len(self._slots):
            self._slots.append(None)
        self._slots[slot] = _Slot(state, ident, seq)
        self._index[ident] = slot
        return slot

    def bind(self, key: bytes, vlan: int, seq: int) -> int:
        slot = self._index.get((key, vlan), -1)
        if slot < 0:
            return self._new_slot((key, vlan), BOUND, seq)
        s = self._slots[slot]
        assert s is not None
        s.state, s.seq = BOUND, seq
        return slot

    def foreign(self, key: bytes, vlan: int) -> None:
        self._new_slot((key, vlan), FOREIGN, NO_SEQ)

    def forget_foreign(self) -> None:
        for slot, s in enumerate(self._slots):
            if s is not None and s.state == FOREIGN:
                self.unbind(slot)

    def update(self, slot: int, seq: int) -> None:
        s = self._slots[slot]
        assert s is not None
        s.seq = seq

    def unbind(self, slot: int) -> None:
        s = self._slots[slot]
        assert s is not None
        del self._index[s.ident]
        self._slots[slot] = None
        self._free.append(slot)

    def take(self, slot: int, held: bool) -> Batch | None:
        s = self._slots[slot]
        assert s is not None
        give = held and s.held is not None
        if not s.packets and not give:
            return None
        batch = (s.packets, s.wire, s.captured, s.last_ts, s.last_frame, bytes(s.data), s.unordered,
                 s.held_seq if give else 0, s.held if give else None)
        s.packets = s.wire = s.captured = s.unordered = 0
        s.data = bytearray()
        if give:
            s.held = None
            s.seq = NO_SEQ           # the flow table now holds the early bytes: it says where data goes next
        return batch

    def bound(self) -> list[int]:
        return [slot for slot, s in enumerate(self._slots) if s is not None and s.state == BOUND]
