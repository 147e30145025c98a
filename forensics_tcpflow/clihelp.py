"""Help text drawn from the CLI's own declarations, without rich: plain, wrapped to the terminal
(60 to 120 columns), options grouped in the panels the declarations name, each text said once.
(typer would load rich for its help, twice the start-up time of the whole program.)"""

from __future__ import annotations

import shutil

import typer

from .helpstore import PROGRAM

MIN_WIDTH, MAX_WIDTH = 60, 120


def render_help(ctx: typer.Context) -> str:
    """The help of the command `ctx` runs, usage line first (with the sub-command's name)."""
    from typer._click.formatting import HelpFormatter

    width = max(MIN_WIDTH, min(shutil.get_terminal_size().columns, MAX_WIDTH))
    formatter = HelpFormatter(width=width, max_width=width)
    command = ctx.command
    arguments = [p for p in command.params if p.param_type_name == "argument"]
    usage = ["[OPTIONS]", *map(_argument, arguments)]
    formatter.write_usage(ctx.info_name or PROGRAM, " ".join(usage))
    for paragraph in (command.help or "").split("\n\n"):
        formatter.write_paragraph()
        with formatter.indentation():
            formatter.write_text(paragraph)
    panels: dict[str, list[tuple[str, str]]] = {}
    for param in command.params:
        if getattr(param, "hidden", False):
            continue
        names = _argument(param) if param in arguments else ", ".join(param.opts)
        if param not in arguments and param.metavar:
            names += f" {param.metavar}"
        default = "Arguments" if param in arguments else "Options"
        panels.setdefault(getattr(param, "rich_help_panel", None) or default, []).append(
            (names, getattr(param, "help", None) or ""))
    for panel, rows in panels.items():
        with formatter.section(panel):
            formatter.write_dl(rows, col_max=24)
    return formatter.getvalue()


def _argument(param: typer.core.TyperArgument) -> str:
    """CAPTURE as click's usage line shows it: [CAPTURE]... when optional and repeatable."""
    name = param.metavar or param.name.upper()
    return (name if param.required else f"[{name}]") + ("..." if param.nargs == -1 else "")


def help_option(value: bool, ctx: typer.Context) -> None:
    """-h/--help: print the plain help and end (exit 0)."""
    if value:
        typer.echo(render_help(ctx), nl=False)
        raise typer.Exit(0)

