"""The run's plan: layouts refused, combinations refused as usage errors naming both options,
outputs that never replace a file the run did not create, options recorded as given."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from lxml import etree

from batchkit import CORPUS, run_cli
from forensics_tcpflow.environment import Environment
from forensics_tcpflow.errors import UsageError
from forensics_tcpflow.exitstatus import ExitStatus
from forensics_tcpflow.options import Options
from forensics_tcpflow.plan import make_plan
from forensics_tcpflow.report.dfxml import FTF_NS

pytestmark = pytest.mark.usefixtures("corpus")
HTTP = CORPUS / "zeek__http_get.pcap"


def _plan(inputs: tuple[str, ...], outdir: str | None, report: Path | None = None, **kw: object):
    return make_plan(Options(inputs=inputs, outdir=outdir, report_path=report and str(report), **kw))


def _cli(*args: str) -> tuple[int, list[str]]:
    said: list[str] = []
    return run_cli(*args, env=Environment(log=said.append)), said


def test_layouts_refused(tmp_path: Path) -> None:
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    with pytest.raises(UsageError, match="inside the evidence folder"):
        _plan((str(evidence),), str(evidence / "out"), evidence / "out" / "r.xml")
    out = tmp_path / "out"
    (out / ".forensics-tcpflow").mkdir(parents=True)
    with pytest.raises(UsageError, match="--resume"):
        _plan((str(evidence),), str(out))
    _plan((str(evidence),), str(out), resume=True)


def test_nothing_written_beside_an_evidence_file(tmp_path: Path) -> None:
    capture = tmp_path / "case" / "x.pcap"
    capture.parent.mkdir()
    capture.write_bytes(b"")
    elsewhere = tmp_path / "flows"
    with pytest.raises(UsageError, match="output directory .* is the folder of the evidence file"):
        _plan((str(capture),), str(capture.parent), elsewhere / "r.xml")
    # a folder below the one holding the file is another place (as -r /evidence.pcap -o /cases/out)
    _plan((str(capture),), str(capture.parent / "out"), elsewhere / "r.xml")
    with pytest.raises(UsageError, match="report .* beside the evidence file"):
        _plan((str(capture),), str(elsewhere), capture.parent / "report.xml")
    _plan((str(capture),), str(elsewhere), elsewhere / "report.xml")


def test_the_tcpflow_habit_is_told_what_to_type(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Defect 9: `cd evidence && forensics-tcpflow -r x.pcap` says why and what to type; IN -o IN names OUT."""
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    shutil.copy(HTTP, evidence / "x.pcap")
    monkeypatch.chdir(evidence)
    status, said = _cli("-r", "x.pcap")
    assert status == ExitStatus.USAGE
    assert "evidence is never written beside" in said[-1] and "-o ../" in said[-1]
    status, said = _cli(str(evidence), "-o", str(evidence))
    assert status == ExitStatus.USAGE and "output directory" in said[-1] and "report" not in said[-1].split(":")[1]


@pytest.mark.parametrize("args, both", [
    (("-c", "--cluster", "local:1"), ("-c", "--cluster")),
    (("-c", "-K"), ("-c", "-K")),
    (("-c", "--resume"), ("-c", "--resume")),
    (("-K", "--cluster", "local:1"), ("-K", "--cluster")),
    (("--resume", "--fresh"), ("--resume", "--fresh")),
    (("-R", str(HTTP)), ("-R", "-r")),
    (("-b", "-5"), ("-b",)),
    (("-j", "-1"), ("-j",)),
    (("--report", "xml"), ("--report", "bodyfile, csv, dfxml, html, jsonl, timesketch, zeek")),
])
def test_combinations_that_cannot_work_are_usage_errors(tmp_path: Path, args: tuple[str, ...],
                                                        both: tuple[str, ...]) -> None:
    """Defect 5 (and 6's --report typo): each is refused before any work, naming both options."""
    out = tmp_path / "out"
    status, said = _cli("-r", str(HTTP), "-o", str(out), *args)
    assert status == ExitStatus.USAGE, said
    assert all(name in said[-1] for name in both), said
    assert not out.exists()


