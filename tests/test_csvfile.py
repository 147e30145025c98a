"""flows.csv: a header and one row per flow, same order as the DFXML report."""

import csv

from forensics_tcpflow.report import FlowSpool, write_reports
from report_samples import MD5, make_inputs, make_options, make_run, sample_flows


def test_one_row_per_flow_in_report_order(tmp_path):
    out = tmp_path / "out"
    spool = FlowSpool(tmp_path / "spool", ("captures/a.pcap", "captures/b.pcapng"))
    for rec in sample_flows():
        spool.add(rec)
    (path,) = write_reports(["csv"], make_run(), make_inputs(), spool, make_options(str(out)), out / "report.xml")
    assert path == out / "flows.csv"
    rows = list(csv.DictReader(path.open(newline="")))
    assert [row["connection_id"] for row in rows] == ["0", "1", "4", "3", "2"]
    empty, holed = rows[0], rows[1]
    assert empty["filename"] == "" and empty["md5"] == "" and empty["mac_src"] == ""
    assert holed["md5"] == MD5 and holed["vlans"] == "100 42"
    assert holed["holes"] == "10:5 100:7" and holed["overlaps"] == "0:4:first 20:3:first"
    assert holed["filename"] == "a/010.000.000.002.40001-010.000.000.004.08080c1"
    assert holed["end_time"] == "2023-11-14T22:13:20.014000123Z"
