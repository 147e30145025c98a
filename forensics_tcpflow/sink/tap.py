"""A sink that also sees every packet: console output (-c/-C), per-direction pcaps (-K) and the
packets not processed (-w).

It wraps the sink that stores the flows (whose files console mode does not keep),
so the same flow path feeds the report and the per-packet outputs.
"""

from __future__ import annotations

from typing import Callable

from ..capture.record import Record
from ..capture.writer import PcapWriter
from ..decode.segment import Datagram, Segment
from . import FlowFile, FlowSink
from .packets import DirectionPcaps


class TapSink:
    per_packet = True

    def __init__(self, inner: FlowSink, printer: Callable[[Segment], None] | None,
                 writer: PcapWriter | None, pcaps: DirectionPcaps | None) -> None:
        self.inner = inner
        self._printer = printer
        self._writer = writer
        self._pcaps = pcaps

    def create(self, name: str) -> FlowFile | None:
        return self.inner.create(name)

    def segment(self, seg: Segment, record: Record) -> None:
        if self._printer is not None:
            self._printer(seg)
        if self._pcaps is not None:
            self._pcaps.add(seg, record)

    def datagram(self, datagram: Datagram) -> None:
        assert datagram.record is not None
        self.segment(datagram, datagram.record)

    def unprocessed(self, record: Record) -> None:
        if self._writer is not None:
            self._writer.write(record)

    def close(self) -> None:
        if self._pcaps is not None:
            self._pcaps.close()
        self.inner.close()
