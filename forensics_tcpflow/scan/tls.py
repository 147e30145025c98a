"""`-e tls`: per TCP connection that carries TLS (on any port: the record layer is recognised),
the clear-text handshake of both reassembled directions: hellos, fingerprints, certificates.

A direction whose stream starts with a TLS handshake record is read from its flow file
(up to the first hole and at most SCAN_LIMIT bytes); the two directions of a connection
are parsed together as one unit of work, in -j's worker processes or on --cluster's
workers. Each certificate of a TLS <= 1.2 chain is written as `<flow>-CERT-NNN.der`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from forensics_tcpflow.flow.record import FlowRecord
from forensics_tcpflow.scan.fingerprint import ja3_string, ja3s_string, ja4, ja4s, md5
from forensics_tcpflow.scan.registry import ScanContext, ScanResults, register
from forensics_tcpflow.scan.tlsparse import RECORD_HEADER, Side, parse_side, tls_start
from forensics_tcpflow.scan.x509 import CertFacts, cert_facts

SCAN_LIMIT = 1 << 20          # a handshake with its certificate chain fits well within this
PRELUDE = 8 << 10             # a STARTTLS-style upgrade's plain text and the hello after it fit in this
CERT_TAG = "CERT"
BATCH = 256                   # connections per unit of work (a small run stays in this process)


@dataclass(slots=True)
class TlsSide:
    """One direction's handshake facts, as the reports show them."""

    flow: str                              # the flow file, relative to OUT
    role: str                              # "client" | "server" | "" (not a hello)
    tls_offset: int = 0                    # where TLS starts in the flow file (after a STARTTLS-style prelude)
    record_versions: list[int] = field(default_factory=list)
    version: int = 0                       # the hello's legacy version field
    supported_versions: list[int] = field(default_factory=list)
    ciphers: list[int] = field(default_factory=list)
    extensions: list[int] = field(default_factory=list)
    sni: str = ""
    alpn: list[str] = field(default_factory=list)
    ja3: str = ""                          # JA3 string (JA3S for a server)
    ja3_hash: str = ""
    ja4: str = ""                          # JA4 (JA4S for a server)
    certificates: list[CertFacts] = field(default_factory=list)
    stopped: str = ""                      # why parsing ended before its goal ("" when it did not)


@dataclass(slots=True)
class TlsConnection:
    """Both directions of one connection (either may be missing)."""

    community_id: str
    client: TlsSide | None = None
    server: TlsSide | None = None

    def side(self, flow: str) -> TlsSide | None:
        return next((side for side in (self.client, self.server) if side is not None and side.flow == flow), None)

    def first_flow(self) -> str:
        return min(side.flow for side in (self.client, self.server) if side is not None)


def _readable(outdir: str, flow: str, filesize: int, first_hole: int | None) -> tuple[bytes, str]:
    """The direction's bytes up to its first hole (zero-filled, not data) or the scan limit, and why they end."""
    end, reason = filesize, f"the end of the flow at offset {filesize}"
    if first_hole is not None and first_hole < end:
        end, reason = first_hole, f"a hole at offset {first_hole}"
    if end > SCAN_LIMIT:
        end, reason = SCAN_LIMIT, f"the scan limit of {SCAN_LIMIT} bytes"
    with open(os.path.join(outdir, flow), "rb") as fh:
        return fh.read(end), reason


def _write_cert(outdir: str, name: str, der: bytes) -> str:
    """Never replaces a file the run did not write: an existing file with the same bytes is kept."""
    path = os.path.join(outdir, name)
    try:
        with open(path, "xb") as fh:
            fh.write(der)
    except FileExistsError:
        with open(path, "rb") as fh:
            if fh.read() != der:
                return f"{name} exists with other content; not replaced"
    return ""


def _facts(outdir: str, flow: str, start: int, side: Side) -> TlsSide:
    facts = TlsSide(flow, side.role, start, side.record_versions, stopped=side.stopped)
    hello = side.hello
    if hello is not None:
        facts.version, facts.supported_versions = hello.version, hello.supported_versions
        facts.ciphers, facts.extensions, facts.sni, facts.alpn = hello.ciphers, hello.extensions, hello.sni, hello.alpn
        facts.ja3 = ja3_string(hello) if side.role == "client" else ja3s_string(hello)
        facts.ja3_hash = md5(facts.ja3)
        facts.ja4 = ja4(hello) if side.role == "client" else ja4s(hello)
    for index, (offset, der) in enumerate(side.certificates, 1):
        name = f"{flow}-{CERT_TAG}-{index:03d}.der"
        cert = cert_facts(index, name, offset, der)
        if problem := _write_cert(outdir, name, der):
            cert.filename, cert.note = "", problem
        facts.certificates.append(cert)
    return facts


Direction = tuple[str, int, int | None, int]      # flow file, its size, its first hole, where TLS starts


def scan_connections(work: tuple[str, list[tuple[str, list[Direction]]]]) -> list[TlsConnection]:
    """On a worker: (OUT, [(community id, [direction, ...]), ...]) -> their facts."""
    outdir, connections = work
    found = []
    for community_id, flows in connections:
        connection = TlsConnection(community_id)
        for flow, size, hole, start in flows:
            try:
                data, reason = _readable(outdir, flow, size, hole)
            except OSError as exc:
                side = Side(stopped=f"cannot read the flow file: {exc.strerror or exc}")
            else:
                side = parse_side(data, reason, start)
            facts = _facts(outdir, flow, start, side)
            slot = "server" if side.role == "server" else "client"
            if getattr(connection, slot) is not None:      # two of a kind (or no hello): both are kept
                slot = "client" if slot == "server" else "server"
            setattr(connection, slot, facts)
        found.append(connection)
    return found


def _tls_start(path: Path, first_hole: int | None) -> int | None:
    try:
        with open(path, "rb") as fh:
            return tls_start(fh.read(PRELUDE if first_hole is None else min(PRELUDE, first_hole)))
    except OSError:
        return None


@register
class TlsScanner:
    """Gathers the directions that start with a TLS handshake record, pairs them by connection,
    and parses them in batches with the run's workers at the end."""

    name: ClassVar[str] = "tls"

    def __init__(self, ctx: ScanContext) -> None:
        self._ctx = ctx
        self._connections: dict[tuple[Any, ...], tuple[str, list[Direction]]] = {}

    def add(self, rec: FlowRecord) -> None:
        if not rec.filename or rec.filesize < RECORD_HEADER:
            return
        first_hole = min((offset for offset, _ in rec.holes), default=None)
        start = _tls_start(self._ctx.outdir / rec.filename, first_hole)
        if start is None:
            return
        ends = tuple(sorted(((rec.src, rec.sport), (rec.dst, rec.dport))))
        key = (rec.capture, rec.connection_id, rec.connection_index, rec.vlans, ends)
        _, flows = self._connections.setdefault(key, (rec.community_id, []))
        flows.append((rec.filename, rec.filesize, first_hole, start))

    def finish(self, results: ScanResults) -> None:
        connections = list(self._connections.values())
        outdir = os.path.abspath(self._ctx.outdir)
        batches = [(outdir, connections[start:start + BATCH]) for start in range(0, len(connections), BATCH)]
        certificates = 0
        for found in self._ctx.map_work(scan_connections, batches):
            for connection in found:
                for side in (connection.client, connection.server):
                    if side is not None:
                        results.tls[side.flow] = connection
                        certificates += sum(1 for cert in side.certificates if cert.filename)
        if connections:
            results.summary.append(f"tls: {len(connections)} connections, {certificates} certificates written")
