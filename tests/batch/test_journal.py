"""The --resume journal: finished jobs read back, foreign or torn journals handled."""

from __future__ import annotations

from pathlib import Path

import pytest

from batchkit import CORPUS
from forensics_tcpflow.batch.jobs import Job, run_job
from forensics_tcpflow.environment import file_sink
from forensics_tcpflow.batch.journal import Journal, JournalError, state_dir
from forensics_tcpflow.kernel.shard import Shard
from forensics_tcpflow.options import Options

pytestmark = pytest.mark.usefixtures("corpus")

CAPTURE = str(CORPUS / "tcpflow__test7-three-flows.pcap")


def _setup(tmp_path: Path, **changes: object) -> tuple[Options, list[Job], Journal]:
    options = Options(inputs=(CAPTURE,), outdir=str(tmp_path), **changes)  # type: ignore[arg-type]
    jobs = [Job(0, ((CAPTURE, CAPTURE),), "a"), Job(1, ((CAPTURE, CAPTURE),), "b")]
    return options, jobs, Journal(state_dir(tmp_path))


def test_finished_jobs_come_back_on_resume(tmp_path: Path) -> None:
    options, jobs, journal = _setup(tmp_path)
    assert journal.open(options, jobs) == {}
    result = run_job(jobs[0], options, journal.workspace, file_sink, lambda event: None, lambda: False)
    journal.record(result)
    with journal.path.open("ab") as fh:       # a kill in the middle of the next line
        fh.write(b'{"job":1,"spo')
    resumed, _, again = _setup(tmp_path, resume=True, jobs=4)
    finished = again.open(resumed, jobs)
    assert list(finished) == [0]
    assert finished[0].summaries == result.summaries
    assert [rec.filename for rec in finished[0].spool] == [rec.filename for rec in result.spool]


def test_a_journal_of_other_options_is_refused(tmp_path: Path) -> None:
    options, jobs, journal = _setup(tmp_path)
    journal.open(options, jobs)
    other, _, again = _setup(tmp_path, resume=True, max_bytes=10)
    with pytest.raises(JournalError, match=r"other options: max_bytes \(was None, now 10\)"):
        again.open(other, jobs)


def test_a_journal_of_other_inputs_names_them(tmp_path: Path) -> None:
    """Defect 3: --resume with another (typo-corrected) input list is refused, saying what differs."""
    options, jobs, journal = _setup(tmp_path)
    journal.open(options, jobs)
    other, _, again = _setup(tmp_path, resume=True)
    elsewhere = str(CORPUS / "zeek__http_get.pcap")
    with pytest.raises(JournalError, match=r"other inputs \(it read 2: .*test7-three-flows.pcap"):
        again.open(other, [Job(0, ((elsewhere, elsewhere),), "a")])


def test_without_resume_the_journal_starts_afresh(tmp_path: Path) -> None:
    options, jobs, journal = _setup(tmp_path)
    journal.open(options, jobs)
    journal.record(run_job(jobs[0], options, journal.workspace, file_sink, lambda event: None, lambda: False))
    assert Journal(state_dir(tmp_path)).open(options, jobs) == {}
    assert len(journal.path.read_text().splitlines()) == 1


def test_resume_keeps_the_split_of_the_earlier_attempt(tmp_path: Path) -> None:
    journal = Journal(state_dir(tmp_path))
    capture = (("c.pcap", "c.pcap"),)
    split = [Job(0, capture, "", Shard(0, 2)), Job(1, capture, "", Shard(1, 2))]
    journal.open(Options(inputs=("c.pcap",), outdir=str(tmp_path)), split)
    assert journal.planned([Job(0, capture, "")]) == split          # resumed with -j 1
    other = [Job(0, (("d.pcap", "d.pcap"),), "")]
    assert journal.planned(other) == other                          # other inputs: refused later by open()
