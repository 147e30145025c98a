"""-e wifiviz: SSIDs by BSSID from beacons and probe responses, against tcpflow's <ssids> where
tcpflow reads the frames and against tshark where it does not."""

from __future__ import annotations

import re
import struct
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from capturekit import SAMPLES, sample_generator
from conftest import CORPUS, require_corpus, require_oracle
from forensics_tcpflow.capture.record import Record
from forensics_tcpflow.cli import main
from forensics_tcpflow.decode.decoder import Decoder
from forensics_tcpflow.environment import Environment
from forensics_tcpflow.scan.registry import select
from oracles import TCPFLOW, TSHARK

BEACON_SUBTYPE, PROBE_RESPONSE_SUBTYPE = "0x0008", "0x0005"
# The corpus's 802.11 captures: tcpflow reads the mesh beacon of the second; the first holds probe
# responses only, which tcpflow does not count (its <ssids> is empty), so tshark is the oracle there too.
CORPUS_WIFI = ("tcpdump__ieee802.11_exthdr.pcap", "tcpdump__ieee802.11_meshid.pcap")
_OURS = re.compile(r'<ftf:ssid mac="([^"]*)" ssid="([^"]*)" count="(\d+)" probe_responses="(\d+)" ssid_hex="([^"]*)"')
_THEIRS = re.compile(r"<ssid mac='([^']*)' ssid='([^']*)' count='(\d+)'/>")


def _ours(capture: Path, out: Path) -> list[tuple[str, ...]]:
    assert main(["-e", "wifiviz", "-r", str(capture), "-o", str(out), "-q"], Environment(log=lambda line: None)) == 0
    return _OURS.findall((out / "report.xml").read_text())


def _tcpflow_ssids(capture: Path, out: Path) -> list[tuple[str, ...]] | None:
    out.mkdir()
    subprocess.run([TCPFLOW, "-e", "wifiviz", "-r", str(capture), "-o", str(out)], capture_output=True, timeout=120)
    text = (out / "report.xml").read_text()
    return _THEIRS.findall(text) if "<ssids>" in text else None


def test_wifiviz_is_part_of_all_scanners() -> None:
    assert "wifiviz" in select(True, [], None, [])


def _beacons(ours: list[tuple[str, ...]]) -> list[tuple[str, str, str]]:
    """Our table as tcpflow writes it: beacons only (tcpflow does not count probe responses)."""
    return [(mac, ssid, count) for mac, ssid, count, _, _ in ours if count != "0"]


@pytest.mark.parametrize("capture", [SAMPLES / "wifi-beacons.pcap", *(CORPUS / name for name in CORPUS_WIFI)],
                         ids=lambda path: path.name)
def test_equal_to_tcpflows_ssids(capture: Path, tmp_path: Path) -> None:
    require_oracle(TCPFLOW)
    if capture.parent == CORPUS:
        require_corpus()
    ours = _ours(capture, tmp_path / "ours")
    theirs = _tcpflow_ssids(capture, tmp_path / "theirs")
    assert theirs is not None and theirs == _beacons(ours)
    assert main(["validate", str(tmp_path / "ours" / "report.xml")]) == 0


def test_probe_responses_are_counted_beside_beacons(tmp_path: Path) -> None:
    ours = _ours(SAMPLES / "wifi-beacons.pcap", tmp_path)
    assert ("02:00:00:00:00:a1", "Lab 5G &amp; &lt;guests&gt;", "2", "1", b"Lab 5G & <guests>".hex()) in ours
    assert ("02:00:00:00:00:b2", "Hidden", "0", "1", b"Hidden".hex()) in ours


@pytest.mark.parametrize("capture", CORPUS_WIFI)
def test_corpus_captures_equal_tshark(capture: str, tmp_path: Path) -> None:
    """tshark sees the probe responses tcpflow ignores (all of tcpdump__ieee802.11_exthdr.pcap's)."""
    require_corpus()
    require_oracle(TSHARK)
    path = CORPUS / capture
    fields = subprocess.run([TSHARK, "-n", "-r", str(path), "-T", "fields", "-e", "wlan.fc.type_subtype",
                             "-e", "wlan.bssid", "-e", "wlan.ssid"], capture_output=True, text=True, timeout=120).stdout
    counted: Counter[tuple[str, str, str]] = Counter()
    for line in fields.splitlines():
        kind, bssid, ssid = (line.split("\t") + ["", ""])[:3]
        if kind in (BEACON_SUBTYPE, PROBE_RESPONSE_SUBTYPE):
            counted[(bssid, "" if ssid == "<MISSING>" else ssid, kind)] += 1
    expected = sorted({(bssid, ssid, str(counted[(bssid, ssid, BEACON_SUBTYPE)]),
                        str(counted[(bssid, ssid, PROBE_RESPONSE_SUBTYPE)])) for bssid, ssid, _ in counted})
    ours = _ours(path, tmp_path / "ours")
    assert expected and [(mac, ssid_hex, beacons, probes) for mac, _, beacons, probes, ssid_hex in ours] == expected


def _beacon() -> bytes:
    g = sample_generator()
    return g.management(g.BEACON, bytes.fromhex("0a0b0c0d0e0f"), b"Layer")


def _gre(proto: int, frame: bytes) -> bytes:
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + 4 + len(frame), 0, 0, 64, 47, 0, bytes(4), bytes(4))
    return bytes(12) + b"\x08\x00" + ip + struct.pack("!HH", 0, proto) + frame


@pytest.mark.parametrize("linktype, wrap", [
    (105, lambda f: f),
    (127, lambda f: struct.pack("<BxHIB", 0, 9, 0x02, 0x10) + sample_generator().fcs(f)),
    (119, lambda f: struct.pack("<II16s", 0x41, 144, b"wlan0") + bytes(120) + f),
    (192, lambda f: struct.pack("<BBHI", 0, 0, 8, 105) + f),
    (1, lambda f: _gre(0x8240, f)),
], ids=["802.11", "radiotap", "prism", "ppi", "aruba-gre"])
def test_every_wireless_layer_counts_beacons(linktype: int, wrap) -> None:
    frame = wrap(_beacon())
    dec = Decoder()
    assert dec.decode(Record(1, linktype, 0, len(frame), len(frame), frame, 0)) == []
    assert dec.stats.take_ssids() == [("0a:0b:0c:0d:0e:0f", b"Layer".hex(), 1, 0)]
