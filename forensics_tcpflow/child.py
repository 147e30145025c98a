"""Helper processes of a run: a module of this package run as `python -m`, beside the parent.

They start in a session of their own, so a Ctrl-C at the terminal reaches only
the parent, which decides what an interruption means for them (they are told
through their stdin, or simply waited for).
"""

from __future__ import annotations

import subprocess
import sys


def start(module: str, *args: str, stdin: int = subprocess.PIPE, stdout: int = subprocess.PIPE) -> "subprocess.Popen[bytes]":
    return subprocess.Popen([sys.executable, "-m", module, *args], stdin=stdin, stdout=stdout,
                            stderr=subprocess.PIPE, start_new_session=True)


def failure(proc: "subprocess.Popen[bytes]", err: bytes | None) -> str:
    """What a helper said before it failed, or at least how it ended."""
    return (err or b"").decode("utf-8", "replace").strip() or f"exit status {proc.returncode}"