def test_x_outside_out_never_replaces_another_runs_files(tmp_path: Path) -> None:
    """Defect 1: a second -X into the same folder gets siblings named after its report; a file at any
    output name is refused before any work (exit 2), whatever made it."""
    reports = tmp_path / "reports"

    def kept(prefix: str) -> dict[str, bytes]:
        return {str(p.relative_to(reports)): p.read_bytes() for p in reports.rglob(f"{prefix}*") if p.is_file()}

    assert run_cli("-r", str(HTTP), "-o", str(tmp_path / "a"), "-X", str(reports / "rep1.xml"), "-q") == 0
    first = kept("rep1")
    assert sorted(p.name for p in reports.iterdir()) == ["rep1.csv", "rep1.html", "rep1.jsonl", "rep1.xml", "rep1_files"]
    assert run_cli("-r", str(HTTP), "-o", str(tmp_path / "b"), "-X", str(reports / "rep2.xml"), "-q") == 0
    assert kept("rep1") == first
    assert sorted(p.name for p in reports.iterdir() if p.name.startswith("rep2")) == [
        "rep2.csv", "rep2.html", "rep2.jsonl", "rep2.xml", "rep2_files"]
    every = "dfxml,jsonl,csv,html,bodyfile,timesketch,zeek"
    for name in ("report.xml", "flows.jsonl", "flows.csv", "report.png", "bodies.jsonl", "unprocessed.pcap",
                 "report.html", "report_files", "body", "timeline.jsonl", "conn.log"):
        out = tmp_path / f"out-{name}"
        out.mkdir()
        (out / name).write_bytes(b"not ours")
        status, said = _cli("-r", str(HTTP), "-o", str(out), "-a", "-w", str(out / "unprocessed.pcap"),
                            "--report", every, "-q")
        assert status == ExitStatus.USAGE and f"{name} already exists" in said[-1], said
        assert [p.name for p in out.iterdir()] == [name] and (out / name).read_bytes() == b"not ours"


def test_resume_continues_only_its_own_run(tmp_path: Path) -> None:
    """Defect 3: --resume on a finished OUT has nothing to resume (exit 2) and never rewrites its report."""
    out = tmp_path / "out"
    assert run_cli("-r", str(HTTP), "-o", str(out), "-q") == 0
    before = (out / "report.xml").read_bytes()
    status, said = _cli("-r", str(CORPUS / "zeek__http_pipelined-requests.pcap"), "-o", str(out), "--resume", "-q")
    assert status == ExitStatus.USAGE and "nothing to resume" in said[-1]
    assert (out / "report.xml").read_bytes() == before


def test_report_records_options_as_given_and_derived_apart(tmp_path: Path) -> None:
    """Defect 4: -c -r F -X r.xml records no outdir, no X among -F, the given jobs; the scratch folder
    and the effective jobs are in <ftf:derived>."""
    report = tmp_path / "r.xml"
    assert run_cli("-c", "-r", str(HTTP), "-X", str(report)) == 0
    run = etree.parse(str(report)).find(f".//{{{FTF_NS}}}run")
    given = {o.get("name"): o.get("value") for o in run.find(f"{{{FTF_NS}}}options")}
    derived = {o.get("name"): o.get("value") for o in run.find(f"{{{FTF_NS}}}derived")}
    assert given["outdir"] is None and given["fflags"] == "" and given["jobs"] == "0" and given["quiet"] == "false"
    assert derived["outdir"].startswith("/") and "forensics-tcpflow-" in derived["outdir"]
    assert derived["fflags"] == "X" and derived["jobs"] == "1" and derived["runner"] == "taps"


def test_a_file_at_a_flow_files_name_is_never_replaced(tmp_path: Path) -> None:
    """Defect 1: OUT already holds a file at a flow file's name: the run stops (exit 1), naming it; it stays."""
    assert run_cli("-r", str(HTTP), "-o", str(tmp_path / "first"), "-q") == 0
    name = "141.142.228.005.59856-192.150.187.043.00080"
    assert (tmp_path / "first" / name).exists()
    out = tmp_path / "out"
    out.mkdir()
    (out / name).write_bytes(b"the examiner's")
    status, said = _cli("-r", str(HTTP), "-o", str(out), "-q")
    assert status == ExitStatus.INPUT_ERRORS and name in said[-1] and "did not create" in said[-1], said
    assert (out / name).read_bytes() == b"the examiner's" and not (out / "report.xml").exists()
