"""The common case in plain CPython: one loop from capture bytes to flow files.

A classic pcap or a single-interface pcapng is read in large chunks; each record
is parsed down to TCP with precompiled structs (Ethernet with at most one 802.1Q
tag, or raw IP; IPv4 without fragmentation, IPv6 without extension headers).
A packet of an open direction that needs no judgement is applied in place: a
pure ACK is counted, in-order data with nothing pending is appended where the
flow table said it may be (`FlowTable.refresh`). Any other plain TCP packet
becomes the segment the decoder would make of it, for the flow table to judge;
every other record (tunnels, fragments, options, anything odd) goes through the
general decoder exactly as the general reader hands it over. So the output is
the same by construction (tests/test_pump.py holds both paths to it).

Measured on interleaved traffic (thousands of connections, one or two packets
each per megabyte) this beats the numba kernels it replaced: they grouped
packets into runs per window, and with every flow open at once the Python work
per run was the cost.
"""

from __future__ import annotations

import struct
from typing import Callable

from ..capture import pcap, pcapng
from ..capture.evidence import EvidenceFile
from ..capture.record import Record
from ..decode.decoder import Decoder
from ..decode.segment import Segment
from ..flow.table import FlowTable, Half, count_packet
from .header import PcapHeader, PcapngHeader
from .shard import Shard, shard_of_key

CHUNK = 4 << 20
NS = 1_000_000_000
MAX_BLOCK = 64 << 20

_IP4 = struct.Struct("!BxH2xHxB")          # ver/ihl, total length, flags/offset, protocol
_IP6 = struct.Struct("!IHB")                # ver/class/flow, payload length, next header
_TCP = struct.Struct("!4xI4xBB")            # seq, data offset, flags
_PORTS_ACK = struct.Struct("!HHII")         # ports, seq, ack
FOREIGN_LIMIT = 1 << 16                     # other workers' connections remembered at most
STALE_LIMIT = 1024                          # closed directions the fast index may still hold

GENERAL = 1        # _walk stopped at a block the general reader must see (another interface, section...)


