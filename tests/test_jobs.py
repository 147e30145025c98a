"""Jobs: records named from OUT, the same result in a worker process."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from batchkit import CORPUS
from forensics_tcpflow.batch.jobs import Job, Workspace, run_job, run_jobs
from forensics_tcpflow.environment import file_sink
from forensics_tcpflow.options import Options

pytestmark = pytest.mark.usefixtures("corpus")

CAPTURE = str(CORPUS / "tcpflow__test7-three-flows.pcap")


def test_records_name_files_from_out_and_workers_agree(tmp_path: Path) -> None:
    options = Options(inputs=(CAPTURE,), outdir=str(tmp_path))
    workspace = Workspace(tmp_path / "staging", tmp_path / "spools")
    job = Job(0, ((CAPTURE, "label"),), "x/y")
    local = run_job(job, options, workspace, file_sink, lambda event: None, lambda: False)
    names = sorted(rec.filename for rec in local.spool if rec.filename)
    assert len(names) == 3 and all(name.startswith("x/y/172.016.") for name in names)
    assert local.summaries[0].output_dir == "x/y" and local.summaries[0].path == "label"
    staged = {p.name: p.read_bytes() for p in workspace.stage(job).iterdir()}
    jobs = [job, Job(1, ((CAPTURE, "other"),), "z")]
    pooled = {r.index: r for r in run_jobs(jobs, options, workspace, 2, file_sink, lambda event: None,
                                           threading.Event())}
    assert sorted(rec.filename for rec in pooled[0].spool if rec.filename) == names
    assert pooled[0].summaries == local.summaries
    assert {p.name: p.read_bytes() for p in workspace.stage(job).iterdir()} == staged


def marking_sink(root: Path, hashes: tuple[str, ...], max_fds: int, keep: bool):
    """An injected sink: the real one, plus a mark that it was used (worker processes too)."""
    (root / "injected").write_text("yes")
    return file_sink(root, hashes, max_fds, keep)


def test_worker_processes_use_the_injected_sink(tmp_path: Path) -> None:
    options = Options(inputs=(CAPTURE,), outdir=str(tmp_path))
    workspace = Workspace(tmp_path / "staging", tmp_path / "spools")
    jobs = [Job(0, ((CAPTURE, "a"),), "a"), Job(1, ((CAPTURE, "b"),), "b")]
    results = list(run_jobs(jobs, options, workspace, 2, marking_sink, lambda event: None, threading.Event()))
    assert len(results) == 2
    assert all((workspace.stage(job) / "injected").read_text() == "yes" for job in jobs)
