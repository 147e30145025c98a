"""`verify REPORT`: re-hash every flow file and input capture a report names, a year later.

Flow files are found relative to the report's folder (as the report names
them); inputs by their recorded path, relative ones tried from the current
folder, then from the report's. Files under the report's folder that the report
does not name are listed as extra.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from lxml import etree

from ..capture.stdin import STDIN_PATH
from ..report.dfxml import DFXML_NS, FTF_NS
from ..report.bodies import BODY_INDEXES
from ..report.registry import WRITERS
from ..scan.netviz import PICTURES
from .journal import STATE_DIR

_FILEOBJECT, _FILENAME, _HASHDIGEST = (f"{{{DFXML_NS}}}{tag}" for tag in ("fileobject", "filename", "hashdigest"))
_INPUT, _HASH = f"{{{FTF_NS}}}input", f"{{{FTF_NS}}}hash"
_BYTE_RUN = f"{{{DFXML_NS}}}byte_run"
_BODY_NAME, _BODY_HASHES = f"{{{FTF_NS}}}filename", {name: f"{{{FTF_NS}}}{name}" for name in ("md5", "sha256")}
_SAVED = f"{{{FTF_NS}}}saved_capture"     # the packets of a live capture, kept with --save-capture


@dataclass(frozen=True, slots=True)
class Expected:
    """A file the report vouches for: its path, how the report named it, and its digests."""

    path: Path
    name: str
    digests: dict[str, str]


@dataclass(slots=True)
class Verdict:
    flow_files: int = 0
    body_files: int = 0
    inputs: int = 0
    missing: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.changed or self.extra)

    def lines(self) -> Iterator[str]:
        for label, names in (("missing", self.missing), ("changed", self.changed), ("extra", self.extra)):
            yield from (f"{label}: {name}" for name in names)
        outcome = "all match" if self.ok else "MISMATCH"
        bodies = f", {self.body_files} body files" if self.body_files else ""
        yield (f"{outcome}: {self.flow_files} flow files{bodies} and {self.inputs} input captures checked;"
               f" {len(self.missing)} missing, {len(self.changed)} changed, {len(self.extra)} extra")


def _digests(path: Path, algorithms: list[str]) -> dict[str, str]:
    hashers = {name: hashlib.new(name) for name in algorithms}
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            for hasher in hashers.values():
                hasher.update(chunk)
    return {name: hasher.hexdigest() for name, hasher in hashers.items()}


def _input_path(recorded: str, absolute: str, report_dir: Path) -> Path:
    """Where the input was when the report was made; else as given, from here or from the report."""
    for candidate in (Path(absolute), Path(recorded), report_dir / recorded):
        if candidate.exists():
            return candidate
    return Path(absolute or recorded)


def expected_files(report: Path) -> Iterator[tuple[str, Expected]]:
    """("flow" | "body" | "input", Expected) for every file the report names, streamed."""
    report_dir = report.parent
    for _, element in etree.iterparse(str(report), events=("end",), tag=(_FILEOBJECT, _INPUT, _SAVED),
                                      huge_tree=True):
        if element.tag == _SAVED:
            recorded = element.get("path", "")
            yield "input", Expected(_input_path(recorded, recorded, report_dir), recorded,
                                    {name: element.get(name, "") for name in ("md5", "sha256")})
        elif element.tag == _INPUT:
            digests = {h.get("type", ""): h.get("before", "") for h in element.iter(_HASH) if h.get("before")}
            recorded = element.get("path", "")
            if digests.get("sha256") and recorded != STDIN_PATH:    # a stream read once cannot be read again
                where = _input_path(recorded, element.get("abspath", ""), report_dir)
                yield "input", Expected(where, recorded, {"sha256": digests["sha256"]})
        else:
            name = element.findtext(_FILENAME)
            if name:
                digests = {d.get("type", ""): (d.text or "").strip() for d in element.iter(_HASHDIGEST)}
                yield "flow", Expected(report_dir / name, name, digests)
            for run in element.iter(_BYTE_RUN):
                body = run.get(_BODY_NAME)
                if body:
                    found = {algorithm: run.get(attribute, "") for algorithm, attribute in _BODY_HASHES.items()}
                    yield "body", Expected(report_dir / body, body, found)
            element.clear()
            while element.getprevious() is not None:
                del element.getparent()[0]


def _files_below(root: Path, owned: set[Path]) -> Iterator[Path]:
    """Every file below root, except in the run's state folder and in folders a report format owns."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d != STATE_DIR and Path(dirpath) / d not in owned)
        for name in sorted(filenames):
            yield Path(dirpath) / name


class _Named:
    """The paths a report names, kept in a private temporary SQLite database on disk: a set of
    600,000 paths in memory is hundreds of MB, this stays flat however many flows there are."""

    def __init__(self) -> None:
        self._db = sqlite3.connect("")
        self._db.execute("CREATE TABLE named (path TEXT PRIMARY KEY) WITHOUT ROWID")

    def add(self, path: Path) -> None:
        self._db.execute("INSERT OR IGNORE INTO named VALUES (?)", (os.path.abspath(path),))

    def __contains__(self, path: Path) -> bool:
        found = self._db.execute("SELECT 1 FROM named WHERE path = ?", (os.path.abspath(path),))
        return found.fetchone() is not None

    def close(self) -> None:
        self._db.close()


def verify_report(report: Path) -> Verdict:
    """Compare the files on disk with the report; raises OSError / lxml's XMLSyntaxError on an unreadable report."""
    report = Path(report)
    verdict = Verdict()
    named = _Named()
    try:
        _compare(report, verdict, named)
    finally:
        named.close()
    return verdict


def _compare(report: Path, verdict: Verdict, named: _Named) -> None:
    for name in WRITERS:
        named.add(WRITERS[name].target(report))
    for name in (*BODY_INDEXES, *PICTURES):
        named.add(report.parent / name)
    for kind, item in expected_files(report):
        named.add(item.path)
        if kind == "flow":
            verdict.flow_files += 1
        elif kind == "body":
            verdict.body_files += 1
        else:
            verdict.inputs += 1
        if not item.path.is_file():
            verdict.missing.append(item.name)
            continue
        found = _digests(item.path, [name for name in item.digests if name in hashlib.algorithms_available])
        if any(found.get(name) not in (None, digest) for name, digest in item.digests.items()):
            verdict.changed.append(item.name)
    owned = {folder for writer in WRITERS.values() for folder in writer.folders(report)}
    for path in _files_below(report.parent, owned):
        if path not in named:
            verdict.extra.append(os.path.relpath(path, report.parent).replace(os.sep, "/"))
