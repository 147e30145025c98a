"""Hostile inputs and faults: nothing hangs, nothing changes silently, the exit code tells the truth."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from lxml import etree

from batchkit import CORPUS, build_evidence, normalized_report, run_cli, tree
from forensics_tcpflow import core
from forensics_tcpflow.cli import main
from forensics_tcpflow.flow.table import FlowTable
from forensics_tcpflow.environment import Environment, Progress
from forensics_tcpflow.exitstatus import ExitStatus
from forensics_tcpflow.report.dfxml import FTF_NS
from forensics_tcpflow.report.validate import validate_report

pytestmark = pytest.mark.usefixtures("corpus")
SMALL = CORPUS / "zeek__http_get.pcap"
LARGE = CORPUS / "pcapplusplus__many-protocols.pcap"      # about 1 MB of flow files


def _run(args: list[str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """The program in a child with a deadline: a hang fails the test instead of stalling the suite."""
    return subprocess.run([sys.executable, "-m", "forensics_tcpflow", *args, "-q"], capture_output=True,
                          text=True, timeout=timeout)


def _report(out: Path) -> etree._Element:
    return etree.parse(str(out / "report.xml")).getroot()


def test_a_fifo_in_a_walked_folder_is_skipped_without_blocking(tmp_path: Path) -> None:
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    (evidence / "a.pcap").write_bytes(SMALL.read_bytes())
    os.mkfifo(evidence / "x.pcap")
    done = _run([str(evidence), "-o", str(tmp_path / "out"), "-j", "2"])
    assert done.returncode == 0, done.stderr
    skipped = {e.get("path"): e.get("reason") for e in _report(tmp_path / "out").iter(f"{{{FTF_NS}}}skipped")}
    assert "not a regular file" in skipped[str(evidence / "x.pcap")]


@pytest.mark.parametrize("merge", [[], ["--merge"]])
def test_a_fifo_named_directly_is_an_input_error_with_a_report(tmp_path: Path, merge: list[str]) -> None:
    (tmp_path / "evidence").mkdir()
    os.mkfifo(tmp_path / "evidence" / "x.pcap")
    done = _run([str(SMALL), str(tmp_path / "evidence" / "x.pcap"), "-o", str(tmp_path / "out"), *merge])
    assert done.returncode == ExitStatus.INPUT_ERRORS
    assert "x.pcap: cannot read: not a regular file" in done.stderr
    assert (tmp_path / "out" / "report.xml").is_file()


def test_a_symlink_loop_named_directly_is_an_input_error_with_a_report(tmp_path: Path) -> None:
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    os.symlink(evidence / "b.pcap", evidence / "a.pcap")
    os.symlink(evidence / "a.pcap", evidence / "b.pcap")
    lines: list[str] = []
    out = tmp_path / "out"
    assert main([str(evidence / "a.pcap"), "-o", str(out), "-q"], Environment(log=lines.append)) == 1
    assert any("a.pcap: cannot read: Too many levels of symbolic links" in line for line in lines), lines
    assert not any("internal error" in line for line in lines)
    (inp,) = _report(out).iter(f"{{{FTF_NS}}}input")
    assert "symbolic links" in inp.findtext(f"{{{FTF_NS}}}error")


def test_an_internal_error_has_its_own_exit_code_and_says_where_to_report_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object) -> ExitStatus:
        raise ZeroDivisionError("a bug")
    monkeypatch.setattr(core, "_run", broken)
    lines: list[str] = []
    assert main([str(SMALL), "-o", str(tmp_path / "out"), "-q"], Environment(log=lines.append)) == 3
    assert lines[0] == "forensics-tcpflow: error: internal error: ZeroDivisionError: a bug"
    assert "not a verdict on the evidence" in lines[1] and "issue tracker" in lines[1]


def test_an_input_that_disappears_mid_run_is_an_error(tmp_path: Path) -> None:
    capture = tmp_path / "evidence" / "c.pcap"
    capture.parent.mkdir()
    capture.write_bytes(SMALL.read_bytes())
    lines: list[str] = []

    def vanish(event: Progress) -> None:
        if event.kind == "start-capture":
            capture.unlink()
    out = tmp_path / "out"
    assert main([str(capture), "-o", str(out), "-q"], Environment(progress=vanish, log=lines.append)) == 1
    assert any("c.pcap: cannot stat after processing" in line for line in lines), lines
    (inp,) = _report(out).iter(f"{{{FTF_NS}}}input")
    assert inp.get("size") == str(SMALL.stat().st_size)     # what was read is still recorded
    assert inp.find(f"{{{FTF_NS}}}error") is not None


def test_an_input_replaced_by_a_bigger_file_between_walk_and_open_is_recorded_as_read(tmp_path: Path) -> None:
    """The walk found b.pcap; before it is opened it is replaced by a bigger capture. The report
    fingerprints the file actually read (its size and digests), so verify checks those bytes."""
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    (evidence / "a.pcap").write_bytes(SMALL.read_bytes())
    (evidence / "b.pcap").write_bytes(SMALL.read_bytes())
    bigger = LARGE.read_bytes()

    def replace(event: Progress) -> None:
        if event.kind == "start-capture" and event.capture.endswith("a.pcap"):
            (tmp_path / "new.pcap").write_bytes(bigger)
            os.replace(tmp_path / "new.pcap", evidence / "b.pcap")
    out = tmp_path / "out"
    assert main([str(evidence), "-o", str(out), "-q", "-j", "1"], Environment(progress=replace)) == 0
    inputs = {i.get("path"): i for i in _report(out).iter(f"{{{FTF_NS}}}input")}
    b = inputs[str(evidence / "b.pcap")]
    assert b.get("size") == str(len(bigger))
    hashes = {h.get("type"): h.get("before") for h in b.iter(f"{{{FTF_NS}}}hash")}
    assert hashes["sha256"] == hashlib.sha256(bigger).hexdigest()
    assert main(["verify", str(out / "report.xml")], Environment(log=lambda line: None)) == 0


@pytest.fixture
def tiny_disk(tmp_path: Path):
    """A 256 KiB tmpfs (we run as root in CI); unmounted afterwards."""
    if os.geteuid() != 0:
        pytest.fail("mounting a tmpfs needs root") if os.environ.get("CI") else pytest.skip("needs root")
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


def test_a_full_disk_says_what_is_kept_for_resume_and_its_size(tiny_disk: Path) -> None:
    lines: list[str] = []
    out = tiny_disk / "out"
    assert main([str(LARGE), "-o", str(out), "-q"], Environment(log=lines.append)) == 1
    (line,) = [line for line in lines if "No space left on device" in line]
    assert f"kept for --resume: {out / '.forensics-tcpflow'} (" in line and " bytes" in line
    assert "to start afresh instead, run again with --fresh" in line
    assert not (out / "report.xml").exists()


def test_a_read_only_output_is_a_clear_error(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    subprocess.run(["mount", "--bind", str(out), str(out)], check=True) if os.geteuid() == 0 else None
    try:
        if os.geteuid() == 0:
            subprocess.run(["mount", "-o", "remount,bind,ro", str(out)], check=True)
        else:
            out.chmod(0o555)
        lines: list[str] = []
        assert main([str(SMALL), "-o", str(out), "-q"], Environment(log=lines.append)) == 1
        assert any("cannot write to" in line and ("Read-only" in line or "Permission" in line) for line in lines)
    finally:
        if os.geteuid() == 0:
            subprocess.run(["umount", str(out)], check=True)


def test_a_bug_inside_one_capture_still_gives_a_report_marked_failed(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The capture the bug hit carries the error, the other capture is complete, the report says exit 3."""
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    (evidence / "a.pcap").write_bytes(SMALL.read_bytes())
    (evidence / "b.pcap").write_bytes((CORPUS / "tcpflow__test7-three-flows.pcap").read_bytes())
    add = FlowTable.add
    calls: list[int] = []

    def buggy(self: FlowTable, segment):  # noqa: ANN001, ANN202 - the first segment of the run hits the bug
        calls.append(segment.frame)
        if len(calls) == 1:
            raise KeyError("a bug")
        return add(self, segment)
    monkeypatch.setattr(FlowTable, "add", buggy)
    lines: list[str] = []
    out = tmp_path / "out"
    assert main([str(evidence), "-o", str(out), "-q", "-j", "1"], Environment(log=lines.append)) == 3
    assert any("internal error: KeyError" in line for line in lines)
    assert any("not a verdict on the evidence" in line for line in lines)
    root = _report(out)
    assert next(root.iter(f"{{{FTF_NS}}}run")).get("exit_status") == "3"
    inputs = {Path(i.get("path")).name: i.findtext(f"{{{FTF_NS}}}error") for i in root.iter(f"{{{FTF_NS}}}input")}
    assert "a.pcap: internal error: KeyError" in inputs["a.pcap"] and inputs["b.pcap"] is None
    assert len(list((out / "b.pcap").iterdir())) == 3       # test7-three-flows: every flow is there


