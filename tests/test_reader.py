"""The public reader API over the real corpus, checked against MANIFEST.tsv and tshark."""

from __future__ import annotations

import csv
import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest

from forensics_tcpflow.capture import CaptureError, Record, detect_format, open_capture
from capturekit import drain

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_pcaps"
CORPUS = ROOT.parent / "shared" / "corpus"
NS = 1_000_000_000

needs_corpus = pytest.mark.skipif(not (CORPUS / "MANIFEST.tsv").exists(), reason="corpus not present")
needs_tshark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")


def manifest() -> list[dict[str, str]]:
    if not (CORPUS / "MANIFEST.tsv").exists():
        return []
    with open(CORPUS / "MANIFEST.tsv", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


# The damaged files: what stops the reader, after MANIFEST's packet count of good records.
DAMAGED = {
    "suricata__http-mime-truncated_input.pcap": "truncated record header: 1 of 16 bytes",
    "suricata__bug-1450-04_tls_DER-incomplete-header.pcap": "record 7 claims caplen 4325376 > 262144",
}




@needs_corpus
@pytest.mark.parametrize("row", manifest(), ids=lambda row: row["file"])
def test_corpus_record_counts_match_manifest(row: dict[str, str]) -> None:
    path = CORPUS / row["file"]
    records, error = drain(path)
    assert len(records) == int(row["packets"])
    assert [r.frame for r in records] == list(range(1, len(records) + 1))
    if row["file"] in DAMAGED:
        assert error is not None and error.message == DAMAGED[row["file"]]
        assert error.frame == len(records) + 1 and error.path == str(path)
    else:
        assert error is None
    fmt = "pcapng" if row["file_format"].startswith("pcapng") else "pcap"
    assert detect_format(path) == (fmt, "")
    declared = {int(item.rsplit("(", 1)[1].rstrip(")")) for item in row["linktypes"].split(",")}
    with open_capture(path) as capture:
        assert capture.format == fmt
        seen = {r.linktype for r in capture} if error is None else {r.linktype for r in records}
        assert capture.linktypes == declared >= seen


def tshark_fields(path: Path) -> list[tuple[int, int, int, int]]:
    """(ts_ns, origlen, caplen, interface) per frame, parsed exactly from tshark's decimal text."""
    result = subprocess.run(["tshark", "-r", str(path), "-T", "fields", "-e", "frame.time_epoch", "-e",
                             "frame.len", "-e", "frame.cap_len", "-e", "frame.interface_id"],
                            capture_output=True, text=True, check=False)
    rows = []
    for line in result.stdout.splitlines():
        epoch, origlen, caplen, interface = line.split("\t")
        seconds, _, fraction = epoch.partition(".")
        rows.append((int(seconds) * NS + int(fraction.ljust(9, "0")[:9]), int(origlen), int(caplen),
                     int(interface or 0)))
    return rows


@needs_corpus
@needs_tshark
@pytest.mark.parametrize("name", [
    "pcapplusplus__nanosecs_big_endian.pcap",          # big endian, nsec
    "tcpdump__tcp-handshake-nano.pcap",                # little endian, nsec
    "pcapplusplus__pcapng-example.pcapng",             # 2 interfaces, snaplen-truncated packets
    "pcapplusplus__many_interfaces-1.pcapng",          # 11 interfaces, mixed link types
    "tcpflow__test5-lines-randomized.pcap",            # pcapng under a .pcap name
    "zeek__tcp_truncated-header.pcap",                 # caplen < origlen
    "suricata__bug-1450-04_tls_DER-incomplete-header.pcap",   # damaged: the good records only
])
def test_timestamps_and_lengths_match_tshark(name: str) -> None:
    records, _ = drain(CORPUS / name)
    assert [(r.ts_ns, r.origlen, r.caplen, r.interface) for r in records] == tshark_fields(CORPUS / name)


@pytest.mark.parametrize(("name", "expected"), [
    ("http.pcap", ("pcap", "")), ("http.pcap.gz", ("pcap", "gzip")), ("vlan-qinq.pcap", ("pcap", "")),
    ("ipv6.pcap", ("pcap", "")), ("reorder.pcap", ("pcap", "")), ("fragments.pcap", ("pcap", "")),
    ("multi-if.pcapng", ("pcapng", "")),
])
def test_samples_are_readable(name: str, expected: tuple[str, str]) -> None:
    assert detect_format(SAMPLES / name) == expected
    records, error = drain(SAMPLES / name)
    assert error is None and records


def test_sample_gzip_matches_plain() -> None:
    assert drain(SAMPLES / "http.pcap.gz")[0] == drain(SAMPLES / "http.pcap")[0]


def test_multi_interface_sample_keeps_nanoseconds() -> None:
    with open_capture(SAMPLES / "multi-if.pcapng") as capture:
        records = list(capture)
        assert capture.linktypes == {1, 101}
    assert records[1].interface == 1 and records[1].ts_ns == 1_700_000_000 * NS + 500_123


def test_not_a_capture(tmp_path: Path) -> None:
    text = tmp_path / "notes.pcap"
    text.write_bytes(b"hello, this is text\n")
    empty = tmp_path / "empty.pcap"
    empty.write_bytes(b"")
    assert detect_format(text) is None and detect_format(empty) is None
    with pytest.raises(CaptureError, match=r"not a pcap or pcapng file \(starts with 68656c6c\)") as info:
        open_capture(text)
    assert info.value.offset == 0
    with pytest.raises(CaptureError, match="starts with nothing"):
        open_capture(empty)


def test_missing_file_is_a_capture_error(tmp_path: Path) -> None:
    with pytest.raises(CaptureError, match="cannot open: No such file or directory"):
        open_capture(tmp_path / "absent.pcap")


def test_reading_never_modifies_the_file(tmp_path: Path) -> None:
    path = tmp_path / "evidence.pcap"
    path.write_bytes((SAMPLES / "http.pcap").read_bytes())
    path.chmod(0o444)
    before = (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns)
    with open_capture(path) as capture:
        assert len(list(capture)) == 11
    assert (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns) == before
