"""Sub-commands beside the main job: `validate` and `verify`.

Their machinery (lxml, the schemas, the verifier) loads when one of them runs: the CLI
imports this module for every command line, --help included.
"""

from __future__ import annotations

from pathlib import Path

import typer

from .clihelp import help_option
from .environment import Environment
from .exitstatus import ExitStatus

PLAIN = {"add_completion": False, "pretty_exceptions_enable": False, "context_settings": {"help_option_names": []}}
validate_app = typer.Typer(**PLAIN)
verify_app = typer.Typer(**PLAIN)
HELP = typer.Option(False, "-h", "--help", metavar="", is_eager=True, expose_value=False, callback=help_option,
                    help="Show this message and exit.")
REPORT = typer.Argument(..., exists=True, dir_okay=False, metavar="REPORT", show_default=False,
                        help="A report.xml (or a -X report) written by forensics-tcpflow.")


@validate_app.command(help="Validate a report against DFXML 2.0.0-beta.0 and the project's own schema."
                      "\n\nExit status: 0 valid; 1 not valid (each problem is listed); 2 usage error.")
def validate(ctx: typer.Context, report: Path = REPORT, show_help: bool = HELP) -> None:
    from .report.validate import validate_report
    env: Environment = ctx.obj
    problems = validate_report(report, thorough=True)
    for problem in problems:
        env.stdout.write(f"{report}: {problem}\n")
    if not problems:
        env.stdout.write(f"{report}: valid\n")
    raise typer.Exit(int(ExitStatus.INPUT_ERRORS if problems else ExitStatus.OK))


@verify_app.command(help="Re-hash every file REPORT vouches for (flow files, bodies, -I/-K/-w files, pictures,"
                    " input captures) and list what is missing, changed, or extra in the run's output directory"
                    " (as the report records it); nothing outside it is looked at. A report of an interrupted run is"
                    " said to be one.\n\nExit status: 0 everything matches; 1 the report cannot be read;"
                    " 2 usage error; 4 verify mismatch.")
def verify(ctx: typer.Context, report: Path = REPORT, show_help: bool = HELP) -> None:
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
