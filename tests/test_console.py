"""tcpflow's console and per-flow artifact options against tcpflow 1.6.1 itself, byte for byte.

Over every corpus capture where tcpflow's files are right (tests/expectations.toml "same", no gap):
console output (-c -C -D -s -B -0 -J -g) byte-identical, the same .findx files (-I), the same
per-direction pcap files and packet counts (-K), the same number of -w packets; and `-r -` (standard input, also gzip) equal to `-r FILE`.
"""

from __future__ import annotations

import gzip
import io
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from conftest import CORPUS, corpus_files, expectations, require_corpus, require_oracle
from oracles import REPORT_NAMES, TCPFLOW, read_flow_dir
from forensics_tcpflow.cli import main
from forensics_tcpflow.environment import Environment
from forensics_tcpflow.sink.console import ConsolePrinter

# Captures where tcpflow's flow files are right but a per-packet output is not, and why: strict expected
# failures, so an entry that stops differing is noticed.
CONSOLE_WRONG = {
    "suricata__http-sticky-start_input.pcap":
        "padding: tcpflow prints (and indexes) the SYN/ACK's 2 Ethernet trailer bytes as data",
}
UNPROCESSED_WRONG = {
    "zeek__tunnels_4in6.pcap": "not-decoded: tcpflow saves the IPv4-in-IPv6 packet it cannot decode; we decode it",
    "tcpdump__ieee802.11_exthdr.pcap": "not-ip: tcpflow saves two 802.11 Null-function frames, which carry no IP at all",
}
PCAPS_WRONG = {
    "zeek__tunnels_4in6.pcap": "not-decoded: tcpflow cannot decode the IPv4-in-IPv6 packet, so it has no direction",
}
COMBOS = (("-c",), ("-C",), ("-c", "-D"), ("-c", "-B"), ("-c", "-s"), ("-c", "-J"), ("-c", "-g", "-0"),
          ("-C", "-D", "-0", "-g"), ("-C", "-B", "-J", "-s"), ("-c", "-b", "100"))


def _right_captures() -> list[str]:
    table = expectations()
    return [name for name in corpus_files()
            if table.get(name, {}).get("tcpflow", "same") == "same" and "gap" not in table.get(name, {})]


def _params(wrong: dict[str, str]) -> list:
    names = _right_captures() or [None]
    return [pytest.param(n, marks=pytest.mark.xfail(reason=wrong[n], strict=True)) if n in wrong else n for n in names]


def _ours(*args: str) -> tuple[int, bytes]:
    out = io.BytesIO()
    env = Environment(stdout=io.TextIOWrapper(out, write_through=True), log=lambda line: None)
    rc = main(list(args), env)
    return rc, out.getvalue()


