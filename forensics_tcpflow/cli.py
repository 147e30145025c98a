"""Command line: parse options, draw progress, call the core. Nothing else."""

from __future__ import annotations

import os
import shlex
import sys
from typing import Optional

import typer

from . import __version__
from .environment import Environment
from .errors import ForensicsError, StdoutClosed
from .exitstatus import REPORT_BUGS, ExitStatus, status_of
from .clihelp import PROGRAM, help_option
from .options import DEFAULT_REPORTS, DEFAULT_TEMPLATE, NS, Options
from .settings import SettingError, parse_settings, summary as settings_summary

EXIT_HELP = ("Exit status: 0 all good; 1 some inputs had errors, nothing to read, or OUT could not be written;"
             " 2 usage error (nothing was written); 3 internal error (a bug of ours: please report it); 4 verify"
             " mismatch (diff, reproduce: the runs differ); 130 interrupted (SIGINT/SIGTERM: the report is complete and marked interrupted; continue with"
             " --resume; with -i they end the capture normally: 0); 141 standard output closed by its reader (-c | head)."
             "\n\n"
             "Other commands: `verify REPORT` re-hashes every file a report vouches for and lists what is missing,"
             " changed or extra in its OUT;"
             " `validate REPORT` checks a report against its schemas; `diff REPORT_A REPORT_B` compares two runs;"
             " `reproduce REPORT -o NEWOUT` replays a run and diffs it with the recorded one.")

SETTINGS_HELP = settings_summary()
LIVE_IDLE_SECONDS = 300.0     # a live capture closes idle connections: memory stays bounded, files appear
MB = 1 << 20
HASH_NAMES = ("md5", "sha1", "sha256", "sha512")
app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, context_settings={"help_option_names": []})


def _split(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip())


INPUT, OUTPUT, CONSOLE, POST, LIVE, RUN = ("Input", "Output", "Console output (tcpflow's -c family)", "Post-processing",
                                           "Live capture", "Run")
DIFFERENCES = (
    "Differences from tcpflow 1.6.1: captures can also be given as arguments or folders (after -r,"
    " tcpflow's trailing filter expression still works; -l makes every argument a capture); several"
    " captures get one sub-folder each unless --merge or -R; -K files are named as the flow files, cN"
    " included (one per connection), and carry the capture's link type and snap length; -g colours even when the output is not a"
    " terminal, as tcpflow does; the snap length of a live capture is --snaplen (tcpflow's -s strips"
    " non-printable characters); -z needs OUT, the report and --save-capture inside DIR and refuses"
    " scanners; -S rejects names and values it cannot read (tcpflow ignores them); -S tcp_timeout closes a"
    " whole connection idle that long, the next segment starts a new cN (tcpflow closes only the directions"
    " still idle after the next packet, so the side that resumes first keeps its file); http_cmd and tcp_cmd run"
    " once the flows are written, one at a time, without a shell.")


@app.command(help="Reassemble every TCP flow of the captures into tcpflow-named files and a DFXML report.\n\n"
             + EXIT_HELP + "\n\n" + DIFFERENCES)
