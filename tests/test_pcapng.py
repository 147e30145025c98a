"""pcapng: sections, interfaces, every packet block type and every kind of damage, on crafted bytes."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from forensics_tcpflow.capture import CaptureError, Record, open_capture
from forensics_tcpflow.capture.pcapng import timestamp_scale
from capturekit import drain

NS = 1_000_000_000


def block(btype: int, body: bytes, order: str = "<", trailer: int | None = None) -> bytes:
    body += b"\0" * (-len(body) % 4)
    length = len(body) + 12
    return (struct.pack(order + "II", btype, length) + body
            + struct.pack(order + "I", length if trailer is None else trailer))


def option(code: int, value: bytes, order: str = "<") -> bytes:
    return struct.pack(order + "HH", code, len(value)) + value + b"\0" * (-len(value) % 4)


def shb(order: str = "<", major: int = 1) -> bytes:
    return block(0x0A0D0D0A, struct.pack(order + "IHHq", 0x1A2B3C4D, major, 0, -1), order)


def idb(linktype: int = 1, snaplen: int = 65535, options: bytes = b"", order: str = "<") -> bytes:
    return block(1, struct.pack(order + "HHI", linktype, 0, snaplen) + options, order)


def epb(interface: int, ts: int, data: bytes, origlen: int | None = None, order: str = "<") -> bytes:
    return block(6, struct.pack(order + "IIIII", interface, ts >> 32, ts & 0xFFFFFFFF, len(data),
                                len(data) if origlen is None else origlen) + data, order)




def read(tmp_path: Path, *blocks: bytes) -> tuple[list[Record], CaptureError | None]:
    path = tmp_path / "x.pcapng"
    path.write_bytes(b"".join(blocks))
    return drain(path)


@pytest.mark.parametrize("order", "<>")
def test_enhanced_packets_both_byte_orders(tmp_path: Path, order: str) -> None:
    head = shb(order) + idb(order=order)
    records, error = read(tmp_path, head, epb(0, 1_600_000_000_123_456, b"abc", 100, order),
                          epb(0, 5, b"", order=order))
    assert error is None
    assert records == [Record(1, 1, 1_600_000_000_123_456_000, 3, 100, b"abc", len(head), 0),
                       Record(2, 1, 5000, 0, 0, b"", len(head) + 36, 0)]


@pytest.mark.parametrize(("tsresol", "units", "ns"), [
    (6, 1_500_000, 1_500_000_000),
    (9, 1_234_567_891, 1_234_567_891),
    (3, 7, 7_000_000),
    (12, 1_234_567_891_999, 1_234_567_891),     # picoseconds: floor to ns
    (0x80 | 20, 3 << 20, 3 * NS),                # 2^-20 s
    (0x80 | 1, 1, NS // 2),
])
def test_if_tsresol(tmp_path: Path, tsresol: int, units: int, ns: int) -> None:
    records, error = read(tmp_path, shb(), idb(options=option(9, bytes([tsresol])) + option(0, b"")),
                          epb(0, units, b"x"))
    assert error is None and records[0].ts_ns == ns


def test_timestamp_scale_default_is_microseconds() -> None:
    assert timestamp_scale(6) == (1000, 1)


def test_if_tsoffset_adds_seconds(tmp_path: Path) -> None:
    options = option(14, struct.pack("<q", 1_000_000_000)) + option(9, b"\x09")
    records, _ = read(tmp_path, shb(), idb(options=options), epb(0, 42, b"x"))
    assert records[0].ts_ns == 1_000_000_000 * NS + 42


def test_interfaces_keep_their_own_link_type(tmp_path: Path) -> None:
    records, error = read(tmp_path, shb(), idb(1), idb(101, options=option(9, b"\x09")),
                          epb(1, 7, b"raw"), epb(0, 7, b"eth"))
    assert error is None
    assert [(r.interface, r.linktype, r.ts_ns, r.data) for r in records] == [(1, 101, 7, b"raw"),
                                                                            (0, 1, 7000, b"eth")]


def test_sections_restart_interfaces_and_switch_byte_order(tmp_path: Path) -> None:
    path = tmp_path / "x.pcapng"
    path.write_bytes(shb() + idb(1) + epb(0, 1, b"a") + shb(">") + idb(113, order=">") + epb(0, 2, b"b", order=">"))
    with open_capture(path) as capture:
        records = list(capture)
        assert capture.format == "pcapng" and capture.linktypes == {1, 113}
    assert [(r.frame, r.linktype, r.interface, r.data) for r in records] == [(1, 1, 0, b"a"), (2, 113, 1, b"b")]


def test_simple_packet_block_uses_interface_zero(tmp_path: Path) -> None:
    spb = lambda origlen, data: block(3, struct.pack("<I", origlen) + data)  # noqa: E731
    records, error = read(tmp_path, shb(), idb(113, snaplen=4), spb(10, b"abcdef"), spb(2, b"abcd"))
    assert error is None
    assert [(r.linktype, r.ts_ns, r.caplen, r.origlen, r.data) for r in records] == [
        (113, 0, 4, 10, b"abcd"), (113, 0, 2, 2, b"ab")]


def test_simple_packet_block_without_snaplen_is_bounded_by_block(tmp_path: Path) -> None:
    records, _ = read(tmp_path, shb(), idb(snaplen=0), block(3, struct.pack("<I", 1000) + b"xyz"))
    assert (records[0].caplen, records[0].origlen, records[0].data) == (4, 1000, b"xyz\0")


def test_obsolete_packet_block(tmp_path: Path) -> None:
    pb = block(2, struct.pack("<HHIIII", 1, 9, 0, 3_000_000, 2, 60) + b"hi")
    records, error = read(tmp_path, shb(), idb(1), idb(101), pb)
    assert error is None
    assert [(r.interface, r.linktype, r.ts_ns, r.caplen, r.origlen, r.data) for r in records] == [
        (1, 101, 3 * NS, 2, 60, b"hi")]


def test_other_blocks_are_skipped_and_not_numbered(tmp_path: Path) -> None:
    head = shb() + idb()
    skipped = block(4, b"\0" * 4) + block(5, b"\0" * 12) + block(0x40000BAD, b"custom!!")
    records, error = read(tmp_path, head, skipped, epb(0, 1, b"x"))
    assert error is None
    assert [(r.frame, r.offset) for r in records] == [(1, len(head) + len(skipped))]


GOOD = shb() + idb() + epb(0, 1, b"good")


@pytest.mark.parametrize(("tail", "message"), [
    (b"\x06\0\0", "truncated block header: 3 of 8 bytes"),
    (epb(0, 1, b"lost")[:30], "truncated block: 30 of 36 bytes"),
    (struct.pack("<II", 6, 37) + b"\0" * 40, "bad block length 37 for block type 0x00000006"),
    (struct.pack("<II", 6, 8), "bad block length 8 for block type 0x00000006"),
    (struct.pack("<II", 6, 16) + b"\0" * 8, "bad block length 16 for block type 0x00000006"),
    (struct.pack("<II", 6, 1 << 30), "bad block length 1073741824 for block type 0x00000006"),
    (block(6, b"\0" * 24, trailer=40), "block length mismatch: header says 36, trailer says 40"),
    (epb(3, 1, b"x"), "packet refers to interface 3, but its section describes 1"),
    (block(6, struct.pack("<IIIII", 0, 0, 0, 99, 99) + b"abcd"),
     "record 2 claims caplen 99 but its block holds 4 bytes"),
    (block(0x0A0D0D0A, b"\x01\x02\x03\x04" + b"\0" * 12), "bad section byte-order magic 01020304"),
    (shb(major=2), "unsupported pcapng version 2.0"),
])
def test_damage_stops_after_the_good_records(tmp_path: Path, tail: bytes, message: str) -> None:
    records, error = read(tmp_path, GOOD, tail)
    assert [r.data for r in records] == [b"good"]
    assert error is not None and error.message == message
    assert (error.frame, error.offset) == (2, len(GOOD))


def test_bad_first_section_is_refused_at_open(tmp_path: Path) -> None:
    path = tmp_path / "x.pcapng"
    path.write_bytes(block(0x0A0D0D0A, b"\xde\xad\xbe\xef" + b"\0" * 12))
    with pytest.raises(CaptureError, match="bad section byte-order magic deadbeef"):
        open_capture(path)
