"""TLS facts and YARA matches in the reports: the DFXML elements of a flow's fileobject
(`<ftf:tls>` with its `<ftf:certificate>`s, `<ftf:yara>` with its strings), and the
tls.jsonl / tls.csv / yara.jsonl companions of the flow indexes (written only when a
scanner found something). Code points (versions, ciphers, extensions) are 4-digit hex,
as JA4's raw form and Wireshark show them."""

from __future__ import annotations

import csv
import json
from dataclasses import asdict
from typing import Any, Iterator

from forensics_tcpflow.flow.record import FlowRecord
from forensics_tcpflow.report.atomic import AtomicFile
from forensics_tcpflow.report.codec import report_filename
from forensics_tcpflow.report.registry import ReportContext
from forensics_tcpflow.scan.tls import TlsConnection, TlsSide
from forensics_tcpflow.scan.x509 import CertFacts
from forensics_tcpflow.scan.yara import YaraHit

SCAN_INDEXES = ("tls.jsonl", "tls.csv", "yara.jsonl")
_CERT_DFXML = {"length": "len"}
Element = tuple[str, dict[str, str], list[tuple[str, dict[str, str]]]]    # tag, attributes, children


def _hex(values: list[int]) -> list[str]:
    return [f"{value:04x}" for value in values]


def side_facts(side: TlsSide) -> dict[str, Any]:
    """The facts of one direction, named as the reports name them (a server's fingerprints are JA3S/JA4S)."""
    server = side.role == "server"
    facts: dict[str, Any] = {"role": side.role, "tls_offset": side.tls_offset, "record_versions": _hex(side.record_versions),
                             "version": _hex([side.version])[0] if side.version else ""}
    if server:
        facts["selected_version"] = _hex(side.supported_versions)[0] if side.supported_versions else ""
        facts["cipher"] = _hex(side.ciphers)[0] if side.ciphers else ""
    else:
        facts.update(supported_versions=_hex(side.supported_versions), sni=side.sni, ciphers=_hex(side.ciphers))
    facts.update(alpn=side.alpn, extensions=_hex(side.extensions))
    suffix = "s" if server else ""
    facts.update({f"ja3{suffix}": side.ja3, f"ja3{suffix}_md5": side.ja3_hash, f"ja4{suffix}": side.ja4,
                  "stopped": side.stopped})
    return facts


def _text(value: object) -> str:
    if isinstance(value, list):
        return " ".join(str(item) for item in value)
    return str(value)


def _attrs(facts: dict[str, Any]) -> dict[str, str]:
    """As XML attributes (of our own elements: no prefix, as on ftf:flow): lists space-separated,
    empty values left out."""
    return {name: _text(value) for name, value in facts.items() if value not in ("", [], None)}


def _cert(cert: CertFacts, context: ReportContext) -> dict[str, Any]:
    row = asdict(cert)
    row["filename"] = report_filename(cert.filename, context.options.outdir, context.report_dir)
    return row


def tls_element(rec: FlowRecord, context: ReportContext) -> Element | None:
    connection = context.scans.tls.get(rec.filename)
    side = connection.side(rec.filename) if connection else None
    if side is None:
        return None
    certs = [("ftf:certificate", {_CERT_DFXML.get(name, name): _text(value)
                                  for name, value in _cert(cert, context).items() if value != ""})
             for cert in side.certificates]
    return "ftf:tls", _attrs(side_facts(side)), certs


def yara_elements(rec: FlowRecord, context: ReportContext) -> Iterator[Element]:
    for hit in context.scans.yara.get(rec.filename, ()):
        attrs = _attrs({"file": report_filename(hit.file, context.options.outdir, context.report_dir),
                        "rule": hit.rule, "namespace": hit.namespace, "tags": hit.tags, "note": hit.note,
                        "error": hit.error})
        children = [("ftf:meta", {"name": name, "value": value}) for name, value in hit.meta]
        children += [("ftf:string", {"identifier": ident, "offset": str(offset), "len": str(length)})
                     for ident, offset, length in hit.strings]
        yield "ftf:yara", attrs, children


def tls_row(connection: TlsConnection, context: ReportContext) -> dict[str, Any]:
    """One connection: both directions' facts and the server's certificate chain."""
    row: dict[str, Any] = {"community_id": connection.community_id}
    for role, side in (("client", connection.client), ("server", connection.server)):
        row[f"{role}_flow"] = report_filename(side.flow, context.options.outdir, context.report_dir) if side else ""
        row[role] = side_facts(side) if side else {}
        if side is not None and side.certificates:
            row[role]["certificates"] = [_cert(cert, context) for cert in side.certificates]
    return row


def yara_row(rec: FlowRecord, hit: YaraHit, context: ReportContext) -> dict[str, Any]:
    name = lambda filename: report_filename(filename, context.options.outdir, context.report_dir)  # noqa: E731
    return {"flow": name(rec.filename), "file": name(hit.file), "rule": hit.rule, "namespace": hit.namespace,
            "tags": hit.tags, "meta": dict(hit.meta),
            "strings": [{"identifier": ident, "offset": offset, "length": length} for ident, offset, length in hit.strings],
            "note": hit.note, "error": hit.error}


def _flat(row: dict[str, Any]) -> dict[str, str]:
    """A CSV row: the sides' facts as client.NAME / server.NAME columns, lists space-separated, the chain as JSON."""
    cells: dict[str, str] = {}
    for name, value in row.items():
        if isinstance(value, dict):
            for inner, item in value.items():
                cells[f"{name}.{inner}"] = json.dumps(item) if inner == "certificates" else _text(item)
        else:
            cells[name] = _text(value)
    return cells


CSV_COLUMNS = list(_flat({"community_id": "", "client_flow": "", "server_flow": "",
                          "client": side_facts(TlsSide("", "client")),
                          "server": {**side_facts(TlsSide("", "server")), "certificates": []}}))


class ScanIndex:
    """tls.jsonl / tls.csv / yara.jsonl beside the report (see named_after), filled as the flows go by (a TLS
    connection's row when its first flow file goes by)."""

    def __init__(self, context: ReportContext, kind: str) -> None:
        self._context, self._kind = context, kind
        self.tls: AtomicFile | None = None
        self.yara: AtomicFile | None = None
        if context.scans.tls:
            self.tls = AtomicFile(context.beside(f"tls.{kind}"), "w", encoding="utf-8", errors="backslashreplace",
                                  newline="\n" if kind == "jsonl" else "")
            if kind == "csv":
                self._csv = csv.DictWriter(self.tls.file, CSV_COLUMNS, lineterminator="\n")
                self._csv.writeheader()
        if context.scans.yara and kind == "jsonl":
            self.yara = AtomicFile(context.beside("yara.jsonl"), "w", encoding="utf-8", errors="backslashreplace",
                                   newline="\n")

    @property
    def files(self) -> tuple[AtomicFile, ...]:
        return tuple(out for out in (self.tls, self.yara) if out is not None)

    def add(self, rec: FlowRecord) -> None:
        connection = self._context.scans.tls.get(rec.filename) if self.tls else None
        if connection is not None and self.tls is not None and connection.first_flow() == rec.filename:
            row = tls_row(connection, self._context)
            if self._kind == "jsonl":
                self.tls.file.write(json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n")
            else:
                self._csv.writerow(_flat(row))
        if self.yara is not None:
            for hit in self._context.scans.yara.get(rec.filename, ()):
                self.yara.file.write(json.dumps(yara_row(rec, hit, self._context), ensure_ascii=False,
                                                separators=(",", ":")) + "\n")
