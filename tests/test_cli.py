"""End to end: the real CLI, in-process, on evidence folders built from the corpus."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest
from lxml import etree

from batchkit import CORPUS, build_evidence, normalized_report, run_cli, split_pcap, tree
from forensics_tcpflow import engine
from forensics_tcpflow.environment import Environment, Progress
from forensics_tcpflow.exitstatus import ExitStatus
from forensics_tcpflow.report.dfxml import DFXML_NS, FTF_NS
from forensics_tcpflow.report.validate import validate_report

pytestmark = pytest.mark.usefixtures("corpus")


@pytest.fixture
def evidence(tmp_path: Path) -> Path:
    return build_evidence(tmp_path)


@pytest.fixture
def reference(evidence: Path, tmp_path: Path) -> Path:
    """An uninterrupted -j 1 run over the evidence folder."""
    out = tmp_path / "reference"
    assert run_cli(str(evidence), "-o", str(out), "-j", "1") == ExitStatus.INPUT_ERRORS  # the truncated capture
    return out


def _inputs(report: Path) -> dict[str, etree._Element]:
    doc = etree.parse(str(report))
    return {Path(e.get("path")).name: e for e in doc.iter(f"{{{FTF_NS}}}input")}


def _skipped(report: Path) -> dict[str, str]:
    doc = etree.parse(str(report))
    return {e.get("path"): e.get("reason") for e in doc.iter(f"{{{FTF_NS}}}skipped")}


def test_folder_layout_report_and_damaged_capture(evidence: Path, reference: Path) -> None:
    out = reference
    assert sorted(p.name for p in (out / "site-a" / "http_get.pcap").iterdir()) == [
        "141.142.228.005.59856-192.150.187.043.00080", "192.150.187.043.00080-141.142.228.005.59856"]
    assert len(list((out / "site-a" / "day2" / "three-flows.pcap").iterdir())) == 3
    assert any((out / "site-b" / "rotated.dat").iterdir())               # gzip, found by its magic bytes
    assert any((out / "site-b" / "truncated.pcap").iterdir())            # flows before the damage are kept
    assert not (out / ".forensics-tcpflow").exists()                     # a finished run leaves no journal
    report = out / "report.xml"
    assert validate_report(report) == []
    inputs = _inputs(report)
    assert set(inputs) == {"http_get.pcap", "three-flows.pcap", "rotated.dat", "truncated.pcap"}
    assert inputs["rotated.dat"].get("compression") == "gzip"
    assert inputs["truncated.pcap"].get("output_dir") == "site-b/truncated.pcap"
    error = inputs["truncated.pcap"].findtext(f"{{{FTF_NS}}}error")
    assert "truncated.pcap" in error and ("record" in error or "offset" in error)
    assert _skipped(report)[str(evidence / "site-b" / "notes.txt")] == "not a pcap or pcapng capture"
    rows = [json.loads(line) for line in (out / "flows.jsonl").read_text().splitlines()]
    assert {row["filename"].split("/")[0] for row in rows if row["filename"]} == {"site-a", "site-b"}
    assert run_cli("verify", str(report)) == ExitStatus.OK


def test_parallel_jobs_give_identical_outputs(evidence: Path, reference: Path, tmp_path: Path) -> None:
    out = tmp_path / "parallel"
    assert run_cli(str(evidence), "-o", str(out), "-j", "2") == ExitStatus.INPUT_ERRORS
    assert tree(out) == tree(reference)
    assert normalized_report(out / "report.xml") == normalized_report(reference / "report.xml")


def _interrupt_at(kind: str, capture: str, nth: int) -> Environment:
    """An environment whose progress callback sends this process SIGINT at the nth `kind` event of `capture`."""
    seen = 0

    def progress(event: Progress) -> None:
        nonlocal seen
        if event.kind == kind and event.capture.endswith(capture):
            seen += 1
            if seen == nth:
                os.kill(os.getpid(), signal.SIGINT)

    return Environment(progress=progress, log=lambda line: None)


def test_interrupted_mid_capture_then_resumed(evidence: Path, reference: Path, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "PROGRESS_EVERY", 1)   # a stop check after every record
    monkeypatch.setattr(engine, "kernel_header", lambda path: None)   # (the fast path checks once a window)
    out = tmp_path / "interrupted"
    env = _interrupt_at("bytes", "three-flows.pcap", 5)
    assert run_cli(str(evidence), "-o", str(out), "-j", "1", env=env) == ExitStatus.INTERRUPTED
    report = out / "report.xml"
    assert validate_report(report) == []
    run = etree.parse(str(report)).find(f".//{{{FTF_NS}}}run")
    assert run.get("interrupted") == "true" and run.get("exit_status") == "130"
    assert "interrupted" in _inputs(report)["three-flows.pcap"].findtext(f"{{{FTF_NS}}}error")
    assert run_cli(str(evidence), "-o", str(out), "-j", "1") == ExitStatus.USAGE   # no --resume: refused
    assert run_cli(str(evidence), "-o", str(out), "-j", "2", "--resume") == ExitStatus.INPUT_ERRORS
    assert tree(out) == tree(reference)
    assert normalized_report(report) == normalized_report(reference / "report.xml")


def test_resume_after_a_kill(evidence: Path, reference: Path, tmp_path: Path) -> None:
    """A kill -9 leaves no report, a torn journal line and a half-written staging folder."""
    out = tmp_path / "killed"
    env = _interrupt_at("end-capture", "http_get.pcap", 1)
    assert run_cli(str(evidence), "-o", str(out), "-j", "1", env=env) == ExitStatus.INTERRUPTED
    (out / "report.xml").unlink()
    state = out / ".forensics-tcpflow"
    with (state / "journal.jsonl").open("ab") as fh:
        fh.write(b'{"job": 3, "spool": "job-3.pi')
    (state / "staging" / "2").mkdir(parents=True)
    (state / "staging" / "2" / "half-written").write_bytes(b"x" * 10)
    assert run_cli(str(evidence), "-o", str(out), "--resume") == ExitStatus.INPUT_ERRORS
    assert tree(out) == tree(reference)
    assert normalized_report(out / "report.xml") == normalized_report(reference / "report.xml")


def test_verify_finds_changed_missing_and_extra_files(reference: Path) -> None:
    report = reference / "report.xml"
    flow = next((reference / "site-a" / "http_get.pcap").iterdir())
    data = bytearray(flow.read_bytes())
    data[10] ^= 1
    flow.write_bytes(bytes(data))
    lines: list[str] = []
    env = Environment(stdout=_Lines(lines), log=lines.append)
    assert run_cli("verify", str(report), env=env) == ExitStatus.VERIFY_MISMATCH
    assert any(line.startswith("changed: site-a/http_get.pcap/") for line in lines)
    flow.unlink()
    (reference / "stray.bin").write_bytes(b"?")
    lines.clear()
    assert run_cli("verify", str(report), env=env) == ExitStatus.VERIFY_MISMATCH
    assert any(line.startswith("missing: site-a/http_get.pcap/") for line in lines)
    assert "extra: stray.bin" in lines


class _Lines:
    def __init__(self, lines: list[str]) -> None:
        self.lines = lines

    def write(self, text: str) -> None:
        self.lines.extend(text.splitlines())


def test_merge_continues_connections_across_files(tmp_path: Path) -> None:
    whole = tmp_path / "whole"
    assert run_cli(str(CORPUS / "zeek__http_get.pcap"), "-o", str(whole)) == ExitStatus.OK
    rotated = tmp_path / "rotated"
    rotated.mkdir()
    split_pcap(CORPUS / "zeek__http_get.pcap", rotated / "z-first.pcap", rotated / "a-second.pcap", at=8)
    merged = tmp_path / "merged"
    assert run_cli(str(rotated), "-o", str(merged), "--merge") == ExitStatus.OK
    flows = {name: data for name, data in tree(merged).items() if "." in name and "/" not in name
             and not name.startswith("flows.")}
    assert flows == {name: data for name, data in tree(whole).items() if not name.startswith("flows.")}
    rows = [json.loads(line) for line in (merged / "flows.jsonl").read_text().splitlines()]
    spanning = [row for row in rows if row["sources"]]
    assert spanning
    for row in spanning:
        assert [Path(capture).name for capture, _, _ in row["sources"]] == ["z-first.pcap", "a-second.pcap"]
        assert row["capture"].endswith("z-first.pcap")
    assert validate_report(merged / "report.xml") == []


def test_one_capture_writes_flows_directly_in_out(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert run_cli(str(CORPUS / "tcpflow__test7-three-flows.pcap"), "-o", str(out), "-j", "2") == ExitStatus.OK
    assert len([p for p in out.iterdir() if p.name.startswith("172.")]) == 3


def test_refusals(evidence: Path, tmp_path: Path) -> None:
    assert run_cli(str(evidence), "-o", str(evidence / "site-a" / "out")) == ExitStatus.USAGE
    out = tmp_path / "once"
    assert run_cli(str(CORPUS / "zeek__http_get.pcap"), "-o", str(out)) == ExitStatus.OK
    assert run_cli(str(CORPUS / "zeek__http_get.pcap"), "-o", str(out)) == ExitStatus.USAGE


def test_unwritable_output_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    lines: list[str] = []
    status = run_cli(str(CORPUS / "zeek__http_get.pcap"), "-o", str(blocker / "out"),
                     env=Environment(log=lines.append))
    assert status == ExitStatus.INPUT_ERRORS
    assert len(lines) == 1 and "error: cannot write to" in lines[0]


def test_summary_lines_and_quiet(tmp_path: Path) -> None:
    lines: list[str] = []
    assert run_cli(str(CORPUS / "zeek__http_get.pcap"), "-o", str(tmp_path / "a"),
                   env=Environment(log=lines.append)) == ExitStatus.OK
    text = "\n".join(lines)
    for word in ("captures: 1 processed, 0 failed, 0 not reached (of 1)", "packets:", "flows: 2", "warnings: 0", "errors: 0", "elapsed:"):
        assert word in text
    lines.clear()
    assert run_cli(str(CORPUS / "zeek__http_get.pcap"), "-o", str(tmp_path / "b"), "-q",
                   env=Environment(log=lines.append)) == ExitStatus.OK
    assert lines == []


def test_help_documents_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli("--help") == ExitStatus.OK
    text = capsys.readouterr().out
    for code in ("0", "1", "2", "4", "130"):
        assert code in text
    assert run_cli("verify", "--help") == ExitStatus.OK


def test_tcpflow_style_trailing_filter_expression(tmp_path: Path) -> None:
    out = tmp_path / "out"
    capture = CORPUS / "pcapplusplus__three_http_streams.pcap"
    assert run_cli("-r", str(capture), "-o", str(out), "-q", "port", "80", "and", "host", "98.139.240.23") == 0
    flows = sorted(p.name for p in out.iterdir() if p.name[0].isdigit())
    assert flows == ["098.139.240.023.00080-172.016.133.132.52328", "172.016.133.132.52328-098.139.240.023.00080"]
    assert run_cli("-r", str(capture), "-o", str(tmp_path / "bad"), "-q", "--filter", "tcp", "port", "80") == 2


def test_usage_errors_exit_2_without_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli("--no-such-option") == ExitStatus.USAGE
    assert run_cli("-o", str(tmp_path / "out")) == ExitStatus.USAGE          # no capture
    assert run_cli("validate", str(tmp_path / "missing.xml")) == ExitStatus.USAGE
    assert "Traceback" not in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["--help"], ["--version"]])
def test_help_and_version_load_no_pipeline(argv: list[str]) -> None:
    """Start-up stays small: --help and --version import neither the pipeline nor the report
    libraries (speed is measured in benchmarks/, this guards what makes it)."""
    import subprocess
    import sys
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "forensics_tcpflow", *argv],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}
    if argv == ["--help"]:      # a bare --help is served stored: not even typer loads (see helpstore)
        assert "forensics_tcpflow.helpstore" in imported and not imported & {"forensics_tcpflow.cli", "typer"}
    else:
        assert "forensics_tcpflow.cli" in imported
    assert not imported & {"forensics_tcpflow.core", "forensics_tcpflow.engine", "lxml.etree", "xmlschema", "numba"}


def test_version_says_which_kernel_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    import subprocess
    import sys
    for forced, expected in (("python", "kernel: python"), ("", "kernel: ")):
        env = {**os.environ, "FTF_KERNEL": forced}
        done = subprocess.run([sys.executable, "-m", "forensics_tcpflow", "--version"], capture_output=True,
                              text=True, timeout=60, env=env)
        assert done.returncode == 0 and expected in done.stdout


def test_unknown_link_type_is_warned_and_counted(tmp_path: Path) -> None:
    import struct
    (tmp_path / "in").mkdir()
    capture = tmp_path / "in" / "tokenring.pcap"
    capture.write_bytes(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 147)
                        + struct.pack("<IIII", 1, 0, 4, 4) + b"abcd")
    lines: list[str] = []
    assert run_cli(str(capture), "-o", str(tmp_path / "out"), env=Environment(log=lines.append)) == ExitStatus.OK
    text = "\n".join(lines)
    assert "1 packets of unsupported link type 147 were not decoded" in text and "warnings: 1" in text
    [inp] = _inputs(tmp_path / "out" / "report.xml").values()
    assert inp.get("undecodable_packets") == "1"


def test_pflog_facts_in_every_report(tmp_path: Path) -> None:
    sample = Path(__file__).resolve().parents[1] / "sample_pcaps" / "pflog.pcap"
    assert run_cli(str(sample), "-o", str(tmp_path)) == ExitStatus.OK
    facts = {"pflog_action": "pass", "pflog_direction": "in", "pflog_rule": "7"}
    flows = etree.parse(str(tmp_path / "report.xml")).xpath("//f:flow", namespaces={"f": FTF_NS})
    assert len(flows) == 2 and all({k: f.get(k) for k in facts} == facts for f in flows)
    assert validate_report(tmp_path / "report.xml") == []
    rows = [json.loads(line) for line in (tmp_path / "flows.jsonl").read_text().splitlines()]
    assert [row["link_facts"] for row in rows] == [facts, facts]
    assert '"{""pflog_action"": ""pass""' in (tmp_path / "flows.csv").read_text()
def test_help_groups_options_as_tcpflow(capsys: pytest.CaptureFixture[str]) -> None:
    from forensics_tcpflow.cli import main
    assert main(["-h"]) == 0
    text = capsys.readouterr().out
    for panel in ("Input", "Output", "Console output", "Post-processing", "Differences from tcpflow 1.6.1"):
        assert panel in text
    options = text[text.index("-r "):]
    assert "<bool>" not in options and "<list[str]>" not in options


def test_an_unknown_report_format_is_a_usage_error_before_anything_is_written(tmp_path: Path) -> None:
    out = tmp_path / "o"
    assert run_cli("-r", str(CORPUS / "zeek__http_get.pcap"), "-o", str(out), "--report", "dfxml,pdf") == ExitStatus.USAGE
    assert not out.exists()
