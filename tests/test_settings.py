"""-S NAME=VALUE: parsing, and each setting against tcpflow 1.6.1 where its effect can be seen."""

from __future__ import annotations

import re
import subprocess
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from capturekit import SAMPLES, sample_generator
from conftest import CORPUS, require_corpus, require_oracle
from forensics_tcpflow.cli import main
from forensics_tcpflow.environment import Environment
from forensics_tcpflow.scan.netviz import Tallies
from forensics_tcpflow.settings import NS, SettingError, Settings, parse_settings
from oracles import TCPFLOW
from report_samples import make_flow

GET = "zeek__http_get.pcap"
PIPELINED = "zeek__http_pipelined-requests.pcap"
LOGGER = """#!/bin/sh
echo "$#|$1" >> "{log}"
"""


def _tcpflow(capture: Path, outdir: Path, *args: str, **kw) -> subprocess.CompletedProcess:
    outdir.mkdir(parents=True, exist_ok=True)
    return subprocess.run([TCPFLOW, *args, "-r", str(capture), "-o", str(outdir)], capture_output=True,
                          timeout=120, **kw)


def _ours(capture: Path, outdir: Path, *args: str) -> int:
    return main([*args, "-r", str(capture), "-o", str(outdir), "-q"], Environment(log=lambda line: None))


def _times(report: Path) -> dict[str, tuple[datetime, datetime]]:
    """Flow file name -> (start, end) from either tool's report (tcpflow quotes with ', we with ")."""
    text = report.read_text()
    found = {}
    for block in re.findall(r"<fileobject>(.*?)</fileobject>", text, re.S):
        name = re.search(r"<filename>(?:.*/)?([^<]*)</filename>", block)
        start = re.search(r"startime=['\"]([^'\"]*)['\"]", block)
        end = re.search(r"endtime=['\"]([^'\"]*)['\"]", block)
        if name and start and end:
            found[name[1]] = (_instant(start[1]), _instant(end[1]))
    return found


def _instant(text: str) -> datetime:
    whole, _, fraction = text.rstrip("Z").partition(".")
    return datetime.fromisoformat(whole + "." + (fraction + "000000")[:6] if fraction else whole)


def _logger(tmp: Path) -> tuple[Path, Path]:
    log = tmp / "ran.log"
    script = tmp / "log.sh"
    script.write_text(LOGGER.format(log=log))
    script.chmod(0o755)
    return script, log


# --------------------------------------------------------------------------- parsing

def test_defaults_are_tcpflows() -> None:
    assert parse_settings([]) == Settings()
    assert Settings().recorded() == {
        "tdelta": "0", "enable_report": "YES", "http_cmd": "", "http_alert_fd": "-1",
        "netviz_histogram_size": "1000", "tcp_timeout": "0", "tcp_cmd": "", "tcp_alert_fd": "-1",
        "check_fcs": "YES"}


def test_values_are_typed_and_later_ones_win() -> None:
    settings = parse_settings(["tdelta=1.5", "tdelta=-2.25", "enable_report=no", "tcp_cmd=/bin/echo 'a b'",
                               "check_fcs=NO", "tcp_timeout=30", "netviz_histogram_size=5"])
    assert settings.tdelta_ns == -2_250_000_000 and settings.tcp_timeout_ns == 30 * NS
    assert settings.enable_report is False and settings.check_fcs is False
    assert settings.tcp_cmd == ("/bin/echo", "a b") and settings.netviz_histogram_size == 5
    assert settings.recorded()["tcp_cmd"] == "/bin/echo 'a b'" and settings.recorded()["tdelta"] == "-2.25"


@pytest.mark.parametrize("pair", ["bogus=1", "tdelta", "tdelta=abc", "tdelta=nan", "tcp_timeout=-1",
                                  "enable_report=maybe", "http_alert_fd=-2", "netviz_histogram_size=0",
                                  "tcp_cmd=\"unclosed"])
def test_unknown_names_and_malformed_values_are_refused(pair: str) -> None:
    with pytest.raises(SettingError, match="known: tdelta, enable_report"):
        parse_settings([pair])


def test_a_bad_setting_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capture = SAMPLES / "http.pcap"
    assert main(["-S", "tdeltaa=3", "-r", str(capture), "-o", str(tmp_path / "out")]) == 2
    assert "known: tdelta" in capsys.readouterr().err
    assert main(["-S", "tcp_alert_fd=999", "-r", str(capture), "-o", str(tmp_path / "out")]) == 2
    assert main(["-S", "tcp_timeout=5", "--idle-timeout", "5", "-r", str(capture), "-o", str(tmp_path / "out")]) == 2
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------------------- against tcpflow

