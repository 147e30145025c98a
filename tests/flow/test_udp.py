"""UDP flows (--udp) through the whole program on crafted captures: names, cN on the timeout, fragments,
VLAN, IPv6, a TCP flow on the same ports, empty datagrams, tunnels, -K/-I/.findx/-c, reports and verify."""

from __future__ import annotations

import csv
import io
import json
import struct
from pathlib import Path

from batchkit import normalized_report, run_cli, tree
from capturekit import ether, ipv4, ipv6, tcp, udp, write_pcap
from conftest import CORPUS, require_corpus
from forensics_tcpflow import core
from flowkit import Wire
from forensics_tcpflow.cli import main
from forensics_tcpflow.decode.segment import Datagram
from forensics_tcpflow.environment import Environment
from forensics_tcpflow.flow.community_id import community_id
from forensics_tcpflow.report.validate import validate_report

A, B = bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])
A6, B6 = bytes.fromhex("20010db8" + "00" * 11 + "01"), bytes.fromhex("20010db8" + "00" * 11 + "02")
S = 1_000_000_000
QUERY = "010.000.000.001.01234-010.000.000.002.00053-udp"
ANSWER = "010.000.000.002.00053-010.000.000.001.01234-udp"


def dgram(payload: bytes, src: bytes = A, dst: bytes = B, sport: int = 1234, dport: int = 53, **kw) -> bytes:
    return ether(ipv4(src, dst, 17, udp(sport, dport, payload)), **kw)


def run(tmp: Path, frames: list[tuple[int, bytes]], *args: str, cut: dict[int, int] | None = None) -> tuple[int, Path, str]:
    capture = write_pcap(tmp / "in.pcap", frames, cut)
    out = tmp / "out"
    stdout = io.BytesIO()
    env = Environment(stdout=io.TextIOWrapper(stdout, write_through=True), log=lambda line: None)
    rc = main(["-q", "-r", str(capture), "-o", str(out), *args], env)
    return rc, out, stdout.getvalue().decode("utf-8", "replace")


def records(out: Path) -> dict[str, dict]:
    rows = [json.loads(line) for line in (out / "flows.jsonl").read_text().splitlines()]
    return {row["filename"] or f"<{row['protocol']} {row['src']}:{row['sport']}>": row for row in rows}


def test_both_directions_in_arrival_order_with_index(tmp_path):
    rc, out, _ = run(tmp_path, [(1 * S, dgram(b"q1")), (2 * S, dgram(b"a1", B, A, 53, 1234)),
                                (3 * S + 5000, dgram(b"q22"))], "--udp")
    assert rc == 0
    assert (out / QUERY).read_bytes() == b"q1q22"
    assert (out / ANSWER).read_bytes() == b"a1"
    assert (out / (QUERY + ".findx")).read_text() == "0|1.000000|2\n2|3.000005|3\n"
    rows = records(out)
    q = rows[QUERY]
    assert (q["protocol"], q["packets"], q["filesize"], q["direction"]) == ("udp", 2, 5, "unknown")
    assert q["index_filename"] == QUERY + ".findx" and q["close_reason"] == "end-of-input"
    assert q["community_id"] == rows[ANSWER]["community_id"] == community_id(4, A, B, 1234, 53, 17)
    assert q["connection_id"] == rows[ANSWER]["connection_id"]
    assert validate_report(out / "report.xml") == []
    report = (out / "report.xml").read_text()
    assert report.count('protocol="udp"') == 2
    with (out / "flows.csv").open() as fh:
        assert {row["protocol"] for row in csv.DictReader(fh)} == {"udp"}


def test_without_the_option_udp_is_counted_and_not_written(tmp_path):
    rc, out, _ = run(tmp_path, [(1 * S, dgram(b"q1"))])
    assert rc == 0
    assert not list(out.glob("*udp*"))
    assert 'name="ipproto:17"' in (out / "report.xml").read_text()


