"""IEEE 802.11 data frames (every address form, QoS, A-MSDU) behind radiotap, Prism and PPI."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import dpkt
import pytest
from lxml import etree

from forensics_tcpflow.capture.record import Record
from forensics_tcpflow.cli import main
from forensics_tcpflow.decode.decoder import Decoder
from forensics_tcpflow.environment import Environment
from forensics_tcpflow.report.dfxml import FTF_NS

SRC, DST = bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])
SA, DA, AP, RA = (bytes.fromhex(h) for h in ("02000000000a", "02000000000b", "0200000000ff", "0200000000ee"))
SNAP = b"\xaa\xaa\x03\x00\x00\x00\x08\x00"


def ip(payload: bytes = b"payload", sport: int = 4000) -> bytes:
    tcp = dpkt.tcp.TCP(sport=sport, dport=80, seq=1, flags=0x18, data=payload)
    return bytes(dpkt.ip.IP(src=SRC, dst=DST, p=6, data=tcp))


# to-DS/from-DS bits -> the three or four addresses in frame order
FORMS = {0: DA + SA + AP, 1: AP + SA + DA, 2: DA + AP + SA, 3: RA + AP + DA}


def wlan(body: bytes, ds: int = 0, qos: bytes | None = None, flags: int = 0) -> bytes:
    addrs = FORMS[ds] + b"\x00\x00" + (SA if ds == 3 else b"")
    subtype = 0x08 if qos is None else 0x88
    return bytes([subtype, ds | flags]) + b"\x00\x00" + addrs + (qos or b"") + body


def decode(linktype: int, data: bytes) -> tuple[list, Decoder]:
    dec = Decoder()
    return dec.decode(Record(1, linktype, 0, len(data), len(data), data, 0)), dec


@pytest.mark.parametrize("ds", [0, 1, 2, 3])
@pytest.mark.parametrize("qos", [None, b"\x00\x00"])
def test_every_address_form_reports_source_and_destination(ds, qos):
    [seg], _ = decode(105, wlan(SNAP + ip(), ds, qos))
    assert (seg.mac_src, seg.mac_dst, seg.payload) == (SA, DA, b"payload")


def test_qos_with_ht_control():
    [seg], _ = decode(105, wlan(bytes(4) + SNAP + ip(), 1, b"\x00\x00", flags=0x80))
    assert seg.payload == b"payload"


def test_a_msdu_every_subframe_is_decoded():
    body = b""
    for n, (dst, src) in enumerate(((DA, SA), (SA, DA), (DA, SA))):
        sub = SNAP + ip(b"part%d" % n, 4000 + n)
        body += dst + src + struct.pack("!H", len(sub)) + sub
        body += bytes(-len(body) % 4)
    segs, _ = decode(105, wlan(body, 2, b"\x80\x00"))
    assert [s.payload for s in segs] == [b"part0", b"part1", b"part2"]
    assert [s.mac_src for s in segs] == [SA, DA, SA]


def test_protected_null_and_management_frames_are_counted():
    for frame, key in ((wlan(bytes(60), 1, flags=0x40), "802.11:protected"),
                       (bytes([0x48, 0x01]) + bytes(22), "802.11:no-data"),
                       (bytes([0x80, 0x00]) + bytes(40), "802.11:not-data")):
        segs, dec = decode(105, frame)
        assert segs == [] and dec.stats.counters[key] == 1 and dec.stats.not_tcp == 1


def fcs(frame: bytes) -> bytes:
    return frame + struct.pack("<I", zlib.crc32(frame))


def radiotap(flags: int | None) -> bytes:
    if flags is None:
        return struct.pack("<BxHI", 0, 8, 0)
    return struct.pack("<BxHIB", 0, 9, 0x02, flags)


@pytest.mark.parametrize("flags, tail", [(None, b""), (0x00, b""), (0x10, "fcs")])
def test_radiotap_with_and_without_fcs(flags, tail):
    frame = wlan(SNAP + ip(), 1)
    [seg], _ = decode(127, radiotap(flags) + (fcs(frame) if tail else frame))
    assert seg.payload == b"payload"


@pytest.mark.parametrize("flags, frame", [
    (0x10, wlan(SNAP + ip(), 1) + b"\xde\xad\xbe\xef"),     # the FCS does not match
    (0x50, fcs(wlan(SNAP + ip(), 1))),                      # the radio says the FCS was bad
])
def test_bad_fcs_is_counted_never_decoded(flags, frame):
    segs, dec = decode(127, radiotap(flags) + frame)
    assert segs == [] and dec.stats.counters["802.11:bad-fcs"] == 1 and dec.stats.undecodable == 1


def test_tsft_before_flags_is_aligned():
    header = struct.pack("<BxHI", 0, 8 + 8 + 1, 0x03) + bytes(8) + b"\x10"
    frame = wlan(SNAP + ip(), 2)
    [seg], _ = decode(127, header + fcs(frame))
    assert seg.payload == b"payload"


def test_prism():
    header = struct.pack("<II16s", 0x41, 144, b"wlan0") + bytes(120)
    [seg], _ = decode(119, header + wlan(SNAP + ip(), 3))
    assert (seg.mac_src, seg.payload) == (SA, b"payload")


@pytest.mark.parametrize("common_flags, with_fcs", [(0x0000, False), (0x0001, True)])
def test_ppi_with_80211_common_field(common_flags, with_fcs):
    common = struct.pack("<HHQHHHHBBbb", 2, 20, 0, common_flags, 0, 2412, 0, 0, 0, -40, -90)
    frame = wlan(SNAP + ip(), 1)
    data = struct.pack("<BBHI", 0, 0, 8 + len(common), 105) + common + (fcs(frame) if with_fcs else frame)
    [seg], _ = decode(192, data)
    assert seg.payload == b"payload"


def test_ppi_bad_fcs_flag_and_other_link_types():
    common = struct.pack("<HHQHHHHBBbb", 2, 20, 0, 0x0005, 0, 2412, 0, 0, 0, -40, -90)
    segs, dec = decode(192, struct.pack("<BBHI", 0, 0, 28, 105) + common + fcs(wlan(SNAP + ip(), 1)))
    assert segs == [] and dec.stats.counters["802.11:bad-fcs"] == 1
    [seg], _ = decode(192, struct.pack("<BBHI", 0, 0, 8, 1) + DA + SA + b"\x08\x00" + ip())
    assert seg.payload == b"payload"


def test_report_counts_protected_and_bad_fcs_frames_per_capture(tmp_path):
    sample = Path(__file__).resolve().parents[1] / "sample_pcaps" / "wifi-radiotap.pcap"
    assert main([str(sample), "-o", str(tmp_path)], Environment(log=lambda line: None)) == 0
    counters = {c.get("name"): c.get("value") for c in etree.parse(str(tmp_path / "report.xml")).xpath(
        "//f:counter", namespaces={"f": FTF_NS})}
    assert counters["802.11:protected"] == "1" and counters["802.11:bad-fcs"] == "1"
