"""The core: options and an environment in, a named exit status out."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .capture.bpf import PacketFilter
from .engine import process_capture
from .environment import Environment
from .exitstatus import ExitStatus
from .flow.naming import TemplateError, build_template
from .flow.record import FlowRecord
from .options import Options
from .provenance import InputSummary
from .report.registry import write_reports
from .report.spool import FlowSpool
from .report.validate import validate_report
from .runinfo import make_run_info
from .batch.walk import walk_inputs


class UsageError(Exception):
    """Options that cannot work together; nothing was written."""


def _inside(child: Path, parent: Path) -> bool:
    try:
        child.relative_to(parent)
        return True
    except ValueError:
        return False


def _check_layout(options: Options, report_path: Path) -> None:
    out = Path(options.outdir).resolve()
    for given in options.inputs:
        src = Path(given).resolve()
        root = src if src.is_dir() else src.parent
        if src.is_dir() and _inside(out, root):
            raise UsageError(f"output directory {options.outdir} lies inside the evidence folder {given}")
        if out == src:
            raise UsageError(f"output directory {options.outdir} is an input")
    if report_path.exists() and not options.resume:
        raise UsageError(f"{report_path} already exists: choose a new output directory (or --resume)")


def run(options: Options, env: Environment) -> ExitStatus:
    start_ns = env.clock_ns()
    report_path = Path(options.report_path or Path(options.outdir) / "report.xml")
    try:
        _check_layout(options, report_path)
        build_template(options.template, options.fflags)
        packet_filter = PacketFilter(options.bpf) if options.bpf else None
    except (UsageError, TemplateError, ValueError) as exc:
        env.error(str(exc))
        return ExitStatus.USAGE
    outdir = Path(options.outdir)
    try:
        outdir.mkdir(parents=True, exist_ok=True)
        report_path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        env.error(f"cannot create output directory {outdir}: {exc.strerror or exc}")
        return ExitStatus.INPUT_ERRORS
    run_info = make_run_info(env.command_line, options, start_ns)
    captures, skipped = walk_inputs(options.inputs)
    status = ExitStatus.OK
    for path, reason in skipped:
        env.warn(f"{path}: skipped: {reason}")
    summaries: list[InputSummary] = []
    with tempfile.TemporaryDirectory(prefix=".ftf-spool-", dir=report_path.parent) as spool_dir:
        spool = FlowSpool(spool_dir, captures=[label for label, _ in captures])
        for path, subdir in captures:
            sink = env.make_sink(outdir / subdir, options.hashes, options.max_fds, "X" not in options.fflags)

            def emit(rec: FlowRecord, subdir: str = subdir) -> None:
                if rec.filename and subdir:
                    rec.filename = f"{subdir}/{rec.filename}"
                spool.add(rec)

            summary = process_capture(path, options, sink, emit, env.progress, packet_filter)
            summary.output_dir = subdir
            summaries.append(summary)
            if summary.error:
                env.error(summary.error)
                status = ExitStatus.INPUT_ERRORS
        spool.close()
        run_info.end_ns = env.clock_ns()
        run_info.exit_status = int(status)
        try:
            write_reports(options.reports, run_info, summaries, spool, options, report_path)
        except OSError as exc:
            env.error(f"cannot write the report {report_path}: {exc.strerror or exc}")
            return ExitStatus.INPUT_ERRORS
    if "dfxml" in options.reports:
        problems = validate_report(report_path)
        for problem in problems:
            env.error(f"{report_path}: invalid report: {problem}")
        if problems:
            return ExitStatus.INPUT_ERRORS
    return status
