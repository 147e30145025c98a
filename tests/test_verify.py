"""verify: a report's flow files and input captures re-hashed, years later."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from batchkit import CORPUS, many_empty_flow_files, run_cli
from forensics_tcpflow.batch.verify import verify_report

pytestmark = pytest.mark.usefixtures("corpus")


def _run(tmp_path: Path) -> tuple[Path, Path]:
    capture = tmp_path / "in" / "c.pcap"
    capture.parent.mkdir()
    shutil.copy(CORPUS / "tcpflow__test7-three-flows.pcap", capture)
    out = tmp_path / "out"
    assert run_cli(str(capture), "-o", str(out), "-q") == 0
    return capture, out / "report.xml"


def test_an_untouched_run_matches(tmp_path: Path) -> None:
    _, report = _run(tmp_path)
    verdict = verify_report(report)
    assert verdict.ok and verdict.flow_files == 3 and verdict.inputs == 1
    assert list(verdict.lines()) == ["all match: 3 flow files and 1 input captures checked;"
                                     " 0 missing, 0 changed, 0 extra"]


def test_a_changed_input_and_a_missing_one(tmp_path: Path) -> None:
    capture, report = _run(tmp_path)
    capture.chmod(0o644)
    capture.write_bytes(capture.read_bytes() + b"\0")
    assert verify_report(report).changed == [str(capture)]
    capture.unlink()
    assert verify_report(report).missing == [str(capture)]


def test_reports_and_the_journal_folder_are_not_extra(tmp_path: Path) -> None:
    _, report = _run(tmp_path)
    (report.parent / ".forensics-tcpflow").mkdir()
    (report.parent / ".forensics-tcpflow" / "journal.jsonl").write_text("{}\n")
    (report.parent / "sub").mkdir()
    (report.parent / "sub" / "new").write_text("x")
    assert verify_report(report).extra == ["sub/new"]


def test_memory_stays_flat_over_many_flow_files(tmp_path: Path) -> None:
    """The report's names are streamed and kept on disk: Python's own allocations while verifying
    20,000 flow files stay under 4 MB (a set of their paths alone took more)."""
    import tracemalloc
    _, report = _run(tmp_path)
    many_empty_flow_files(report, 20_000)
    verify_report(report)       # once before measuring: first imports and caches are not what grows
    tracemalloc.start()
    try:
        verdict = verify_report(report)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert verdict.ok and verdict.flow_files == 20_000, list(verdict.lines())[-3:]
    assert peak < 4 << 20, peak
