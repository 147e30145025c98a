"""`-r -`: standard input as a capture, and the signals that end such a run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from lxml import etree

from batchkit import CORPUS
from forensics_tcpflow.exitstatus import ExitStatus
from forensics_tcpflow.report.dfxml import FTF_NS

pytestmark = pytest.mark.usefixtures("corpus")
ROOT = Path(__file__).resolve().parents[2]


def test_sigint_ends_an_idle_stdin_run_within_a_second(tmp_path: Path) -> None:
    """Defect 7: the writer keeps standard input open and sends nothing more; SIGINT ends the run at once,
    with a complete report marked interrupted and no advice to --resume (a stream cannot be read again)."""
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "forensics_tcpflow", "-r", "-", "-o", str(out)],
                            stdin=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=tmp_path)
    assert proc.stdin is not None and proc.stderr is not None
    proc.stdin.write((CORPUS / "zeek__http_get.pcap").read_bytes())
    proc.stdin.flush()
    deadline = time.monotonic() + 30
    while not out.exists() and time.monotonic() < deadline:   # OUT appears once the run has begun
        time.sleep(0.05)
    time.sleep(1)                       # it read everything sent and now waits on an idle stream
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    try:
        status = proc.wait(timeout=10)
    finally:
        proc.stdin.close()
    assert time.monotonic() - sent < 1.0
    stderr = proc.stderr.read().decode()
    assert status == ExitStatus.INTERRUPTED, stderr
    assert "--resume" not in stderr and "cannot be resumed" in stderr
    run = etree.parse(str(out / "report.xml")).find(f".//{{{FTF_NS}}}run")
    assert run.get("interrupted") == "true"
