"""-e tls against tshark 4.0's TLS dissector on every corpus capture with a TLS handshake: SNI, JA3
and JA3S (full strings and MD5), the certificates' bytes, their SAN dNSNames and their subject and
issuer strings agree on each connection tshark dissects; where they cannot, TLS_EXCEPTIONS says why.
(The captures with a handshake are those where `tshark -Y "tls.handshake.type==1"` finds one.)"""

from __future__ import annotations

import json
import subprocess
from collections import defaultdict
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from batchkit import CORPUS, run_cli
from conftest import require_oracle
from oracles import norm_addr

TLS_CAPTURES = (
    "pcapplusplus__many-protocols.pcap",
    "pcapplusplus__many_interfaces-1.pcapng",
    "pcapplusplus__pcapng-example.pcapng",
    "suricata__bug-1450-04_tls_DER-incomplete-header.pcap",
    "suricata__linktype-228_flow-test-01.pcap",
    "suricata__tls_tls-fin-close-data-01_debug-s13.pcap",
)
# (capture, client port): connections tshark dissects and -e tls does not, and why (none now: MySQL's
# in-protocol upgrade in pcapng-example is found after its plain-text prelude).
TLS_EXCEPTIONS: dict[tuple[str, str], str] = {}
# (capture, client port): certificate bytes that differ from tshark's field, and why.
CERT_EXCEPTIONS = {
    ("suricata__bug-1450-04_tls_DER-incomplete-header.pcap", "50802"):
        "a malformed certificate: the TLS Certificate message gives it 9 bytes, its DER SEQUENCE header claims"
        " 5 (and the inner one 4 GB); tshark's field is the 7 bytes the outer DER header spans, -e tls writes"
        " the 9 bytes sent (and notes that the certificate cannot be read)",
}
FIELDS = ("tcp.stream", "ip.src", "ipv6.src", "tcp.srcport", "ip.dst", "ipv6.dst", "tcp.dstport",
          "tls.handshake.type", "tls.handshake.extensions_server_name", "tls.handshake.ja3",
          "tls.handshake.ja3_full", "tls.handshake.ja3s", "tls.handshake.ja3s_full", "tls.handshake.certificate",
          "x509ce.dNSName", "x509sat.printableString", "x509sat.uTF8String", "x509sat.CountryName")


def _tshark(capture: Path) -> dict[str, dict[str, list[str]]]:
    """Per TCP stream: the fields of its handshake frames, each a list in frame order."""
    out = subprocess.run(["tshark", "-r", str(capture), "-Y", "tls.handshake", "-T", "fields",
                          "-E", "aggregator=|", "-E", "occurrence=a", *(arg for f in FIELDS for arg in ("-e", f))],
                         capture_output=True, text=True, timeout=120).stdout
    streams: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for line in out.splitlines():
        values = dict(zip(FIELDS, line.split("\t")))
        stream = streams[values["tcp.stream"]]
        types = values["tls.handshake.type"].split("|")
        src, dst = values["ip.src"] or values["ipv6.src"], values["ip.dst"] or values["ipv6.dst"]
        if "1" in types and "client" not in stream:
            stream["client"] = [norm_addr(src), values["tcp.srcport"], norm_addr(dst), values["tcp.dstport"]]
        for name in FIELDS[8:]:
            stream[name] += [v for v in values[name].split("|") if v]
    return streams


def _ours(capture: Path, out: Path) -> dict[tuple[str, str, str, str], dict]:
    """Our tls.jsonl rows by (client address, client port, server address, server port)."""
    run_cli("-q", "-j", "1", "-e", "tls", "-r", str(capture), "-o", str(out))
    flows = {row["filename"]: row for row in map(json.loads, (out / "flows.jsonl").read_text().splitlines())}
    tls = out / "tls.jsonl"
    rows = [json.loads(line) for line in tls.read_text().splitlines()] if tls.exists() else []
    found = {}
    for row in rows:
        if row["client_flow"]:
            flow = flows[row["client_flow"]]
            found[(norm_addr(flow["src"]), str(flow["sport"]), norm_addr(flow["dst"]), str(flow["dport"]))] = row
    return found


def _names(text: str) -> list[str]:
    """The attribute values of an RFC 4514 name, but the email address (tshark shows no string field for it)."""
    if not text:
        return []
    return [str(attr.value) for attr in x509.Name.from_rfc4514_string(text) if attr.oid != NameOID.EMAIL_ADDRESS]


@pytest.mark.parametrize("capture", TLS_CAPTURES)
def test_tls_facts_match_tshark(capture: str, corpus: Path, tmp_path: Path) -> None:
    require_oracle("tshark")
    theirs, ours = _tshark(CORPUS / capture), _ours(CORPUS / capture, tmp_path / "out")
    compared = 0
    excused = {key for key in TLS_EXCEPTIONS if key[0] == capture}
    for stream in theirs.values():
        if "client" not in stream:
            continue
        key = tuple(stream["client"])
        if (capture, key[1]) in TLS_EXCEPTIONS:
            assert key not in ours, f"{key} is now found: drop it from TLS_EXCEPTIONS"
            compared += 1
            continue
        assert key in ours, f"{capture}: tshark dissects TLS on {key}, -e tls found none"
        row, compared = ours[key], compared + 1
        client, server = row["client"], row["server"]
        assert client["sni"] == (stream["tls.handshake.extensions_server_name"] or [""])[0]
        assert client["ja3"] == stream["tls.handshake.ja3_full"][0]
        assert client["ja3_md5"] == stream["tls.handshake.ja3"][0]
        if stream["tls.handshake.ja3s"]:
            assert server["ja3s"] == stream["tls.handshake.ja3s_full"][0]
            assert server["ja3s_md5"] == stream["tls.handshake.ja3s"][0]
        certs = server.get("certificates", [])
        der = [(tmp_path / "out" / cert["filename"]).read_bytes().hex() for cert in certs]
        if (capture, key[1]) in CERT_EXCEPTIONS:
            assert der != stream["tls.handshake.certificate"] and certs[0]["note"]
        else:
            assert der == stream["tls.handshake.certificate"]
        sans = [name[4:] for cert in certs for name in cert["san"].split(", ") if name.startswith("DNS:")]
        assert sans == stream["x509ce.dNSName"]
        strings = stream["x509sat.printableString"] + stream["x509sat.uTF8String"] + stream["x509sat.CountryName"]
        shown = [value for cert in certs for text in (cert["issuer"], cert["subject"]) for value in _names(text)]
        assert set(shown) <= set(strings)    # tshark also shows a stapled OCSP response's certificates
    assert compared or all("client" not in s for s in theirs.values())
    assert excused <= {(capture, s["client"][1]) for s in theirs.values() if "client" in s}
