"""body: The Sleuth Kit's body format, read by mactime with one row per flow file and body."""

from __future__ import annotations

import subprocess
from pathlib import Path

from batchkit import CORPUS, run_cli
from conftest import require_oracle
from forensics_tcpflow.exitstatus import ExitStatus
from forensics_tcpflow.report import FlowSpool, write_reports
from report_samples import T0, make_flow, make_inputs, make_options, make_run

HTTP = "suricata__http-gap-simple_input.pcap"


def _mactime_names(body: Path) -> set[str]:
    require_oracle("mactime")
    done = subprocess.run(["mactime", "-b", str(body), "-z", "UTC", "-d"], capture_output=True, text=True,
                          timeout=60, check=True)
    lines = done.stdout.splitlines()
    assert lines[0].startswith("Date,Size,Type,Mode")
    return {line.rsplit(",", 1)[1].strip('"') for line in lines[1:]}


def test_fields_times_and_awkward_names(tmp_path: Path) -> None:
    out = tmp_path / "o"
    spool = FlowSpool(tmp_path / "spool", ("captures/a.pcap",))
    for rec in (make_flow(1, last_ts_ns=T0 + 7 * 10**9), make_flow(2, filename="a/odd|100%"),
                make_flow(3, filename="", hashes={})):
        spool.add(rec)
    body, = write_reports(["bodyfile"], make_run(), make_inputs(), spool, make_options(str(out)), out / "report.xml")
    lines = body.read_text().splitlines()
    assert len(lines) == 2                     # the direction without a file has no line
    md5, name, inode, mode, uid, gid, size, atime, mtime, ctime, crtime = lines[0].split("|")
    assert (name, size, inode, mode, uid, gid) == ("a/010.000.000.002.40001-010.000.000.004.08080c1", "27", "0",
                                                   "r/rr--r--r--", "0", "0")
    first = T0 // 10**9
    assert (atime, mtime, ctime, crtime) == (str(first), str(first + 7), str(first + 7), str(first))
    assert len(md5) == 32
    assert lines[1].split("|")[1] == "a/odd%7C100%25"
    assert _mactime_names(body) == {"a/010.000.000.002.40001-010.000.000.004.08080c1", "a/odd|100%"}   # mactime decodes %HH


def test_mactime_reads_one_row_per_flow_file_and_body(tmp_path: Path, corpus: Path) -> None:
    out = tmp_path / "o"
    assert run_cli("-q", "-e", "http", "-r", str(CORPUS / HTTP), "-o", str(out),
                   "--report", "dfxml,bodyfile") == ExitStatus.OK
    files = {path.name for path in out.iterdir() if path.name.startswith("127.")}
    assert len(files) == 5 and sum("HTTPBODY" in name for name in files) == 3
    assert _mactime_names(out / "body") == files
    assert len((out / "body").read_text().splitlines()) == len(files)
