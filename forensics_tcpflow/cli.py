"""Command line: parse options, draw progress, call the core. Nothing else."""

from __future__ import annotations

import os
import shlex
import sys
from typing import Optional

import typer

from . import __version__
from .environment import Environment
from .exitstatus import REPORT_BUGS, ExitStatus
from .options import DEFAULT_TEMPLATE, NS, Options
from .progress import ProgressBars

EXIT_HELP = ("Exit status: 0 all good; 1 some inputs had errors (or OUT could not be written); 2 usage error;"
             " 3 internal error (a bug of ours: please report it); 4 verify mismatch; 130 interrupted (SIGINT/SIGTERM: the report is complete and marked"
             " interrupted; continue with --resume).\n\n"
             "Other commands: `verify REPORT` re-hashes every flow file and input capture a report names;"
             " `validate REPORT` checks a report against its schemas.")

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, context_settings={"help_option_names": ["-h", "--help"]})


def _split(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip())


@app.command(help="Reassemble every TCP flow of the captures into tcpflow-named files and a DFXML report.\n\n"
             + EXIT_HELP, epilog=EXIT_HELP)
def flows(
    ctx: typer.Context,
    inputs: list[str] = typer.Argument(None, help="Capture files or folders of captures."),
    read: list[str] = typer.Option([], "-r", help="A capture to read (as tcpflow's -r); repeatable."),
    outdir: str = typer.Option(".", "-o", "--outdir", help="Output directory."),
    bpf: Optional[str] = typer.Option(None, "--filter", help="tcpdump filter expression (with -r, tcpflow's trailing expression works too)."),
    overlap: str = typer.Option("first", "--overlap", help="Which copy wins on conflicting overlaps: first|last (tcpflow)."),
    max_seek: int = typer.Option(16 * 1024 * 1024, "-m", help="A sequence jump this far starts a new cN file."),
    max_fds: int = typer.Option(1000, "-f", help="Open flow files at most."),
    max_bytes: Optional[int] = typer.Option(None, "-b", help="Store at most this many bytes per direction."),
    template: str = typer.Option(DEFAULT_TEMPLATE, "-T", help="File name template, as tcpflow's."),
    fflags: str = typer.Option("", "-F", help="tcpflow format letters: k m g t T c X."),
    idle_timeout: float = typer.Option(0.0, "--idle-timeout", help="Close a connection idle this many seconds (0: never)."),
    frag_timeout: float = typer.Option(60.0, "--frag-timeout", help="Seconds a fragmented datagram may take to complete."),
    hashes: str = typer.Option("md5,sha256", "--hash", help="Hashes per flow file: md5,sha1,sha256,sha512."),
    reports: str = typer.Option("dfxml,jsonl,csv", "--report", help="Report formats: dfxml,jsonl,csv."),
    report_path: Optional[str] = typer.Option(None, "-X", help="DFXML report path (default OUT/report.xml)."),
    jobs: int = typer.Option(0, "-j", "--jobs", help="Worker processes over captures (0: all cores); outputs are the same for any N."),
    merge: bool = typer.Option(False, "--merge", help="Treat all inputs as one evidence set (rotated captures), read in first-packet order."),
    resume: bool = typer.Option(False, "--resume", help="Continue an interrupted (or killed) run in OUT from its journal."),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="No progress bars."),
    rehash_inputs: bool = typer.Option(False, "--rehash-inputs", help="Read every input a second time after the run and compare digests (the identity and times of every input are always compared)."),
    version: bool = typer.Option(False, "-V", "--version", help="Print the version and exit."),
) -> None:
    if version:
        typer.echo(f"forensics-tcpflow {__version__}")
        raise typer.Exit(ExitStatus.OK)
    inputs = list(inputs or ())
    if read and inputs and not any(os.path.exists(i) for i in inputs):
        if bpf:
            raise typer.BadParameter("give the filter either with --filter or after -r FILE, not both", param_hint="--filter")
        bpf, inputs = " ".join(inputs), []       # tcpflow -r FILE EXPRESSION
    captures = tuple(read) + tuple(inputs)
    if not captures:
        raise typer.BadParameter("no capture given (CAPTURE... or -r FILE)", param_hint="CAPTURE")
    if overlap not in ("first", "last"):
        raise typer.BadParameter("must be 'first' or 'last'", param_hint="--overlap")
    unknown = [h for h in _split(hashes) if h not in ("md5", "sha1", "sha256", "sha512")]
    if unknown:
        raise typer.BadParameter(f"unknown hash {', '.join(unknown)}", param_hint="--hash")
    options = Options(
        inputs=captures, outdir=outdir, overlap=overlap, max_seek=max_seek, max_fds=max_fds,
        max_bytes=max_bytes, template=template, fflags=fflags, bpf=bpf,
        idle_timeout_ns=int(idle_timeout * NS), frag_timeout_ns=int(frag_timeout * NS),
        hashes=_split(hashes), reports=_split(reports), report_path=report_path, jobs=jobs,
        merge=merge, resume=resume, quiet=quiet, rehash_inputs=rehash_inputs,
    )
    env: Environment = ctx.obj
    from .core import run       # the pipeline loads only for a run, not for --help or --version
    with ProgressBars(env, enabled=not quiet):
        status = run(options, env)
    raise typer.Exit(int(status))


def main(argv: list[str] | None = None, env: Environment | None = None) -> int:
    """Entry point for the console script and for tests (in-process)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    env = env or Environment()
    env.command_line = env.command_line or shlex.join(["forensics-tcpflow", *argv])
    from .tools import TOOLS
    command = TOOLS.get(argv[0]) if argv else None
    target = command if command is not None else app
    try:
        return int(target(args=argv[1:] if command else argv, obj=env, standalone_mode=False) or 0)
    except typer.Exit as exc:
        return int(exc.exit_code)
    except typer.TyperException as exc:       # typer's (vendored) click usage errors
        exc.show(file=sys.stderr)
        return int(ExitStatus.USAGE)
    except (typer.Abort, KeyboardInterrupt):
        return int(ExitStatus.INTERRUPTED)
    except Exception as exc:  # a bug of ours: one clear line, never a traceback
        env.error(f"internal error: {type(exc).__name__}: {exc}")
        env.log(f"forensics-tcpflow: {REPORT_BUGS}")
        return int(ExitStatus.INTERNAL_ERROR)
