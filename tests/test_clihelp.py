"""--help and each sub-command's help, as a terminal of 80 or 120 columns shows them."""

from __future__ import annotations

import pytest

from forensics_tcpflow.cli import main
from forensics_tcpflow.environment import Environment
from forensics_tcpflow.helpstore import COMMANDS, rendered, stored_help


@pytest.mark.parametrize("columns", [80, 120])
@pytest.mark.parametrize("command", [(), ("verify",), ("validate",)])
def test_help_reads_cleanly(command: tuple[str, ...], columns: int, monkeypatch: pytest.MonkeyPatch,
                            capsys: pytest.CaptureFixture[str]) -> None:
    """Defect 10: no swallowed [cluster], one panel per title, no type hints (<list[str]>, <bool>, [x>=0.0]),
    the exit statuses said once, the sub-command named in its usage line, nothing wider than the terminal."""
    monkeypatch.setenv("COLUMNS", str(columns))
    main([*command, "--help"], Environment())
    text = capsys.readouterr().out
    assert text.startswith(f"Usage: {' '.join(['forensics-tcpflow', *command])} [OPTIONS]")
    for wrong in ("<list", "<bool>", "<str>", "<int>", "[x>=", "x>=0", "Needs the  extra", "╭", "│"):
        assert wrong not in text, wrong
    assert text.count("Exit status:") == 1
    titles = [line for line in text.splitlines() if line and not line.startswith(" ") and line.endswith(":")]
    assert len(titles) == len(set(titles)), titles
    assert max(len(line) for line in text.splitlines()) <= columns
    if not command:
        assert "Needs the [cluster] extra." in " ".join(text.split())
        assert "Input:" in titles and "[CAPTURE]..." in text
    else:
        assert "REPORT" in text and "-h, --help" in text


def test_stored_help_is_what_the_cli_renders(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bare --help is served from help/*.txt (start-up <= 0.2 s): it must be today's rendering."""
    monkeypatch.setenv("COLUMNS", "80")
    for command in COMMANDS:
        argv = [*filter(None, [command]), "--help"]
        assert stored_help(argv) == rendered(command), "stale: run `python -m forensics_tcpflow.helpstore`"
    assert stored_help(["-r", "x", "--help"]) is None
    monkeypatch.setenv("COLUMNS", "60")
    assert stored_help(["--help"]) is None
