"""Scanner selection as tcpflow's -a/-e/-E/-x, and what the chosen scanners add to a run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from batchkit import CORPUS, run_cli
from forensics_tcpflow.batch.verify import verify_report
from forensics_tcpflow.exitstatus import ExitStatus
from forensics_tcpflow.report.validate import validate_report
from forensics_tcpflow.scan.registry import select

PIPELINED = "zeek__http_pipelined-requests.pcap"


@pytest.mark.parametrize("args, chosen", [
    ((False, [], None, []), ("md5",)),
    ((True, [], None, []), ("http", "md5", "netviz", "tls", "yara")),
    ((False, ["http"], None, []), ("http", "md5")),
    ((False, [], "http", []), ("http",)),
    ((True, [], None, ["md5", "netviz"]), ("http", "tls", "yara")),
    ((False, ["netviz"], "http", []), ("http", "netviz")),
])
def test_select_follows_tcpflow(args: tuple, chosen: tuple[str, ...]) -> None:
    assert select(*args) == chosen


def test_unknown_scanner_is_a_usage_error(tmp_path: Path, corpus: Path) -> None:
    assert run_cli("-e", "nosuch", "-r", str(CORPUS / PIPELINED), "-o", str(tmp_path / "o")) == ExitStatus.USAGE
    assert not (tmp_path / "o").exists()


def test_default_run_extracts_nothing(tmp_path: Path, corpus: Path) -> None:
    out = tmp_path / "o"
    assert run_cli("-q", "-r", str(CORPUS / PIPELINED), "-o", str(out)) == ExitStatus.OK
    assert not [p for p in out.iterdir() if "HTTPBODY" in p.name or p.name.startswith(("bodies.", "report.p"))]


def test_exclusive_http_drops_flow_hashes_and_reports_bodies(tmp_path: Path, corpus: Path) -> None:
    out = tmp_path / "o"
    assert run_cli("-q", "-E", "http", "-r", str(CORPUS / PIPELINED), "-o", str(out)) == ExitStatus.OK
    flows = [json.loads(line) for line in (out / "flows.jsonl").read_text().splitlines()]
    assert all(row["hashes"] == {} for row in flows)
    bodies = [json.loads(line) for line in (out / "bodies.jsonl").read_text().splitlines()]
    assert [row["index"] for row in bodies] == [1, 2, 3, 4, 5]
    assert bodies[0]["uri"] == "/style/enhanced.css" and bodies[0]["content_encoding"] == "gzip"
    assert len((out / "bodies.csv").read_text().splitlines()) == 6
    assert validate_report(out / "report.xml", thorough=True) == []
    verdict = verify_report(out / "report.xml")
    assert verdict.ok and verdict.body_files == 5


def test_verify_notices_a_changed_body(tmp_path: Path, corpus: Path) -> None:
    out = tmp_path / "o"
    assert run_cli("-q", "-e", "http", "-r", str(CORPUS / PIPELINED), "-o", str(out)) == ExitStatus.OK
    body = next(out.glob("*HTTPBODY-003.png"))
    body.write_bytes(body.read_bytes() + b"x")
    verdict = verify_report(out / "report.xml")
    assert verdict.changed == [body.name]
