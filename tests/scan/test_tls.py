"""-e tls: JA4/JA4S against the spec's published examples and against OpenSSL handshakes made here
(records and messages cut across segments and records, checked with tshark's dissection), the
certificate chain, cut and malformed handshakes, and the same facts with -j 2 as with -j 1."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tlskit
from batchkit import CORPUS, run_cli
from conftest import require_extra, require_oracle
from forensics_tcpflow.batch.verify import verify_report
from forensics_tcpflow.exitstatus import ExitStatus
from forensics_tcpflow.report.validate import validate_report
from forensics_tcpflow.scan import tls as tls_scanner
from forensics_tcpflow.scan.fingerprint import ja4, ja4s
from forensics_tcpflow.scan.tlsparse import Hello, parse_side, tls_start
from forensics_tcpflow.scan.x509 import cert_facts


def _generated() -> tuple[bytes, bytes]:
    """A real TLS 1.2 server flight (hello, certificate, ...) and its certificate, made once for the property test."""
    import tempfile
    with tempfile.TemporaryDirectory() as folder:
        _, server, der = tlskit.handshake(Path(folder), tls13=False)
    return server, der


_HANDSHAKE, _CERT = _generated()


def _codes(text: str) -> list[int]:
    return [int(value, 16) for value in text.split(",")]


def test_ja4_and_ja4s_of_the_published_examples() -> None:
    """technical_details/JA4.md and JA4S.md of FoxIO's ja4 repository: their worked examples."""
    hello = Hello(0x0303, _codes("1301,1302,1303,c02b,c02f,c02c,c030,cca9,cca8,c013,c014,009c,009d,002f,0035"),
                  _codes("001b,0000,0033,0010,4469,0017,002d,000d,0005,0023,0012,002b,ff01,000b,000a,0015"),
                  sni="example.com", alpn=["h2"], supported_versions=[0x0A0A, 0x0304, 0x0303],
                  signature_algorithms=_codes("0403,0804,0401,0503,0805,0501,0806,0601"))
    assert ja4(hello) == "t13d1516h2_8daaf6152771_e5627efa2ab1"
    hello.signature_algorithms = []         # "ends without an underscore": 6d807ffa2a79
    assert ja4(hello).endswith("_6d807ffa2a79")
    hello.ciphers, hello.extensions, hello.alpn = [0x1A1A], [0x2A2A], []      # only GREASE: no values
    assert ja4(hello) == "t13i000000_000000000000_000000000000"
    server = Hello(0x0303, [0xC030], _codes("0005,0017,ff01,0000"))
    assert ja4s(server) == "t120400_c030_4e8089b08790"


@pytest.mark.parametrize("first, expected", [(b"h2", "h2"), (b"http/1.1", "h1"), (b"\xab", "ab"), (b"\xab\xcd", "ad"),
                                             (b"0\xab", "3b"), (b"01\xab\xcd", "3d"), (b"0\xab\xcd1", "01"), (b"", "00")])
def test_ja4_alpn_characters(first: bytes, expected: str) -> None:
    """The spec's ALPN rules: first and last characters, hex digits when either is not alphanumeric."""
    hello = Hello(0x0303, [0x1301], [0x0010], alpn=[first.decode("latin-1")])
    assert ja4(hello)[8:10] == expected


def _tshark_hello(pcap: Path) -> dict[str, list[str]]:
    """tshark's dissection of the generated handshake: the lists JA4 is computed from."""
    fields = ("tls.handshake.type", "tls.handshake.ciphersuite", "tls.handshake.extension.type",
              "tls.handshake.sig_hash_alg", "tls.handshake.extensions.supported_version",
              "tls.handshake.extensions_alpn_str", "tls.handshake.ja3", "tls.handshake.ja3s", "tls.handshake.version")
    out = subprocess.run(["tshark", "-r", str(pcap), "-Y", "tls.handshake.type==1 or tls.handshake.type==2",
                          "-T", "fields", "-E", "aggregator=|", *(a for f in fields for a in ("-e", f))],
                         capture_output=True, text=True, timeout=60).stdout.splitlines()
    rows = [dict(zip(fields, line.split("\t"))) for line in out]
    client = next(row for row in rows if row["tls.handshake.type"].split("|")[0] == "1")
    server = next(row for row in rows if row["tls.handshake.type"].split("|")[0] == "2")
    return {"client": client, "server": server}   # type: ignore[dict-item]


