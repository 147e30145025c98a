"""The benchmark generator writes valid, complete TCP traffic, and the runner's equality check works."""

from __future__ import annotations

import struct
import sys
from collections import defaultdict
from pathlib import Path

import dpkt
import pytest

from conftest import require_oracle
from oracles import TCPFLOW

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.generate import FIN, SYN, WORKLOADS, generate  # noqa: E402
from benchmarks.run import compare_outputs, ours_command, run_tcpflow, timed  # noqa: E402

ONE_MB = {"bulk": 0.001, "small": 0.0033, "short": 0.0033, "split": 0.001,
          "mix-bulk": 0.001, "mix-small": 0.0033, "mix-short": 0.003}


def checksum(data: bytes) -> int:
    """The textbook Internet checksum, independent of the generator's modulo trick."""
    if len(data) & 1:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total


def read_streams(path: str) -> tuple[dict, int, int]:
    """Per direction: SYN seq, FIN seq, data by seq; plus IPv6 and VLAN packet counts."""
    streams: dict = defaultdict(lambda: {"syn": None, "fin": None, "data": {}})
    ipv6 = vlan = 0
    with open(path, "rb") as fh:
        for _, frame in dpkt.pcap.Reader(fh):
            eth = dpkt.ethernet.Ethernet(frame)
            ip = eth.data
            tagged = frame[12:14] == b"\x81\x00"
            l3 = 18 if tagged else 14
            vlan += tagged
            raw = frame[l3:]
            if isinstance(ip, dpkt.ip6.IP6):
                ipv6 += 1
                assert len(raw) == 40 + ip.plen
                seg = raw[40:]
                pseudo = ip.src + ip.dst + struct.pack("!IxxxB", len(seg), 6)
            else:
                assert len(raw) == ip.len and checksum(raw[:20]) == 0xFFFF
                seg = raw[20:]
                pseudo = ip.src + ip.dst + struct.pack("!xBH", 6, len(seg))
            assert checksum(pseudo + seg) == 0xFFFF
            tcp = ip.data
            s = streams[(ip.src, tcp.sport, ip.dst, tcp.dport)]
            if tcp.flags & SYN:
                s["syn"] = tcp.seq
            if tcp.flags & FIN:
                s["fin"] = tcp.seq
            if tcp.data:
                assert s["data"].setdefault(tcp.seq, tcp.data) == tcp.data   # retransmissions are identical
    return streams, ipv6, vlan


@pytest.mark.parametrize("name", sorted(WORKLOADS))
def test_generated_capture_is_complete_and_valid(tmp_path: Path, name: str) -> None:
    info = generate(WORKLOADS[name].scaled(ONE_MB[name]), tmp_path)
    assert 0.5e6 < info.bytes < 3e6 and len(info.paths) == WORKLOADS[name].files
    flows = ipv6 = vlan = 0
    for path in info.paths:
        streams, v6, tagged = read_streams(path)
        ipv6, vlan, flows = ipv6 + v6, vlan + tagged, flows + len(streams) // 2
        for s in streams.values():
            offset = (s["syn"] + 1) & 0xFFFFFFFF
            for seq in sorted(s["data"], key=lambda q: (q - offset) & 0xFFFFFFFF):
                assert seq == offset, "a hole or an overlap in the generated stream"
                offset = (offset + len(s["data"][seq])) & 0xFFFFFFFF
            assert s["fin"] == offset and s["data"]
    assert flows == info.flows
    if name == "short":
        assert ipv6 and vlan
    assert generate(WORKLOADS[name].scaled(ONE_MB[name]), tmp_path) == info   # reused, not rewritten


def test_compare_outputs_names_every_difference(tmp_path: Path) -> None:
    ours, theirs = tmp_path / "ours", tmp_path / "tcpflow"
    for root, files in ((ours, {"a": b"1", "b": b"2", "sub/c": b"3", "report.xml": b"x", "flows.csv": b""}),
                        (theirs, {"a": b"1", "b": b"X", "d": b"4", "report.xml": b"y"})):
        for name, data in files.items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_bytes(data)
    assert compare_outputs(ours, theirs) == ["only in ours: sub/c", "only in tcpflow: d", "different bytes: b"]
    assert compare_outputs(ours, ours) == []


def test_runner_finds_both_tools_agree_on_a_tiny_capture(tmp_path: Path) -> None:
    require_oracle(TCPFLOW)
    info = generate(WORKLOADS["bulk"].scaled(0.001), tmp_path / "captures")
    ours = timed(ours_command(info, tmp_path / "ours", 1), tmp_path / "log")
    theirs = run_tcpflow(info, tmp_path / "tcpflow", tmp_path / "log")
    assert ours.status == theirs.status == 0 and ours.peak_rss_kb > 0 and theirs.seconds > 0
    assert compare_outputs(tmp_path / "ours", tmp_path / "tcpflow") == []