def flows(
    ctx: typer.Context,
    inputs: list[str] = typer.Argument(None, show_default=False, metavar="CAPTURE",
                                       help="Capture files or folders of captures (with -r: tcpflow's filter expression, unless -l).", rich_help_panel=INPUT),
    read: list[str] = typer.Option([], "-r", metavar="FILE", show_default=False, help="A capture to read (as tcpflow's -r; '-' is standard input); repeatable.", rich_help_panel=INPUT),
    finish: list[str] = typer.Option([], "-R", metavar="FILE", show_default=False, help="A capture read after the others only to finish the connections they began (as tcpflow's -R); repeatable.", rich_help_panel=INPUT),
    input_list: bool = typer.Option(False, "-l", metavar="", help="Every non-option argument is a capture, never a filter expression.", rich_help_panel=INPUT),
    bpf: Optional[str] = typer.Option(None, "--filter", metavar="EXPR", help="tcpdump filter expression (with -r, tcpflow's trailing expression works too).", rich_help_panel=INPUT),
    merge: bool = typer.Option(False, "--merge", metavar="", help="Treat all inputs as one evidence set (rotated captures), read in first-packet order.", rich_help_panel=INPUT),
    frag_timeout: float = typer.Option(60.0, "--frag-timeout", metavar="SECONDS", help="Seconds a fragmented datagram may take to complete.", rich_help_panel=INPUT),
    outdir_given: Optional[str] = typer.Option(None, "-o", "--outdir", metavar="DIR", help="Output directory (default: the current one).", rich_help_panel=OUTPUT),
    report_path: Optional[str] = typer.Option(None, "-X", metavar="FILE", help="DFXML report path (default OUT/report.xml).", rich_help_panel=OUTPUT),
    reports: str = typer.Option(",".join(DEFAULT_REPORTS), "--report", metavar="FORMATS", help="Report formats: dfxml, jsonl, csv, html (the case page), bodyfile (Sleuth Kit body), timesketch, zeek (conn.log).", rich_help_panel=OUTPUT),
    template: str = typer.Option(DEFAULT_TEMPLATE, "-T", metavar="TEMPLATE", help="File name template, as tcpflow's.", rich_help_panel=OUTPUT),
    fflags: str = typer.Option("", "-F", metavar="LETTERS", help="tcpflow format letters: k m g t T c X.", rich_help_panel=OUTPUT),
    max_bytes: Optional[int] = typer.Option(None, "-b", metavar="BYTES", help="Store (or print) at most this many bytes per direction.", rich_help_panel=OUTPUT),
    max_seek: int = typer.Option(16 * 1024 * 1024, "-m", metavar="BYTES", help="A sequence jump this far starts a new cN file.", rich_help_panel=OUTPUT),
    max_fds: int = typer.Option(1000, "-f", metavar="N", help="Open flow files at most.", rich_help_panel=OUTPUT),
    findx: bool = typer.Option(False, "-I", metavar="", help="A .findx file beside each flow file: offset|time|length of every stored segment.", rich_help_panel=OUTPUT),
    packet_files: bool = typer.Option(False, "-K", metavar="", help="A pcap file per direction (its flow file's name + .pcap) with every packet of that direction, instead of the flow file.", rich_help_panel=OUTPUT),
    unprocessed: Optional[str] = typer.Option(None, "-w", metavar="FILE", help="Save the IP packets that hold no TCP to this pcap file.", rich_help_panel=OUTPUT),
    overlap: str = typer.Option("first", "--overlap", metavar="first|last", help="Which copy wins on conflicting overlaps (tcpflow: last).", rich_help_panel=OUTPUT),
    idle_timeout: Optional[float] = typer.Option(None, "--idle-timeout", metavar="SECONDS", help="Close a connection idle this many seconds (0: never; default 0 for files, 300 for -i).", rich_help_panel=OUTPUT),
    udp: bool = typer.Option(False, "--udp", metavar="", help="Also write UDP flows: each direction's datagram payloads in arrival order, named as TCP flows plus '-udp' (%P in -T places it), with a .findx index of every datagram; datagrams of a tunnel we decapsulate are not flows, their inner traffic is.", rich_help_panel=OUTPUT),
    udp_timeout: float = typer.Option(60.0, "--udp-timeout", min=0.0, metavar="SECONDS", help="A UDP flow silent this many seconds of capture time ends (0: never); the same addresses and ports then start the next cN.", rich_help_panel=OUTPUT),
    console: bool = typer.Option(False, "-c", metavar="", help="Print each TCP segment (and with --udp each UDP datagram) with data to standard output as it arrives; no flow files (a report only with -o or -X).", rich_help_panel=CONSOLE),
    console_bare: bool = typer.Option(False, "-C", metavar="", help="As -c, without the flow name before each segment.", rich_help_panel=CONSOLE),
    hex_output: bool = typer.Option(False, "-D", metavar="", help="Print in hex with an ASCII column.", rich_help_panel=CONSOLE),
    strip: bool = typer.Option(False, "-s", metavar="", help="Non-printable characters as '.' (the default of -c/-C unless -B).", rich_help_panel=CONSOLE),
    binary: bool = typer.Option(False, "-B", metavar="", help="Print the bytes as they are, even with -c/-C.", rich_help_panel=CONSOLE),
    no_newline: bool = typer.Option(False, "-0", metavar="", help="No newline after each segment.", rich_help_panel=CONSOLE),
    json_output: bool = typer.Option(False, "-J", metavar="", help="One JSON object per segment (tcpflow's layout).", rich_help_panel=CONSOLE),
    color: bool = typer.Option(False, "-g", metavar="", help="Client-to-server segments blue, the others red.", rich_help_panel=CONSOLE),
    semaphore: Optional[str] = typer.Option(None, "-L", metavar="NAME", help="Hold the named POSIX semaphore NAME while printing each segment (tcpflow's -L), so several runs can share a terminal. Needs the [lock] extra (posix_ipc).", rich_help_panel=CONSOLE),
    hashes: str = typer.Option("md5,sha256", "--hash", metavar="NAMES", help="Hashes per flow file: md5,sha1,sha256,sha512.", rich_help_panel=POST),
    all_scanners: bool = typer.Option(False, "-a", metavar="", help="Run every scanner (tcpflow's -a: md5, http, netviz, wifiviz; and tls, yara).", rich_help_panel=POST),
    enable: list[str] = typer.Option([], "-e", metavar="NAME", show_default=False, help="Enable a scanner: http (bodies into files; TCP flows only), netviz (report.pdf/png), wifiviz (SSIDs of 802.11 beacons), tls (handshake facts, certificates), yara (needs --yara-rules), md5; repeatable.", rich_help_panel=POST),
    exclusive: Optional[str] = typer.Option(None, "-E", metavar="NAME", help="Run only this scanner (-E http: bodies without per-flow hashes).", rich_help_panel=POST),
    disable: list[str] = typer.Option([], "-x", metavar="NAME", show_default=False, help="Disable a scanner (-x md5: no per-flow hashes); repeatable.", rich_help_panel=POST),
    no_decompress: bool = typer.Option(False, "-Z", metavar="", help="Write HTTP bodies as sent: no gzip/deflate decoding.", rich_help_panel=POST),
    settings_given: list[str] = typer.Option([], "-S", metavar="NAME=VALUE", show_default=False, help=f"A tcpflow setting; repeatable. Known (with defaults): {SETTINGS_HELP}.", rich_help_panel=POST),
    yara_rules: Optional[str] = typer.Option(None, "--yara-rules", metavar="PATH", help="YARA rules for -e yara: a file, or a folder of .yar/.yara files (one namespace each). Needs the [yara] extra (yara-x).", rich_help_panel=POST),
    yara_timeout: int = typer.Option(10, "--yara-timeout", min=1, metavar="SECONDS", help="Stop scanning one file after this long (recorded as a timeout).", rich_help_panel=POST),
    yara_max_matches: int = typer.Option(1000, "--yara-max-matches", min=1, metavar="N", help="Matches kept per rule string and file.", rich_help_panel=POST),
    interface: Optional[str] = typer.Option(None, "-i", metavar="IFACE", help="Capture live from this interface (also 'any', 'lo') until SIGINT/SIGTERM, --duration or --packets; a trailing expression is the filter.", rich_help_panel=LIVE),
    no_promisc: bool = typer.Option(False, "-p", metavar="", help="Do not put the interface into promiscuous mode.", rich_help_panel=LIVE),
    snaplen: int = typer.Option(262144, "--snaplen", min=1, metavar="BYTES", help="Bytes kept of each live packet.", rich_help_panel=LIVE),
    duration: float = typer.Option(0.0, "--duration", min=0.0, metavar="SECONDS", help="End the live capture after this many seconds (0: on SIGINT/SIGTERM).", rich_help_panel=LIVE),
    packets: int = typer.Option(0, "--packets", min=0, metavar="N", help="End the live capture after this many packets (0: no limit).", rich_help_panel=LIVE),
    save_capture: Optional[str] = typer.Option(None, "--save-capture", metavar="FILE", help="Keep every live packet in this pcapng file (hashed in the report).", rich_help_panel=LIVE),
    save_capture_size: float = typer.Option(0.0, "--save-capture-size", min=0.0, metavar="MB", help="Start FILE1, FILE2... once a saved file reaches this many MB (0: one file).", rich_help_panel=LIVE),
    chroot: Optional[str] = typer.Option(None, "-z", metavar="DIR", help="Shut the run into DIR once the interface is open (tcpflow's -z; needs -U); OUT, the report and --save-capture must lie inside DIR.", rich_help_panel=LIVE),
    user: Optional[str] = typer.Option(None, "-U", "--relinquish-privileges", metavar="USER", help="Become USER once the interface is open (tcpflow's -U); OUT is handed to USER, a -X report elsewhere must be writable by USER.", rich_help_panel=LIVE),
    jobs: int = typer.Option(0, "-j", "--jobs", metavar="N", help="Worker processes over captures (0: all cores); outputs are the same for any N.", rich_help_panel=RUN),
    cluster: Optional[str] = typer.Option(None, "--cluster", metavar="ADDRESS", help="Run the jobs on a Dask scheduler's workers (tcp://HOST:8786), or local:N for N local worker processes; inputs and OUT must be shared. Needs the [cluster] extra.", rich_help_panel=RUN),
    resume: bool = typer.Option(False, "--resume", metavar="", help="Continue an interrupted (or killed) run in OUT from its journal.", rich_help_panel=RUN),
    quiet: bool = typer.Option(False, "-q", "--quiet", metavar="", help="No progress bars, no closing summary and no warnings (tcpflow's -q); errors still print.", rich_help_panel=RUN),
    verbose: bool = typer.Option(False, "-v", "--verbose", metavar="", help="As -d 10.", rich_help_panel=RUN),
    debug: int = typer.Option(1, "-d", metavar="N", help="Verbosity: 0 no closing summary, 1 the default.", rich_help_panel=RUN),
    fresh: bool = typer.Option(False, "--fresh", metavar="", help="Start an unfinished run in OUT afresh: remove what it kept for --resume and the flow files it already moved into OUT.", rich_help_panel=RUN),
    rehash_inputs: bool = typer.Option(False, "--rehash-inputs", metavar="", help="Read every input a second time after the run and compare digests (the identity and times of every input are always compared).", rich_help_panel=RUN),
    show_help: bool = typer.Option(False, "-h", "--help", metavar="", is_eager=True, expose_value=False, callback=help_option, help="Show this message and exit.", rich_help_panel=RUN),
    version: bool = typer.Option(False, "-V", "--version", metavar="", help="Print the version and exit.", rich_help_panel=RUN),
) -> None:
    if version:
        from .kernel import IMPLEMENTATION
        typer.echo(f"forensics-tcpflow {__version__} (kernel: {IMPLEMENTATION})")
        raise typer.Exit(ExitStatus.OK)
    inputs = list(inputs or ())
    if interface and inputs and not read:
        if bpf:
            raise typer.BadParameter("give the filter either with --filter or after -i IFACE, not both", param_hint="--filter")
        bpf, inputs = " ".join(inputs), []       # tcpflow -i IFACE EXPRESSION
    if read and inputs and not input_list and not any(os.path.exists(i) for i in inputs):
        if bpf:
            raise typer.BadParameter("give the filter either with --filter or after -r FILE, not both", param_hint="--filter")
        bpf, inputs = " ".join(inputs), []       # tcpflow -r FILE EXPRESSION
    captures = tuple(read) + tuple(inputs)
    if not captures and not interface:
        raise typer.BadParameter("no capture given (CAPTURE... or -r FILE)", param_hint="CAPTURE")
    if overlap not in ("first", "last"):
        raise typer.BadParameter("must be 'first' or 'last'", param_hint="--overlap")
    unknown = [h for h in _split(hashes) if h not in HASH_NAMES]
    if unknown:
        raise typer.BadParameter(f"unknown hash {', '.join(unknown)}; choose from {', '.join(HASH_NAMES)}",
                                 param_hint="--hash")
    from .scan.registry import select
    try:
        scanners = select(all_scanners, enable, exclusive, disable)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="-e/-E/-x") from None
    try:
        settings = parse_settings(settings_given)
    except SettingError as exc:
        raise typer.BadParameter(str(exc), param_hint="-S") from None
    if settings.tcp_timeout_ns and idle_timeout is not None:
        raise typer.BadParameter("give the idle time either with --idle-timeout or with -S tcp_timeout", param_hint="-S")
    for name, fd in (("http_alert_fd", settings.http_alert_fd), ("tcp_alert_fd", settings.tcp_alert_fd)):
        if fd >= 0 and not _open_fd(fd):
            raise typer.BadParameter(f"{name}={fd}: no such open file descriptor", param_hint="-S")
    if "yara" in (*enable, exclusive) and not yara_rules:
        raise typer.BadParameter("-e yara needs --yara-rules PATH", param_hint="--yara-rules")
    idle = idle_timeout if idle_timeout is not None else LIVE_IDLE_SECONDS if interface else 0.0
    options = Options(
        inputs=captures, outdir=outdir_given, finish_inputs=tuple(finish), overlap=overlap, max_seek=max_seek, max_fds=max_fds,
        max_bytes=max_bytes, template=template, fflags=fflags, bpf=bpf,
        idle_timeout_ns=int(idle * NS), frag_timeout_ns=int(frag_timeout * NS),
        hashes=_split(hashes), reports=_split(reports), report_path=report_path, jobs=jobs,
        merge=merge, resume=resume, fresh=fresh, quiet=quiet, rehash_inputs=rehash_inputs,
        cluster=cluster,
        scanners=scanners, decompress=not no_decompress,
        yara_rules=yara_rules, yara_timeout=yara_timeout, yara_max_matches=yara_max_matches,
        interface=interface, snaplen=snaplen, promiscuous=not no_promisc, duration_ns=int(duration * NS),
        max_packets=packets, save_capture=save_capture, save_capture_size=int(save_capture_size * MB), user=user,
        chroot=chroot, console=console or console_bare, console_header=not console_bare and not json_output,
        console_format=_console_format(hex_output, json_output, binary), console_color=color,
        console_newline=not no_newline, findx=findx and not packet_files, unprocessed=unprocessed, packet_files=packet_files,
        verbosity=10 if verbose else debug, udp=udp, udp_timeout_ns=int(udp_timeout * NS),
        settings=settings, semaphore=semaphore,
    )
    env: Environment = ctx.obj
    from .core import run       # the pipeline loads only for a run, not for --help or --version
    from .progress import ProgressBars
    with ProgressBars(env, enabled=not (options.quiet or options.console)):
        status = run(options, env)
    raise typer.Exit(int(status))


