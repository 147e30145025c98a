"""The core's decisions before any work: jobs planned, layouts refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from batchkit import CORPUS, split_pcap
from forensics_tcpflow.core import UsageError, _check_layout, plan_jobs
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


def test_layouts_refused(tmp_path: Path) -> None:
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    with pytest.raises(UsageError, match="inside the evidence folder"):
        _check_layout(Options(inputs=(str(evidence),), outdir=str(evidence / "out")), evidence / "out" / "r.xml")
    out = tmp_path / "out"
    (out / ".forensics-tcpflow").mkdir(parents=True)
    with pytest.raises(UsageError, match="--resume"):
        _check_layout(Options(inputs=(str(evidence),), outdir=str(out)), out / "report.xml")
    _check_layout(Options(inputs=(str(evidence),), outdir=str(out), resume=True), out / "report.xml")


def test_nothing_written_beside_an_evidence_file(tmp_path: Path) -> None:
    capture = tmp_path / "case" / "x.pcap"
    capture.parent.mkdir()
    capture.write_bytes(b"")
    elsewhere = tmp_path / "flows"
    with pytest.raises(UsageError, match="beside the evidence file"):
        _check_layout(Options(inputs=(str(capture),), outdir=str(capture.parent)), elsewhere / "r.xml")
    # a folder below the one holding the file is another place (as -r /evidence.pcap -o /cases/out)
    _check_layout(Options(inputs=(str(capture),), outdir=str(capture.parent / "out")), elsewhere / "r.xml")
    with pytest.raises(UsageError, match="report .* beside the evidence file"):
        _check_layout(Options(inputs=(str(capture),), outdir=str(elsewhere)), capture.parent / "report.xml")
    _check_layout(Options(inputs=(str(capture),), outdir=str(elsewhere)), elsewhere / "report.xml")


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
