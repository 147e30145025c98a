"""The progress bar as an examiner sees it on a terminal."""

from __future__ import annotations

import sys

import pytest

from forensics_tcpflow.environment import Environment, Progress
from forensics_tcpflow.progress import ProgressBars


def test_live_capture_shows_packets_bytes_open_flows_and_drops(monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    env = Environment()
    with ProgressBars(env):
        env.progress(Progress("start-run", "", 0))
        env.progress(Progress("start-capture", "lo", 0))
        env.progress(Progress("live", "lo", 20, {"packets": 20, "bytes": 9000, "flows": 3, "dropped": 7}))
        last = capsys.readouterr().err.split("\r")[-1]
        env.progress(Progress("end-capture", "lo", 0))
    assert "8.79kB" in last and "packets=20" in last and "open_flows=3" in last and "dropped=7" in last