@pytest.mark.parametrize("delta", ["100", "-3600"])
def test_tdelta_moves_names_and_report_times_as_tcpflow(delta: str, tmp_path: Path) -> None:
    require_oracle(TCPFLOW)
    require_corpus()
    theirs, ours = tmp_path / "theirs", tmp_path / "ours"
    _tcpflow(CORPUS / GET, theirs, "-S", f"tdelta={delta}", "-Ft")
    assert _ours(CORPUS / GET, ours, "-S", f"tdelta={delta}", "-Ft") == 0
    names = sorted(p.name for p in theirs.iterdir() if p.name != "report.xml")
    assert names and names[0].startswith(str(1362692526 + int(delta)))
    assert sorted(p.name for p in ours.iterdir() if p.name[0].isdigit()) == names
    mine, reference = _times(ours / "report.xml"), _times(theirs / "report.xml")
    assert {name: start for name, (start, _) in mine.items()} == {name: start for name, (start, _) in reference.items()}
    plain = tmp_path / "plain"
    assert _ours(CORPUS / GET, plain, "-Ft") == 0
    shift = timedelta(seconds=int(delta))
    assert sorted(mine.values()) == sorted((start + shift, end + shift) for start, end in _times(plain / "report.xml").values())
    assert f'<ftf:option name="settings.tdelta" value="{delta}">' in (ours / "report.xml").read_text()
    for name in names:
        assert (ours / name).stat().st_mtime_ns // 1000 == (theirs / name).stat().st_mtime_ns // 1000


def _idle_capture(tmp: Path) -> Path:
    """A connection that sends, stays idle 5 s, then both sides send again and close."""
    g = sample_generator()
    conv = g.conversation(g.ethernet(g.ETH_IPV4))
    first = conv.handshake() + [conv.packet(True, g.PSH | g.ACK, b"first part\n"), conv.packet(False, g.ACK)]
    late = [conv.packet(True, g.PSH | g.ACK, b"after five idle seconds\n"),
            conv.packet(False, g.PSH | g.ACK, b"reply\n")] + conv.close()
    path = tmp / "idle.pcap"
    path.write_bytes(g.pcap_bytes(g.LINKTYPE_ETHERNET, g.timed(first) + g.timed(late, g.BASE_NS + 5 * g.NS)))
    return path


def test_tcp_timeout_splits_an_idle_connection(tmp_path: Path) -> None:
    """tcpflow closes the server side, idle when the client resumes, and starts it afresh (its first
    part held no data, so the new file takes the plain name); the client side, applied before
    tcpflow looks for idle flows, keeps its file there. We close the whole connection: the client's
    late bytes start a c1 file."""
    require_oracle(TCPFLOW)
    capture = _idle_capture(tmp_path)
    client, server = "010.000.000.001.49152-010.000.000.002.00080", "010.000.000.002.00080-010.000.000.001.49152"
    theirs, ours, never = tmp_path / "theirs", tmp_path / "ours", tmp_path / "never"
    _tcpflow(capture, theirs, "-S", "tcp_timeout=2")
    assert _ours(capture, ours, "-S", "tcp_timeout=2") == 0
    assert _ours(capture, never, "-S", "tcp_timeout=10") == 0
    assert (ours / server).read_bytes() == (theirs / server).read_bytes() == b"reply\n"
    assert (theirs / "report.xml").read_text().count(f"{server}</filename>") == 1
    assert (theirs / "report.xml").read_text().count("<fileobject>") == 3          # the server side twice
    assert (ours / client).read_bytes() == b"first part\n"
    assert (ours / f"{client}c1").read_bytes() == b"after five idle seconds\n"
    assert (theirs / client).read_bytes() == b"first part\nafter five idle seconds\n" == (never / client).read_bytes()
    assert (ours / "report.xml").read_text().count('close_reason="idle"') == 2


def test_enable_report_no_writes_no_report_as_tcpflow(tmp_path: Path) -> None:
    require_oracle(TCPFLOW)
    require_corpus()
    theirs, ours = tmp_path / "theirs", tmp_path / "ours"
    _tcpflow(CORPUS / GET, theirs, "-S", "enable_report=NO")
    assert _ours(CORPUS / GET, ours, "-S", "enable_report=NO") == 0
    assert sorted(p.name for p in ours.iterdir()) == sorted(p.name for p in theirs.iterdir())
    assert not (ours / "report.xml").exists() and not (ours / "flows.jsonl").exists()


def test_http_cmd_runs_once_per_body_with_its_path_as_tcpflow(tmp_path: Path, monkeypatch) -> None:
    require_oracle(TCPFLOW)
    require_corpus()
    script, log = _logger(tmp_path)
    monkeypatch.chdir(tmp_path)        # both tools name the file under OUT as given: a relative OUT shows it
    _tcpflow(CORPUS / PIPELINED, Path("theirs"), "-e", "http", "-S", f"http_cmd={script}")
    for _ in range(50):       # tcpflow forks each command and does not wait for the last ones
        if len(log.read_text().splitlines()) >= 5:
            break
        subprocess.run(["sleep", "0.1"], check=True)
    theirs = sorted(log.read_text().replace("theirs/", "OUT/").splitlines())
    log.unlink()
    assert _ours(CORPUS / PIPELINED, Path("ours"), "-e", "http", "-S", f"http_cmd={script}") == 0
    ours = sorted(log.read_text().replace("ours/", "OUT/").splitlines())
    assert len(ours) == 5 and ours == theirs
    report = Path("ours/report.xml").read_text()
    assert len(re.findall(r'<ftf:command setting="http_cmd" filename="[^"]*-HTTPBODY-[^"]*" status="0"', report)) == 5


