"""`-e yara --yara-rules PATH`: YARA rules over every flow file and every extracted body, with
yara-x (VirusTotal's engine; the optional extra [yara]).

Rules are compiled once per run (a file, or every .yar/.yara file below a folder, each
in a namespace named by its path) and handed to the workers in yara-x's serialized form.
Files are scanned by path: yara-x reads one under ~500 MB whole and memory-maps a larger one.
A per-file time limit and a cap on matches per pattern keep hostile content from stalling
a run; a timeout or scan error is recorded for its file, never dropped.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Iterator

from forensics_tcpflow.errors import UsageError
from forensics_tcpflow.flow.record import FlowRecord
from forensics_tcpflow.scan.registry import ScanContext, ScanResults, register

INSTALL = "pip install 'forensics-tcpflow[yara]'"
RULE_SUFFIXES = (".yar", ".yara")
BATCH = 256                   # files per unit of work at most,
BATCH_BYTES = 32 << 20        # and bytes: a small run stays in this process (a worker costs ~0.5 s to start)
_LOCATION = re.compile(r"-->\s*(.+?):(\d+):(\d+)")


class RulesError(UsageError):
    """The rules cannot be used (a compile error names the file and line): a usage error."""


@dataclass(slots=True)
class YaraHit:
    """One rule that matched one file (or, with `error`, a file whose scan did not finish)."""

    file: str                                  # the flow file or body file, relative to OUT
    rule: str = ""
    namespace: str = ""
    tags: list[str] = field(default_factory=list)
    meta: list[tuple[str, str]] = field(default_factory=list)
    strings: list[tuple[str, int, int]] = field(default_factory=list)    # (identifier, offset, length)
    note: str = ""                             # patterns whose matches reached the cap
    error: str = ""                            # "timeout after 5 s", a scan error


def _yara_x() -> Any:
    try:
        import yara_x
    except ImportError:
        return None
    return yara_x


def rule_files(path: Path) -> list[tuple[Path, str]]:
    """(file, namespace): one file in the default namespace, or each rules file of a folder in its own."""
    if path.is_dir():
        found = sorted(p for p in path.rglob("*") if p.suffix.lower() in RULE_SUFFIXES and p.is_file())
        if not found:
            raise RulesError(f"--yara-rules {path}: no {' or '.join(RULE_SUFFIXES)} files in this folder")
        return [(p, p.relative_to(path).with_suffix("").as_posix()) for p in found]
    if not path.is_file():
        raise RulesError(f"--yara-rules {path}: no such file or folder")
    return [(path, "default")]


def _compile_error(file: Path, exc: Exception) -> RulesError:
    text = str(exc)
    where = _LOCATION.search(text)
    line = f"{file}:{where.group(2)}" if where else str(file)
    first, *rest = text.splitlines() or [""]
    detail = rest[-1].strip(" |^") if rest else ""
    return RulesError(f"--yara-rules: {line}: {first}" + (f" ({detail})" if detail else ""))


_compiled: dict[tuple[str, tuple[tuple[str, int, int], ...]], bytes] = {}


def compiled_rules(path: str) -> bytes | None:
    """The rules compiled and serialized (None when yara-x is not installed); compiled once per
    run: the check before the run and the scanner after it share this result."""
    yara_x = _yara_x()
    if yara_x is None:
        return None
    files = rule_files(Path(path))
    key = (path, tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p, _ in files))
    if key in _compiled:
        return _compiled[key]
    compiler = yara_x.Compiler()
    for file, namespace in files:
        compiler.new_namespace(namespace)
        try:
            source = file.read_text(encoding="utf-8", errors="surrogateescape")
        except OSError as exc:
            raise RulesError(f"--yara-rules: cannot read {file}: {exc.strerror or exc}") from None
        try:
            compiler.add_source(source, origin=str(file))
        except yara_x.CompileError as exc:
            raise _compile_error(file, exc) from None
    buffer = io.BytesIO()
    compiler.build().serialize_into(buffer)
    _compiled[key] = buffer.getvalue()
    return _compiled[key]


_scanners: dict[str, Any] = {}      # in each worker: the rules of the run, deserialized once


def _scanner(rules: bytes, timeout: int, max_matches: int) -> Any:
    key = hashlib.sha256(rules).hexdigest()
    if key not in _scanners:
        yara_x = _yara_x()
        scanner = yara_x.Scanner(yara_x.Rules.deserialize_from(io.BytesIO(rules)))
        scanner.set_timeout(timeout)
        scanner.max_matches_per_pattern(max_matches)
        _scanners.clear()
        _scanners[key] = scanner
    return _scanners[key]


def _meta(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value.hex() if isinstance(value, bytes) else str(value)


def scan_file(scanner: Any, outdir: str, name: str, timeout: int, max_matches: int) -> list[YaraHit]:
    yara_x = _yara_x()
    try:
        results = scanner.scan_file(os.path.join(outdir, name))
    except yara_x.TimeoutError:
        return [YaraHit(name, error=f"timeout after {timeout} s")]
    except (yara_x.ScanError, OSError) as exc:
        return [YaraHit(name, error=f"scan error: {exc}")]
    hits = []
    for rule in results.matching_rules:
        strings = sorted((pattern.identifier, match.offset, match.length)
                         for pattern in rule.patterns for match in pattern.matches)
        capped = [pattern.identifier for pattern in rule.patterns if len(pattern.matches) >= max_matches]
        hits.append(YaraHit(name, rule.identifier, rule.namespace, list(rule.tags),
                            [(key, _meta(value)) for key, value in rule.metadata],
                            sorted(strings, key=lambda s: (s[1], s[0])),
                            f"matches capped at {max_matches} for {', '.join(capped)}" if capped else ""))
    return hits


def scan_files(work: tuple[bytes, int, int, str, list[tuple[str, str]]]) -> list[tuple[str, list[YaraHit]]]:
    """On a worker: (rules, timeout, cap, OUT, [(flow, file to scan), ...]) -> (flow, hits) per file."""
    rules, timeout, max_matches, outdir, files = work
    scanner = _scanner(rules, timeout, max_matches)
    return [(flow, scan_file(scanner, outdir, name, timeout, max_matches)) for flow, name in files]


@register
class YaraScanner:
    """Lists the flow files as they go by; at the end (after -e http has cut out the bodies) scans
    them and the bodies in batches with the run's workers."""

    name: ClassVar[str] = "yara"

    def __init__(self, ctx: ScanContext) -> None:
        self._ctx = ctx
        self._flows: list[tuple[str, str, int]] = []

    def add(self, rec: FlowRecord) -> None:
        if rec.filename and rec.filesize:
            self._flows.append((rec.filename, rec.filename, rec.filesize))

    def finish(self, results: ScanResults) -> None:
        options = self._ctx.options
        if not options.yara_rules:
            results.summary.append("yara: skipped: no --yara-rules given")
            return
        rules = compiled_rules(options.yara_rules)
        if rules is None:
            self._ctx.log(f"forensics-tcpflow: warning: yara: yara-x is not installed, no YARA scan: {INSTALL}")
            results.summary.append(f"yara: skipped: yara-x is not installed ({INSTALL})")
            return
        files = self._flows + [(flow, body.filename, body.filesize) for flow, bodies in results.bodies.items()
                               for body in bodies if body.filename]
        outdir = os.path.abspath(self._ctx.outdir)
        batches = [(rules, options.yara_timeout, options.yara_max_matches, outdir, batch) for batch in _batches(files)]
        for found in self._ctx.map_work(scan_files, batches):
            for flow, hits in found:
                if hits:
                    results.yara.setdefault(flow, []).extend(hits)
        results.summary.append(_summary(results))


def _batches(files: list[tuple[str, str, int]]) -> Iterator[list[tuple[str, str]]]:
    """(flow, file) lists of at most BATCH files and about BATCH_BYTES bytes."""
    batch: list[tuple[str, str]] = []
    size = 0
    for flow, name, length in files:
        if batch and (len(batch) >= BATCH or size + length > BATCH_BYTES):
            yield batch
            batch, size = [], 0
        batch.append((flow, name))
        size += length
    if batch:
        yield batch


def _summary(results: ScanResults) -> str:
    hits = [hit for found in results.yara.values() for hit in found]
    matched = [hit for hit in hits if not hit.error]
    files = {hit.file for hit in matched}
    rules = {(hit.namespace, hit.rule) for hit in matched}
    failed = [hit for hit in hits if hit.error]
    text = f"yara: {len(matched)} matches in {len(files)} files, {len(rules)} rules"
    return text + (f"; {len(failed)} files not fully scanned (timeout or error)" if failed else "")
