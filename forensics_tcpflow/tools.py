"""Sub-commands beside the main job: `validate` (and, with the batch stage, `verify`)."""

from __future__ import annotations

from pathlib import Path

import typer

from .environment import Environment
from .exitstatus import ExitStatus
from .report.validate import validate_report

validate_app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)


@validate_app.command(help="Validate a report against DFXML 2.0.0-beta.0 and the project's own schema.")
def validate(ctx: typer.Context, report: Path = typer.Argument(..., exists=True, dir_okay=False)) -> None:
    env: Environment = ctx.obj
    problems = validate_report(report)
    for problem in problems:
        env.stdout.write(f"{report}: {problem}\n")
    if not problems:
        env.stdout.write(f"{report}: valid\n")
    raise typer.Exit(int(ExitStatus.INPUT_ERRORS if problems else ExitStatus.OK))


TOOLS: dict[str, typer.Typer] = {"validate": validate_app}
