"""The core: jobs planned, and the closing summary that counts what happened."""

from __future__ import annotations

from pathlib import Path

import pytest

import os
import re
import signal
import sys

from batchkit import CORPUS, build_evidence, run_cli, split_pcap
from forensics_tcpflow import engine
from forensics_tcpflow.core import plan_jobs
from forensics_tcpflow.environment import Environment, Progress
from forensics_tcpflow.exitstatus import ExitStatus
from forensics_tcpflow.kernel.shard import Shard
from forensics_tcpflow.options import Options

pytestmark = pytest.mark.usefixtures("corpus")


def test_merge_orders_the_pieces_by_first_packet(tmp_path: Path) -> None:
    first, second = tmp_path / "z.pcap", tmp_path / "a.pcap"
    split_pcap(CORPUS / "zeek__http_get.pcap", first, second, at=8)
    broken = tmp_path / "0-broken.pcap"
    broken.write_bytes(b"\xd4\xc3\xb2\xa1")
    captures = [(str(broken), "0-broken.pcap"), (str(second), "a.pcap"), (str(first), "z.pcap")]
    [job] = plan_jobs(Options(inputs=(str(tmp_path),), outdir="o", merge=True), captures)
    assert [path for path, _ in job.captures] == [str(first), str(second), str(broken)]
    assert job.subdir == ""
    jobs = plan_jobs(Options(inputs=(str(tmp_path),), outdir="o"), captures)
    assert [(job.index, job.subdir) for job in jobs] == [(0, "0-broken.pcap"), (1, "a.pcap"), (2, "z.pcap")]


def test_one_capture_split_across_workers_gives_the_same_output(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from batchkit import normalized_report, run_cli, tree
    from forensics_tcpflow import core

    capture = CORPUS / "pcapplusplus__4KHttpRequests.pcap"
    assert run_cli(str(capture), "-o", str(tmp_path / "one"), "-j", "1", "-q") == 0
    monkeypatch.setattr(core, "SHARD_MIN_BYTES", 0)
    jobs = plan_jobs(Options(inputs=(str(capture),), outdir="x", jobs=2), [(str(capture), "")])
    assert [job.shard for job in jobs] == [Shard(0, 2), Shard(1, 2)]
    assert run_cli(str(capture), "-o", str(tmp_path / "two"), "-j", "2", "-q") == 0
    assert tree(tmp_path / "one") == tree(tmp_path / "two")
    assert normalized_report(tmp_path / "one" / "report.xml") == normalized_report(tmp_path / "two" / "report.xml")


def _said(*args: str, progress=lambda event: None) -> tuple[int, list[str]]:
    lines: list[str] = []
    return run_cli(*args, env=Environment(log=lines.append, progress=progress)), lines


def test_nothing_to_read_is_an_input_error(tmp_path: Path) -> None:
    """Defect 8: an empty folder, or one without captures, is exit 1 with an error, and nothing is written."""
    (tmp_path / "empty").mkdir()
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "case.txt").write_text("not a capture\n")
    for folder in ("empty", "notes"):
        status, said = _said(str(tmp_path / folder), "-o", str(tmp_path / f"out-{folder}"))
        assert status == ExitStatus.INPUT_ERRORS and any("nothing to read" in line for line in said), said
        assert not (tmp_path / f"out-{folder}").exists()


def test_summary_counts_what_happened(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Defect 8: a missing input is failed, not processed; every warning said is counted."""
    status, said = _said("-r", str(tmp_path / "missing.pcap"), "-o", str(tmp_path / "a"))
    assert status == ExitStatus.INPUT_ERRORS
    assert "captures: 0 processed, 1 failed, 0 not reached (of 1); 0 other files skipped" in said[-4]
    monkeypatch.setitem(sys.modules, "matplotlib", None)     # netviz warns that it cannot draw
    status, said = _said("-r", str(CORPUS / "zeek__http_get.pcap"), "-o", str(tmp_path / "b"), "-e", "netviz")
    warned = [line for line in said if ": warning: " in line]
    assert status == ExitStatus.OK and len(warned) == 1
    assert said[-1].startswith(f"forensics-tcpflow: warnings: {len(warned)}, errors: 0")


def test_interrupted_and_resumed_runs_count_alike(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Defect 8: the summary of an interrupted run, its report and --resume say the same numbers."""
    monkeypatch.setattr(engine, "PROGRESS_EVERY", 1)
    monkeypatch.setattr(engine, "kernel_header", lambda path: None)
    evidence, out = build_evidence(tmp_path), tmp_path / "out"
    seen = 0

    def progress(event: Progress) -> None:
        nonlocal seen
        if event.kind == "bytes" and event.capture.endswith("three-flows.pcap"):
            seen += 1
            if seen == 3:
                os.kill(os.getpid(), signal.SIGINT)

    status, said = _said(str(evidence), "-o", str(out), "-j", "1", progress=progress)
    assert status == ExitStatus.INTERRUPTED
    counts = re.search(r"captures: (\d+) processed, (\d+) failed, (\d+) not reached \(of 4\)", "\n".join(said))
    assert counts and int(counts[3]) >= 1, said
    outcome = (out / "report.xml").read_text()
    assert (f'processed="{counts[1]}" failed="{counts[2]}" not_reached="{counts[3]}"') in outcome
    status, said = _said(str(evidence), "-o", str(out), "-j", "1", "--resume")
    done = int(counts[1]) + int(counts[2])
    assert f"forensics-tcpflow: resuming: {done} of 4 captures already done" in said, said
