"""Run options exactly as given: what the CLI parsed; plan.make_plan derives what the run does from them."""

from __future__ import annotations

from dataclasses import dataclass, field

from .settings import Settings

DEFAULT_TEMPLATE = "%A.%a-%B.%b%V%v%C%c"
NS = 1_000_000_000
DEFAULT_REPORTS = ("dfxml", "jsonl", "csv", "html")


@dataclass(frozen=True, slots=True)
class Options:
    """Every knob of a run, so the report can state exactly how output was made."""

    inputs: tuple[str, ...]
    outdir: str | None                       # -o; None: not given (the plan makes it "." or a scratch folder)
    finish_inputs: tuple[str, ...] = ()      # -R: read after the inputs, only to finish their connections
    overlap: str = "first"                   # "first" | "last" (tcpflow)
    max_seek: int = 16 * 1024 * 1024         # -m: a jump this far starts a new cN file
    max_fds: int = 1000                      # -f: LRU bound on open flow files
    max_bytes: int | None = None             # -b: stop writing a direction after N bytes
    template: str = DEFAULT_TEMPLATE         # -T
    fflags: str = ""                         # -F letters
    bpf: str | None = None                   # --filter / tcpdump expression
    idle_timeout_ns: int = 0                 # 0: never close a direction for idleness
    frag_timeout_ns: int = 60 * NS
    frag_memory: int = 64 * 1024 * 1024
    reorder_memory: int = 16 * 1024 * 1024   # out-of-order bytes a direction buffers before leaving holes
    hashes: tuple[str, ...] = ("md5", "sha256")
    reports: tuple[str, ...] = DEFAULT_REPORTS
    report_path: str | None = None           # -X; default OUT/report.xml
    jobs: int = 0                            # 0: all cores
    merge: bool = False
    resume: bool = False
    quiet: bool = False
    warnings: bool = True                    # derived (plan): False with -q, warning lines are not printed
    rehash_inputs: bool = False              # a second full read of every input after the run
    fresh: bool = False                      # --fresh: discard an unfinished run in OUT and start again
    scanners: tuple[str, ...] = ("md5",)     # -a/-e/-E/-x: md5 is the per-flow hashing, the rest post-process
    decompress: bool = True                  # -Z off: HTTP bodies stay gzip/deflate-encoded
    yara_rules: str | None = None            # --yara-rules: a rules file or a folder of them
    yara_timeout: int = 10                   # --yara-timeout: seconds per scanned file
    yara_max_matches: int = 1000             # --yara-max-matches: per rule string and file
    interface: str | None = None             # -i: capture live from this interface instead of files
    snaplen: int = 262144                    # --snaplen: bytes kept of each live packet
    promiscuous: bool = True                 # -p turns it off
    duration_ns: int = 0                     # --duration: end a live capture after this long (0: on signal)
    max_packets: int = 0                     # --packets: end a live capture after this many (0: on signal)
    save_capture: str | None = None          # --save-capture: pcapng of every live packet
    save_capture_size: int = 0               # --save-capture-size, in bytes (0: one file)
    user: str | None = None                  # -U: become this user once the interface is open
    chroot: str | None = None                # -z: and shut the run into this folder (tcpflow's chroot)
    console: bool = False                    # -c/-C: print each data segment, write no flow files
    console_header: bool = True              # False with -C: no "name: " before each segment
    console_format: str = "strip"            # "strip" | "binary" (-B) | "hex" (-D) | "json" (-J), as tcpflow resolves them
    console_color: bool = False              # -g
    console_newline: bool = True             # False with -0
    findx: bool = False                      # -I: a .findx byte index beside every flow file
    unprocessed: str | None = None           # -w FILE: IP packets without TCP, as a pcap
    packet_files: bool = False               # -K: a pcap per direction instead of its flow file
    verbosity: int = 1                       # -d N (-v is 10)
    udp: bool = False                        # --udp: UDP flows beside the TCP ones
    udp_timeout_ns: int = 60 * NS            # --udp-timeout: capture time a UDP flow may stay silent before cN+1
    cluster: str | None = None               # Dask scheduler address, or "local:N" for a LocalCluster
    settings: Settings = Settings()          # -S NAME=VALUE (tcpflow's settings)
    semaphore: str | None = None             # -L: a named POSIX semaphore held around each console print
    extra: dict[str, str] = field(default_factory=dict)


# Options that decide how a run goes or where its outputs land, never what they hold (an input's or
# output's path is compared by content, not by name): `diff` does not count them.
RUN_ONLY: frozenset[str] = frozenset({
    "outdir", "report_path", "unprocessed", "save_capture", "finish_inputs", "jobs", "cluster", "resume", "fresh",
    "quiet", "verbosity", "max_fds", "rehash_inputs", "user", "chroot",
})
