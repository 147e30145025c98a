"""tcpflow's -K: one pcap file per flow direction holding every packet of it.

A file is named as the direction's flow file, with its connection count (`NAME.pcap`,
`NAMEc1.pcap`, ...): each connection on the same addresses and ports has its own, where
tcpflow puts them all in one; a UDP flow's name has its marker (`NAME-udp.pcap`, all its
datagrams in one). Packets that come before a direction's first data byte (the handshake)
wait under a provisional name until the flow table names the direction; a direction that
never carries data (and every UDP one) takes its name without a count, or the next free
cN. The header carries the capture's link type and snap length (tcpflow writes 65535 and
Ethernet whatever it read). Packets wait in a small buffer per direction and are appended
in batches, so thousands of directions never hold thousands of open descriptors.
"""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Callable

from ..capture.record import Record
from ..capture.writer import SNAPLEN, file_header, record_bytes
from ..decode.segment import Segment
from ..flow.naming import NameFields, expand

FLUSH_BYTES = 64 * 1024
SUFFIX = ".pcap"
PROVISIONAL = ".forensics-tcpflow-K-"     # + connection id + the final name: renamed once the name is known

FlowOf = Callable[[Segment], "tuple[int, str] | None"]
Key = tuple[bytes, bytes, int, int, tuple[int, ...], str]


class _Direction:
    """One connection's direction: its buffer, where it is written, whether that is its final name."""

    __slots__ = ("path", "final", "pending", "started", "fields")

    def __init__(self, path: str, fields: NameFields) -> None:
        self.path, self.final, self.fields = path, False, fields
        self.pending = bytearray()
        self.started = False          # the file exists (header written)


class DirectionPcaps:
    def __init__(self, root: str, template: str) -> None:
        self.root = root
        self.template = template
        self.snaplen: Callable[[], int] = lambda: SNAPLEN     # the capture's, once it is being read
        self.flow_of: FlowOf = lambda seg: None               # the flow table's naming, once it runs
        self.directions: dict[tuple[Key, int], _Direction] = {}
        self.last: dict[Key, int] = {}                        # the connection a direction's packets went to last

    def add(self, seg: Segment, record: Record) -> None:
        key: Key = (seg.src, seg.dst, seg.sport, seg.dport, seg.vlans, seg.protocol)
        flow = self.flow_of(seg) if seg.protocol == "tcp" else None     # the flow table names TCP directions
        conn, name = flow if flow is not None else (self.last.get(key, -1), "")
        self.last[key] = conn
        direction = self.directions.get((key, conn))
        if direction is None:
            fields = NameFields(seg.family, seg.src, seg.dst, seg.sport, seg.dport, seg.vlans, seg.mac_src,
                                seg.mac_dst, seg.ts_ns, 0, max(conn, 0), "", seg.protocol)
            head, tail = os.path.split(expand(self.template, fields))
            direction = self.directions[(key, conn)] = _Direction(
                os.path.join(self.root, head, f"{PROVISIONAL}{conn}-{tail}{SUFFIX}"), fields)
            direction.pending += file_header(record.linktype, self.snaplen() or SNAPLEN)
        if name and not direction.final:
            self._settle(direction, os.path.join(self.root, name + SUFFIX))
        direction.pending += record_bytes(record)
        if len(direction.pending) >= FLUSH_BYTES:
            self._flush(direction)

    def _settle(self, direction: _Direction, path: str) -> None:
        """Its final name: the provisional file (if any) moves there."""
        if direction.started:
            os.replace(direction.path, path)
        direction.path, direction.final = path, True

    def _flush(self, direction: _Direction) -> None:
        os.makedirs(os.path.dirname(direction.path), exist_ok=True)
        with open(direction.path, "ab") as out:
            out.write(direction.pending)
        direction.pending.clear()
        direction.started = True

    def close(self) -> None:
        named = {d.path for d in self.directions.values() if d.final}
        for direction in self.directions.values():
            if not direction.final:      # never carried data: the name without a count, or the next free cN
                count = 0
                while (path := os.path.join(self.root, expand(self.template, replace(
                        direction.fields, connection_count=count)) + SUFFIX)) in named:
                    count += 1
                named.add(path)
                self._settle(direction, path)
            self._flush(direction)
