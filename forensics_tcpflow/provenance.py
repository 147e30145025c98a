"""A run and its inputs as data objects, so a report can prove how its output was made."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class SavedFile:
    """A file of raw packets written during the run (--save-capture), hashed as it was written."""

    path: str
    size: int
    packets: int
    md5: str
    sha256: str


@dataclass(slots=True)
class LiveInfo:
    """How a live capture was made, and libpcap's own counters at its end."""

    interface: str
    linktype: int
    filter: str
    snaplen: int
    promiscuous: bool
    start_ns: int
    end_ns: int
    received: int                          # pcap_stats: packets the kernel saw for this handle
    dropped: int                           # ... dropped by the kernel (buffer full)
    interface_dropped: int                 # ... dropped by the interface or its driver
    saved: list[SavedFile] = field(default_factory=list)


@dataclass(slots=True)
class KernelShare:
    """Which kernel walked an input's records and how many of them it left to Python (the flow
    table's judgement or the general decoder): the audit trail of the fast path."""

    implementation: str                    # "compiled" | "python" (kernel.IMPLEMENTATION)
    records: int                           # records the kernel walked
    python: int                            # ... of which Python judged or decoded


@dataclass(slots=True)
class InputSummary:
    """Provenance and counters of one input capture.

    The digests ("before") are of the bytes read while processing; the file's
    identity and times (size, mtime, ctime, inode, device) are taken before and
    after, so a reviewer can see that nothing wrote it meanwhile. "after" digests
    come from a second full read, only with --rehash-inputs.
    """

    path: str
    abspath: str = ""                      # where it was, absolute: what `verify` looks at a year later
    size: int = 0
    mtime_ns: int = 0
    md5_before: str = ""
    sha256_before: str = ""
    md5_after: str = ""
    sha256_after: str = ""
    stat_before: tuple[int, ...] = ()      # capture.evidence.STAT_FIELDS
    stat_after: tuple[int, ...] = ()
    format: str = ""                       # "pcap" | "pcapng" | "live" | "" when unrecognised
    compression: str = ""                  # "" | "gzip" | "bzip2" | "xz"
    linktypes: tuple[int, ...] = ()
    packets: int = 0
    truncated_packets: int = 0             # caplen < origlen
    undecodable_packets: int = 0           # not TCP, or a layer we could not decode
    filtered_packets: int = 0              # rejected by the BPF filter
    first_ts_ns: int | None = None
    last_ts_ns: int | None = None
    counters: dict[str, int] = field(default_factory=dict)  # e.g. "ethertype:0x88cc", "fragments"
    fragment_overlaps: list[tuple[str, int, int, str]] = field(default_factory=list)
    error: str = ""                        # the message that stopped reading, if any
    internal_error: bool = False           # what stopped it was a bug of ours (exit 3), not the evidence
    output_dir: str = ""                   # where this capture's flows went, relative to OUT
    live: LiveInfo | None = None           # set when the input is an interface (-i), not a file
    stream: bool = False                   # standard input: no identity to compare after the run
    workers: list[str] = field(default_factory=list)   # --cluster: the Dask workers that ran it
    kernel: KernelShare | None = None      # the records the flow kernel walked, and how many Python judged


@dataclass(frozen=True, slots=True)
class ReplayInfo:
    """What `reproduce` needs to run the same command again: the arguments exactly as given (before any
    rewrite of ours), the folder they were given in, and the software and platform that ran them."""

    argv: tuple[str, ...]
    cwd: str
    version: str
    libraries: dict[str, str]
    platform: str
    implementation: str


@dataclass(slots=True)
class RunInfo:
    """The run as an object: who ran what, where, when, with which software."""

    uuid: str
    command_line: str
    program: str
    version: str
    libraries: dict[str, str]
    host: str
    user: str
    uid: int
    os_sysname: str
    os_release: str
    os_version: str
    arch: str
    start_ns: int
    end_ns: int = 0
    exit_status: int = 0
    interrupted: bool = False
    options: dict[str, object] = field(default_factory=dict)   # exactly as given (lists as tuples)
    derived: dict[str, object] = field(default_factory=dict)   # what the run derived from them (plan.RunPlan)
    skipped: list[tuple[str, str]] = field(default_factory=list)   # (path, reason): files not processed
    cluster: dict[str, str] = field(default_factory=dict)   # --cluster: scheduler address, Dask versions
    outcome: dict[str, int] = field(default_factory=dict)   # core.Outcome: planned, processed, failed, not reached
    outputs: list[Any] = field(default_factory=list)   # report.outputs.Output: other files the run wrote, hashed
    replay: ReplayInfo | None = None       # <ftf:replay>: how to run this again (`reproduce`)