def _open_fd(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


def _console_format(hex_output: bool, json_output: bool, binary: bool) -> str:
    """tcpflow's precedence: hex over JSON over binary; otherwise non-printable bytes become '.'
    (-s only restates that default)."""
    return "hex" if hex_output else "json" if json_output else "binary" if binary else "strip"


def main(argv: list[str] | None = None, env: Environment | None = None) -> int:
    """Entry point for the console script and for tests (in-process)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    env = env or Environment()
    env.command_line = env.command_line or shlex.join(["forensics-tcpflow", *argv])
    env.argv, env.cwd = env.argv or tuple(argv), env.cwd or os.getcwd()
    from .tools import TOOLS
    command = TOOLS.get(argv[0]) if argv else None
    target = command if command is not None else app
    try:
        return int(target(args=argv[1:] if command else argv, prog_name=shlex.join([PROGRAM, *argv[:1]]) if command
                          else PROGRAM, obj=env, standalone_mode=False) or 0)
    except typer.Exit as exc:
        return int(exc.exit_code)
    except typer.TyperException as exc:       # typer's (vendored) click usage errors
        exc.show(file=sys.stderr)
        return int(ExitStatus.USAGE)
    except StdoutClosed as exc:
        return int(status_of(exc))
    except ForensicsError as exc:            # explained, whatever stage raised it: its kind gives the status
        env.error(str(exc))
        return int(status_of(exc))
    except (typer.Abort, KeyboardInterrupt):
        return int(ExitStatus.INTERRUPTED)
    except Exception as exc:  # a bug of ours: one clear line, never a traceback
        env.error(f"internal error: {type(exc).__name__}: {exc}")
        env.log(f"forensics-tcpflow: {REPORT_BUGS}")
        return int(ExitStatus.INTERNAL_ERROR)
