"""conn.log: one line per connection (TCP, and UDP with --udp: `proto` says which) in Zeek's TSV layout,
for Zeek-log tools (zeek-cut, RITA, readers).

Both directions of a connection become one line: the originator is the client (the side a plain SYN
or a SYN-ACK's peer names), else the direction seen first. `orig_bytes`/`resp_bytes` are the
directions' stream bytes, `missed_bytes` their holes; `history` holds only the letters we know
(D/d data, G/g a content gap, F/f a FIN), in that fixed order, not in the order they happened;
`conn_state` and the IP byte counts we do not know are unset. Columns after `tunnel_parents` are
those of Zeek's mac-logging, vlan-logging and community-id policies.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import ClassVar

from forensics_tcpflow.flow.record import FlowRecord
from forensics_tcpflow.options import NS
from forensics_tcpflow.report.atomic import AtomicFile, AtomicWriter
from forensics_tcpflow.report.placement import named_after
from forensics_tcpflow.report.registry import ReportContext, register

COLUMNS: tuple[tuple[str, str], ...] = (
    ("ts", "time"), ("uid", "string"), ("id.orig_h", "addr"), ("id.orig_p", "port"), ("id.resp_h", "addr"),
    ("id.resp_p", "port"), ("proto", "enum"), ("service", "string"), ("duration", "interval"),
    ("orig_bytes", "count"), ("resp_bytes", "count"), ("conn_state", "string"), ("local_orig", "bool"),
    ("local_resp", "bool"), ("missed_bytes", "count"), ("history", "string"), ("orig_pkts", "count"),
    ("orig_ip_bytes", "count"), ("resp_pkts", "count"), ("resp_ip_bytes", "count"),
    ("tunnel_parents", "set[string]"), ("orig_l2_addr", "string"), ("resp_l2_addr", "string"),
    ("vlan", "int"), ("inner_vlan", "int"), ("community_id", "string"),
)
UNSET = "-"


def _stamp(ns: int) -> str:
    """Zeek's #open/#close form."""
    return time.strftime("%Y-%m-%d-%H-%M-%S", time.gmtime(ns // NS))


def _seconds(ns: int) -> str:
    return f"{ns // NS}.{ns % NS // 1000:06d}"


def _or_unset(value: object) -> str:
    return UNSET if value is None else str(value)


def _history(orig: FlowRecord | None, resp: FlowRecord | None) -> str:
    letters = ""
    for test, upper in ((lambda r: r.stream_length > 0, "D"), (lambda r: bool(r.holes), "G"),
                        (lambda r: r.close_reason == "fin", "F")):
        letters += upper if orig is not None and test(orig) else ""
        letters += upper.lower() if resp is not None and test(resp) else ""
    return letters or UNSET


@register
class ZeekWriter(AtomicWriter):
    """Directions wait for their partner (connections of one capture, `connection_id`); a line is
    written when both are in, and the lone ones when their capture ends."""

    name: ClassVar[str] = "zeek"

    @staticmethod
    def target(report_path: Path) -> Path:
        return named_after(report_path, "conn.log")

    def __init__(self, path: Path, context: ReportContext) -> None:
        self._context = context
        self._waiting: dict[tuple[str, str, int], FlowRecord] = {}
        self._capture = ""
        self._ordinal = {inp.path: index for index, inp in enumerate(context.inputs)}
        self._several = len(context.inputs) > 1
        self._http = {name for name, bodies in context.scans.bodies.items() if bodies}
        self._out = AtomicFile(path, "w", encoding="utf-8", errors="backslashreplace", newline="\n")
        names, types = "\t".join(name for name, _ in COLUMNS), "\t".join(kind for _, kind in COLUMNS)
        self._out.file.write(f"#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t{UNSET}\n"
                             f"#path\tconn\n#open\t{_stamp(context.run.start_ns)}\n#fields\t{names}\n#types\t{types}\n")

    def add(self, rec: FlowRecord) -> None:
        if rec.capture != self._capture:
            self._flush()
            self._capture = rec.capture
        key = (rec.capture, rec.protocol, rec.connection_id)
        partner = self._waiting.pop(key, None)
        if partner is None:
            self._waiting[key] = rec
        else:
            self._line(partner, rec)

    def _flush(self) -> None:
        for rec in self._waiting.values():
            self._line(rec, None)
        self._waiting.clear()

    def _line(self, first: FlowRecord, second: FlowRecord | None) -> None:
        if first.direction == "server-to-client" or (second is not None and second.direction == "client-to-server"):
            orig, resp = second, first
        else:
            orig, resp = first, second
        ids = orig if orig is not None else resp
        assert ids is not None
        ends = [rec for rec in (orig, resp) if rec is not None]
        start, end = min(r.first_ts_ns for r in ends), max(r.last_ts_ns for r in ends)
        uid = f"C{ids.connection_id}" + (f"-{self._ordinal.get(ids.capture, ids.capture)}" if self._several else "")
        host, port, peer, peer_port = ((ids.src, ids.sport, ids.dst, ids.dport) if orig is not None
                                       else (ids.dst, ids.dport, ids.src, ids.sport))
        vlans = ids.vlans
        service = "http" if any(r.filename in self._http for r in ends) else None
        cells = (
            _seconds(start), uid, host, port, peer, peer_port, ids.protocol, _or_unset(service), _seconds(end - start),
            orig.stream_length if orig else 0, resp.stream_length if resp else 0, UNSET, UNSET, UNSET,
            sum(length for r in ends for _, length in r.holes), _history(orig, resp),
            orig.packets if orig else 0, UNSET, resp.packets if resp else 0, UNSET, UNSET,
            _or_unset(orig.mac_src if orig else resp.mac_dst if resp else None),
            _or_unset(orig.mac_dst if orig else resp.mac_src if resp else None),
            _or_unset(vlans[0] if vlans else None), _or_unset(vlans[1] if len(vlans) > 1 else None),
            ids.community_id or UNSET,
        )
        self._out.file.write("\t".join(map(str, cells)) + "\n")

    def _trailer(self) -> None:
        self._flush()
        self._out.file.write(f"#close\t{_stamp(self._context.run.end_ns)}\n")