def _theirs(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    require_oracle(TCPFLOW)
    return subprocess.run([TCPFLOW, *args], capture_output=True, cwd=cwd, timeout=120)


@pytest.mark.parametrize("capture_name", _params(CONSOLE_WRONG))
def test_console_output_equals_tcpflow(capture_name: str | None, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    require_corpus()
    monkeypatch.chdir(tmp_path)
    capture = str(CORPUS / capture_name)
    for combo in COMBOS:
        theirs = _theirs(tmp_path, *combo, "-r", capture).stdout
        rc, ours = _ours(*combo, "-r", capture)
        assert ours == theirs, f"{' '.join(combo)}: first difference at byte " \
            f"{next((i for i, (a, b) in enumerate(zip(ours, theirs)) if a != b), min(len(ours), len(theirs)))}"
    assert sorted(os.listdir(tmp_path)) == ["report.xml"], "console mode wrote files (only tcpflow's report)"


@pytest.mark.parametrize("capture_name", _params(CONSOLE_WRONG))
def test_findx_files_equal_tcpflow(capture_name: str | None, tmp_path: Path) -> None:
    require_corpus()
    capture = str(CORPUS / capture_name)
    _theirs(tmp_path, "-I", "-r", capture, "-o", str(tmp_path / "t"))
    main(["-q", "--overlap", "last", "-I", "-r", capture, "-o", str(tmp_path / "o")], Environment(log=lambda s: None))
    theirs = {p.relative_to(tmp_path / "t"): p.read_bytes() for p in (tmp_path / "t").rglob("*.findx")}
    ours = {p.relative_to(tmp_path / "o"): p.read_bytes() for p in (tmp_path / "o").rglob("*.findx")}
    assert ours == theirs


def _packets(path: Path) -> int:
    from forensics_tcpflow.capture.reader import open_capture
    with open_capture(path) as capture:
        return sum(1 for _ in capture)


@pytest.mark.parametrize("capture_name", _params(UNPROCESSED_WRONG))
def test_unprocessed_packets_equal_tcpflow(capture_name: str | None, tmp_path: Path) -> None:
    require_corpus()
    capture = str(CORPUS / capture_name)
    run = _theirs(tmp_path, "-r", capture, "-o", str(tmp_path / "t"), "-w", str(tmp_path / "theirs.pcap"))
    if run.returncode < 0:
        pytest.xfail(f"tcpflow -w aborts on this capture (signal {-run.returncode}): no reference")
    main(["-q", "-r", capture, "-o", str(tmp_path / "o"), "-w", str(tmp_path / "ours.pcap")],
         Environment(log=lambda s: None))
    assert _packets(tmp_path / "ours.pcap") == _packets(tmp_path / "theirs.pcap")


def _per_file_packets(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): _packets(p) for p in root.rglob("*.pcap")}


@pytest.mark.parametrize("capture_name", _params(PCAPS_WRONG))
def test_direction_pcaps_equal_tcpflow(capture_name: str | None, tmp_path: Path) -> None:
    require_corpus()
    capture = str(CORPUS / capture_name)
    _theirs(tmp_path, "-K", "-r", capture, "-o", str(tmp_path / "t"))
    main(["-q", "-K", "-r", capture, "-o", str(tmp_path / "o")], Environment(log=lambda s: None))
    ours: Counter[str] = Counter()      # one file per connection (cN); tcpflow's holds all of an address pair's
    for name, packets in _per_file_packets(tmp_path / "o").items():
        ours[re.sub(r"c\d+(?=\.pcap$)", "", name)] += packets
    assert ours == _per_file_packets(tmp_path / "t")
    assert not [p for p in (tmp_path / "o").iterdir() if p.suffix != ".pcap" and p.name not in REPORT_NAMES]


@pytest.mark.parametrize("compress", [False, True])
def test_standard_input_equals_file(compress: bool, tmp_path: Path) -> None:
    require_corpus()
    capture = CORPUS / "zeek__wikipedia.pcap"
    data = capture.read_bytes()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    run = lambda *args, stdin=None: subprocess.run(   # noqa: E731
        [sys.executable, "-m", "forensics_tcpflow", "-q", *args], input=stdin, capture_output=True,
        env=env, timeout=120)
    piped = run("-c", "-r", "-", stdin=gzip.compress(data) if compress else data)
    assert piped.returncode == 0, piped.stderr
    assert piped.stdout == run("-c", "-r", str(capture)).stdout
    files = run("-r", "-", "-o", str(tmp_path / "stdin"), stdin=data)
    assert files.returncode == 0, files.stderr
    run("-r", str(capture), "-o", str(tmp_path / "file"))
    for path in (tmp_path / "file").iterdir():
        if path.name not in REPORT_NAMES:
            assert (tmp_path / "stdin" / path.name).read_bytes() == path.read_bytes()
    report = (tmp_path / "stdin" / "report.xml").read_text()
    assert 'path="-" abspath="(standard input)"' in report and 'stream="true"' in report
    assert "<ftf:stat " not in report
    import hashlib
    assert f'before="{hashlib.md5(data).hexdigest()}"' in report


def test_hex_lines_pad_to_the_widest_line() -> None:
    out = io.BytesIO()
    printer = ConsolePrinter(out, template="%A.%a-%B.%b", outdir=".", fmt="hex", header=False)
    from forensics_tcpflow.decode.segment import Segment
    printer(Segment(4, bytes(4), bytes(4), 1, 2, 0, 0, 0x18, bytes(range(35)), 1, 0))
    first, second, blank = out.getvalue().split(b"\n")[:3]
    assert first.startswith(b"0000: 0001 0203") and second.startswith(b"0020: 2021 22 ")
    assert len(first) == len(second) + 29 and blank == b""


def test_evidence_folder_rules(tmp_path: Path) -> None:
    """Writing into the folder holding an input file is refused; a folder below it, or elsewhere, is not."""
    require_corpus()
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    (evidence / "x.pcap").write_bytes((CORPUS / "zeek__http_get.pcap").read_bytes())
    quiet = Environment(log=lambda s: None)
    assert main(["-q", "-r", str(evidence / "x.pcap"), "-o", str(evidence)], quiet) == 2
    assert main(["-q", "-r", str(evidence / "x.pcap"), "-o", str(evidence / "out")], quiet) == 0
    assert main(["-q", "-r", str(evidence / "missing.pcap"), "-o", str(tmp_path / "o2")], quiet) == 1


@pytest.mark.parametrize("capture_name, at", [("zeek__wikipedia.pcap", 40), ("tcpflow__test4.pcap", 25),
                                              ("zeek__tcp_reassembly.pcap", 60)])
def test_finish_captures_equal_tcpflow(capture_name: str, at: int, tmp_path: Path) -> None:
    """-r FIRST -R SECOND: connections begun in FIRST are finished from SECOND, none is started there."""
    require_corpus()
    from batchkit import split_pcap
    first, second = tmp_path / "first.pcap", tmp_path / "second.pcap"
    split_pcap(CORPUS / capture_name, first, second, at)
    _theirs(tmp_path, "-r", str(first), "-R", str(second), "-o", str(tmp_path / "t"))
    main(["-q", "--overlap", "last", "-r", str(first), "-R", str(second), "-o", str(tmp_path / "o")],
         Environment(log=lambda s: None))
    theirs, ours = read_flow_dir(tmp_path / "t"), read_flow_dir(tmp_path / "o")
    assert ours == theirs and ours
    console = ("-c", "-r", str(first), "-R", str(second))
    assert _ours(*console)[1] == _theirs(tmp_path, *console).stdout


def test_input_list_and_verbosity(tmp_path: Path) -> None:
    """-l: a trailing argument is a capture even when no such file exists (else it is a filter);
    -d 0 drops the closing summary that -d 1 prints."""
    require_corpus()
    capture = str(CORPUS / "zeek__http_get.pcap")
    lines: list[str] = []
    env = Environment(log=lines.append)
    assert main(["-r", capture, "-l", "tcp port 80", "-o", str(tmp_path / "l")], env) == 1
    assert any("tcp port 80: cannot read: No such file or directory" in line for line in lines), lines
    lines.clear()
    assert main(["-r", capture, "port", "80", "-o", str(tmp_path / "f")], env) == 0
    assert any(line.startswith("forensics-tcpflow: packets:") for line in lines)
    lines.clear()
    assert main(["-d", "0", "-r", capture, "-o", str(tmp_path / "d")], env) == 0
    assert lines == []
