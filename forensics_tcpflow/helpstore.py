"""Stored help: a bare `--help` (or `verify --help`, `validate --help`) on a terminal at least
STORED_WIDTH wide is served from help/*.txt, rendered beforehand by clihelp, because importing typer
alone takes half of the start-up budget of `--help`. A stored text carries a checksum of the sources
it was rendered from and is used only while they are unchanged (else the CLI renders it);
`python -m forensics_tcpflow.helpstore` renders them again, and a test says when that is due.
This module imports nothing the help does not need.
"""

from __future__ import annotations

import shutil
import sys
import zlib
from pathlib import Path

PROGRAM = "forensics-tcpflow"
STORED, STORED_WIDTH = Path(__file__).with_name("help"), 80
COMMANDS = ("", "verify", "validate")          # "": the main command
_SOURCES = ("cli.py", "tools.py", "clihelp.py", "helpstore.py", "options.py")


def stored_help(argv: list[str]) -> str | None:
    """The stored help `argv` asks for, if it asks for nothing else and the text is fresh; else None."""
    command = argv[0] if argv and argv[0] in COMMANDS[1:] else ""
    if argv[1 if command else 0:] not in (["--help"], ["-h"]) or shutil.get_terminal_size().columns < STORED_WIDTH:
        return None
    try:
        key, _, text = _stored_file(command).read_text(encoding="utf-8").partition("\n")
    except OSError:
        return None
    return text if key == _checksum() else None


def _stored_file(command: str) -> Path:
    return STORED / f"{command or PROGRAM}.txt"


def _checksum() -> str:
    here = Path(__file__).parent
    return f"{zlib.crc32(b''.join((here / name).read_bytes() for name in _SOURCES)):08x}"


def rendered(command: str) -> str:
    """The help of `command` as the CLI renders it at STORED_WIDTH columns."""
    import contextlib
    import io
    import os

    from .cli import main
    out, saved = io.StringIO(), os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(STORED_WIDTH)
    try:
        with contextlib.redirect_stdout(out):
            main([*filter(None, [command]), "--help"])
    finally:
        os.environ.pop("COLUMNS") if saved is None else os.environ.update(COLUMNS=saved)
    return out.getvalue()


def store() -> None:
    """Render every command's help into help/*.txt, keyed to the sources."""
    STORED.mkdir(exist_ok=True)
    for command in COMMANDS:
        _stored_file(command).write_text(f"{_checksum()}\n{rendered(command)}", encoding="utf-8")


if __name__ == "__main__":
    store()
    sys.exit(0)
