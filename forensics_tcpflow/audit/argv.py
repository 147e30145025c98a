"""A recorded command's arguments as the real CLI reads them: which ones name outputs, so `reproduce`
can move them into NEWOUT and `diff` can set them aside when it compares the options as given."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from functools import cache
from typing import Any, Callable

import typer
import typer.main

OUTPUTS = ("outdir_given", "report_path", "unprocessed")    # -o, -X, -w: where the run wrote, not what
STATE_FLAGS = ("--resume", "--fresh")     # about OUT's state, not the evidence: a replay starts afresh


@dataclass(frozen=True, slots=True)
class Token:
    """One argument: `text` as given; `value` and `param` when it is (or carries, as -oDIR or
    --outdir=DIR) an option's value, `text` then holding what comes before the value."""

    text: str
    value: str | None = None
    param: str | None = None

    def render(self, value: str | None = None) -> str:
        return self.text + (value if value is not None else self.value or "")


@cache
def _command() -> Any:      # typer's vendored click Command
    from ..cli import app
    return typer.main.get_command(app)


def parse(argv: tuple[str, ...]) -> dict[str, Any]:
    """The parameters the CLI would run with (no callbacks run); raises the CLI's usage error."""
    return dict(_command().make_context("forensics-tcpflow", list(argv), resilient_parsing=True).params)


def tokens(argv: tuple[str, ...]) -> list[Token]:
    """Split as the CLI's parser does: long options with =, clusters of short flags, -oVALUE, --."""
    options = {opt: param for param in _command().params if getattr(param, "is_flag", None) is not None
               for opt in (*param.opts, *param.secondary_opts)}
    out: list[Token] = []
    rest = iter(argv)
    literal = False
    for arg in rest:
        if literal or arg == "-" or not arg.startswith("-"):
            out.append(Token(arg))
        elif arg == "--":
            out.append(Token(arg))
            literal = True
        elif arg.startswith("--"):
            name, eq, value = arg.partition("=")
            param = options.get(name)
            if param is None or param.is_flag:
                out.append(Token(arg))
            elif eq:
                out.append(Token(name + "=", value, param.name))
            else:
                out.extend((Token(arg), Token("", next(rest, ""), param.name)))
        else:
            out.extend(_short(arg, options, rest))
    return out


def _short(arg: str, options: dict[str, Any], rest: Any) -> list[Token]:
    for pos in range(1, len(arg)):
        param = options.get("-" + arg[pos])
        if param is not None and not param.is_flag:
            if pos + 1 < len(arg):
                return [Token(arg[:pos + 1], arg[pos + 1:], param.name)]
            return [Token(arg), Token("", next(rest, ""), param.name)]
    return [Token(arg)]


def rewrite(argv: tuple[str, ...], move: Callable[[str], str]) -> tuple[str, ...]:
    """The arguments with every output path moved and --resume/--fresh left out."""
    return tuple(token.render(move(token.value or "") if token.param in OUTPUTS else None)
                 for token in tokens(argv) if token.text not in STATE_FLAGS)


def as_given(argv: tuple[str, ...]) -> str:
    """For comparing two runs' options as given: output paths shown as OUT, state flags left out."""
    return shlex.join(rewrite(argv, lambda path: "OUT"))
