"""Sub-commands beside the main job: `validate` and `verify`.

Their machinery (lxml, the schemas, the verifier) loads when one of them runs: the CLI
imports this module for every command line, --help included.
"""

from __future__ import annotations

from pathlib import Path

import typer

from .environment import Environment
from .exitstatus import ExitStatus

validate_app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
verify_app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)


@validate_app.command(help="Validate a report against DFXML 2.0.0-beta.0 and the project's own schema.")
def validate(ctx: typer.Context, report: Path = typer.Argument(..., exists=True, dir_okay=False)) -> None:
    from .report.validate import validate_report
    env: Environment = ctx.obj
    problems = validate_report(report, thorough=True)
    for problem in problems:
        env.stdout.write(f"{report}: {problem}\n")
    if not problems:
        env.stdout.write(f"{report}: valid\n")
    raise typer.Exit(int(ExitStatus.INPUT_ERRORS if problems else ExitStatus.OK))


@verify_app.command(help="Re-hash every flow file and input capture named in REPORT; list what is missing,"
                    " changed or extra.\n\nExit status: 0 everything matches; 4 verify mismatch;"
                    " 1 the report cannot be read; 2 usage error.")
def verify(ctx: typer.Context, report: Path = typer.Argument(..., exists=True, dir_okay=False)) -> None:
    from lxml import etree

    from .batch.verify import verify_report
    env: Environment = ctx.obj
    try:
        verdict = verify_report(report)
    except (OSError, etree.XMLSyntaxError) as exc:
        env.error(f"{report}: cannot read the report: {exc}")
        raise typer.Exit(int(ExitStatus.INPUT_ERRORS))
    for line in verdict.lines():
        env.stdout.write(f"{line}\n")
    raise typer.Exit(int(ExitStatus.OK if verdict.ok else ExitStatus.VERIFY_MISMATCH))


TOOLS: dict[str, typer.Typer] = {"validate": validate_app, "verify": verify_app}
