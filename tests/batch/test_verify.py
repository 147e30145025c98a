"""verify: a report's flow files and input captures re-hashed, years later."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest

from batchkit import CORPUS, many_empty_flow_files, run_cli
from forensics_tcpflow.batch.verify import verify_report
from forensics_tcpflow.cli import main
from forensics_tcpflow.environment import Environment

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


def test_a_named_reports_siblings_in_out_are_not_extra(tmp_path: Path) -> None:
    """-X OUT/rep2.xml: every format's file and the page's rep2_files/ are named after it, and none is extra."""
    out = tmp_path / "out"
    report = out / "rep2.xml"
    assert run_cli(str(CORPUS / "tcpflow__test7-three-flows.pcap"), "-o", str(out), "-X", str(report), "-q",
                   "--report", "dfxml,jsonl,csv,html,bodyfile,timesketch,zeek") == 0
    assert {"rep2.html", "rep2_files", "rep2.body", "rep2.timeline.jsonl", "rep2.conn.log"} <= {
        path.name for path in out.iterdir()}
    (out / "rep2_files" / "planted.js").write_text("x")      # the page's folder is its own: never looked into
    assert verify_report(report).extra == []


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


def _said(*args: str) -> tuple[int, list[str]]:
    """The exit status and standard output of the CLI."""
    out = io.StringIO()
    status = main([*args], Environment(stdout=out, log=lambda line: None))
    return status, out.getvalue().splitlines()


def test_every_kind_of_file_a_run_writes_is_hashed_and_checked(tmp_path: Path) -> None:
    """Defect 2: a clean run with -I -K -w -e http -a, and one with -I -e http -a, verify (exit 0): the
    -K pcaps, the .findx indexes, the -w capture, the bodies, the pictures are hashed in the report."""
    capture = CORPUS / "zeek__http_get.pcap"
    for name, extra in (("k", ("-K",)), ("i", ())):
        out = tmp_path / name
        assert run_cli(str(capture), "-o", str(out), "-I", *extra, "-w", str(out / "other.pcap"),
                       "-e", "http", "-a", "-q") == 0
        status, lines = _said("verify", str(out / "report.xml"))
        assert status == 0 and lines[-1].startswith("all match"), lines
        verdict = verify_report(out / "report.xml")
        kinds = {p.suffix for p in out.rglob("*") if p.is_file()}
        assert {".pcap", ".png", ".pdf"} <= kinds and verdict.outputs >= 3
        assert (".findx" in kinds) == (name == "i")


def test_verify_checks_out_and_nothing_else(tmp_path: Path) -> None:
    """Defect 2: with -X elsewhere, one changed, one extra and one missing file in OUT are each named
    (exit 4); a file beside the report, outside OUT, is not looked at; a finished run says nothing of
    interruption, an interrupted one says so."""
    out, report = tmp_path / "out", tmp_path / "reports" / "case.xml"
    assert run_cli(str(CORPUS / "tcpflow__test7-three-flows.pcap"), "-o", str(out), "-X", str(report), "-I",
                   "-q") == 0
    (report.parent / "case-notes.txt").write_text("the examiner's notes\n")
    assert _said("verify", str(report))[0] == 0
    flows = sorted(p for p in out.iterdir() if p.is_file() and p.suffix != ".findx")
    flows[0].write_bytes(flows[0].read_bytes() + b"!")
    Path(f"{flows[1]}.findx").unlink()
    (out / "planted.txt").write_text("not the run's\n")
    status, lines = _said("verify", str(report))
    assert status == 4
    rel = lambda path: f"../out/{Path(path).name}"      # noqa: E731 (names as seen from the report)
    assert f"changed: {rel(flows[0])}" in lines and f"missing: {rel(flows[1])}.findx" in lines
    assert f"extra: {rel(out / 'planted.txt')}" in lines and not any("case-notes" in line for line in lines)
    assert not any(line.startswith("interrupted") for line in lines)
    report.write_text(report.read_text().replace('interrupted="false"', 'interrupted="true"', 1))
    assert any(line.startswith("interrupted:") for line in _said("verify", str(report))[1])


def test_findx_indexes_are_vouched_for(tmp_path: Path) -> None:
    """-I indexes are named and hashed in the report (index_filename, index_<hash>), so verify checks them."""
    out = tmp_path / "out"
    assert run_cli(str(CORPUS / "tcpflow__test7-three-flows.pcap"), "-o", str(out), "-q", "-I") == 0
    verdict = verify_report(out / "report.xml")
    assert verdict.ok and verdict.flow_files == 6
    index = next(out.glob("*.findx"))
    index.write_text("0|0.000000|1\n")
    assert verify_report(out / "report.xml").changed == [index.name]
