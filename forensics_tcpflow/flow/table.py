"""The flow table: segments to connections, connections to directions, directions to records.

A connection lives from its first segment until both directions finished (FIN
with every byte before it), a RST, port reuse, an idle timeout or the end of
input; then it leaves memory. After a RST it stays open for the linger time:
segments still in flight that continue a direction where it stood are its bytes
(a new SYN with another ISN, or a jump beyond -m, still starts a new cN). Its
`FlowRecord`s linger a few seconds of capture time, so the late ACKs and
retransmitted FINs that follow every close still count as its packets; after
that a bounded memory of closed directions absorbs stragglers, so they do not
open empty ghost connections.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from typing import Callable

from ..decode.segment import TH_ACK, TH_FIN, TH_RST, TH_SYN, Segment
from ..options import NS, Options
from ..sink import FlowFile, FlowSink
from ..sink.findx import write_findx
from .community_id import community_id
from .naming import NameFields, create_named, format_mac, printable_address
from .reassembly import HOLE, TRUNCATED, Direction, signed32
from .record import FlowRecord
from .udp import UdpFlows

RECENT_LIMIT = 16384
LINGER_NS = 4 * NS          # capture time a closed or reset connection keeps taking late segments
LINGER_LIMIT = 4096         # ... and at most this many directions (memory stays flat)

Key = tuple[bytes, bytes, int, int, tuple[int, ...]]


def _nothing(half: "Half") -> None:
    """No kernel holds anything of this half."""


class Half:
    """One direction plus what the report needs to say about it."""

    __slots__ = ("conn", "key", "stream", "first_ts", "last_ts", "first_frame", "last_frame",
                 "packets", "caplen_short", "reassembled", "wire_bytes", "captured_bytes", "mac_src", "mac_dst", "role",
                 "syn_seq", "name", "connection_index", "closed", "size", "hashes", "close_reason",
                 "capture", "span_first", "spans", "facts", "index", "index_name", "index_hashes")

    def __init__(self, conn: "Connection", key: Key, seg: Segment, stream: Direction) -> None:
        self.conn = conn
        self.key = key
        self.stream = stream
        self.first_ts = self.last_ts = seg.ts_ns
        self.first_frame = self.last_frame = seg.frame
        self.packets = 0
        self.caplen_short = 0
        self.wire_bytes = 0
        self.captured_bytes = 0
        self.reassembled = 0
        self.mac_src = seg.mac_src
        self.mac_dst = seg.mac_dst
        self.role = "unknown"
        self.syn_seq: int | None = None
        self.name = ""
        self.connection_index = 0
        self.closed = False
        self.size = 0
        self.hashes: dict[str, str] = {}
        self.close_reason = ""
        self.capture = ""                          # the capture of the latest packet (--merge)
        self.span_first = seg.frame                # first frame of this direction in that capture
        self.spans: list[tuple[str, int, int]] = []  # earlier captures: (capture, first frame, last frame)
        self.facts = seg.facts                     # link-layer facts of its first packet (pflog, NFLOG)
        self.index: list[tuple[int, int, int]] | None = None   # -I: (offset, ts, length) per stored segment
        self.index_name = ""                       # -I: the .findx written at close, and its digests
        self.index_hashes: dict[str, str] = {}


def count_packets(half: Half, packets: int, wire: int, cap: int, ts_ns: int, frame: int) -> None:
    """The one place packets are counted into their direction (one by the flow table, a batch
    of them by the kernel)."""
    half.packets += packets
    half.wire_bytes += wire
    half.captured_bytes += cap
    half.last_ts = ts_ns
    half.last_frame = frame


class Connection:
    __slots__ = ("id", "family", "halves", "community_id", "last_ts", "finished_halves", "reset_ns")

    def __init__(self, cid: int, seg: Segment) -> None:
        self.id = cid
        self.family = seg.family
        self.halves: dict[Key, Half] = {}
        self.finished_halves: list[Half] = []     # replaced after a sequence jump
        self.community_id = community_id(seg.family, seg.src, seg.dst, seg.sport, seg.dport)
        self.last_ts = seg.ts_ns
        self.reset_ns: int | None = None          # capture time of its first RST


class FlowTable:
    """Owns every open connection of one capture (or one merged evidence set)."""

    def __init__(self, options: Options, sink: FlowSink, emit: Callable[[FlowRecord], None],
                 capture: str, template: str, sensor: str) -> None:
        self.options = options
        self.sink = sink
        self.emit = emit
        self.capture = capture
        self.template = template
        self.sensor = sensor
        self.halves: dict[Key, Half] = {}
        self.connections: OrderedDict[int, Connection] = OrderedDict()
        self.recent: OrderedDict[Key, int] = OrderedDict()   # key -> sequence number past the end
        self.lingering: OrderedDict[Key, tuple[FlowRecord, int, int]] = OrderedDict()  # record, end, closed at
        self.resetting: OrderedDict[int, Connection] = OrderedDict()   # reset, still taking in-flight data
        self.counters: Counter[str] = Counter()
        self.frame_base = 0
        self.now = 0
        self.files_kept = "X" not in options.fflags    # -FX: report only, no file to name
        self.start_new = True
        self.on_evict: Callable[[Half], None] = _nothing   # the kernel hands over what it holds of a closing half
        # --udp: the UDP flows, fed by the decoder (Decoder.on_datagram), sharing captures and counters
        self.udp = UdpFlows(options, sink, emit, self.counters, template, sensor) if options.udp else None

    # -- per segment -----------------------------------------------------
    def add(self, seg: Segment) -> None:
        key = (seg.src, seg.dst, seg.sport, seg.dport, seg.vlans)
        flags = seg.flags
        self.now = seg.ts_ns
        if self.lingering and next(iter(self.lingering.values()))[2] < self.now - LINGER_NS:
            self._release(self.now - LINGER_NS)
        if self.resetting:
            self._expire_resets()
        half = self.halves.get(key)
        if half is not None and (flags & TH_SYN) and self._is_new_syn(half, seg):
            self._finish_connection(half.conn, "port-reuse")
            half = None
        if half is not None and half.closed:
            if seg.payload and half.stream.offset(seg.seq) >= half.stream.frontier:
                self._finish_connection(half.conn, "port-reuse")
                half = None
            else:
                self._count(half, seg)
                return
        if half is None:
            if key in self.lingering and self._linger(key, seg):
                return
            if self._late(key, seg):
                self.counters["segments-after-close"] += 1
                return
            if not self.start_new:
                self.counters["segments-not-finishing"] += 1
                return
            half = self._new_half(key, seg)
        elif seg.payload and half.stream.distance(seg.seq) > self.options.max_seek:
            half = self._seq_jump(half, key, seg)

        conn = half.conn
        conn.last_ts = seg.ts_ns
        if self.options.idle_timeout_ns:
            self.connections.move_to_end(conn.id)
        self._count(half, seg)
        if seg.missing:
            half.caplen_short += 1
        if seg.reassembled:
            half.reassembled += 1
        stream = half.stream
        if flags & TH_SYN:
            self._syn(half, seg)
        if seg.payload or seg.missing:
            if flags & TH_SYN:
                half.stream.violations += 1        # data on SYN: legal, rare, worth a note
            frontier = stream.frontier
            placed = stream.add(seg.seq + (1 if flags & TH_SYN else 0), seg.payload, seg.missing)
            if half.index is not None and placed is not None and seg.payload:
                self._index(half, placed, frontier, seg)
            if stream.pending_bytes > self.options.reorder_memory:
                stream.flush()
        if flags & TH_FIN:
            stream.fin(seg.seq + (1 if flags & TH_SYN else 0), len(seg.payload) + seg.missing)
        if flags & TH_RST:
            half.close_reason = "rst"
            if conn.reset_ns is None:
                conn.reset_ns = self.now
                self.resetting[conn.id] = conn
        if stream.finished:
            self._close_half(half, "fin")
            if all(h.closed for h in conn.halves.values()) and len(conn.halves) == 2:
                self._finish_connection(conn, "fin")

    def continues(self, seg: Segment) -> bool:
        """Whether the segment's direction is open: all a -R capture may add to."""
        half = self.halves.get((seg.src, seg.dst, seg.sport, seg.dport, seg.vlans))
        return half is not None and not half.closed

    def _count(self, half: Half, seg: Segment) -> None:
        if half.capture is not self.capture:
            self._next_capture(half, seg)
        count_packets(half, 1, seg.wire_len, seg.cap_len, seg.ts_ns, seg.frame)

    def admit(self, key: Key) -> tuple[Half, int] | None:
        """The open direction of `key` in the capture being read, for the kernel to bind, and the
        sequence number at which in-order data may be appended without judgement (-1: none).

        Data may go straight in while the origin is known, the file open, nothing pending, no
        FIN or RST seen (a reset connection's data goes through `add`, which ends the linger in
        time) and no -b limit: appending there is then exactly what `add` would do.
        """
        half = self.halves.get(key)
        if half is None or half.closed or half.capture is not self.capture:
            return None
        s = half.stream
        plain = (s.isn_known and not s.pending and s.fin_seq is None and s.file is not None
                 and half.conn.reset_ns is None and self.options.max_bytes is None)
        return half, s.next_seq if plain else -1

    def absorb(self, half: Half, packets: int, wire: int, cap: int, last_ts: int, last_frame: int, data: bytes,
               unordered: int, held_seq: int, held: bytes | None) -> None:
        """What the kernel applied to a bound direction since it last handed it over: packets
        counted, in-order bytes, segments that arrived out of order though they needed no
        judgement (identical retransmissions, an early segment placed once the bytes before it
        came) and a segment it still held that arrived ahead of the bytes before it."""
        if packets:
            count_packets(half, packets, wire, cap, last_ts, last_frame)
        if data:
            half.stream.append(data)
        half.stream.out_of_order += unordered
        if held is not None:
            half.stream.add(held_seq, held)

    def _index(self, half: Half, placed: int, frontier: int, seg: Segment) -> None:
        """A -I line, unless tcpflow would skip the segment as an RFC 1122 keepalive."""
        length = len(seg.payload)
        if length == 1 and placed == frontier - 1:
            return
        limit = self.options.max_bytes
        stored = length if limit is None else max(0, min(length, limit - placed))
        half.index.append((placed, seg.ts_ns, stored))

    def _is_new_syn(self, half: Half, seg: Segment) -> bool:
        """A SYN with another ISN, or far from the data seen, opens a new connection."""
        if half.syn_seq is not None:
            return half.syn_seq != seg.seq
        if not half.stream.isn_known:
            return False
        return not -self.options.max_seek <= half.stream.offset(seg.seq + 1) <= 0

    def _syn(self, half: Half, seg: Segment) -> None:
        if half.syn_seq is None:
            half.syn_seq = seg.seq
            half.stream.syn(seg.seq)
            if seg.flags & TH_ACK:
                half.role = "server-to-client"
                other = "client-to-server"
            else:
                half.role = "client-to-server"
                other = "server-to-client"
            for h in half.conn.halves.values():
                if h is not half and h.role == "unknown":
                    h.role = other
        else:
            self.counters["syn-retransmissions"] += 1

    def _linger(self, key: Key, seg: Segment) -> bool:
        """Count a late segment into the record of the connection that just closed, if it is one."""
        rec, end, _ = self.lingering[key]
        if seg.flags & TH_SYN or (seg.payload and signed32(seg.seq + len(seg.payload) - end) > 0):
            return False
        rec.packets += 1
        rec.wire_bytes += seg.wire_len
        rec.captured_bytes += seg.cap_len
        if rec.sources and rec.sources[-1][0] == self.capture:
            rec.sources[-1] = (self.capture, rec.sources[-1][1], seg.frame)
        elif rec.sources or rec.capture != self.capture:     # --merge: the set's next capture
            rec.sources = (rec.sources or [(rec.capture, rec.first_frame, rec.last_frame)]) + [
                (self.capture, seg.frame, seg.frame)]
        rec.last_ts_ns, rec.last_frame = seg.ts_ns, seg.frame
        return True

    def _late(self, key: Key, seg: Segment) -> bool:
        """A segment for a direction that just closed, carrying nothing new."""
        end = self.recent.get(key)
        if end is None or seg.flags & TH_SYN:
            return False
        return not seg.payload or signed32(seg.seq + len(seg.payload) - end) <= 0

    def _new_half(self, key: Key, seg: Segment) -> Half:
        rkey = (seg.dst, seg.src, seg.dport, seg.sport, seg.vlans)
        peer = self.halves.get(rkey)
        if peer is not None and not (seg.flags & TH_SYN and not seg.flags & TH_ACK):
            conn = peer.conn
        else:
            if peer is not None:
                self._finish_connection(peer.conn, "port-reuse")
            # The ordinal of the connection's first packet: the same however the
            # capture is split between workers, and increasing in creation order.
            conn = Connection(self.frame_base + seg.frame, seg)
            self.connections[conn.id] = conn
        self.recent.pop(key, None)
        half = self._make_half(conn, key, seg)
        if peer is not None and peer.conn is conn and peer.role != "unknown":
            half.role = "client-to-server" if peer.role == "server-to-client" else "server-to-client"
        return half

    def begin_capture(self, capture: str, frames_before: int = 0, start_new: bool = True) -> None:
        """The next segments come from `capture`: a --merge set's connections run on across files.

        `frames_before` counts the packets of the captures read before it, so a
        connection's id (the ordinal of its first packet in the set) stays unique.
        `start_new` false (tcpflow's -R): only directions already open take segments.
        """
        self.capture = capture
        self.frame_base = frames_before
        self.start_new = start_new
        if self.udp is not None:
            self.udp.begin_capture(capture, frames_before, start_new)

    def _next_capture(self, half: Half, seg: Segment) -> None:
        if half.packets:          # before its first packet a direction only takes the capture's name
            half.spans.append((half.capture, half.span_first, half.last_frame))
            half.span_first = seg.frame
        half.capture = self.capture

    def _make_half(self, conn: Connection, key: Key, seg: Segment) -> Half:
        half = Half(conn, key, seg, None)  # type: ignore[arg-type]
        half.stream = Direction(self.options.overlap, lambda: self._open(half), self.options.max_bytes,
                                self.options.max_seek)
        conn.halves[key] = half
        self.halves[key] = half
        if self.options.findx:
            half.index = []
        return half

    def _seq_jump(self, half: Half, key: Key, seg: Segment) -> Half:
        """tcpflow's -m rule: a jump this far is a new connection on the same addresses."""
        conn = half.conn
        self._close_half(half, "seq-jump")
        conn.finished_halves.append(half)
        new = self._make_half(conn, key, seg)
        new.role = half.role
        return new

    def _open(self, half: Half) -> FlowFile:
        """Name the direction on its first stored byte, as tcpflow does, taking the next free cN."""
        src, dst, sport, dport, vlans = half.key
        half.name, half.connection_index, file = create_named(self.sink, self.template, lambda count: NameFields(
            half.conn.family, src, dst, sport, dport, vlans, half.mac_src, half.mac_dst, half.first_ts, count,
            half.conn.id, self.sensor))
        return file

    # -- closing ---------------------------------------------------------
    def _close_half(self, half: Half, reason: str) -> None:
        if half.closed:
            return
        self.on_evict(half)
        half.stream.flush()
        half.closed = True
        half.close_reason = half.close_reason or reason
        if half.stream.file is not None:
            half.size, half.hashes = half.stream.file.close(half.first_ts)
            half.stream.file = None
            if half.index:
                self._write_index(half)

    def _write_index(self, half: Half) -> None:
        half.index_name, half.index_hashes = write_findx(self.sink, half.name, half.index or [], half.first_ts)
        half.index = None

    def _expire_resets(self) -> None:
        """Connections reset longer ago than the linger time take no more data."""
        limit = self.now - LINGER_NS
        while self.resetting:
            conn = next(iter(self.resetting.values()))
            if conn.reset_ns >= limit:   # type: ignore[operator]
                break
            self._finish_connection(conn, "rst")

    def _finish_connection(self, conn: Connection, reason: str) -> None:
        if conn.reset_ns is not None:
            self.resetting.pop(conn.id, None)
            reason = "rst"
        for half in conn.finished_halves:
            self.emit(self._record(half))
        for half in list(conn.halves.values()):
            self._close_half(half, reason)
            if self.halves.get(half.key) is half:
                del self.halves[half.key]
            s = half.stream
            end = s.fin_seq if s.fin_seq is not None else s.next_seq + max(0, s.stream_end - s.frontier)
            old = self.lingering.pop(half.key, None)
            if old is not None:
                self.emit(old[0])
            self.lingering[half.key] = (self._record(half), end & 0xFFFFFFFF, self.now)
        self._unlink(conn)
        self.connections.pop(conn.id, None)
        if len(self.lingering) > LINGER_LIMIT:
            self._release(None, len(self.lingering) - LINGER_LIMIT)

    @staticmethod
    def _unlink(conn: Connection) -> None:
        """Break the connection <-> half <-> stream cycles so refcounting frees a finished
        connection at once: the collector runs rarely here (see engine._few_collections)."""
        for half in conn.finished_halves + list(conn.halves.values()):
            half.stream.open_file = None
        conn.halves.clear()
        conn.finished_halves.clear()

    def _release(self, closed_before: int | None, count: int = -1) -> None:
        """Emit lingering records (closed before a time, or the oldest `count`); remember their ends."""
        while self.lingering and count != 0:
            key, (rec, end, closed) = next(iter(self.lingering.items()))
            if closed_before is not None and closed >= closed_before:
                break
            del self.lingering[key]
            self.emit(rec)
            self.recent[key] = end
            if len(self.recent) > RECENT_LIMIT:
                self.recent.popitem(last=False)
            count -= 1

    def expire(self, now_ns: int) -> None:
        """Close connections idle longer than the timeout (capture time)."""
        limit = now_ns - self.options.idle_timeout_ns
        while self.connections:
            conn = next(iter(self.connections.values()))
            if conn.last_ts > limit:
                break
            self._finish_connection(conn, "idle")
        if self.udp is not None:     # a live capture's idle sweeps close silent UDP flows too
            self.udp.expire(now_ns)

    def close_all(self) -> None:
        for conn in list(self.connections.values()):
            self._finish_connection(conn, "end-of-input")
        self._release(None)
        if self.udp is not None:
            self.udp.close_all()

    # -- reporting -------------------------------------------------------
    def _record(self, half: Half) -> FlowRecord:
        src, dst, sport, dport, vlans = half.key
        family = half.conn.family
        s = half.stream
        return FlowRecord(
            filename=half.name if self.files_kept else "", filesize=half.size, hashes=half.hashes, family=family,
            src=printable_address(family, src), dst=printable_address(family, dst),
            sport=sport, dport=dport, vlans=vlans,
            mac_src=format_mac(half.mac_src) or None, mac_dst=format_mac(half.mac_dst) or None,
            connection_id=half.conn.id, connection_index=half.connection_index,
            direction=half.role, community_id=half.conn.community_id,
            capture=half.spans[0][0] if half.spans else half.capture,
            first_frame=half.first_frame, last_frame=half.last_frame,
            first_ts_ns=half.first_ts, last_ts_ns=half.last_ts, packets=half.packets,
            out_of_order=s.out_of_order, violations=s.violations,
            stream_length=max(s.stream_end, s.frontier), caplen_short=half.caplen_short,
            close_reason=half.close_reason, reassembled_datagrams=half.reassembled,
            wire_bytes=half.wire_bytes, captured_bytes=half.captured_bytes,
            holes=s.ranges(HOLE), truncated=s.ranges(TRUNCATED), overlaps=list(s.overlaps),
            sources=[*half.spans, (half.capture, half.span_first, half.last_frame)] if half.spans else [],
            link_facts=half.facts or {},
            index_filename=half.index_name if self.files_kept else "",
            index_hashes=half.index_hashes if self.files_kept else {},
        )
