"""The console script as a process: what a shell sees (exit status, standard error)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from batchkit import CORPUS
from forensics_tcpflow.exitstatus import ExitStatus

pytestmark = pytest.mark.usefixtures("corpus")
ROOT = Path(__file__).resolve().parents[1]


def test_a_closed_stdout_ends_a_console_run_quietly(tmp_path: Path) -> None:
    """Defect 6: `forensics-tcpflow -c -r F | head` exits 141 (SIGPIPE's convention), says nothing on stderr."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "forensics_tcpflow", "-c", "-r",
                             str(CORPUS / "pcapplusplus__4KHttpRequests.pcap")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=tmp_path)
    assert proc.stdout is not None and proc.stderr is not None
    assert len(proc.stdout.read(100)) == 100
    proc.stdout.close()
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == ExitStatus.STDOUT_CLOSED
    assert stderr == ""
    assert list(tmp_path.iterdir()) == []
