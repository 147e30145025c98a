"""reproduce: a run replayed from its report alone, through the real CLI in-process on corpus captures."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest

from batchkit import CORPUS, run_cli
from forensics_tcpflow.environment import Environment
from forensics_tcpflow.exitstatus import ExitStatus

pytestmark = pytest.mark.usefixtures("corpus")


def reproduce(report: Path, newout: Path) -> tuple[int, str, str]:
    stdout, errors = io.StringIO(), []
    status = run_cli("reproduce", str(report), "-o", str(newout), env=Environment(stdout=stdout, log=errors.append))
    return status, stdout.getvalue(), "\n".join(errors)


@pytest.fixture
def case(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A run given with relative paths, a report beside OUT (-X) and -w outside it; then we move away."""
    monkeypatch.chdir(tmp_path)
    Path("in").mkdir()
    shutil.copy(CORPUS / "tcpflow__test7-three-flows.pcap", "in/c.pcap")
    shutil.copy(CORPUS / "zeek__http_get.pcap", "in/h.pcap")
    assert run_cli("-r", "in/c.pcap", "-r", "in/h.pcap", "-o", "case/out", "-X", "case/report.xml",
                   "-w", "other.pcap", "-q", "-e", "http") == ExitStatus.OK
    monkeypatch.chdir("/")
    return tmp_path / "case" / "report.xml"


def test_a_run_reproduced_is_identical(case: Path, tmp_path: Path) -> None:
    status, text, errors = reproduce(case, tmp_path / "new")
    assert status == ExitStatus.OK, text + errors
    lines = text.splitlines()
    assert lines[0].startswith("versions as recorded: forensics-tcpflow ")
    assert lines[1].startswith("identical: ") and lines[1].endswith("; no differences")
    assert (tmp_path / "new" / "case" / "report.xml").is_file() and (tmp_path / "new" / "other.pcap").is_file()
    assert {p.name for p in (tmp_path / "new" / "case" / "out").iterdir()} == {p.name for p in (case.parent / "out").iterdir()}


def test_a_flipped_input_byte_refuses_before_running(case: Path, tmp_path: Path) -> None:
    capture = tmp_path / "in" / "h.pcap"
    data = bytearray(capture.read_bytes())
    data[len(data) // 2] ^= 0x01
    capture.write_bytes(bytes(data))
    status, text, errors = reproduce(case, tmp_path / "new")
    assert status == ExitStatus.VERIFY_MISMATCH
    assert f"changed: {capture}: sha256 " in text and "c.pcap" not in text
    assert "nothing was run" in errors and not (tmp_path / "new").exists()


def test_a_version_other_than_the_recorded_one_is_said_first(case: Path, tmp_path: Path) -> None:
    case.write_text(case.read_text().replace('<ftf:library name="dpkt" version="', '<ftf:library name="dpkt" version="0.0.1+'))
    status, text, _ = reproduce(case, tmp_path / "new")
    assert status == ExitStatus.OK
    assert text.splitlines()[0].startswith("versions differ from the recorded ones: dpkt 0.0.1+")
    assert "versions differ (1):" in text


@pytest.mark.parametrize(("edit", "message", "expected"), [
    (lambda t: t[:t.index("<ftf:replay")] + t[t.index("</ftf:replay>") + len("</ftf:replay>"):],
     "cannot reproduce: the report lacks the arguments as given", ExitStatus.INPUT_ERRORS),
    (lambda t: t.replace("<ftf:arg>-q</ftf:arg>", "<ftf:arg>-i</ftf:arg><ftf:arg>lo</ftf:arg>"),
     "cannot reproduce: a live capture (-i) cannot be replayed", ExitStatus.USAGE),
    (lambda t: t.replace('output_dir="c.pcap"', 'output_dir="c.pcap" stream="true"'),
     "cannot reproduce: standard input (-r -) was read once", ExitStatus.USAGE),
], ids=["old-report", "live", "stdin"])
def test_runs_that_cannot_be_replayed_say_why(case: Path, tmp_path: Path, edit, message: str, expected: int) -> None:
    case.write_text(edit(case.read_text()))
    status, _, errors = reproduce(case, tmp_path / "new")
    assert status == expected and message in errors
    assert not (tmp_path / "new").exists()
