"""The report check in its own process, reading a report while it is being written."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from batchkit import normalized_report, run_cli, tree
from forensics_tcpflow.report import FlowSpool, registry, write_reports
from forensics_tcpflow.report.follow import Follower
from forensics_tcpflow.report.validate import validate_report
from report_samples import make_flow, make_inputs, make_options, make_run, sample_flows

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"


@pytest.fixture(scope="module")
def report_bytes(tmp_path_factory) -> bytes:
    tmp = tmp_path_factory.mktemp("follow")
    spool = FlowSpool(tmp / "spool")
    for rec in [*sample_flows(), *(make_flow(index) for index in range(200))]:
        spool.add(rec)
    out = tmp / "out"
    (path,) = write_reports(["dfxml"], make_run(), make_inputs(), spool, make_options(str(out)), out / "report.xml")
    return path.read_bytes()


def follow_while_writing(path: Path, data: bytes, pieces: int = 7) -> list[str]:
    """Start the check on an empty file, then write `data` in pieces with pauses, as a writer would."""
    path.write_bytes(b"")
    follower = Follower(path)

    def writer() -> None:
        step = len(data) // pieces + 1
        with open(path, "ab") as out:
            for start in range(0, len(data), step):
                out.write(data[start:start + step])
                out.flush()
                time.sleep(0.02)

    thread = threading.Thread(target=writer)
    thread.start()
    thread.join()
    return follower.problems()


def test_a_valid_report_written_in_pieces(tmp_path, report_bytes):
    assert follow_while_writing(tmp_path / "report.xml", report_bytes) == []


def test_problems_match_the_check_of_a_finished_report(tmp_path, report_bytes):
    text = report_bytes.decode()
    start = text.index('    <hashdigest type="sha256">')
    broken = (text[:start] + text[text.index("\n", start) + 1:]).encode()
    followed = follow_while_writing(tmp_path / "followed.xml", broken)
    (tmp_path / "finished.xml").write_bytes(broken)
    finished = validate_report(tmp_path / "finished.xml", official_max_bytes=0)
    assert followed and [p.split(":", 1)[1] for p in followed] == [p.split(":", 1)[1] for p in finished]


def test_a_cut_report_is_not_well_formed(tmp_path, report_bytes):
    # cut inside an attribute value: a cut just after an attribute lets libxml2's push parser pass on
    # the start tag so far, and the first problem it reports is then a missing attribute
    cut = report_bytes.index(b'="', len(report_bytes) // 2) + 3
    (problem,) = follow_while_writing(tmp_path / "report.xml", report_bytes[:cut])
    assert "not well-formed" in problem


def test_an_abandoned_check_just_ends(tmp_path):
    path = tmp_path / "report.xml"
    path.write_bytes(b"<dfxml")
    follower = Follower(path)
    follower.abandon()
    assert follower._proc.returncode == 0


def test_a_large_run_checks_its_report_beside_the_writing(tmp_path, monkeypatch):
    capture = CORPUS / "pcapplusplus__4KHttpRequests.pcap"
    assert run_cli(str(capture), "-o", str(tmp_path / "alone"), "-q") == 0
    monkeypatch.setattr(registry, "LARGE_RUN_FLOWS", 1)
    assert run_cli(str(capture), "-o", str(tmp_path / "helped"), "-q") == 0
    assert tree(tmp_path / "alone") == tree(tmp_path / "helped")
    assert normalized_report(tmp_path / "alone" / "report.xml") == normalized_report(tmp_path / "helped" / "report.xml")
