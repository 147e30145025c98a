"""Sub-commands beside the main job: `validate`, `verify`, `diff` and `reproduce`.

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
diff_app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
reproduce_app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
AUDIT_EXIT = ("\n\nExit status: 0 the outputs are identical (run times, hosts and output paths never count);"
              " 4 they differ; 1 a report cannot be read; 2 usage error.")


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


def _show(env: Environment, lines: list[str], json_text: str | None) -> None:
    env.stdout.write(json_text + "\n" if json_text is not None else "".join(f"{line}\n" for line in lines))


@diff_app.command(help="Compare two runs by their reports and the files they name: inputs, options that change"
                  " output, versions, every flow file, body and other file, and the flows' facts. A summary first,"
                  " then the first 20 of each kind." + AUDIT_EXIT)
def diff(ctx: typer.Context, report_a: Path = typer.Argument(..., metavar="REPORT_A"),
         report_b: Path = typer.Argument(..., metavar="REPORT_B"),
         all_: bool = typer.Option(False, "--all", help="Every difference, not the first 20 of each kind."),
         as_json: bool = typer.Option(False, "--json", help="The verdict as JSON.")) -> None:
    from lxml import etree

    from .audit.diff import LIMIT, diff_reports
    env: Environment = ctx.obj
    try:
        verdict = diff_reports(report_a, report_b, None if all_ else LIMIT)
    except (OSError, ValueError, etree.XMLSyntaxError) as exc:
        env.error(f"cannot read a report: {exc}")
        raise typer.Exit(int(ExitStatus.INPUT_ERRORS))
    _show(env, list(verdict.lines()), verdict.as_json() if as_json else None)
    raise typer.Exit(int(ExitStatus.OK if verdict.identical else ExitStatus.VERIFY_MISMATCH))


@reproduce_app.command(help="Replay the run REPORT describes into NEWOUT, then diff the two runs. The first line"
                       " says whether the product and library versions are the recorded ones; a missing or changed"
                       " input is named and nothing runs (exit 4); live and standard-input runs cannot be replayed"
                       " (exit 2)." + AUDIT_EXIT)
def reproduce(ctx: typer.Context, report: Path = typer.Argument(..., metavar="REPORT"),
              newout: Path = typer.Option(..., "-o", metavar="NEWOUT", help="Where the replay writes."),
              all_: bool = typer.Option(False, "--all", help="Every difference, not the first 20 of each kind."),
              as_json: bool = typer.Option(False, "--json", help="The verdict as JSON (the versions line on stderr).")
              ) -> None:
    from lxml import etree

    from .audit.diff import LIMIT, diff_reports
    from .audit.reproduce import replay
    env: Environment = ctx.obj
    say = env.log if as_json else (lambda line: env.stdout.write(f"{line}\n"))
    try:
        status, new_report = replay(report, newout, env, say)
        if new_report is None:
            raise typer.Exit(status)
        verdict = diff_reports(report, new_report, None if all_ else LIMIT)
    except (OSError, ValueError, etree.XMLSyntaxError) as exc:
        env.error(f"cannot read a report: {exc}")
        raise typer.Exit(int(ExitStatus.INPUT_ERRORS))
    _show(env, list(verdict.lines()), verdict.as_json() if as_json else None)
    raise typer.Exit(int(ExitStatus.OK if verdict.identical else ExitStatus.VERIFY_MISMATCH))


TOOLS: dict[str, typer.Typer] = {"validate": validate_app, "verify": verify_app, "diff": diff_app,
                                 "reproduce": reproduce_app}