def _ja4_from_tshark(row: dict[str, str]) -> str:
    """JA4 as the spec defines it, from tshark's decimal lists (an implementation apart from ours)."""
    grease = lambda v: v & 0x0F0F == 0x0A0A                         # noqa: E731
    values = lambda name: [int(v, 0) for v in row[name].split("|") if v and not grease(int(v, 0))]  # noqa: E731
    ciphers, extensions = values("tls.handshake.ciphersuite"), values("tls.handshake.extension.type")
    versions = values("tls.handshake.extensions.supported_version") or values("tls.handshake.version")
    version = {0x0304: "13", 0x0303: "12"}[max(versions)]
    alpn = row["tls.handshake.extensions_alpn_str"].split("|")[0]
    sha = lambda items: hashlib.sha256(",".join(f"{v:04x}" for v in items).encode()).hexdigest()[:12]  # noqa: E731
    rest = sorted(v for v in extensions if v not in (0, 16))
    text = ",".join(f"{v:04x}" for v in rest) + "_" + ",".join(f"{v:04x}" for v in values("tls.handshake.sig_hash_alg"))
    return (f"t{version}{'d' if 0 in extensions else 'i'}{len(ciphers):02d}{len(extensions):02d}{alpn[0]}{alpn[-1]}"
            f"_{sha(sorted(ciphers))}_{hashlib.sha256(text.encode()).hexdigest()[:12]}")


@pytest.mark.parametrize("tls13", [False, True])
def test_generated_handshake_matches_tshark_and_the_spec(tls13: bool, tmp_path: Path) -> None:
    require_oracle("tshark")
    client, server, der = tlskit.handshake(tmp_path, tls13)
    pcap, out = tmp_path / "tls.pcap", tmp_path / "out"
    tlskit.write_pcap(pcap, tlskit.rerecord(client, 200), tlskit.rerecord(server, 200), segment=100)
    assert run_cli("-q", "-e", "tls", "-r", str(pcap), "-o", str(out)) == ExitStatus.OK
    row = json.loads((out / "tls.jsonl").read_text())
    theirs = _tshark_hello(pcap)
    assert row["client"]["sni"] == "tls.example.test" and row["client"]["alpn"] == ["h2", "http/1.1"]
    assert row["client"]["ja3_md5"] == theirs["client"]["tls.handshake.ja3"]
    assert row["server"]["ja3s_md5"] == theirs["server"]["tls.handshake.ja3s"]
    assert row["client"]["ja4"] == _ja4_from_tshark(theirs["client"])
    assert row["client"]["ja4"].startswith("t13d" if tls13 else "t12d") and row["client"]["stopped"] == ""
    assert row["server"]["selected_version"] == ("0304" if tls13 else "")
    assert row["server"]["ja4s"].startswith("t130200_" if tls13 else "t1205h2_")
    certs = row["server"].get("certificates", [])
    if tls13:
        assert certs == [] and row["server"]["stopped"] == ""    # TLS 1.3 certificates are encrypted
    else:
        assert len(certs) == 1 and (out / certs[0]["filename"]).read_bytes() == der
        assert certs[0]["subject"] == certs[0]["issuer"] == tlskit.SUBJECT
        assert certs[0]["san"] == "DNS:tls.example.test, DNS:alt.example.test"
        assert certs[0]["serial"] == "1234abcd" and certs[0]["not_before"] == "2026-01-01T00:00:00Z"
        assert certs[0]["sha256"] == hashlib.sha256(der).hexdigest()
        assert verify_report(out / "report.xml").cert_files == 1
    assert validate_report(out / "report.xml", thorough=True) == []


def test_cut_handshake_records_what_was_parsed_and_why_it_stopped(tmp_path: Path) -> None:
    client, server, _ = tlskit.handshake(tmp_path, tls13=False)
    server = tlskit.rerecord(server, 200)
    pcap, out = tmp_path / "cut.pcap", tmp_path / "out"
    tlskit.write_pcap(pcap, client, server[:400])          # the capture ends inside the Certificate message
    assert run_cli("-q", "-e", "tls", "-r", str(pcap), "-o", str(out)) == ExitStatus.OK
    row = json.loads((out / "tls.jsonl").read_text())
    assert row["server"]["ja3s_md5"] and "certificates" not in row["server"]
    stopped = row["server"]["stopped"]
    assert "handshake record at offset 284 cut: 111 of 200 bytes present" in stopped
    assert "Certificate at offset" in stopped and "the end of the flow at offset 400" in stopped
    assert validate_report(out / "report.xml", thorough=True) == []


@pytest.mark.parametrize("data, reason", [
    (bytes.fromhex("16030100 0801000004 0303"), "handshake record at offset 0 cut"),
    (bytes.fromhex("1603010008 0100000403030000"), "ClientHello cut at offset 11"),
    (bytes.fromhex("1603010005 0b00000100") + b"\x17\x03\x03\x00\x01\x00", "first handshake message is type 11"),
    (bytes.fromhex("1603010004 01000010") + bytes.fromhex("ff03010000"), "not a TLS record at offset 9"),
])
def test_malformed_handshakes_say_where_parsing_stopped(data: bytes, reason: str) -> None:
    side = parse_side(data, "the end of the flow")
    assert reason in side.stopped and not side.certificates


