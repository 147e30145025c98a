"""UDP flows (--udp): datagrams grouped by addresses, ports and VLANs.

A flow is both directions of one (addresses, ports, VLANs). It ends after
`udp_timeout` of capture time without a datagram in either direction (0: never),
or at the end of input; the same endpoints afterwards start the next cN. Each direction's
payloads are written in arrival order, nothing reordered or deduplicated (UDP
has no sequence numbers to judge by), and every datagram's place in the file is
kept in the direction's index (the -I `.findx` layout: offset|time|length),
always, even for an empty datagram: datagram boundaries are evidence too. A
direction's file is opened on its first datagram, so an empty one is named.
Which side is the client is not known (nothing in UDP says it): "unknown".
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from typing import Callable

from ..decode.segment import Datagram
from ..options import Options
from ..sink import FlowFile, FlowSink
from ..sink.findx import write_findx
from .community_id import community_id
from .naming import NameFields, create_named, format_mac, printable_address
from .record import FlowRecord

UDP = 17
Key = tuple[bytes, bytes, int, int, tuple[int, ...]]


class UdpFlow:
    __slots__ = ("id", "family", "community_id", "last_ts", "directions")

    def __init__(self, fid: int, d: Datagram) -> None:
        self.id = fid
        self.family = d.family
        self.community_id = community_id(d.family, d.src, d.dst, d.sport, d.dport, UDP)
        self.last_ts = d.ts_ns
        self.directions: list[UdpDirection] = []


class UdpDirection:
    """One direction of a UDP flow: its file, its index and its counts."""

    __slots__ = ("flow", "key", "name", "connection_index", "file", "size", "stream_length", "index",
                 "first_ts", "last_ts", "first_frame", "last_frame", "packets", "wire_bytes", "captured_bytes",
                 "caplen_short", "reassembled", "truncated", "mac_src", "mac_dst", "facts", "capture",
                 "span_first", "spans")

    def __init__(self, flow: UdpFlow, key: Key, d: Datagram, capture: str) -> None:
        self.flow = flow
        self.key = key
        self.name = ""
        self.connection_index = 0
        self.file: FlowFile | None = None
        self.size = 0                    # bytes written (the -b limit stops them, not the datagrams)
        self.stream_length = 0           # payload bytes the datagrams carried, snaplen-cut ones included
        self.index: list[tuple[int, int, int]] = []
        self.first_ts = self.last_ts = d.ts_ns
        self.first_frame = self.last_frame = d.frame
        self.packets = self.wire_bytes = self.captured_bytes = self.caplen_short = self.reassembled = 0
        self.truncated: list[tuple[int, int]] = []   # (file offset where the cut bytes belong, how many)
        self.mac_src, self.mac_dst, self.facts = d.mac_src, d.mac_dst, d.facts
        self.capture = capture
        self.span_first = d.frame
        self.spans: list[tuple[str, int, int]] = []  # --merge: earlier captures (capture, first, last frame)


class UdpFlows:
    """Every open UDP flow of one capture (or merged evidence set); records go to `emit`."""

    def __init__(self, options: Options, sink: FlowSink, emit: Callable[[FlowRecord], None],
                 counters: Counter[str], template: str, sensor: str) -> None:
        self.options = options
        self.sink = sink
        self.emit = emit
        self.counters = counters
        self.template = template
        self.sensor = sensor
        self.timeout = options.udp_timeout_ns
        self.files_kept = "X" not in options.fflags
        # Least recently active first; by the flow itself: two flows may start in one frame (an A-MSDU).
        self.flows: OrderedDict[UdpFlow, None] = OrderedDict()
        self.directions: dict[Key, UdpDirection] = {}
        self.capture = ""
        self.frame_base = 0
        self.start_new = True

    def begin_capture(self, capture: str, frames_before: int, start_new: bool) -> None:
        """As FlowTable.begin_capture: flows run on across a --merge set; -R starts none."""
        self.capture, self.frame_base, self.start_new = capture, frames_before, start_new

    def add(self, d: Datagram) -> None:
        now = d.ts_ns
        if self.timeout and self.flows and next(iter(self.flows)).last_ts < now - self.timeout:
            self.expire(now)
        key = (d.src, d.dst, d.sport, d.dport, d.vlans)
        half = self.directions.get(key)
        if half is None:
            if not self.start_new:
                self.counters["udp-datagrams-not-finishing"] += 1
                return
            half = self._new_direction(key, d)
        if self.sink.per_packet:
            self.sink.datagram(d)
        flow = half.flow
        flow.last_ts = now
        self.flows.move_to_end(flow)
        if half.capture != self.capture:
            if half.packets:
                half.spans.append((half.capture, half.span_first, half.last_frame))
                half.span_first = d.frame
            half.capture = self.capture
        half.packets += 1
        half.wire_bytes += d.wire_len
        half.captured_bytes += d.cap_len
        half.last_ts, half.last_frame = now, d.frame
        half.reassembled += d.reassembled
        payload = d.payload
        limit = self.options.max_bytes
        stored = payload if limit is None else payload[:max(0, limit - half.size)]
        if half.file is None:
            half.name, half.connection_index, half.file = create_named(
                self.sink, self.template, lambda count: NameFields(
                    flow.family, d.src, d.dst, d.sport, d.dport, d.vlans, half.mac_src, half.mac_dst, half.first_ts,
                    count, flow.id, self.sensor, "udp"))
        half.index.append((half.size, now, len(stored)))
        if stored:
            half.file.write(half.size, stored)      # type: ignore[union-attr]
            half.size += len(stored)
        half.stream_length += len(payload) + d.missing
        if d.missing:
            half.caplen_short += 1
            half.truncated.append((half.size, d.missing))

    def _new_direction(self, key: Key, d: Datagram) -> UdpDirection:
        peer = self.directions.get((d.dst, d.src, d.dport, d.sport, d.vlans))
        if peer is not None:
            flow = peer.flow
        else:     # the ordinal of its first packet, as a TCP connection's id
            flow = UdpFlow(self.frame_base + d.frame, d)
            self.flows[flow] = None
            self.counters["udp-flows"] += 1
        half = self.directions[key] = UdpDirection(flow, key, d, self.capture)
        flow.directions.append(half)
        return half

    def expire(self, now_ns: int) -> None:
        """Close the flows silent for longer than the UDP timeout (capture time; 0: never)."""
        if not self.timeout:
            return
        limit = now_ns - self.timeout
        while self.flows:
            flow = next(iter(self.flows))
            if flow.last_ts >= limit:
                break
            self._finish(flow, "idle")

    def close_all(self) -> None:
        for flow in list(self.flows):
            self._finish(flow, "end-of-input")

    def _finish(self, flow: UdpFlow, reason: str) -> None:
        del self.flows[flow]
        for half in flow.directions:
            del self.directions[half.key]
            self.emit(self._close(half, reason))
        flow.directions.clear()

    def _close(self, half: UdpDirection, reason: str) -> FlowRecord:
        size, hashes, index_name, index_hashes = 0, {}, "", {}
        if half.file is not None:       # always: it is opened by the first datagram
            size, hashes = half.file.close(half.first_ts)
            half.file = None
            index_name, index_hashes = write_findx(self.sink, half.name, half.index, half.first_ts)
        src, dst, sport, dport, vlans = half.key
        family = half.flow.family
        kept = self.files_kept
        return FlowRecord(
            filename=half.name if kept else "", filesize=size, hashes=hashes, family=family,
            src=printable_address(family, src), dst=printable_address(family, dst), sport=sport, dport=dport,
            vlans=vlans, mac_src=format_mac(half.mac_src) or None, mac_dst=format_mac(half.mac_dst) or None,
            connection_id=half.flow.id, connection_index=half.connection_index, direction="unknown",
            community_id=half.flow.community_id,
            capture=half.spans[0][0] if half.spans else half.capture,
            first_frame=half.first_frame, last_frame=half.last_frame, first_ts_ns=half.first_ts,
            last_ts_ns=half.last_ts, packets=half.packets, out_of_order=0, violations=0,
            stream_length=half.stream_length, caplen_short=half.caplen_short, close_reason=reason,
            reassembled_datagrams=half.reassembled, wire_bytes=half.wire_bytes,
            captured_bytes=half.captured_bytes, truncated=half.truncated,
            sources=[*half.spans, (half.capture, half.span_first, half.last_frame)] if half.spans else [],
            link_facts=half.facts or {}, protocol="udp",
            index_filename=index_name if kept else "", index_hashes=index_hashes if kept else {})
