"""Sub-commands beside the main job: `validate`, `verify`, `diff` and `reproduce`.

Their machinery (lxml, the schemas, the verifier) loads when one of them runs: the CLI
imports this module for every command line, --help included.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import typer

from .clihelp import help_option
from .environment import Environment
from .exitstatus import ExitStatus

PLAIN = {"add_completion": False, "pretty_exceptions_enable": False, "context_settings": {"help_option_names": []}}
validate_app = typer.Typer(**PLAIN)
verify_app = typer.Typer(**PLAIN)
diff_app = typer.Typer(**PLAIN)
reproduce_app = typer.Typer(**PLAIN)
HELP = typer.Option(False, "-h", "--help", metavar="", is_eager=True, expose_value=False, callback=help_option,
                    help="Show this message and exit.")
REPORT = typer.Argument(..., exists=True, dir_okay=False, metavar="REPORT", show_default=False,
                        help="A report.xml (or a -X report) written by forensics-tcpflow.")
AUDIT_EXIT = ("\n\nExit status: 0 the outputs are identical (run times, hosts and output paths never count);"
              " 4 they differ; 1 a report cannot be read; 2 usage error.")


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


def _audit(env: Environment, all_: bool, as_json: bool, step: Callable[[Callable[[str], None]], Path | None],
           report: Path) -> None:
    """Run `step` (it returns the other report, or None after saying why nothing can be compared), diff the
    two runs and exit with the verdict: the shared end of `diff` and `reproduce`."""
    from lxml import etree

    from .audit.diff import LIMIT, diff_reports
    say = env.log if as_json else (lambda line: env.stdout.write(f"{line}\n"))
    try:
        other = step(say)
        verdict = diff_reports(report, other, None if all_ else LIMIT) if other is not None else None
    except (OSError, ValueError, etree.XMLSyntaxError) as exc:
        env.error(f"cannot read a report: {exc}")
        raise typer.Exit(int(ExitStatus.INPUT_ERRORS))
    if verdict is not None:
        env.stdout.write(verdict.as_json() + "\n" if as_json else "".join(f"{line}\n" for line in verdict.lines()))
        raise typer.Exit(int(ExitStatus.OK if verdict.identical else ExitStatus.VERIFY_MISMATCH))


_ALL = typer.Option(False, "--all", help="Every difference, not the first 20 of each kind.")


@diff_app.command(help="Compare two runs by their reports and the files they name: inputs, options that change"
                  " output, versions, every flow file, body and other file, and the flows' facts. A summary first,"
                  " then the first 20 of each kind." + AUDIT_EXIT)
def diff(ctx: typer.Context, report_a: Path = typer.Argument(..., metavar="REPORT_A"),
         report_b: Path = typer.Argument(..., metavar="REPORT_B"), all_: bool = _ALL,
         as_json: bool = typer.Option(False, "--json", help="The verdict as JSON."), show_help: bool = HELP) -> None:
    _audit(ctx.obj, all_, as_json, lambda say: report_b, report_a)


@reproduce_app.command(help="Replay the run REPORT describes into NEWOUT, then diff the two runs. The first line"
                       " says whether the product and library versions are the recorded ones; a missing or changed"
                       " input is named and nothing runs (exit 4); live and standard-input runs cannot be replayed"
                       " (exit 2)." + AUDIT_EXIT)
def reproduce(ctx: typer.Context, report: Path = typer.Argument(..., metavar="REPORT"),
              newout: Path = typer.Option(..., "-o", metavar="NEWOUT", help="Where the replay writes."),
              all_: bool = _ALL,
              as_json: bool = typer.Option(False, "--json", help="The verdict as JSON (the versions line on stderr)."),
              show_help: bool = HELP) -> None:
    from .audit.reproduce import replay
    env: Environment = ctx.obj
    status = ExitStatus.OK

    def step(say: Callable[[str], None]) -> Path | None:
        nonlocal status
        status, new_report = replay(report, newout, env, say)
        return new_report

    _audit(env, all_, as_json, step, report)
    raise typer.Exit(int(status))


TOOLS: dict[str, typer.Typer] = {"validate": validate_app, "verify": verify_app, "diff": diff_app,
                                 "reproduce": reproduce_app}
