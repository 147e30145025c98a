"""Resolved run options: what the CLI parsed, in one value the core can record."""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_TEMPLATE = "%A.%a-%B.%b%V%v%C%c"
NS = 1_000_000_000


@dataclass(frozen=True, slots=True)
class Options:
    """Every knob of a run, so the report can state exactly how output was made."""

    inputs: tuple[str, ...]
    outdir: str
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
    reports: tuple[str, ...] = ("dfxml", "jsonl", "csv")
    report_path: str | None = None           # -X; default OUT/report.xml
    jobs: int = 0                            # 0: all cores
    merge: bool = False
    resume: bool = False
    quiet: bool = False
    rehash_inputs: bool = False              # a second full read of every input after the run
    scanners: tuple[str, ...] = ("md5",)     # -a/-e/-E/-x: md5 is the per-flow hashing, the rest post-process
    decompress: bool = True                  # -Z off: HTTP bodies stay gzip/deflate-encoded
    cluster: str | None = None               # Dask scheduler address, or "local:N" for a LocalCluster
    extra: dict[str, str] = field(default_factory=dict)
