"""Feed a plain pcap or pcapng capture to the flow table a window at a time.

The kernels split each window into runs; Python then touches each run once:
a plain run of in-sequence data becomes one append to its direction, and
everything else (handshakes, teardowns, reordering, packets the kernels did
not decode) becomes segments for the general per-packet path, in file order.
"""

from __future__ import annotations

import os
from typing import BinaryIO, Callable

import numpy as np

from ..capture.record import Record
from ..decode.decoder import Decoder
from ..decode.segment import Segment
from ..flow.table import FlowTable
from . import kernels
from .header import PcapHeader, PcapngHeader
from .shard import Shard

WINDOW_RECORDS = 1 << 14
WINDOW_BYTES = 4 << 20


# Positions in a row of _rows(): fam, addr, ports, vlan, seq, ack, flags, poff, plen, ts, origlen, caplen,
# data offset, record offset, kind.
_SEQ, _POFF, _PLEN, _TS, _ORIGLEN, _CAPLEN, _DATA, _RECOFF, _KIND = 4, 7, 8, 9, 10, 11, 12, 13, 14


class _Columns:
    """Per-window arrays, allocated once."""

    def __init__(self, n: int) -> None:
        self.rec_off = np.zeros(n, np.int64)
        self.data_off = np.zeros(n, np.int64)
        self.caplen = np.zeros(n, np.int64)
        self.origlen = np.zeros(n, np.int64)
        self.ts_ns = np.zeros(n, np.int64)
        self.kind = np.zeros(n, np.uint8)
        self.fam = np.zeros(n, np.int64)
        self.addr = np.zeros((n, 4), np.int64)
        self.ports = np.zeros((n, 2), np.int64)
        self.seq = np.zeros(n, np.int64)
        self.ack = np.zeros(n, np.int64)
        self.flags = np.zeros(n, np.int64)
        self.poff = np.zeros(n, np.int64)
        self.plen = np.zeros(n, np.int64)
        self.vlan = np.zeros(n, np.int64)
        self.run_of = np.zeros(n, np.int64)
        self.run_first = np.zeros(n, np.int64)
        self.run_count = np.zeros(n, np.int64)
        self.run_bytes = np.zeros(n, np.int64)
        self.run_plain = np.zeros(n, np.bool_)
        self.run_last = np.zeros(n, np.int64)
        self.wire = np.zeros(n, np.int64)
        self.cap = np.zeros(n, np.int64)


def _address(family: int, hi: int, lo: int) -> bytes:
    if family == 4:
        return lo.to_bytes(4, "big")
    return (hi & 0xFFFFFFFFFFFFFFFF).to_bytes(8, "big") + (lo & 0xFFFFFFFFFFFFFFFF).to_bytes(8, "big")


