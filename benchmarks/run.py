"""Time forensics-tcpflow against tcpflow 1.6.1 on the generated workloads, in the same run.

Each row runs ours and tcpflow alternately (ours, tcpflow, ours, ...), each run a separate
child process timed by wall clock with its peak RSS from os.wait4; medians of `--repeat`.
The first pair of outputs is compared flow file by flow file (name -> sha256).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from lxml import etree

from forensics_tcpflow.report.dfxml import FTF_NS

from .generate import QUICK_SCALE, WORKLOADS, CaptureInfo, Workload, bench_dir, capture_input, generate

TCPFLOW = "/usr/bin/tcpflow"
REPORT_FILES = frozenset({"report.xml", "flows.jsonl", "flows.csv"})
SHM = Path("/dev/shm")


@dataclass(frozen=True)
class Row:
    """One line of the table: a workload, our -j, and the target speed ratio."""

    workload: str
    jobs: int                  # 0: no -j at all (the default: every core)
    target: float
    cluster: str = ""          # --cluster ADDRESS (e.g. local:2): the jobs on Dask workers
    kernel: str = ""           # "python": the pure-Python twin forced (FTF_KERNEL=python)
    udp: bool = False          # ours with --udp (the workloads hold no UDP: what the option costs when idle)

    @property
    def mode(self) -> str:
        """How ours ran, for the table: -j N, the default, --cluster ADDRESS; the twin when forced; --udp."""
        mode = f"--cluster {self.cluster}" if self.cluster else f"-j {self.jobs}" if self.jobs else "default"
        return mode + (" (twin)" if self.kernel else "") + (" --udp" if self.udp else "")


# The compiled-kernel rows first (default options, real-traffic shapes), the twin forced beside them.
ROWS = (Row("mix-bulk", 0, 1.5), Row("mix-small", 0, 2.0), Row("mix-short", 0, 2.0),
        Row("mix-bulk", 0, 0.0, kernel="python"), Row("mix-small", 0, 0.0, kernel="python"),
        Row("mix-short", 0, 0.0, kernel="python"),
        Row("mix-bulk", 1, 1.0), Row("mix-small", 1, 1.0), Row("mix-short", 1, 1.0),
        Row("bulk", 1, 1.0), Row("small", 1, 1.0), Row("short", 1, 1.0), Row("split", 2, 2.0), Row("bulk", 2, 1.5))
ROWS += (Row("split", 2, 1.5, cluster="local:2"),)   # a Dask LocalCluster of 2 workers beside -j 2
ROWS += (Row("mix-small", 1, 1.0, udp=True),)        # beside mix-small -j 1: --udp must cost nothing without UDP
RSS_TARGET_MB = {"short": 256, "mix-bulk": 256, "mix-small": 256, "mix-short": 256}
SAMPLES = Path(__file__).resolve().parents[1] / "sample_pcaps"
ONE_CONNECTION = SAMPLES / "http.pcap"
STARTUP_TARGETS = {"--help": 0.2, "one connection": 0.4, "first-ever run over sample_pcaps": 2.0}


@dataclass
class Timing:
    seconds: float
    peak_rss_kb: int
    status: int
    cpu: float = 0.0           # user + system seconds of the process and its children


@dataclass
class Result:
    row: Row
    capture: CaptureInfo
    ours: list[Timing] = field(default_factory=list)
    tcpflow: list[Timing] = field(default_factory=list)
    differences: list[str] = field(default_factory=list)
    output: str = "shm"
    python_share: float | None = None    # records left to Python by the kernel (or never given to it)

    def median(self, side: str) -> float:
        return statistics.median(t.seconds for t in getattr(self, side))

    def rss_mb(self, side: str) -> float:
        return max(t.peak_rss_kb for t in getattr(self, side)) / 1024

    def cpu_per_wall(self) -> float:
        return statistics.median(t.cpu / t.seconds for t in self.ours if t.seconds)

    @property
    def ratio(self) -> float:
        """Speed ours/tcpflow: above 1 means we are faster."""
        return self.median("tcpflow") / self.median("ours")


# --- running ------------------------------------------------------------------------------

# A child's ru_maxrss starts at the peak RSS of the process that spawned it (Linux keeps the
# spawner's high-water mark across exec), so children come from this lean helper, never from
# the runner, whose RSS grows while it hashes hundreds of thousands of flow files.
LAUNCHER = """
import json, os, sys, time
for line in sys.stdin:
    argv, log, env = json.loads(line)
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    start = time.perf_counter()
    try:
        pid = os.posix_spawn(argv[0], argv, {**os.environ, **env}, file_actions=[
            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0), (os.POSIX_SPAWN_DUP2, fd, 1), (os.POSIX_SPAWN_DUP2, fd, 2)])
    except OSError as exc:
        os.write(fd, f"cannot run {argv[0]}: {exc}\\n".encode())
        result = [0.0, 0, 127, 0.0]
    else:
        _, status, usage = os.wait4(pid, 0)
        result = [time.perf_counter() - start, usage.ru_maxrss, os.waitstatus_to_exitcode(status),
                  usage.ru_utime + usage.ru_stime]
    os.close(fd)
    print(json.dumps(result), flush=True)
