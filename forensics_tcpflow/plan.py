"""The run's plan, made once from the options exactly as the examiner gave them.

Which runner, which per-packet taps, how many workers, whether the workspace is a
scratch folder, where the report and its siblings go, and the effective options the
pipeline reads: all decided here, and nowhere else. Combinations that cannot work
are refused here, before anything is written, as usage errors naming both options.
The report records the given options and, apart and labelled as such, `derived()`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from pathlib import Path

from .batch.journal import state_dir
from .capture.bpf import PacketFilter
from .capture.stdin import STDIN_PATH
from .errors import UsageError
from .flow.naming import build_template
from .options import Options
from .privileges import account
from .report.placement import DEFAULT_REPORT, OUT_FROM_REPORT, named_after

RUNNERS = ("jobs", "taps")    # jobs: workers (or a cluster) over captures; taps: per-packet outputs, here, in order
EVIDENCE_HINT = ("evidence is never written beside or into: give an output folder elsewhere, e.g."
                 " `-o ../case-flows` (tcpflow writes into the current folder; forensics-tcpflow will not when it"
                 " holds the evidence)")


@dataclass(frozen=True, slots=True)
class RunPlan:
    """What the run does, derived from `given` once."""

    given: Options
    options: Options              # the effective options every stage reads
    runner: str                   # one of RUNNERS
    taps: tuple[str, ...]         # per-packet outputs: "-c", "-w", "-K"
    scratch: bool                 # console mode: the workspace is a scratch folder, removed at the end
    report_path: Path
    outputs: tuple[Path, ...]     # files beside the report (or -w) this run writes: none may exist before

    def in_scratch(self, folder: str) -> RunPlan:
        """The plan with its workspace in `folder` (console mode keeps no flow files)."""
        return replace(self, options=replace(self.options, outdir=folder))

    def derived(self) -> dict[str, object]:
        """What the run derived from the given options: every effective option that differs, and the plan."""
        changed = {f.name: getattr(self.options, f.name) for f in fields(Options)
                   if getattr(self.options, f.name) != getattr(self.given, f.name)}
        out = {} if self.scratch else {OUT_FROM_REPORT: os.path.relpath(
            os.path.abspath(self.options.outdir), os.path.abspath(self.report_path.parent)).replace(os.sep, "/")}
        return {**changed, "runner": self.runner, "taps": self.taps, "report_path": str(self.report_path), **out}


def make_plan(given: Options) -> RunPlan:
    """The plan of a run; raises UsageError for what cannot work."""
    _check_values(given)
    console = given.console
    taps = tuple(name for name, on in (("-c", console), ("-w", given.unprocessed), ("-K", given.packet_files)) if on)
    outdir = given.outdir if given.outdir is not None else "."
    report = given.report_path or (os.path.join(outdir, DEFAULT_REPORT) if given.outdir is not None or not console
                                   else None)
    reports = given.reports if report and given.settings.enable_report else ()
    options = replace(
        given, outdir=outdir, report_path=report, reports=reports, quiet=given.quiet or console,
        warnings=not given.quiet, idle_timeout_ns=given.settings.tcp_timeout_ns or given.idle_timeout_ns,
        findx=given.findx and not given.packet_files, hashes=given.hashes if "md5" in given.scanners else (),
        jobs=1 if taps else given.jobs or (0 if given.cluster else os.cpu_count() or 1),
        fflags=given.fflags + ("X" if console or given.packet_files else ""))
    if options.chroot:      # -z: paths taken before the switch must name the same files inside the jail
        options = replace(options, outdir=os.path.abspath(options.outdir),
                          report_path=options.report_path and os.path.abspath(options.report_path),
                          save_capture=options.save_capture and os.path.abspath(options.save_capture))
    report_path = Path(options.report_path or Path(options.outdir) / DEFAULT_REPORT)
    plan = RunPlan(given, options, "taps" if taps else "jobs", taps, console, report_path,
                   _outputs(options, report_path))
    _check_layout(plan)
    build_template(options.template, options.fflags)
    if options.bpf:
        PacketFilter(options.bpf)
    if "yara" in options.scanners and options.yara_rules:
        from .scan.yara import compiled_rules
        compiled_rules(options.yara_rules)     # a compile error is the user's: before anything runs
    if options.interface:
        _check_live(options, report_path)
    elif options.user or options.save_capture or options.chroot:
        raise UsageError("-U, -z and --save-capture go with a live capture (-i)")
    return plan


def _check_values(given: Options) -> None:
    """Values outside their range and options that cannot work together (see README, Usage errors)."""
    from .report.registry import WRITERS
    unknown = [name for name in given.reports if name not in WRITERS]
    if unknown:
        raise UsageError(f"--report {','.join(unknown)}: unknown format; choose from {', '.join(sorted(WRITERS))}")
    for flag, value, least in (("-b", given.max_bytes, 0), ("-j", given.jobs, 0), ("-f", given.max_fds, 1),
                               ("-m", given.max_seek, 1)):
        if value is not None and value < least:
            raise UsageError(f"{flag} {value}: must be {least} or more")
    for first, on, second, also in (
            ("-c", given.console, "--cluster", given.cluster),
            ("-c", given.console, "-K", given.packet_files),
            ("-c", given.console, "--resume", given.resume),
            ("-K", given.packet_files, "--cluster", given.cluster),
            ("-w", given.unprocessed, "--cluster", given.cluster),
            ("--resume", given.resume, "--fresh", given.fresh)):
        if on and also:
            raise UsageError(f"{first} and {second} cannot be used together: {_WHY[first, second]}")
    both = {_real(p) for p in given.inputs if p != STDIN_PATH} & {_real(p) for p in given.finish_inputs}
    if both:
        raise UsageError(f"-R and -r both name {sorted(map(str, both))[0]}: -R finishes the connections of the"
                         " other captures, give it a different one")


_WHY = {
    ("-c", "--cluster"): "console output is printed by this process, one capture after another",
    ("-c", "-K"): "console mode writes no files; run -K with -o DIR instead",
    ("-c", "--resume"): "console output is not kept, so there is no run to continue",
    ("-K", "--cluster"): "per-packet files follow the packets in this process",
    ("-w", "--cluster"): "the -w file follows the packets in this process",
    ("--resume", "--fresh"): "--resume continues an unfinished run, --fresh discards it",
}


def _outputs(options: Options, report_path: Path) -> tuple[Path, ...]:
    """Every file the run writes outside its flow files, each of which must not exist yet."""
    from .report.bodies import BODY_INDEXES
    from .report.registry import WRITERS
    from .report.scanfacts import SCAN_INDEXES
    from .scan.netviz import PICTURES
    found = [path for name in options.reports
             for path in (WRITERS[name].target(report_path), *WRITERS[name].folders(report_path))]
    if options.reports and "http" in options.scanners:
        found += [named_after(report_path, name) for name in BODY_INDEXES]
    if options.reports and ("tls" in options.scanners or "yara" in options.scanners):
        found += [named_after(report_path, name) for name in SCAN_INDEXES]
    if "netviz" in options.scanners:
        found += [named_after(report_path, name) for name in PICTURES]
    if options.unprocessed:
        found.append(Path(options.unprocessed))
    if options.save_capture:
        found.append(Path(options.save_capture))
    return tuple(found)


def _inside(child: Path, parent: Path) -> bool:
    try:
        child.relative_to(parent)
        return True
    except ValueError:
        return False


def _real(path: str | Path) -> Path:
    """The path with symlinks followed; a symlink loop stays as it is (reading it is then an input error)."""
    return Path(os.path.realpath(path))


def _check_layout(plan: RunPlan) -> None:
    """Evidence is read-only: nothing is written into an input folder, nor into the folder that
    holds an input file itself (a folder below it is another place). A missing input is left
    to the reading stage, which names it ("No such file or directory"). A run never replaces
    a file it did not create: every output name is free, or the run continues its own (--resume)."""
    options = plan.options
    targets = [] if options.console else [("output directory", _real(options.outdir), _real(options.outdir))]
    targets += [(what, _real(path), _real(path).parent) for what, path in (
        ("report", plan.report_path if options.reports else None),
        ("-w file", Path(options.unprocessed) if options.unprocessed else None)) if path is not None]
    for given in options.inputs + options.finish_inputs:
        if given == STDIN_PATH or not os.path.exists(given):
            continue
        src = _real(given)
        for what, target, folder in targets:
            if src.is_dir() and _inside(target, src):
                raise UsageError(f"{what} {target} lies inside the evidence folder {given}: {EVIDENCE_HINT}")
            if not src.is_dir() and folder == src.parent:
                where = "is the folder of" if target == folder else "lies beside"
                raise UsageError(f"{what} {target} {where} the evidence file {given}: {EVIDENCE_HINT}")
    state = state_dir(options.outdir)
    if options.resume:
        if not state.exists():
            finished = " (its report is complete)" if plan.report_path.exists() else ""
            raise UsageError(f"--resume: {options.outdir} holds no unfinished run{finished}: nothing to resume;"
                             " a finished run's report is never rewritten")
        return
    for path in (plan.report_path if options.reports else None, *plan.outputs):
        if path is not None and os.path.lexists(path):
            raise UsageError(f"{path} already exists: a run never replaces a file it did not create;"
                             " choose a new output directory or report name (-o, -X)")
    if not options.console and not options.fresh and state.exists():
        raise UsageError(f"{options.outdir} holds an unfinished run: continue it with --resume, start it afresh"
                         " with --fresh, or choose a new output directory")


def _check_live(options: Options, report_path: Path) -> None:
    """A live capture is one input of its own and cannot be resumed."""
    if options.inputs:
        raise UsageError("capture either from an interface (-i) or from files, not both")
    if options.resume:
        raise UsageError("a live capture (-i) cannot be resumed")
    if options.user:
        try:
            account(options.user)
        except KeyError as exc:
            raise UsageError(str(exc.args[0])) from None
    if options.chroot:
        _check_jail(options, report_path)


def _check_jail(options: Options, report_path: Path) -> None:
    """-z: everything the run writes after the switch lies inside the jail, and nothing it would
    start there (report helper processes, scanner libraries) lives outside it."""
    jail = _real(options.chroot)
    if not options.user:
        raise UsageError("-z needs -U, as tcpflow's: root could leave the jail")
    if not jail.is_dir() or jail == Path(jail.anchor):
        raise UsageError(f"-z {options.chroot}: not a folder to shut the run into")
    for what, path in (("output directory", options.outdir), ("report", report_path),
                       ("--save-capture", options.save_capture)):
        if path is not None and not _inside(_real(path), jail):
            raise UsageError(f"{what} {path} lies outside the -z folder {options.chroot}")
    if set(options.scanners) - {"md5"}:
        raise UsageError("-z: scanners load libraries from outside the jail; run them on the flows afterwards")
    from .scan.registry import hooks_wanted
    if hooks_wanted(options):
        raise UsageError("-z: -S commands and alert descriptors act on the flows from outside the jail;"
                         " run them on the flows afterwards")
