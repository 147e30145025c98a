"""Flow sinks: where reassembled bytes land. The core never decides that itself."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ..capture.record import Record
    from ..decode.segment import Datagram, Segment


class FlowFile(Protocol):
    """One direction's byte stream, written at absolute offsets."""

    def write(self, offset: int, data: bytes) -> None: ...

    def read(self, offset: int, length: int) -> bytes: ...

    def prepend(self, count: int) -> None: ...

    def close(self, mtime_ns: int) -> tuple[int, dict[str, str]]: ...


class FlowSink(Protocol):
    """Creates flow files by name; names are relative to the sink's root."""

    def create(self, name: str) -> FlowFile | None:
        """A new, empty file; None when the name is in use already (the caller tries the next cN)."""

    def close(self) -> None: ...

    # Per-packet hooks, in arrival order (console output, -K, -w). Only a sink whose `per_packet`
    # is true gets them; the fast path, which skips packets it can batch, is then off.
    per_packet: bool

    def segment(self, seg: "Segment", record: "Record") -> None:
        """Every decoded TCP segment (and the packet it came in), before the flow table sees it."""

    def datagram(self, datagram: "Datagram") -> None:
        """Every UDP datagram of a flow (--udp), in arrival order; `datagram.record` is its packet."""

    def unprocessed(self, record: "Record") -> None:
        """A packet that was read and holds IP, but no TCP (tcpflow's -w)."""
