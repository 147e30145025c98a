"""Compressed captures: detected from magic bytes only, streamed, damage reported with a position."""

from __future__ import annotations

import bz2
import gzip
import lzma
from pathlib import Path

import pytest

from forensics_tcpflow.capture import CaptureError, Record, detect_format, open_capture
from forensics_tcpflow.capture.compression import sniff
from capturekit import drain

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
COMPRESS = {"gzip": lambda data: gzip.compress(data, mtime=0), "bzip2": bz2.compress, "xz": lzma.compress}
SOURCES = {"pcap": "pcapplusplus__nanosecs_big_endian.pcap", "pcapng": "pcapplusplus__pcapng-example.pcapng"}




@pytest.mark.parametrize("fmt", sorted(SOURCES))
@pytest.mark.parametrize("codec", sorted(COMPRESS))
def test_compressed_copy_reads_like_the_original(tmp_path: Path, codec: str, fmt: str) -> None:
    source = CORPUS / SOURCES[fmt]
    path = tmp_path / "evidence.bin"          # the name says nothing about the content
    path.write_bytes(COMPRESS[codec](source.read_bytes()))
    assert detect_format(path) == (fmt, codec)
    with open_capture(path) as capture:
        assert (capture.format, capture.compression) == (fmt, codec)
        records = list(capture)
        assert capture.raw_position == path.stat().st_size
    assert records == drain(source)[0]


def test_plain_capture_named_gz_is_plain(tmp_path: Path) -> None:
    path = tmp_path / "x.pcap.gz"
    path.write_bytes((CORPUS / SOURCES["pcap"]).read_bytes())
    assert detect_format(path) == ("pcap", "")


@pytest.mark.parametrize("codec", sorted(COMPRESS))
def test_cut_short_stream_keeps_the_records_before(tmp_path: Path, codec: str) -> None:
    original = (CORPUS / "pcapplusplus__many-protocols.pcap").read_bytes()
    packed = COMPRESS[codec](original)
    path = tmp_path / "cut"
    path.write_bytes(packed[:len(packed) // 2])
    records, error = drain(path)
    assert 0 < len(records) < 4709
    assert error is not None and error.frame == len(records) + 1
    assert error.offset is not None and error.offset >= records[-1].offset


def test_compressed_non_capture_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.gz"
    path.write_bytes(gzip.compress(b"just some text", mtime=0))
    assert detect_format(path) is None
    with pytest.raises(CaptureError, match="not a pcap or pcapng gzip-compressed data"):
        open_capture(path)


def test_sniff() -> None:
    assert sniff(b"\x1f\x8b\x08\0").name == "gzip"
    assert sniff(b"BZh9").name == "bzip2"
    assert sniff(b"\xfd7zXZ\x00").name == "xz"
    assert sniff(b"\xd4\xc3\xb2\xa1") is None
