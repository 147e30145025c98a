"""-e yara: matches at known offsets of corpus flows and of a gzip body (found in the decoded body),
equal to yara-x's own scan of the same bytes and to the `yara` command line (no yara-x command line is
published on PyPI, npm or Debian; Debian's `yara` 4.2 is the classic engine, which reads these rules
alike); a rule that matches nothing, a rules file with a syntax error, a pathological rule stopped by
the timeout, a run without yara-x."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from batchkit import CORPUS, run_cli
from conftest import require_extra, require_oracle
from forensics_tcpflow.batch.verify import verify_report
from forensics_tcpflow.environment import Environment
from forensics_tcpflow.exitstatus import ExitStatus
from forensics_tcpflow.report.validate import validate_report
from forensics_tcpflow.scan import yara as yara_scanner

PIPELINED = CORPUS / "zeek__http_pipelined-requests.pcap"
CLIENT, SERVER = "192.168.001.104.01673-063.245.209.011.00080", "063.245.209.011.00080-192.168.001.104.01673"
CSS_BODY = f"{SERVER}-HTTPBODY-001.css"
RULES = """
rule mozilla_host : web triage {
    meta: author = "tests" score = 7 final = true
    strings: $host = "Host: www.mozilla.org" $ua = /User-Agent: [^\\r\\n]+/
    condition: any of them
}
rule css_banner { strings: $a = "Enhanced Screen Styles" condition: $a }
rule never { strings: $a = "no such bytes anywhere 0f1e2d3c" condition: $a }
"""
SLOW = "rule slow { condition: for all i in (0..filesize-1) : (for all j in (0..filesize-1) : (uint8(i) ^ uint8(j) != 256)) }"


def _run(tmp_path: Path, rules: str, *args: str) -> tuple[int, Path, list[str]]:
    path = tmp_path / "rules.yar"
    path.write_text(rules)
    out, lines = tmp_path / "out", []
    env = Environment(log=lines.append)
    code = run_cli("-j", "1", "-e", "http", "-e", "yara", "--yara-rules", str(path), *args,
                   "-r", str(PIPELINED), "-o", str(out), env=env)
    return code, out, lines


def _hits(out: Path) -> list[dict]:
    path = out / "yara.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _offsets(data: bytes, needle: bytes) -> list[int]:
    found, at = [], data.find(needle)
    while at >= 0:
        found.append(at)
        at = data.find(needle, at + 1)
    return found


def test_matches_at_known_offsets_of_flows_and_decoded_bodies(tmp_path: Path, corpus: Path) -> None:
    require_extra("yara_x", "yara")
    code, out, lines = _run(tmp_path, RULES)
    assert code == ExitStatus.OK
    hits = _hits(out)
    host = [hit for hit in hits if hit["rule"] == "mozilla_host"]
    assert [hit["file"] for hit in host] == [CLIENT]
    client = (out / CLIENT).read_bytes()
    assert host[0]["tags"] == ["web", "triage"] and host[0]["meta"] == {"author": "tests", "score": "7", "final": "true"}
    found = [(s["identifier"], s["offset"]) for s in host[0]["strings"] if s["identifier"] == "$host"]
    assert [offset for _, offset in found] == _offsets(client, b"Host: www.mozilla.org") and len(found) == 5
    css = [hit for hit in hits if hit["rule"] == "css_banner"]
    body = (out / CSS_BODY).read_bytes()
    assert [(hit["flow"], hit["file"]) for hit in css] == [(SERVER, CSS_BODY)]
    assert css[0]["strings"] == [{"identifier": "$a", "offset": body.find(b"Enhanced Screen Styles"), "length": 22}]
    assert b"Enhanced Screen Styles" not in (out / SERVER).read_bytes()   # gzip on the wire
    assert not [hit for hit in hits if hit["rule"] == "never"]
    assert "forensics-tcpflow: yara: 2 matches in 2 files, 2 rules" in lines
    assert validate_report(out / "report.xml", thorough=True) == []
    assert verify_report(out / "report.xml").ok


def test_matches_equal_yara_x_scanning_the_same_bytes(tmp_path: Path, corpus: Path) -> None:
    require_extra("yara_x", "yara")
    import yara_x
    _, out, _ = _run(tmp_path, RULES)
    reference = yara_x.Scanner(yara_x.compile(RULES))
    ours = {(hit["file"], hit["rule"], s["identifier"], s["offset"], s["length"]) for hit in _hits(out) for s in hit["strings"]}
    theirs = set()
    for path in out.iterdir():
        if path.name.startswith(("0", "1")):           # the flow and body files
            for rule in reference.scan(path.read_bytes()).matching_rules:
                theirs |= {(path.name, rule.identifier, p.identifier, m.offset, m.length) for p in rule.patterns for m in p.matches}
    assert ours == theirs and ours


def test_matches_equal_the_yara_command_line(tmp_path: Path, corpus: Path) -> None:
    """`yara -s -r RULES OUT` prints "rule file" then "0xOFFSET:$id: text" for each string match."""
    require_extra("yara_x", "yara")
    require_oracle("yara")
    _, out, _ = _run(tmp_path, RULES)
    ours = {(hit["file"], hit["rule"], s["identifier"], s["offset"]) for hit in _hits(out) for s in hit["strings"]}
    printed = subprocess.run(["yara", "-s", "-r", str(tmp_path / "rules.yar"), str(out)], capture_output=True,
                             text=True, errors="replace", timeout=120, check=True).stdout
    theirs, current = set(), ("", "")
    for line in printed.splitlines():
        if line.startswith("0x"):
            offset, ident, _ = line.split(":", 2)
            theirs.add((*current, ident, int(offset, 16)))
        else:
            rule, path = line.split(" ", 1)
            current = (Path(path).name, rule)
    assert ours == theirs and ours


def test_a_rule_matching_nothing_writes_no_matches(tmp_path: Path, corpus: Path) -> None:
    require_extra("yara_x", "yara")
    code, out, lines = _run(tmp_path, 'rule never { strings: $a = "0f1e2d3c4b5a" condition: $a }')
    assert code == ExitStatus.OK and _hits(out) == [] and not (out / "yara.jsonl").exists()
    assert "forensics-tcpflow: yara: 0 matches in 0 files, 0 rules" in lines


def test_a_syntax_error_is_a_usage_error_naming_file_and_line(tmp_path: Path, corpus: Path) -> None:
    require_extra("yara_x", "yara")
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "good.yar").write_text("rule fine { condition: true }\n")
    (rules / "bad.yar").write_text('rule ok { condition: true }\nrule broken { strings: $a = "x" condition: $a and }\n')
    out, lines = tmp_path / "out", []
    code = run_cli("-e", "yara", "--yara-rules", str(rules), "-r", str(PIPELINED), "-o", str(out),
                   env=Environment(log=lines.append))
    assert code == ExitStatus.USAGE and not out.exists()
    assert lines == [f"forensics-tcpflow: error: --yara-rules: {rules / 'bad.yar'}:2: error[E001]: syntax error"
                     " (expecting expression or identifier, found `}`)"]


def test_pathological_rule_is_stopped_by_the_timeout(tmp_path: Path, corpus: Path) -> None:
    require_extra("yara_x", "yara")
    code, out, lines = _run(tmp_path, SLOW, "--yara-timeout", "1")
    assert code == ExitStatus.OK
    stopped = [hit for hit in _hits(out) if hit["error"]]
    assert {hit["file"] for hit in stopped} >= {SERVER}
    assert all(hit["error"] == "timeout after 1 s" for hit in stopped)
    assert any("files not fully scanned (timeout or error)" in line for line in lines)
    assert validate_report(out / "report.xml", thorough=True) == []


def test_without_yara_x_the_run_goes_on_and_says_how_to_install(tmp_path: Path, corpus: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(yara_scanner, "_yara_x", lambda: None)
    code, out, lines = _run(tmp_path, RULES)
    assert code == ExitStatus.OK and (out / "report.xml").exists() and not (out / "yara.jsonl").exists()
    assert any("pip install 'forensics-tcpflow[yara]'" in line for line in lines)


def test_same_matches_with_worker_processes(tmp_path: Path, corpus: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    require_extra("yara_x", "yara")
    monkeypatch.setattr(yara_scanner, "BATCH", 2)
    rules = tmp_path / "rules.yar"
    rules.write_text(RULES)
    for jobs in ("1", "2"):
        assert run_cli("-q", "-j", jobs, "-e", "http", "-e", "yara", "--yara-rules", str(rules), "-r", str(PIPELINED),
                       "-o", str(tmp_path / jobs)) == ExitStatus.OK
    assert (tmp_path / "1" / "yara.jsonl").read_bytes() == (tmp_path / "2" / "yara.jsonl").read_bytes()


def test_yara_without_rules_is_a_usage_error(tmp_path: Path, corpus: Path) -> None:
    assert run_cli("-e", "yara", "-r", str(PIPELINED), "-o", str(tmp_path / "out")) == ExitStatus.USAGE
    assert not (tmp_path / "out").exists()
