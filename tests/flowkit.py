"""Small builders for flow-stage tests: segments by hand, a table over a real FileSink."""

from __future__ import annotations

from pathlib import Path

from forensics_tcpflow.decode.segment import TH_ACK, TH_FIN, TH_RST, TH_SYN, Segment
from forensics_tcpflow.flow.record import FlowRecord
from forensics_tcpflow.flow.table import FlowTable
from forensics_tcpflow.options import DEFAULT_TEMPLATE, Options
from forensics_tcpflow.sink.files import FileSink

A = bytes([10, 0, 0, 1])
B = bytes([10, 0, 0, 2])
SYN, ACK, FIN, RST = TH_SYN, TH_ACK, TH_FIN, TH_RST
CLIENT = "010.000.000.001.01234-010.000.000.002.00080"
SERVER = "010.000.000.002.00080-010.000.000.001.01234"


class Wire:
    """Feeds segments of one 4-tuple into a table and keeps what it emits."""

    def __init__(self, tmp: Path, **opts) -> None:
        self.out = tmp
        self.records: list[FlowRecord] = []
        self.options = Options(inputs=("x",), outdir=str(tmp), **opts)
        self.sink = FileSink(tmp, self.options.hashes, max_fds=opts.get("max_fds", 1000))
        self.table = FlowTable(self.options, self.sink, self.records.append, "x.pcap",
                               DEFAULT_TEMPLATE if "template" not in opts else opts["template"], "x.pcap")
        self.frame = 0

    def c(self, seq: int, data: bytes = b"", flags: int = ACK, **kw) -> None:
        self.send(A, B, 1234, 80, seq, data, flags, **kw)

    def s(self, seq: int, data: bytes = b"", flags: int = ACK, **kw) -> None:
        self.send(B, A, 80, 1234, seq, data, flags, **kw)

    def send(self, src: bytes, dst: bytes, sport: int, dport: int, seq: int, data: bytes, flags: int,
             vlans: tuple[int, ...] = (), missing: int = 0) -> None:
        self.frame += 1
        self.table.add(Segment(4, src, dst, sport, dport, seq & 0xFFFFFFFF, 0, flags, data,
                               self.frame, 1_000_000_000 * self.frame, vlans, missing=missing))

    def close(self) -> dict[str, FlowRecord]:
        self.table.close_all()
        self.sink.close()
        return {r.filename or f"<empty {r.src}:{r.sport}>": r for r in self.records}

    def read(self, name: str) -> bytes:
        return (self.out / name).read_bytes()
