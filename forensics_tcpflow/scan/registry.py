"""Scanners by name, chosen as tcpflow chooses them, and the one pass that feeds the enabled ones.

A scanner reads finished flow files (never the reassembler) after every job's files
are in place and before the reports are written; it may write files of its own and
returns facts the report writers add. `md5` stands for the per-flow hashing the sink
already does while writing (on by default, as in tcpflow): it has nothing to do here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Iterable, Protocol

from forensics_tcpflow.flow.record import FlowRecord
from forensics_tcpflow.options import Options
from forensics_tcpflow.errors import UsageError
from forensics_tcpflow.provenance import InputSummary
from forensics_tcpflow.scan.body import BodyRecord

if TYPE_CHECKING:
    from forensics_tcpflow.scan.tls import TlsConnection
    from forensics_tcpflow.scan.yara import YaraHit

MapWork = Callable[[Callable[[Any], Any], list[Any]], Iterable[Any]]

DEFAULT_SCANNERS: tuple[str, ...] = ("md5",)


@dataclass(frozen=True, slots=True)
class ScanContext:
    """Where scanners read and write, and what the run knows about its inputs."""

    options: Options
    outdir: Path
    report_path: Path
    inputs: list[InputSummary]
    log: Callable[[str], None]
    # Per-file work, results in the order given: -j's worker processes or --cluster's workers
    # (a module-level function and plain-data items, so both can ship them).
    map_work: MapWork = map


@dataclass(slots=True)
class ScanResults:
    """What the enabled scanners add to the report: extracted bodies per flow file (named
    relative to OUT, in flow-file offset order), other files they wrote beside the report,
    TLS facts and YARA matches per flow file."""

    bodies: dict[str, list[BodyRecord]] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)
    tls: dict[str, "TlsConnection"] = field(default_factory=dict)      # by each of its flow files
    yara: dict[str, list["YaraHit"]] = field(default_factory=dict)     # by flow file (its bodies' hits too)
    summary: list[str] = field(default_factory=list)                   # lines for the closing summary

    def body_count(self) -> int:
        return sum(len(found) for found in self.bodies.values())


class Scanner(Protocol):
    """Sees every finished flow once, in report order; `finish` writes what it must and returns its facts."""

    name: ClassVar[str]

    def add(self, rec: FlowRecord) -> None: ...

    def finish(self, results: ScanResults) -> None: ...


ScannerFactory = Callable[[ScanContext], Scanner]
SCANNERS: dict[str, ScannerFactory | None] = {"md5": None}   # None: done in the sink, nothing afterwards


def register(cls: type) -> type:
    SCANNERS[cls.name] = cls
    return cls


def _load_all() -> None:
    """Import the scanner modules so they register themselves (kept lazy: --help stays fast)."""
    from forensics_tcpflow.scan import http, netviz, tls, yara  # noqa: F401


def known() -> list[str]:
    _load_all()
    return sorted(SCANNERS)


def select(everything: bool, enable: Iterable[str], exclusive: str | None, disable: Iterable[str]) -> tuple[str, ...]:
    """tcpflow's rules: the defaults, or all with -a, or only one with -E; then -e adds and -x removes."""
    names = known()
    asked = [*enable, *disable, *([exclusive] if exclusive else [])]
    unknown = [name for name in asked if name not in names]
    if unknown:
        raise UsageError(f"unknown scanner {', '.join(unknown)}; known: {', '.join(names)}")
    chosen = [exclusive] if exclusive else list(names if everything else DEFAULT_SCANNERS)
    chosen += [name for name in enable if name not in chosen]
    return tuple(name for name in names if name in chosen and name not in set(disable))


def post_scanners(names: Iterable[str]) -> list[ScannerFactory]:
    """The chosen scanners that read finished flows (the md5 one works inside the sink)."""
    _load_all()
    return [factory for name in names if (factory := SCANNERS.get(name)) is not None]


def run_scanners(ctx: ScanContext, flows: Iterable[FlowRecord]) -> ScanResults:
    """One pass over the finished flows for every enabled post-processing scanner."""
    scanners = [factory(ctx) for factory in post_scanners(ctx.options.scanners)]
    results = ScanResults()
    if not scanners:
        return results
    for rec in flows:
        for scanner in scanners:
            scanner.add(rec)
    for scanner in scanners:
        scanner.finish(results)
    return results
