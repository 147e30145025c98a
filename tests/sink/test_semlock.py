"""-L NAME: console prints wait for the named semaphore other runs hold."""

from __future__ import annotations

import io
import os
import threading
from pathlib import Path

import pytest

from capturekit import SAMPLES
from conftest import require_extra
from forensics_tcpflow.cli import main
from forensics_tcpflow.environment import Environment


def _console(name: str | None) -> tuple[int, bytes]:
    raw = io.BytesIO()
    out = io.TextIOWrapper(raw, write_through=True)     # the printer writes to its .buffer
    rc = main(["-c", *(["-L", name] if name else []), "-r", str(SAMPLES / "http.pcap")],
              Environment(stdout=out, log=lambda line: None))
    return rc, raw.getvalue()


def test_prints_wait_for_the_semaphore_and_come_out_the_same() -> None:
    require_extra("posix_ipc", "lock")
    import posix_ipc
    name = f"/forensics-tcpflow-test-{os.getpid()}"
    held = posix_ipc.Semaphore(name, posix_ipc.O_CREX, initial_value=0)     # another run is printing
    try:
        result: list[tuple[int, bytes]] = []
        worker = threading.Thread(target=lambda: result.append(_console(name.lstrip("/"))))
        worker.start()
        worker.join(0.5)
        assert worker.is_alive() and not result        # waiting for the semaphore
        held.release()
        worker.join(30)
        assert not worker.is_alive()
        assert result == [_console(None)] and result[0][0] == 0 and result[0][1]
        assert held.value == 1                          # released after every print
    finally:
        held.unlink()
        held.close()


def test_a_missing_posix_ipc_is_a_usage_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import builtins
    real_import = builtins.__import__

    def no_posix_ipc(name, *args, **kwargs):
        if name == "posix_ipc":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)
    monkeypatch.setattr(builtins, "__import__", no_posix_ipc)
    lines: list[str] = []
    assert main(["-c", "-L", "x", "-r", str(SAMPLES / "http.pcap")], Environment(log=lines.append)) == 2
    assert any("[lock]" in line for line in lines)