def test_tcp_cmd_runs_once_per_flow_file_as_tcpflow(tmp_path: Path, monkeypatch) -> None:
    require_oracle(TCPFLOW)
    require_corpus()
    script, log = _logger(tmp_path)
    monkeypatch.chdir(tmp_path)
    _tcpflow(CORPUS / GET, Path("theirs"), "-S", f"tcp_cmd={script}")
    for _ in range(50):
        if len(log.read_text().splitlines()) >= 2:
            break
        subprocess.run(["sleep", "0.1"], check=True)
    theirs = sorted(log.read_text().replace("theirs/", "OUT/").splitlines())
    log.unlink()
    assert _ours(CORPUS / GET, Path("ours"), "-S", f"tcp_cmd={script}") == 0
    assert sorted(log.read_text().replace("ours/", "OUT/").splitlines()) == theirs and len(theirs) == 2


def test_a_failing_missing_or_slow_command_never_stops_the_run(tmp_path: Path, monkeypatch) -> None:
    from forensics_tcpflow.scan import commands
    monkeypatch.setattr(commands, "COMMAND_TIMEOUT_S", 0.5)
    capture = SAMPLES / "http.pcap"
    for command, expect in (("false", 'status="1"'), ("/no/such/tool", "cannot run /no/such/tool"),
                            ("sh -c 'sleep 30'", "killed after 0.5 s")):
        out = tmp_path / re.sub(r"\W", "_", command)
        lines: list[str] = []
        assert main(["-S", f"tcp_cmd={command}", "-r", str(capture), "-o", str(out)], Environment(log=lines.append)) == 0
        assert (out / "report.xml").read_text().count(expect) == 2
        assert any("2 of 2 -S command runs did not exit 0" in line for line in lines)
        assert main(["validate", str(out / "report.xml")]) == 0


@pytest.mark.parametrize("setting, scanner", [("tcp_alert_fd", ()), ("http_alert_fd", ("-e", "http"))])
def test_alert_fd_lines_as_tcpflow(setting: str, scanner: tuple[str, ...], tmp_path: Path, monkeypatch) -> None:
    require_oracle(TCPFLOW)
    require_corpus()
    monkeypatch.chdir(tmp_path)
    lines = {}
    for who in ("theirs", "ours"):
        with open(tmp_path / f"{who}.alerts", "wb") as sink:
            fd = sink.fileno()
            if who == "theirs":
                _tcpflow(CORPUS / PIPELINED, Path(who), *scanner, "-S", f"{setting}={fd}", pass_fds=(fd,))
            else:
                assert _ours(CORPUS / PIPELINED, Path(who), *scanner, "-S", f"{setting}={fd}") == 0
        lines[who] = sorted((tmp_path / f"{who}.alerts").read_text().replace(f"{who}/", "OUT/").splitlines())
    theirs = [line for line in lines["theirs"] if not line.endswith("c1")]   # tcpflow's padding-only c1 file
    assert theirs and lines["ours"] == theirs


def test_check_fcs_no_reads_frames_with_a_wrong_fcs(tmp_path: Path) -> None:
    """tcpflow's check_fcs belongs to its wifiviz scanner; ours decides whether such a frame is decoded."""
    capture = SAMPLES / "wifi-radiotap.pcap"
    for value, counter in (("YES", 'name="802.11:bad-fcs" value="1"'), ("NO", 'name="802.11:bad-fcs-accepted" value="1"')):
        out = tmp_path / value
        assert _ours(capture, out, "-S", f"check_fcs={value}") == 0
        assert counter in (out / "report.xml").read_text()


def test_netviz_histogram_size_bounds_the_address_histograms() -> None:
    """tcpflow's netviz keeps address trees of at most this many nodes; we keep the largest."""
    tallies = Tallies(histogram_size=3)
    for host in range(1, 20):
        tallies.add(make_flow(host, src=f"10.0.0.{host}", wire_bytes=host * 100))
    assert 3 <= len(tallies.src) <= 6 and tallies.src.most_common(1)[0] == ("10.0.0.19", 1900)
    assert parse_settings(["netviz_histogram_size=3"]).netviz_histogram_size == 3


def test_command_hooks_are_refused_in_a_jail(tmp_path: Path) -> None:
    """-z shuts the run away from the commands' world, as it does for scanners."""
    lines: list[str] = []
    assert main(["-i", "lo", "-U", "nobody", "-z", str(tmp_path), "-o", str(tmp_path / "out"),
                 "-S", "tcp_cmd=/bin/true"], Environment(log=lines.append)) == 2
    assert any("-S commands and alert descriptors" in line for line in lines)