def test_timeout_splits_into_cn(tmp_path):
    frames = [(1 * S, dgram(b"a")), (30 * S, dgram(b"b")), (100 * S, dgram(b"c")), (101 * S, dgram(b"d"))]
    rc, out, _ = run(tmp_path, frames, "--udp")
    assert rc == 0
    assert (out / QUERY).read_bytes() == b"ab"
    assert (out / "010.000.000.001.01234-010.000.000.002.00053c1-udp").read_bytes() == b"cd"
    rows = records(out)
    assert rows[QUERY]["close_reason"] == "idle"
    assert rows["010.000.000.001.01234-010.000.000.002.00053c1-udp"]["connection_index"] == 1
    (tmp_path / "long").mkdir()
    rc, out2, _ = run(tmp_path / "long", frames, "--udp", "--udp-timeout", "120")
    assert (out2 / QUERY).read_bytes() == b"abcd"
    (tmp_path / "never").mkdir()
    rc, out3, _ = run(tmp_path / "never", frames, "--udp", "--udp-timeout", "0")
    assert (out3 / QUERY).read_bytes() == b"abcd"


def test_fragmented_datagram_is_reassembled(tmp_path):
    body = udp(1234, 53, bytes(range(200)) * 2)
    first, second = body[:208], body[208:]
    frames = [(1 * S, ether(ipv4(A, B, 17, first, ident=7, frag=0x2000))),
              (2 * S, ether(ipv4(A, B, 17, second, ident=7, frag=208 // 8)))]
    rc, out, _ = run(tmp_path, frames, "--udp")
    assert rc == 0
    assert (out / QUERY).read_bytes() == bytes(range(200)) * 2
    assert records(out)[QUERY]["reassembled_datagrams"] == 1


def test_vlan_and_ipv6(tmp_path):
    v6 = ether(ipv6(A6, B6, 17, udp(5000, 5001, b"six")), etype=0x86DD)
    rc, out, _ = run(tmp_path, [(1 * S, dgram(b"tagged", vlan=42)), (2 * S, v6)], "--udp")
    assert rc == 0
    assert (out / "010.000.000.001.01234-010.000.000.002.00053--42-udp").read_bytes() == b"tagged"
    assert (out / "2001:db8::1.05000-2001:db8::2.05001-udp").read_bytes() == b"six"
    rows = records(out)
    assert rows["010.000.000.001.01234-010.000.000.002.00053--42-udp"]["vlans"] == [42]
    assert rows["2001:db8::1.05000-2001:db8::2.05001-udp"]["family"] == 6


def test_udp_and_tcp_on_the_same_addresses_and_ports(tmp_path):
    frames = [(1 * S, dgram(b"over udp")),
              (2 * S, ether(ipv4(A, B, 6, tcp(1234, 53, 100, 0x02)))),
              (3 * S, ether(ipv4(A, B, 6, tcp(1234, 53, 101, 0x18, b"over tcp"))))]
    rc, out, _ = run(tmp_path, frames, "--udp")
    assert rc == 0
    assert (out / QUERY).read_bytes() == b"over udp"
    assert (out / "010.000.000.001.01234-010.000.000.002.00053").read_bytes() == b"over tcp"
    assert {row["protocol"] for row in records(out).values()} == {"tcp", "udp"}


def test_empty_datagram_is_counted_with_no_bytes(tmp_path):
    rc, out, _ = run(tmp_path, [(1 * S, dgram(b"")), (2 * S, dgram(b"x")), (3 * S, dgram(b""))], "--udp")
    assert rc == 0
    assert (out / QUERY).read_bytes() == b"x"
    assert (out / (QUERY + ".findx")).read_text() == "0|1.000000|0\n0|2.000000|1\n1|3.000000|0\n"
    assert records(out)[QUERY]["packets"] == 3


def test_only_empty_datagrams_still_name_a_file(tmp_path):
    rc, out, _ = run(tmp_path, [(1 * S, dgram(b""))], "--udp")
    assert (out / QUERY).read_bytes() == b""
    assert records(out)[QUERY]["packets"] == 1


def test_max_bytes_cuts_the_file_not_the_count(tmp_path):
    rc, out, _ = run(tmp_path, [(1 * S, dgram(b"abc")), (2 * S, dgram(b"defg"))], "--udp", "-b", "5")
    assert (out / QUERY).read_bytes() == b"abcde"
    assert (out / (QUERY + ".findx")).read_text() == "0|1.000000|3\n3|2.000000|2\n"
    row = records(out)[QUERY]
    assert (row["filesize"], row["stream_length"], row["packets"]) == (5, 7, 2)


def test_tunnelled_datagrams_are_not_flows_their_inner_traffic_is(tmp_path):
    inner = dgram(b"inside")
    vxlan = struct.pack("!BxxxI", 0x08, 7 << 8) + inner
    outer = ether(ipv4(bytes([192, 0, 2, 1]), bytes([192, 0, 2, 2]), 17, udp(40000, 4789, vxlan)))
    rc, out, _ = run(tmp_path, [(1 * S, outer)], "--udp")
    assert rc == 0
    assert (out / QUERY).read_bytes() == b"inside"
    assert [row["sport"] for row in records(out).values()] == [1234]


def test_template_places_the_protocol(tmp_path):
    rc, out, _ = run(tmp_path, [(1 * S, dgram(b"q"))], "--udp", "-T", "%P/%A.%a-%B.%b")
    assert (out / "udp" / "010.000.000.001.01234-010.000.000.002.00053").read_bytes() == b"q"


def test_packet_files_console_and_findx(tmp_path):
    frames = [(1 * S, dgram(b"hello")), (2 * S, dgram(b"")), (3 * S, dgram(b"back", B, A, 53, 1234))]
    rc, out, _ = run(tmp_path, frames, "--udp", "-K")
    assert rc == 0
    pcap = (out / (QUERY + ".pcap")).read_bytes()
    assert len(pcap) == 24 + 2 * 16 + len(frames[0][1]) + len(frames[1][1])
    assert not (out / QUERY).exists()
    (tmp_path / "c").mkdir()
    rc, _, printed = run(tmp_path / "c", frames, "--udp", "-c")
    assert rc == 0
    assert printed == f"{tmp_path}/c/out/{QUERY}: hello\n{tmp_path}/c/out/{ANSWER}: back\n"
    (tmp_path / "i").mkdir()
    rc, out, _ = run(tmp_path / "i", frames, "--udp", "-I")
    assert (out / (QUERY + ".findx")).read_text() == "0|1.000000|5\n5|2.000000|0\n"


def test_verify_checks_the_udp_files_and_their_indexes(tmp_path):
    rc, out, _ = run(tmp_path, [(1 * S, dgram(b"q1")), (2 * S, dgram(b"a1", B, A, 53, 1234))], "--udp")
    env = Environment(stdout=io.StringIO(), log=lambda line: None)
    assert main(["verify", str(out / "report.xml")], env) == 0
    (out / (QUERY + ".findx")).write_text("0|1.000000|9\n")
    env = Environment(stdout=io.StringIO(), log=lambda line: None)
    assert main(["verify", str(out / "report.xml")], env) == 4
    assert QUERY + ".findx" in env.stdout.getvalue()


def test_snaplen_cut_datagram_is_written_as_captured_and_reported(tmp_path):
    rc, out, _ = run(tmp_path, [(1 * S, dgram(b"0123456789")), (2 * S, dgram(b"abc"))], "--udp", cut={0: 4})
    assert rc == 0
    assert (out / QUERY).read_bytes() == b"012345abc"
    row = records(out)[QUERY]
    assert (row["caplen_short"], row["truncated"], row["stream_length"]) == (1, [[6, 4]], 13)
    assert validate_report(out / "report.xml") == []


def test_merge_continues_a_flow_across_captures(tmp_path):
    first = write_pcap(tmp_path / "a.pcap", [(1 * S, dgram(b"one"))])
    second = write_pcap(tmp_path / "b.pcap", [(2 * S, dgram(b"two"))])
    out = tmp_path / "out"
    assert main(["-q", "--udp", "--merge", str(first), str(second), "-o", str(out)],
                Environment(log=lambda line: None)) == 0
    assert (out / QUERY).read_bytes() == b"onetwo"
    assert [source[0] for source in records(out)[QUERY]["sources"]] == [str(first), str(second)]


def test_finishing_captures_start_no_udp_flow(tmp_path):
    first = write_pcap(tmp_path / "a.pcap", [(1 * S, dgram(b"one"))])
    second = write_pcap(tmp_path / "b.pcap", [(2 * S, dgram(b"two")), (3 * S, dgram(b"new", sport=999))])
    out = tmp_path / "out"
    assert main(["-q", "--udp", "-r", str(first), "-R", str(second), "-o", str(out)],
                Environment(log=lambda line: None)) == 0
    assert (out / QUERY).read_bytes() == b"onetwo"
    assert len(list(out.glob("*-udp"))) == 1


def test_one_capture_split_across_workers_gives_the_same_udp_flows(tmp_path, monkeypatch):
    """Each shard decodes every packet and keeps its share of the UDP flows, as of the TCP connections."""
    require_corpus()
    capture = CORPUS / "pcapplusplus__many-protocols.pcap"
    assert run_cli(str(capture), "--udp", "-o", str(tmp_path / "one"), "-j", "1", "-q") == 0
    monkeypatch.setattr(core, "SHARD_MIN_BYTES", 0)
    assert run_cli(str(capture), "--udp", "-o", str(tmp_path / "two"), "-j", "2", "-q") == 0
    one = tree(tmp_path / "one")
    assert sum(name.endswith("-udp") for name in one) > 50
    assert one == tree(tmp_path / "two")
    assert normalized_report(tmp_path / "one" / "report.xml") == normalized_report(tmp_path / "two" / "report.xml")


def test_idle_sweeps_close_silent_udp_flows(tmp_path):
    """A live capture's sweeps (FlowTable.expire) end UDP flows silent past --udp-timeout, without waiting for
    a next datagram."""
    wire = Wire(tmp_path, udp=True, udp_timeout_ns=10 * S)
    wire.table.udp.add(Datagram(4, A, B, 1234, 53, 0, 0, 0, b"x", 1, 1 * S))
    wire.table.expire(5 * S)
    assert not wire.records
    wire.table.expire(12 * S)
    assert [(r.filename, r.close_reason) for r in wire.records] == [(QUERY, "idle")]
    assert wire.read(QUERY) == b"x"


def test_two_flows_starting_in_one_frame_both_end(tmp_path):
    """An 802.11 A-MSDU can carry the first datagrams of two flows: the same frame, two flows."""
    wire = Wire(tmp_path, udp=True)
    wire.table.udp.add(Datagram(4, A, B, 1234, 53, 0, 0, 0, b"x", 7, 1 * S))
    wire.table.udp.add(Datagram(4, A, B, 1235, 53, 0, 0, 0, b"y", 7, 1 * S))
    records = wire.close()
    assert sorted(r.sport for r in records.values()) == [1234, 1235]


def test_http_scanner_reads_tcp_flows_only(tmp_path):
    """HTTP-looking datagrams (SSDP is HTTP over UDP) give no bodies: -e http is TCP-only."""
    request = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
    response = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"
    frames = [(1 * S, dgram(request, sport=1234, dport=80)), (2 * S, dgram(response, B, A, 80, 1234))]
    rc, out, _ = run(tmp_path, frames, "--udp", "-e", "http")
    assert rc == 0
    assert (out / "010.000.000.002.00080-010.000.000.001.01234-udp").read_bytes() == response
    assert not list(out.glob("*HTTP*"))
