"""diff: two runs compared by their reports and files, through the real CLI in-process on corpus captures."""

from __future__ import annotations

import io
import json
import re
import shutil
from pathlib import Path

import pytest

from batchkit import CORPUS, build_evidence, many_empty_flow_files, run_cli
from forensics_tcpflow.audit.diff import diff_reports
from forensics_tcpflow import engine
from forensics_tcpflow.environment import Environment
from forensics_tcpflow.exitstatus import ExitStatus

pytestmark = pytest.mark.usefixtures("corpus")
OVERLAPS = "suricata__eve-overlap-payload-01_tcp-overlap.pcap"       # an exact overlap: GOOD first, EVIL last
HTTP = "zeek__http_get.pcap"


def run(capture: Path, out: Path, *options: str) -> Path:
    assert run_cli(str(capture), "-o", str(out), "-q", *options) == ExitStatus.OK
    return out / "report.xml"


def diff(a: Path, b: Path, *options: str) -> tuple[int, str]:
    stdout = io.StringIO()
    status = run_cli("diff", str(a), str(b), *options, env=Environment(stdout=stdout, log=lambda line: None))
    return status, stdout.getvalue()


@pytest.fixture
def capture(tmp_path: Path) -> Path:
    (tmp_path / "in").mkdir()
    return Path(shutil.copy(CORPUS / HTTP, tmp_path / "in" / HTTP))


def test_jobs_and_paths_do_not_count(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An evidence folder of four captures (one truncated: exit 1) with one worker or four, and
    through the general path only: identical, the options as given differing only as a note."""
    evidence = build_evidence(tmp_path)
    outputs = {}
    for name, jobs in (("one", "1"), ("four", "4"), ("general", "1")):
        if name == "general":
            monkeypatch.setattr(engine, "kernel_header", lambda path: None)
        assert run_cli(str(evidence), "-o", str(tmp_path / name), "-q", "-j", jobs, "-e", "http") == 1
        outputs[name] = tmp_path / name / "report.xml"
    status, text = diff(outputs["one"], outputs["four"])
    assert status == ExitStatus.OK, text
    assert text.splitlines()[0] == "identical: 9 flow files, 3 bodies; no differences"
    assert "-j 1" in text and "-j 4" in text
    assert diff(outputs["one"], outputs["general"])[0] == ExitStatus.OK


def test_overlap_policy_names_the_option_and_exactly_the_flows_that_differ(tmp_path: Path) -> None:
    first = run(CORPUS / OVERLAPS, tmp_path / "first")
    last = run(CORPUS / OVERLAPS, tmp_path / "last", "--overlap", "last")
    status, text = diff(first, last, "--json")
    assert status == ExitStatus.VERIFY_MISMATCH
    verdict = json.loads(text)
    assert verdict["differences"]["options"] == 1 and verdict["differences"]["flows"] == 1
    details = {d["title"]: d["items"] for d in verdict["details"]}
    assert details["options that change output"] == [{"option": "overlap", "a": "first", "b": "last"}]
    name = "001.001.001.001.12345-002.002.002.002.08080--6"
    assert details["flow files with different bytes"] == [{"name": name, "offset": 0, "a_size": 4, "b_size": 4}]
    facts = details["flow files: facts in the report differ"]
    assert [f["name"] for f in facts] == [name] and set(facts[0]["facts"]) == {"overlap"}
    assert diff(first, last)[1].startswith("identical: no files; differences: 1 option, 1 flow\n")


def test_a_deleted_flow_file_an_extra_file_and_a_changed_body_are_named(capture: Path, tmp_path: Path) -> None:
    a = run(capture, tmp_path / "a", "-e", "http")
    b = run(capture, tmp_path / "b", "-e", "http")
    flows = sorted(p for p in b.parent.iterdir() if p.name.count(".") > 6 and "HTTPBODY" not in p.name)
    body = next(b.parent.glob("*HTTPBODY*"))
    flows[0].unlink()
    (b.parent / "notes.txt").write_text("added later\n")
    body.chmod(0o644)
    data = bytearray(body.read_bytes())
    data[10] ^= 0xFF
    body.write_bytes(bytes(data))
    status, text = diff(a, b)
    assert status == ExitStatus.VERIFY_MISMATCH
    assert f"flow files only in A (1):\n  {flows[0].name} (B's report names it: the file is missing)" in text
    assert "other files only in B (1):\n  notes.txt\n" in text
    assert f"bodies with different bytes (1):\n  {body.name}: first difference at offset 10" in text
    assert f"files changed since their own report was written (1):\n  {body.name} (B)" in text
    assert text.splitlines()[0].endswith(
        "differences: 1 flow, 1 body, 1 other file, 1 file changed since its report")


def test_renamed_outputs_and_unreadable_reports(capture: Path, tmp_path: Path) -> None:
    a = run(capture, tmp_path / "a")
    b = run(capture, tmp_path / "b", "-T", "%A.%a-%B.%b%C%c-x")
    status, text = diff(a, b, "--all")
    assert status == ExitStatus.VERIFY_MISMATCH
    assert "flow files: the same bytes under another name (2):" in text and "options that change output (1):" in text
    (tmp_path / "broken.xml").write_text("<dfxml")
    assert diff(a, tmp_path / "broken.xml")[0] == ExitStatus.INPUT_ERRORS
    assert diff(a, tmp_path / "absent.xml")[0] == ExitStatus.INPUT_ERRORS
    assert run_cli("diff", str(a)) == ExitStatus.USAGE


def test_memory_stays_flat_over_many_flows(tmp_path: Path) -> None:
    """Both reports are streamed into SQLite on disk and every folder is listed as it goes: Python's own
    allocations while comparing two runs of 20,000 flow files each stay under 4 MB."""
    import tracemalloc
    a = run(CORPUS / HTTP, tmp_path / "a")
    many_empty_flow_files(a, 20_000)
    b = Path(shutil.copytree(a.parent, tmp_path / "b")) / "report.xml"
    diff_reports(a, b)          # once before measuring: first imports and caches are not what grows
    tracemalloc.start()
    try:
        verdict = diff_reports(a, b)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert verdict.identical and verdict.same["flow"] == 20_000, verdict.summary()
    assert peak < 4 << 20, peak


def test_the_flow_kernel_a_report_states_is_a_note(tmp_path: Path) -> None:
    a = run(CORPUS / HTTP, tmp_path / "a")
    b = Path(shutil.copytree(a.parent, tmp_path / "b")) / "report.xml"
    stated = re.search(r'<ftf:kernel implementation="(\w+)"', a.read_text()).group(1)
    other = "python" if stated == "compiled" else "compiled"
    b.write_text(b.read_text().replace(f'<ftf:kernel implementation="{stated}"', f'<ftf:kernel implementation="{other}"'))
    status, text = diff(a, b)
    assert status == ExitStatus.OK and f"versions differ (1):\n  kernel: A {stated}, B {other}\n" in text
