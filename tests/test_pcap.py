"""Classic pcap: every magic variant and every kind of damage, on crafted bytes."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from forensics_tcpflow.capture import CaptureError, Record, open_capture
from forensics_tcpflow.capture.pcap import VARIANTS
from capturekit import drain

NS = 1_000_000_000
PACKETS = [(1_600_000_000, 123456, b"\x01" * 60, 60), (1_600_000_001, 999999, b"\x02" * 40, 1500),
           (1_600_000_002, 0, b"", 0)]


def pcap(magic: bytes, packets=PACKETS, snaplen: int = 65535, network: int = 1) -> bytes:
    variant = VARIANTS[magic]
    out = [magic + struct.pack(variant.order + "HHiIII", 2, 4, 0, 0, snaplen, network)]
    for sec, frac, data, origlen in packets:
        out.append(struct.pack(variant.order + "IIII", sec, frac, len(data), origlen)
                   + b"\0" * (variant.header_size - 16) + data)
    return b"".join(out)




def write(tmp_path: Path, data: bytes, name: str = "x.pcap") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("magic", sorted(VARIANTS))
def test_every_variant_reads_the_same_records(tmp_path: Path, magic: bytes) -> None:
    records, error = drain(write(tmp_path, pcap(magic)))
    assert error is None
    variant = VARIANTS[magic]
    offset = 24
    for frame, (record, (sec, frac, data, origlen)) in enumerate(zip(records, PACKETS, strict=True), 1):
        assert record == Record(frame, 1, sec * NS + frac * variant.frac_ns, len(data), origlen, data, offset, 0)
        offset += variant.header_size + len(data)


def test_nanosecond_timestamps_keep_every_digit(tmp_path: Path) -> None:
    records, _ = drain(write(tmp_path, pcap(b"\xa1\xb2\x3c\x4d", [(1, 999_999_999, b"x", 1)])))
    assert records[0].ts_ns == 1_999_999_999


def test_linktype_drops_the_fcs_bits(tmp_path: Path) -> None:
    with open_capture(write(tmp_path, pcap(b"\xd4\xc3\xb2\xa1", network=0x1400_0065))) as capture:
        assert capture.format == "pcap" and capture.compression == "" and capture.linktypes == {101}
        assert {record.linktype for record in capture} == {101}


def test_empty_capture_has_no_records(tmp_path: Path) -> None:
    assert drain(write(tmp_path, pcap(b"\xd4\xc3\xb2\xa1", [])))[0] == []


def test_truncated_record_header(tmp_path: Path) -> None:
    records, error = drain(write(tmp_path, pcap(b"\xd4\xc3\xb2\xa1") + b"\x01"))
    assert len(records) == 3
    assert error is not None and error.frame == 4 and error.offset == 24 + 3 * 16 + 100
    assert error.message == "truncated record header: 1 of 16 bytes"


def test_truncated_record_data(tmp_path: Path) -> None:
    records, error = drain(write(tmp_path, pcap(b"\xd4\xc3\xb2\xa1")[:24 + 16 + 60 + 16 + 10]))
    assert len(records) == 1
    assert error is not None and error.frame == 2 and error.offset == 24 + 16 + 60
    assert error.message == "truncated record data: 10 of 40 bytes"


def test_caplen_beyond_any_snaplen_is_corrupt(tmp_path: Path) -> None:
    bad = struct.pack("<IIII", 0, 0, 4325376, 4325376) + b"\0" * 64
    records, error = drain(write(tmp_path, pcap(b"\xd4\xc3\xb2\xa1") + bad))
    assert len(records) == 3
    assert error is not None and error.frame == 4
    assert error.message == "record 4 claims caplen 4325376 > 262144"
    assert "record 4" in str(error) and str(tmp_path) in str(error)


def test_large_snaplen_allows_large_records(tmp_path: Path) -> None:
    big = b"\x07" * 300_000
    records, error = drain(write(tmp_path, pcap(b"\xd4\xc3\xb2\xa1", [(0, 0, big, len(big))], snaplen=400_000)))
    assert error is None and records[0].data == big


def test_truncated_file_header(tmp_path: Path) -> None:
    with pytest.raises(CaptureError, match="truncated pcap file header: 10 of 24 bytes"):
        open_capture(write(tmp_path, pcap(b"\xd4\xc3\xb2\xa1")[:10]))


def test_records_spanning_read_chunks(tmp_path: Path) -> None:
    """Records straddling the reader's 1 MiB chunks come out whole."""
    packets = [(i, 0, bytes([i % 256]) * 1499, 1499) for i in range(2000)]
    records, error = drain(write(tmp_path, pcap(b"\xd4\xc3\xb2\xa1", packets)))
    assert error is None and len(records) == 2000
    assert all(r.data == bytes([i % 256]) * 1499 for i, r in enumerate(records))
