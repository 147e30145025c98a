"""flows.jsonl: one object per flow, in report order, every record field."""

import json

from forensics_tcpflow.report import FlowSpool, write_reports
from forensics_tcpflow.report.codec import FLOW_FIELDS
from report_samples import make_inputs, make_options, make_run, sample_flows


def test_rows_follow_report_order_and_keep_every_field(tmp_path):
    out = tmp_path / "out"
    spool = FlowSpool(tmp_path / "spool", ("captures/a.pcap", "captures/b.pcapng"))
    for rec in sample_flows():
        spool.add(rec)
    report, jsonl = write_reports(["dfxml", "jsonl"], make_run(), make_inputs(), spool, make_options(str(out)),
                                  out / "report.xml")
    assert jsonl == out / "flows.jsonl"
    rows = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert [row["connection_id"] for row in rows] == [0, 1, 4, 3, 2]
    assert all(set(FLOW_FIELDS) | {"start_time", "end_time"} == set(row) for row in rows)
    assert rows[0]["filename"] == "" and rows[0]["hashes"] == {}
    assert rows[1]["holes"] == [[10, 5], [100, 7]] and rows[1]["vlans"] == [100, 42]
    assert rows[1]["start_time"] == "2023-11-14T22:13:20.008000123Z"
    assert rows[3]["src"] == "2001:db8::1"