@pytest.mark.parametrize("point", ["promote", "write_reports"])
def test_sigint_while_moving_files_or_writing_reports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      point: str) -> None:
    """SIGINT once the captures are read (while a job's files are moved into place, or while the
    reports are written): the run ends with a valid report, and after --resume when it asks for
    one, OUT is exactly what an uninterrupted run writes. (Reading: tests/test_cli.py.)"""
    evidence = build_evidence(tmp_path)
    reference = tmp_path / "reference"
    assert run_cli(str(evidence), "-o", str(reference), "-j", "1") == ExitStatus.INPUT_ERRORS
    original = getattr(core, point)
    sent: list[str] = []

    def interrupted(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        if not sent:
            sent.append(point)
            os.kill(os.getpid(), signal.SIGINT)
        return original(*args, **kwargs)
    monkeypatch.setattr(core, point, interrupted)
    out = tmp_path / "out"
    status = run_cli(str(evidence), "-o", str(out), "-j", "1")
    assert sent and status in (ExitStatus.INTERRUPTED, ExitStatus.INPUT_ERRORS)
    assert validate_report(out / "report.xml") == []
    monkeypatch.setattr(core, point, original)
    if status == ExitStatus.INTERRUPTED:
        assert run_cli(str(evidence), "-o", str(out), "-j", "1", "--resume") == ExitStatus.INPUT_ERRORS
    assert tree(out) == tree(reference)
    assert normalized_report(out / "report.xml") == normalized_report(reference / "report.xml")


@pytest.mark.parametrize(("size", "stage"), [("12k", "flow files"), ("32k", "report")])
@pytest.mark.parametrize("then", ["--resume", "--fresh"])
def test_a_full_disk_then_resume_once_there_is_room(tiny_disk: Path, tmp_path: Path, size: str, stage: str,
                                                    then: str) -> None:
    """The disk fills while the flow files are written (12k) or while the report is (32k; the flow
    files are in place): exit 1, no report, what is kept is said; with room made, --resume (or
    starting afresh, which first removes what was kept) gives exactly what an uninterrupted run gives."""
    reference = tmp_path / "reference"
    assert main([str(SMALL), "-o", str(reference), "-q"]) == 0
    subprocess.run(["mount", "-o", f"remount,size={size}", str(tiny_disk)], check=True)
    out = tiny_disk / "out"
    lines: list[str] = []
    assert main([str(SMALL), "-o", str(out), "-q"], Environment(log=lines.append)) == 1
    assert any("No space left on device" in line and "kept for --resume" in line for line in lines), lines
    assert not (out / "report.xml").exists()
    if stage == "report":
        assert any(p.is_file() for p in out.iterdir())       # the flow files were already in place
    subprocess.run(["mount", "-o", "remount,size=1m", str(tiny_disk)], check=True)
    assert main([str(SMALL), "-o", str(out), "-q"], Environment(log=lambda line: None)) == ExitStatus.USAGE
    lines.clear()
    assert main([str(SMALL), "-o", str(out), "-q", then], Environment(log=lines.append)) == 0
    assert (then == "--fresh") == any("started afresh" in line for line in lines), lines
    assert tree(out) == tree(reference)
    recorded = normalized_report(out / "report.xml").replace(b'name="fresh" value="true"', b'name="fresh" value="false"')
    assert recorded == normalized_report(reference / "report.xml")


def test_help_and_exit_status_name_the_internal_error_code(capsys: pytest.CaptureFixture[str]) -> None:
    assert ExitStatus.INTERNAL_ERROR == 3
    assert main(["--help"]) == 0
    assert "3 internal error" in " ".join(capsys.readouterr().out.split())


def test_a_full_disk_while_journaling_keeps_the_run_resumable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """ENOSPC as the journal records a finished job (its files already in place): a clear error saying what is
    kept, no report; once there is room, --resume gives what an uninterrupted run gives."""
    import errno

    from forensics_tcpflow.batch.journal import Journal
    reference = tmp_path / "reference"
    assert main([str(SMALL), "-o", str(reference), "-q"]) == 0
    record = Journal.record

    def full(self: Journal, result) -> None:  # noqa: ANN001
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self.path))
    monkeypatch.setattr(Journal, "record", full)
    out = tmp_path / "out"
    lines: list[str] = []
    assert main([str(SMALL), "-o", str(out), "-q"], Environment(log=lines.append)) == 1
    assert any("No space left on device" in line and "kept for --resume" in line for line in lines), lines
    assert not (out / "report.xml").exists()
    monkeypatch.setattr(Journal, "record", record)
    assert main([str(SMALL), "-o", str(out), "-q", "--resume"], Environment(log=lambda line: None)) == 0
    assert tree(out) == tree(reference)
    assert normalized_report(out / "report.xml") == normalized_report(reference / "report.xml")