class LeanPump:
    """Runs one capture's records through the flow table; counts what the summary needs."""

    def __init__(self, source: EvidenceFile, header: PcapHeader | PcapngHeader, decoder: Decoder,
                 table: FlowTable, on_window: Callable[[int, int], None], shard: Shard = Shard()) -> None:
        self.source = source
        self.header = header
        self.decoder = decoder
        self.table = table
        self.on_window = on_window      # (records so far, file bytes so far); may raise to stop
        self.add = shard.owned(table.add)
        self.shard = shard
        self.ethernet = header.linktype == 1
        self.capture = table.capture       # the capture being read (table.begin_capture ran)
        # Directions by the packet's own address-and-port bytes (one slice, no tuple of parsed
        # fields): the key a half had when it was last seen open; a closed one is stale.
        self.fast: dict[bytes | tuple[bytes, int], Half] = {}
        self.foreign: set[bytes | tuple[bytes, int]] = set()
        self.packets = 0
        self.truncated = 0
        self.first_ts: int | None = None
        self.last_ts: int | None = None

    def run(self) -> bool:
        """True when the whole file was read; False when the rest needs the general reader
        (every record before that point is done; the general reader skips `packets` records)."""
        source = self.source
        source.seek(self.header.start)
        walk = self._walk_pcap if isinstance(self.header, PcapHeader) else self._walk_pcapng
        buf, pos, base = b"", 0, self.header.start
        while True:
            chunk = source.read(CHUNK)
            if pos:
                base += pos
                buf = buf[pos:] + chunk if chunk else buf[pos:]
            else:
                buf = buf + chunk if buf else chunk
            status, pos = walk(buf, base)
            self.on_window(self.packets, base + pos)
            if len(self.fast) > len(self.table.halves) + STALE_LIMIT:   # closed halves hold their state
                self.fast = {key: half for key, half in self.fast.items() if not half.closed}
            if status == GENERAL:
                return False
            if not chunk:
                return pos == len(buf)      # a cut record at the end: the general reader reports it

    # -- record layouts (capture/ declares them) -------------------------------------------
    def _walk_pcap(self, buf: bytes, base: int) -> tuple[int, int]:
        h = self.header
        order = ">" if h.big else "<"
        unpack = pcap.RECORD_HEADER[order].unpack_from
        limit = max(h.snaplen, pcap.MAX_SNAPLEN)
        frac_ns = h.frac_ns
        packet = self._packet
        frame, truncated, first, ts = self.packets, 0, None, None
        end = len(buf)
        pos = status = 0
        while pos + 16 <= end:
            sec, frac, caplen, origlen = unpack(buf, pos)
            stop = pos + 16 + caplen
            if caplen > limit:
                status = GENERAL            # the general reader names the damage
                break
            if stop > end:
                break
            frame += 1
            ts = sec * NS + frac * frac_ns
            if first is None:
                first = ts
            if caplen < origlen:
                truncated += 1
            packet(buf, pos + 16, stop, caplen, origlen, ts, frame, base + pos)
            pos = stop
        self._counted(frame, truncated, first, ts)
        return status, pos

    def _walk_pcapng(self, buf: bytes, base: int) -> tuple[int, int]:
        h = self.header
        layout = pcapng.LAYOUTS[">" if h.big else "<"]
        block, epb = layout.block.unpack_from, layout.packet[pcapng.EPB].unpack_from
        frac_ns, offset_ns = h.frac_ns, h.offset_ns
        packet = self._packet
        frame, truncated, first, ts = self.packets, 0, None, None
        end = len(buf)
        pos = status = 0
        while pos + 8 <= end:
            btype, blen = block(buf, pos)
            if btype in (pcapng.SHB, pcapng.IDB, pcapng.PB, pcapng.SPB) or blen < 12 or blen % 4 or blen > MAX_BLOCK:
                status = GENERAL
                break
            if pos + blen > end:
                break
            if btype == pcapng.EPB:
                if blen < 32:
                    status = GENERAL
                    break
                iface, hi, lo, caplen, origlen = epb(buf, pos + 8)
                if iface or 28 + caplen > blen - 4:
                    status = GENERAL
                    break
                frame += 1
                ts = ((hi << 32) | lo) * frac_ns + offset_ns
                if first is None:
                    first = ts
                if caplen < origlen:
                    truncated += 1
                packet(buf, pos + 28, pos + 28 + caplen, caplen, origlen, ts, frame, base + pos)
            pos += blen
        self._counted(frame, truncated, first, ts)
        return status, pos

    def _counted(self, frame: int, truncated: int, first_ts: int | None, last_ts: int | None) -> None:
        """A walk's share of the summary: records, snaplen-cut records, first and last time."""
        if last_ts is not None:
            if self.first_ts is None:
                self.first_ts = first_ts
            self.last_ts = last_ts
        self.packets = frame
        self.truncated += truncated

    # -- one packet ------------------------------------------------------------------------
    def _packet(self, buf: bytes, d: int, e: int, caplen: int, origlen: int, ts: int, frame: int,
                offset: int) -> None:
        vid = -1
        if self.ethernet:
            if e - d < 14:
                return self._general(buf, d, e, caplen, origlen, ts, frame, offset)
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
            if vhl != 0x45 or proto != 6 or frag & 0x3FFF or total < 20 or ip_end > e:   # options: general
                return self._general(buf, d, e, caplen, origlen, ts, frame, offset)
            t = l3 + 20
            fkey = buf[l3 + 12:l3 + 24]          # addresses then ports, contiguous
        elif etype == 0x86DD and e - l3 >= 40:
            vtf, plen, nh = _IP6.unpack_from(buf, l3)
            ip_end = l3 + 40 + plen
            if vtf >> 28 != 6 or nh != 6 or not plen or ip_end > e:
                return self._general(buf, d, e, caplen, origlen, ts, frame, offset)
            t = l3 + 40
            fkey = buf[l3 + 8:l3 + 44]
        else:
            return self._general(buf, d, e, caplen, origlen, ts, frame, offset)
        if ip_end - t < 20:
            return self._general(buf, d, e, caplen, origlen, ts, frame, offset)
        seq, doff, flags = _TCP.unpack_from(buf, t)
        p = t + ((doff >> 4) << 2)
        if p < t + 20 or p > ip_end:
            return self._general(buf, d, e, caplen, origlen, ts, frame, offset)
        if vid >= 0:
            fkey = (fkey, vid)
        half = self.fast.get(fkey)
        if half is None or half.closed or flags & 0x07 or half.capture is not self.capture:
            if half is None and self.shard.count > 1 and self._foreign(fkey, buf, l3, t, vid, etype == 0x0800):
                return None
            return self._judged(buf, d, l3, t, p, ip_end, seq, flags, vid, etype == 0x0800, caplen, origlen, ts,
                                frame, fkey)
        if p == ip_end:            # a pure ACK: counted, nothing else changes
            count_packet(half, origlen, caplen, ts, frame)
            return None
        if seq != half.fast_seq:
            return self._judged(buf, d, l3, t, p, ip_end, seq, flags, vid, etype == 0x0800, caplen, origlen, ts,
                                frame, fkey)
        count_packet(half, origlen, caplen, ts, frame)
        half.fast_seq = (seq + ip_end - p) & 0xFFFFFFFF
        half.stream.append(buf[p:ip_end])
        return None

    def _general(self, buf: bytes, d: int, e: int, caplen: int, origlen: int, ts: int, frame: int,
                 offset: int) -> None:
        """A record the fast path does not parse, as the general reader would hand it over."""
        for seg in self.decoder.decode(Record(frame, self.header.linktype, ts, caplen, origlen, buf[d:e], offset)):
            self.add(seg)
            self.table.refresh((seg.src, seg.dst, seg.sport, seg.dport, seg.vlans))

    def _judged(self, buf: bytes, d: int, l3: int, t: int, p: int, ip_end: int, seq: int, flags: int, vid: int,
                v4: bool, caplen: int, origlen: int, ts: int, frame: int, fkey: bytes | tuple[bytes, int]) -> None:
        """A plain TCP packet that needs the flow table's judgement: the segment the decoder would
        make of it (built here, the headers are parsed already); then its direction is known to the
        fast path by `fkey` (the packet's address-and-port bytes)."""
        src, dst = (buf[l3 + 12:l3 + 16], buf[l3 + 16:l3 + 20]) if v4 else (buf[l3 + 8:l3 + 24], buf[l3 + 24:l3 + 40])
        sport, dport, _, ack = _PORTS_ACK.unpack_from(buf, t)
        macs = (buf[d + 6:d + 12], buf[d:d + 6]) if self.ethernet else (None, None)
        vlans = (vid,) if vid >= 0 else ()
        self.add(Segment(4 if v4 else 6, src, dst, sport, dport, seq, ack, flags, buf[p:ip_end], frame, ts, vlans,
                         macs[0], macs[1], wire_len=origlen, cap_len=caplen))
        key = (src, dst, sport, dport, vlans)
        self.table.refresh(key)
        half = self.table.halves.get(key)
        if half is None:
            self.fast.pop(fkey, None)
        else:
            self.fast[fkey] = half

    def _foreign(self, fkey: bytes | tuple[bytes, int], buf: bytes, l3: int, t: int, vid: int, v4: bool) -> bool:
        """Whether another worker owns this connection (remembered: half the packets ask, with -j 2)."""
        if fkey in self.foreign:
            return True
        family, (src, dst) = (4, (buf[l3 + 12:l3 + 16], buf[l3 + 16:l3 + 20])) if v4 else \
            (6, (buf[l3 + 8:l3 + 24], buf[l3 + 24:l3 + 40]))
        sport, dport = (buf[t] << 8) | buf[t + 1], (buf[t + 2] << 8) | buf[t + 3]
        shard = self.shard
        if shard_of_key(family, src, dst, sport, dport, (vid,) if vid >= 0 else (), shard.count) == shard.index:
            return False
        if len(self.foreign) >= FOREIGN_LIMIT:
            self.foreign.clear()
        self.foreign.add(fkey)
        return True
