"""conn.log: Zeek's TSV layout, read back by a Zeek-log reader from PyPI, bytes equal to flows.jsonl's."""

from __future__ import annotations

import json
from pathlib import Path

from batchkit import CORPUS, run_cli
from capturekit import ether, ipv4, tcp, udp, write_pcap
from conftest import require_extra
from forensics_tcpflow.exitstatus import ExitStatus
from forensics_tcpflow.options import NS
from forensics_tcpflow.report import FlowSpool, write_reports
from forensics_tcpflow.report.zeek import COLUMNS
from report_samples import make_inputs, make_options, make_run, sample_flows

HTTP = "suricata__http-gap-simple_input.pcap"


def _read(path: Path) -> list[dict]:
    require_extra("parsezeeklogs", "test")
    from parsezeeklogs import ZeekLog
    with ZeekLog(path) as log:
        rows = list(log)
        assert log.skipped == 0 and log.path == "conn"
        assert log.types == dict(COLUMNS)
    return rows


def test_header_lines_are_zeeks(tmp_path: Path) -> None:
    out = tmp_path / "o"
    spool = FlowSpool(tmp_path / "spool", ("captures/a.pcap", "captures/b.pcapng"))
    for rec in sample_flows():
        spool.add(rec)
    conn, = write_reports(["zeek"], make_run(), make_inputs(), spool, make_options(str(out)), out / "report.xml")
    lines = conn.read_text().splitlines()
    assert lines[:5] == ["#separator \\x09", "#set_separator\t,", "#empty_field\t(empty)", "#unset_field\t-",
                         "#path\tconn"]
    assert lines[5] == "#open\t2023-11-14-22-13-20" and lines[-1] == "#close\t2023-11-14-22-13-21"
    assert lines[6].split("\t")[1:4] == ["ts", "uid", "id.orig_h"] and lines[7].startswith("#types\ttime\tstring\taddr")
    rows = _read(conn)
    assert len(rows) == 5     # every sample direction is its own connection (ids differ)
    by_uid = {row["uid"]: row for row in rows}
    lone_server = by_uid["C0-0"]          # a server-to-client direction alone: its peer is the originator
    assert (lone_server["id.orig_h"], lone_server["id.resp_h"], lone_server["resp_pkts"]) == ("10.0.0.4", "10.0.0.1", 1)
    holes = by_uid["C1-0"]
    assert (holes["vlan"], holes["inner_vlan"], holes["missed_bytes"], holes["history"]) == (100, 42, 12, "DG")   # closed by a seq jump: no F
    assert holes["orig_l2_addr"] == "66:77:88:99:aa:bb" and holes["community_id"].startswith("1:")


def test_corpus_conn_log_bytes_equal_the_jsonl(tmp_path: Path, corpus: Path) -> None:
    out = tmp_path / "o"
    assert run_cli("-q", "-e", "http", "-r", str(CORPUS / HTTP), "-o", str(out),
                   "--report", "jsonl,zeek") == ExitStatus.OK
    flows = [json.loads(line) for line in (out / "flows.jsonl").read_text().splitlines()]
    rows = _read(out / "conn.log")
    assert len(rows) == len({row["connection_id"] for row in flows})
    for row in rows:
        directions = {flow["direction"]: flow for flow in flows if f"C{flow['connection_id']}" == row["uid"]}
        orig, resp = directions["client-to-server"], directions["server-to-client"]
        assert (row["orig_bytes"], row["resp_bytes"]) == (orig["stream_length"], resp["stream_length"])
        assert (row["orig_pkts"], row["resp_pkts"]) == (orig["packets"], resp["packets"])
        assert (row["id.orig_h"], row["id.orig_p"], row["id.resp_h"], row["id.resp_p"]) == (
            orig["src"], orig["sport"], orig["dst"], orig["dport"])
        assert row["missed_bytes"] == sum(length for flow in (orig, resp) for _, length in flow["holes"]) > 0
        assert row["ts"] == min(orig["first_ts_ns"], resp["first_ts_ns"]) // 1000 / 1e6
        assert row["service"] == "http" and row["community_id"] == orig["community_id"]


def test_udp_flows_are_udp_in_every_examiners_report(tmp_path: Path) -> None:
    """--udp: conn.log's proto, the timeline's message and the page's protocol column say udp, never tcp;
    a TCP and a UDP connection between the same ports stay two lines."""
    a, b = bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])
    capture = write_pcap(tmp_path / "in.pcap", [
        (1 * NS, ether(ipv4(a, b, 17, udp(1234, 53, b"query")))), (2 * NS, ether(ipv4(b, a, 17, udp(53, 1234, b"answer")))),
        (3 * NS, ether(ipv4(a, b, 6, tcp(1234, 53, 100, 0x02)))), (4 * NS, ether(ipv4(a, b, 6, tcp(1234, 53, 101, 0x18, b"x"))))])
    out = tmp_path / "o"
    assert run_cli("-q", "--udp", "-r", str(capture), "-o", str(out),
                   "--report", "dfxml,html,timesketch,zeek") == ExitStatus.OK
    rows = _read(out / "conn.log")
    assert sorted(row["proto"] for row in rows) == ["tcp", "udp"]
    udp_row, = (row for row in rows if row["proto"] == "udp")
    assert (udp_row["orig_bytes"], udp_row["resp_bytes"]) == (5, 6)
    events = [json.loads(line) for line in (out / "timeline.jsonl").read_text().splitlines()]
    assert sorted({event["message"].split()[3] for event in events}) == ["TCP", "UDP"]
    assert '"udp"' in (out / "report_files" / "flows-00000.js").read_text()
