"""conn.log: Zeek's TSV layout, read back by a Zeek-log reader from PyPI, bytes equal to flows.jsonl's."""

from __future__ import annotations

import json
from pathlib import Path

from batchkit import CORPUS, run_cli
from conftest import require_extra
from forensics_tcpflow.exitstatus import ExitStatus
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