class FastPump:
    """Runs one capture's records through kernels, table and decoder; counts what the summary needs."""

    def __init__(self, source: BinaryIO, header: PcapHeader | PcapngHeader, decoder: Decoder, table: FlowTable,
                 on_window: Callable[[int, int], None], shard: Shard = Shard()) -> None:
        self.source = source
        self.shard = shard
        self.add_decoded = shard.owned(table.add)      # what the general decoder makes of a record
        self.header = header
        self.decoder = decoder
        self.table = table
        self.on_window = on_window      # (records so far, file bytes so far)
        self.packets = 0
        self.truncated = 0
        self.first_ts: int | None = None
        self.last_ts: int | None = None
        size = os.fstat(source.fileno()).st_size
        self.window_bytes = max(1 << 16, min(WINDOW_BYTES, size))
        self.cols = _Columns(min(WINDOW_RECORDS, size // 16 + 1))

    def run(self) -> bool:
        """True when the whole file was read; False when the rest needs the general reader."""
        buf = bytearray(self.window_bytes + kernels.MAX_CAPLEN + 16)
        arr = np.frombuffer(buf, np.uint8)
        f = self.source
        f.seek(self.header.start)
        filled = 0
        file_pos = self.header.start
        eof = False
        while True:
            if not eof:
                got = _read_into(f, buf, filled)
                eof = got == 0
                filled += got
            n, used, status = self._walk(arr, filled)
            if n:
                self._window(arr, buf, n, file_pos)
            file_pos += used
            self.on_window(self.packets, file_pos)
            if status or (n == 0 and (eof or filled == len(buf))):
                return status == 0 and eof and used == filled
            buf[:filled - used] = buf[used:filled]
            filled -= used

    def _walk(self, arr: np.ndarray, filled: int) -> tuple[int, int, int]:
        h, c = self.header, self.cols
        if isinstance(h, PcapHeader):
            return kernels.walk(arr, 0, filled, h.big, h.frac_ns, h.snaplen,
                                c.rec_off, c.data_off, c.caplen, c.origlen, c.ts_ns)
        return kernels.walk_pcapng(arr, 0, filled, h.big, h.frac_ns, h.offset_ns,
                                   c.rec_off, c.data_off, c.caplen, c.origlen, c.ts_ns)

    def _window(self, arr: np.ndarray, buf: bytearray, n: int, file_pos: int) -> None:
        c = self.cols
        h = self.header
        kernels.parse(arr, c.data_off, c.caplen, n, h.linktype, c.kind, c.fam, c.addr, c.ports, c.seq, c.ack,
                      c.flags, c.poff, c.plen, c.vlan)
        if self.shard.count > 1:
            kernels.claim(n, c.kind, c.fam, c.addr, c.ports, c.vlan, self.shard.count, self.shard.index)
        nruns = kernels.runs(n, c.kind, c.fam, c.addr, c.ports, c.seq, c.flags, c.plen, c.vlan,
                             c.run_of, c.run_first, c.run_count, c.run_bytes, c.run_plain)
        run_start = np.zeros(nruns + 1, np.int64)
        np.cumsum(c.run_bytes[:nruns], out=run_start[1:])
        out = np.empty(int(run_start[-1]), np.uint8)
        c.wire[:nruns] = 0
        c.cap[:nruns] = 0
        kernels.gather(arr, n, c.run_of, c.run_plain, c.poff, c.plen, run_start, out, c.run_last, c.wire, c.cap,
                       c.origlen, c.caplen)
        self._count(n)
        frame0 = self.packets - n + 1
        ts = c.ts_ns[:n].tolist()
        first = c.run_first[:nruns].tolist()
        last = c.run_last[:nruns].tolist()
        count = c.run_count[:nruns].tolist()
        plain = c.run_plain[:nruns].tolist()
        starts = run_start.tolist()
        wire = c.wire[:nruns].tolist()
        cap = c.cap[:nruns].tolist()
        heads = self._rows(c.run_first[:nruns])     # each run's first packet, as plain Python values
        members: np.ndarray | None = None
        add_run = self.table.add_run
        for r in range(nruns):
            i = first[r]
            row = heads[r]
            if not plain[r]:
                self._single(buf, i, row, frame0, file_pos)
                continue
            data = memoryview(out[starts[r]:starts[r + 1]])
            key = self._key(row)
            j = last[r]
            if add_run(key, row[_SEQ], data, count[r], wire[r], cap[r], ts[j], frame0 + j):
                continue
            # Not appendable as a whole: the first packet by the general path, then the rest again.
            if members is None:
                members = np.argsort(c.run_of[:n], kind="stable")   # other shards' packets (-1) first
                member_start = np.full(nruns + 1, np.count_nonzero(c.run_of[:n] < 0), np.int64)
                member_start[1:] += np.cumsum(c.run_count[:nruns])
            idx = members[member_start[r]:member_start[r + 1]]
            self.table.add(self._segment(buf, i, row, frame0, key))
            if len(idx) > 1:
                rest_rows = self._rows(idx[1:])
                rest = data[row[_PLEN]:]
                if add_run(key, rest_rows[0][_SEQ], rest, count[r] - 1, wire[r] - row[_ORIGLEN],
                           cap[r] - row[_CAPLEN], ts[j], frame0 + j):
                    continue
                for k, rest_row in zip(idx[1:].tolist(), rest_rows):
                    self.table.add(self._segment(buf, k, rest_row, frame0, key))

    def _count(self, n: int) -> None:
        c = self.cols
        self.packets += n
        self.truncated += int(np.count_nonzero(c.caplen[:n] < c.origlen[:n]))
        if self.first_ts is None:
            self.first_ts = int(c.ts_ns[0])
        self.last_ts = int(c.ts_ns[n - 1])

    def _rows(self, index: np.ndarray) -> list[tuple]:
        """The columns of the packets at `index`, one tuple of Python values each (positions above)."""
        c = self.cols
        return list(zip(*(column[index].tolist() for column in (
            c.fam, c.addr, c.ports, c.vlan, c.seq, c.ack, c.flags, c.poff, c.plen, c.ts_ns, c.origlen, c.caplen,
            c.data_off, c.rec_off, c.kind))))

    @staticmethod
    def _key(row: tuple) -> tuple:
        fam, a, ports, vlan = row[0], row[1], row[2], row[3]
        return (_address(fam, a[0], a[1]), _address(fam, a[2], a[3]), ports[0], ports[1],
                (vlan,) if vlan >= 0 else ())

    def _segment(self, buf: bytearray, i: int, row: tuple, frame0: int, key: tuple) -> Segment:
        """Packet `i` of the window for the general path; `key` is its direction's (every packet
        of a run shares it, so it is computed once per run)."""
        src, dst, sport, dport, vlans = key
        p = row[_POFF]
        base = row[_DATA]
        macs = (bytes(buf[base + 6:base + 12]), bytes(buf[base:base + 6])) if self.header.linktype == 1 else (None, None)
        return Segment(row[0], src, dst, sport, dport, row[_SEQ], row[5], row[6], bytes(buf[p:p + row[_PLEN]]),
                       frame0 + i, row[_TS], vlans, macs[0], macs[1],
                       wire_len=row[_ORIGLEN], cap_len=row[_CAPLEN])

    def _single(self, buf: bytearray, i: int, row: tuple, frame0: int, file_pos: int) -> None:
        if row[_KIND] == kernels.KIND_FAST:
            self.table.add(self._segment(buf, i, row, frame0, self._key(row)))
            return
        data = row[_DATA]
        cl = row[_CAPLEN]
        record = Record(frame0 + i, self.header.linktype, row[_TS], cl, row[_ORIGLEN],
                        bytes(buf[data:data + cl]), file_pos + row[_RECOFF], 0)
        for segment in self.decoder.decode(record):
            self.add_decoded(segment)


def _read_into(f: BinaryIO, buf: bytearray, filled: int) -> int:
    view = memoryview(buf)[filled:]
    total = 0
    while total < len(view):
        got = f.readinto(view[total:])
        if not got:
            break
        total += got
    return total