def test_same_facts_with_worker_processes(tmp_path: Path, corpus: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """-j 2 shares the connections out among worker processes (small batches here, so both get some)."""
    monkeypatch.setattr(tls_scanner, "BATCH", 3)
    capture = CORPUS / "pcapplusplus__many-protocols.pcap"
    for jobs in ("1", "2"):
        assert run_cli("-q", "-j", jobs, "-e", "tls", "-r", str(capture), "-o", str(tmp_path / jobs)) == ExitStatus.OK
    assert (tmp_path / "1" / "tls.jsonl").read_bytes() == (tmp_path / "2" / "tls.jsonl").read_bytes()
    assert (tmp_path / "1" / "tls.csv").read_bytes() == (tmp_path / "2" / "tls.csv").read_bytes()
    assert len((tmp_path / "1" / "tls.jsonl").read_text().splitlines()) == 20
    assert verify_report(tmp_path / "2" / "report.xml").cert_files == 28
    cert = next((tmp_path / "2").glob("*-CERT-002.der"))
    cert.write_bytes(cert.read_bytes()[:-1])
    assert verify_report(tmp_path / "2" / "report.xml").changed == [cert.name]


def test_same_facts_on_a_cluster(tmp_path: Path, corpus: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--cluster: the scanners' batches run on the Dask workers, with the same facts."""
    require_extra("distributed", "cluster")
    monkeypatch.setattr(tls_scanner, "BATCH", 3)
    capture = CORPUS / "pcapplusplus__many-protocols.pcap"
    assert run_cli("-q", "-j", "1", "-e", "tls", "-r", str(capture), "-o", str(tmp_path / "local")) == ExitStatus.OK
    assert run_cli("-q", "--cluster", "local:2", "-e", "tls", "-r", str(capture),
                   "-o", str(tmp_path / "cluster")) == ExitStatus.OK
    assert (tmp_path / "local" / "tls.jsonl").read_bytes() == (tmp_path / "cluster" / "tls.jsonl").read_bytes()
    assert verify_report(tmp_path / "cluster" / "report.xml").ok


def test_tls_after_a_starttls_prelude(tmp_path: Path) -> None:
    """The handshake after an in-protocol upgrade (here SMTP's STARTTLS) is found, with the same facts
    as at the start of a stream, and its offsets are the flow file's."""
    client, server, der = tlskit.handshake(tmp_path, tls13=False)
    asks, answers = b"EHLO client.test\r\nSTARTTLS\r\n", b"220 mx.test ESMTP\r\n250 mx.test\r\n220 2.0.0 Ready to start TLS\r\n"
    rows = {}
    for name, prelude in (("plain", (b"", b"")), ("starttls", (asks, answers))):
        pcap, out = tmp_path / f"{name}.pcap", tmp_path / name
        tlskit.write_pcap(pcap, prelude[0] + client, prelude[1] + server)
        assert run_cli("-q", "-e", "tls", "-r", str(pcap), "-o", str(out)) == ExitStatus.OK
        rows[name] = json.loads((out / "tls.jsonl").read_text())
    plain, upgraded = rows["plain"], rows["starttls"]
    assert (upgraded["client"]["tls_offset"], upgraded["server"]["tls_offset"]) == (len(asks), len(answers))
    assert upgraded["client"]["ja4"] == plain["client"]["ja4"] and upgraded["server"]["ja3s"] == plain["server"]["ja3s"]
    cert = upgraded["server"]["certificates"][0]
    assert cert["file_offset"] == plain["server"]["certificates"][0]["file_offset"] + len(answers)
    assert (tmp_path / "starttls" / cert["filename"]).read_bytes() == der


@pytest.mark.parametrize("head, start", [
    (b"\x16\x03\x01\x00\x10", 0),
    (b"junk \x16\x03\x01\x00\x30\x01\x00\x00\x2c not a hello at all, only its first bytes" + bytes(40), None),
    (b"GET / HTTP/1.1\r\n\r\n", None),
])
def test_where_tls_starts(head: bytes, start: int | None) -> None:
    assert tls_start(head) == start


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600), st.integers(0, 600))
def test_hostile_bytes_never_raise(data: bytes, cut: int) -> None:
    """Any bytes, also a real handshake's cut anywhere or with a byte changed: facts or a reason, no exception."""
    for head in (data, b"\x16\x03\x01" + data, _HANDSHAKE[:cut] + data[:1] + _HANDSHAKE[cut + 1:]):
        side = parse_side(head, "the end of the flow")
        assert side.hello is not None or side.stopped or not head
        tls_start(head)
    for der in (data, _CERT[:cut] + data[:2] + _CERT[cut + 2:]):
        facts = cert_facts(1, "x.der", 0, der)
        assert facts.subject or facts.note