"""
_launcher: subprocess.Popen | None = None


def timed(argv: list[str], log: Path, env: dict[str, str] | None = None) -> Timing:
    """Run one child; its wall time, CPU time and peak RSS (the largest process of its tree, from wait4)."""
    global _launcher
    if _launcher is None or _launcher.poll() is not None:
        _launcher = subprocess.Popen([sys.executable, "-I", "-S", "-c", LAUNCHER], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, bufsize=1)
    assert _launcher.stdin and _launcher.stdout
    _launcher.stdin.write(json.dumps([argv, str(log), env or {}]) + "\n")
    seconds, rss_kb, status, cpu = json.loads(_launcher.stdout.readline())
    return Timing(seconds, rss_kb, status, cpu)


def ours_command(info: CaptureInfo, out: Path, jobs: int, cluster: str = "", udp: bool = False) -> list[str]:
    return [sys.executable, "-m", "forensics_tcpflow", capture_input(info), "-o", str(out),
            *(("-j", str(jobs)) if jobs else ()), "--hash", "md5,sha256", "--report", "dfxml,jsonl,csv", "-q",
            *(("--cluster", cluster) if cluster else ()), *(("--udp",) if udp else ())]


def python_share(report: Path) -> float | None:
    """Of every record read, the share the kernel left to Python or never walked (the report's
    <ftf:kernel> against the inputs' packet counts)."""
    if not report.is_file():
        return None
    root = etree.parse(str(report)).getroot()
    packets = python = 0
    for inp in root.iter(f"{{{FTF_NS}}}input"):
        count = int(inp.get("packets", "0"))
        packets += count
        kernel = inp.find(f"{{{FTF_NS}}}kernel")
        python += count if kernel is None else int(kernel.get("python")) + count - int(kernel.get("records"))
    return python / packets if packets else None


def tcpflow_commands(info: CaptureInfo, out: Path) -> list[list[str]]:
    """tcpflow reads one capture per run; a folder's files go to per-file sub-folders, as ours do."""
    if len(info.paths) == 1:
        return [[TCPFLOW, "-r", info.paths[0], "-o", str(out), "-e", "md5"]]
    return [[TCPFLOW, "-r", p, "-o", str(out / Path(p).name), "-e", "md5"] for p in info.paths]


def run_tcpflow(info: CaptureInfo, out: Path, log: Path) -> Timing:
    total, peak, status = 0.0, 0, 0
    for argv in tcpflow_commands(info, out):
        Path(argv[argv.index("-o") + 1]).mkdir(parents=True, exist_ok=True)
        t = timed(argv, log)
        total, peak, status = total + t.seconds, max(peak, t.peak_rss_kb), status or t.status
    return Timing(total, peak, status)


def flow_digests(root: Path) -> dict[str, str]:
    """Relative path -> sha256 of every flow file (report files left out)."""
    digests: dict[str, str] = {}
    for dirpath, _, names in os.walk(root):
        for name in names:
            if name in REPORT_FILES:
                continue
            path = Path(dirpath) / name
            h = hashlib.sha256()
            with open(path, "rb") as fh:
                while chunk := fh.read(1 << 20):
                    h.update(chunk)
            digests[path.relative_to(root).as_posix()] = h.hexdigest()
    return digests


def compare_outputs(ours: Path, theirs: Path, limit: int = 10) -> list[str]:
    """Every difference in flow files between two output folders, as readable lines (first `limit` of each kind)."""
    a, b = flow_digests(ours), flow_digests(theirs)
    kinds = (("only in ours", sorted(a.keys() - b.keys())), ("only in tcpflow", sorted(b.keys() - a.keys())),
             ("different bytes", sorted(k for k in a.keys() & b.keys() if a[k] != b[k])))
    lines: list[str] = []
    for label, names in kinds:
        lines += [f"{label}: {n}" for n in names[:limit]]
        if len(names) > limit:
            lines.append(f"{label}: ... {len(names) - limit} more")
    return lines


def output_root(kind: str, root: Path) -> Path:
    """tmpfs when asked for and big enough, else the bench folder on disk."""
    if kind == "shm" and SHM.is_dir() and shutil.disk_usage(SHM).free > 8 << 30:
        return SHM
    return root / "out"


def run_row(row: Row, info: CaptureInfo, repeat: int, out_root: Path, log: Path) -> Result:
    result = Result(row, info, output="tmpfs" if out_root == SHM else "disk")
    out_root.mkdir(parents=True, exist_ok=True)
    for i in range(repeat):
        with tempfile.TemporaryDirectory(prefix="ftf-bench-", dir=out_root) as tmp:
            ours, theirs = Path(tmp) / "ours", Path(tmp) / "tcpflow"
            env = {"FTF_KERNEL": row.kernel} if row.kernel else None
            result.ours.append(timed(ours_command(info, ours, row.jobs, row.cluster, row.udp), log, env))
            result.tcpflow.append(run_tcpflow(info, theirs, log))
            if i == 0:
                result.differences = compare_outputs(ours, theirs)
                result.python_share = python_share(ours / "report.xml")
        print(f"  {row.workload} {row.mode} run {i + 1}: ours {result.ours[-1].seconds:.2f} s, "
              f"tcpflow {result.tcpflow[-1].seconds:.2f} s", file=sys.stderr, flush=True)
    return result


def memory_check(names: list[str], scale: float, factor: float, root: Path, out_root: Path, log: Path) -> list[str]:
    """Our peak RSS on a capture and on one `factor` times longer (same shape): it should stay flat."""
    lines = []
    for name in names:
        rss = []
        for s in (scale, scale * factor):
            info = generate(WORKLOADS[name].scaled(s), root)
            with tempfile.TemporaryDirectory(prefix="ftf-bench-", dir=out_root) as tmp:
                t = timed(ours_command(info, Path(tmp) / "ours", 1), log)
            rss.append(t.peak_rss_kb / 1024)
            lines.append(f"{name} x{s:g}: {info.bytes / 1e6:,.0f} MB, {info.flows:,} flows: "
                         f"ours peak RSS {rss[-1]:.0f} MB in {t.seconds:.1f} s")
        lines.append(f"{name}: RSS grew {100 * (rss[1] / rss[0] - 1):+.1f}% for {factor:g}x the capture (target <= 10%)")
    return lines


def startup_checks(repeat: int, out_root: Path, log: Path) -> list[tuple[str, float]]:
    """Median seconds of `--help`, of a one-connection capture (after a first run) and of a first-ever
    run over sample_pcaps: no bytecode cache (a fresh pycache prefix), as in a fresh install."""
    program = [sys.executable, "-m", "forensics_tcpflow"]
    with tempfile.TemporaryDirectory(prefix="ftf-bench-", dir=out_root) as tmp:
        def run(name: str, argv: list[str]) -> float:
            times = []
            for i in range(repeat):
                out = Path(tmp) / f"{name.replace(' ', '-')}-{i}"
                args = [a.replace("{out}", str(out)).replace("{i}", str(i)) for a in argv]
                times.append(timed(args, log).seconds)
            return statistics.median(times)
        return [
            ("--help", run("help", program + ["--help"])),
            ("one connection", run("one", program + [str(ONE_CONNECTION), "-o", "{out}", "-q"])),
            ("first-ever run over sample_pcaps", run("first", [
                sys.executable, "-X", f"pycache_prefix={tmp}/pycache-{{i}}", "-m", "forensics_tcpflow",
                str(SAMPLES), "-o", "{out}", "-q"])),
        ]


# --- reporting ----------------------------------------------------------------------------

def startup_table(checks: list[tuple[str, float]]) -> str:
    lines = ["| start-up | ours (median) | target |", "|---|---|---|"]
    lines += [f"| {name} | {seconds:.2f} s | <= {STARTUP_TARGETS[name]:.1f} s |" for name, seconds in checks]
    return "\n".join(lines)


def table(results: list[Result]) -> str:
    head = ("| workload | capture | -j | ours MB/s | ours pkt/s | ours peak RSS | ours CPU/wall | judged in Python "
            "| tcpflow MB/s | tcpflow peak RSS | ours/tcpflow | target | same bytes |")
    lines = [head, "|" + "---|" * head.count(" | ") + "---|"]
    for r in results:
        mb = r.capture.bytes / 1e6
        w = r.capture.workload
        shape = f"{mb:,.0f} MB, {w['flows']:,} flows, {w['segment']} B segments" + (
            f", {w['files']} files" if w["files"] > 1 else "")
        rss_target = RSS_TARGET_MB.get(r.row.workload)
        target = (f">= {r.row.target:.1f}x" if r.row.target else "-") + (f", RSS <= {rss_target} MB" if rss_target else "")
        share = f"{100 * r.python_share:.2f}%" if r.python_share is not None else "-"
        same = "yes" if not r.differences else f"NO ({len(r.differences)})"
        if any(t.status for t in r.ours + r.tcpflow):
            same += f" (exit {r.ours[0].status}/{r.tcpflow[0].status})"
        lines.append(
            f"| {r.row.workload} | {shape} | {r.row.mode} | {mb / r.median('ours'):.2f} | "
            f"{r.capture.packets / r.median('ours'):,.0f} | {r.rss_mb('ours'):.0f} MB | {r.cpu_per_wall():.2f} | {share} | "
            f"{mb / r.median('tcpflow'):.2f} | "
            f"{r.rss_mb('tcpflow'):.0f} MB | {r.ratio:.2f}x | {target} | {same} |")
    return "\n".join(lines)


def twin_lines(results: list[Result]) -> list[str]:
    """The compiled kernel against its twin, where a row of each ran on the same workload and -j."""
    lines = []
    for twin in (r for r in results if r.row.kernel):
        for compiled in (r for r in results if not r.row.kernel and r.row.workload == twin.row.workload
                         and r.row.jobs == twin.row.jobs and not r.row.cluster):
            lines.append(f"{twin.row.workload} {compiled.row.mode}: compiled kernel {compiled.median('ours'):.2f} s, "
                         f"twin {twin.median('ours'):.2f} s: {twin.median('ours') / compiled.median('ours'):.2f}x")
    return lines


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workload", action="append", choices=sorted(WORKLOADS), help="only these rows (repeatable)")
    ap.add_argument("--jobs", type=int, action="append", help="only rows with this -j (repeatable)")
    ap.add_argument("--quick", action="store_true", help=f"captures at scale {QUICK_SCALE} (development)")
    ap.add_argument("--scale", type=float, default=1.0, help="multiply the flow count (4: the 4 GB memory check)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per tool; the median is reported")
    ap.add_argument("--output", choices=("shm", "disk"), default="shm", help="where the tools write (tmpfs or disk)")
    ap.add_argument("--dir", type=Path, default=bench_dir(), help="where captures live ($FTF_BENCH_DIR)")
    ap.add_argument("--memory-check", type=float, metavar="FACTOR",
                    help="instead of the table: our RSS at --scale and at FACTOR times it (4: 1 GB vs 4 GB)")
    ap.add_argument("--json", type=Path, help="also write the raw results here")
    ap.add_argument("--no-startup", action="store_true", help="leave out the start-up timings")
    ap.add_argument("--startup-only", action="store_true", help="only the start-up timings (no workload is generated)")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    scale = args.scale * (QUICK_SCALE if args.quick else 1.0)
    rows = [r for r in ROWS if (not args.workload or r.workload in args.workload)
            and (not args.jobs or r.jobs in args.jobs)]
    args.dir.mkdir(parents=True, exist_ok=True)
    out_root = output_root(args.output, args.dir)
    log = args.dir / "run.log"
    if args.startup_only:
        print(startup_table(startup_checks(args.repeat, out_root, log)))
        return 0
    if args.memory_check:
        for line in memory_check(args.workload or ["bulk"], scale, args.memory_check, args.dir, out_root, log):
            print(line)
        return 0
    results: list[Result] = []
    for row in rows:
        workload: Workload = WORKLOADS[row.workload].scaled(scale)
        info = generate(workload, args.dir)
        print(f"{row.workload}: {capture_input(info)} ({info.bytes / 1e6:.0f} MB, {info.packets:,} packets; "
              f"generated in {info.seconds} s)", file=sys.stderr, flush=True)
        results.append(run_row(row, info, args.repeat, out_root, log))
    print(f"\nOutput on {'tmpfs (/dev/shm)' if out_root == SHM else out_root}; scale {scale:g}; "
          f"medians of {args.repeat}; tcpflow 1.6.1 -e md5; ours --hash md5,sha256 --report dfxml,jsonl,csv\n")
    print(table(results))
    for line in twin_lines(results):
        print(line)
    if not args.no_startup:
        print()
        print(startup_table(startup_checks(args.repeat, out_root, log)))
    for r in results:
        for line in r.differences:
            print(f"{r.row.workload} {r.row.mode}: {line}")
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=1))
    return 1 if any(r.differences for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
