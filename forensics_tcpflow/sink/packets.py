"""tcpflow's -K: one pcap file per direction holding every packet of that direction.

A file is named as the direction's flow file without a connection count, plus
`.pcap` (all connections on the same addresses and ports share it; a UDP flow's name has its marker). Packets wait
in a small buffer per direction and are appended in batches, so thousands of
directions never hold thousands of open descriptors.
"""

from __future__ import annotations

import os

from ..capture.record import Record
from ..capture.writer import file_header, record_bytes
from ..decode.segment import Segment
from ..flow.naming import NameFields, expand

FLUSH_BYTES = 64 * 1024
SUFFIX = ".pcap"


class DirectionPcaps:
    def __init__(self, root: str, template: str) -> None:
        self.root = root
        self.template = template
        self.pending: dict[tuple, bytearray] = {}
        self.paths: dict[tuple, str] = {}

    def add(self, seg: Segment, record: Record) -> None:
        key = (seg.src, seg.dst, seg.sport, seg.dport, seg.vlans, seg.protocol)
        buffer = self.pending.get(key)
        if buffer is None:
            if key not in self.paths:
                name = expand(self.template, NameFields(seg.family, seg.src, seg.dst, seg.sport, seg.dport,
                                                        seg.vlans, seg.mac_src, seg.mac_dst, seg.ts_ns, 0, 0, "",
                                                        seg.protocol))
                self.paths[key] = os.path.join(self.root, name + SUFFIX)
                buffer = self.pending[key] = bytearray(file_header(record.linktype))
            else:
                buffer = self.pending[key] = bytearray()
        buffer += record_bytes(record)
        if len(buffer) >= FLUSH_BYTES:
            self._flush(key)

    def _flush(self, key: tuple) -> None:
        path = self.paths[key]
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "ab") as out:
            out.write(self.pending.pop(key))

    def close(self) -> None:
        for key in list(self.pending):
            self._flush(key)
