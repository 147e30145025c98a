"""`verify REPORT`: re-hash every flow file and input capture a report names, a year later.

Flow files and the other files the run wrote (-I, -K, -w, pictures, bodies) are
found relative to the report's folder (as the report names them); inputs by their
recorded path, relative ones tried from the current folder, then from the report's.
Files under the run's OUT (as the report records it, seen from the report) that the
report does not name are listed as extra; nothing else is looked at.
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
from ..report.outputs import digests, files_below
from ..report.placement import OUT_FROM_REPORT, named_after
from ..report.registry import WRITERS
from ..report.scanfacts import SCAN_INDEXES
from ..scan.netviz import PICTURES

_FILEOBJECT, _FILENAME, _HASHDIGEST = (f"{{{DFXML_NS}}}{tag}" for tag in ("fileobject", "filename", "hashdigest"))
_INPUT, _HASH = f"{{{FTF_NS}}}input", f"{{{FTF_NS}}}hash"
_BYTE_RUN = f"{{{DFXML_NS}}}byte_run"
_BODY_NAME, _BODY_HASHES = f"{{{FTF_NS}}}filename", {name: f"{{{FTF_NS}}}{name}" for name in ("md5", "sha256")}
_SAVED = f"{{{FTF_NS}}}saved_capture"     # the packets of a live capture, kept with --save-capture
_CERTIFICATE = f"{{{FTF_NS}}}certificate"   # -e tls: a certificate written as <flow>-CERT-NNN.der
_OUTPUT, _RUN, _DERIVED, _OPTION = (f"{{{FTF_NS}}}{tag}" for tag in ("output", "run", "derived", "option"))
_FLOW = f"{{{FTF_NS}}}flow"
_INDEX_PREFIX = "index_"                  # the flow's .findx: index_filename and index_<hash> attributes


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
    cert_files: int = 0
    inputs: int = 0
    outputs: int = 0
    interrupted: bool = False
    missing: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.changed or self.extra)

    def lines(self) -> Iterator[str]:
        for label, names in (("missing", self.missing), ("changed", self.changed), ("extra", self.extra)):
            yield from (f"{label}: {name}" for name in names)
        if self.interrupted:
            yield "interrupted: the report says the run was cut short; its files are as far as it got (see --resume)"
        outcome = "all match" if self.ok else "MISMATCH"
        bodies = f", {self.body_files} body files" if self.body_files else ""
        bodies += f", {self.cert_files} certificate files" if self.cert_files else ""
        others = f", {self.outputs} other output files" if self.outputs else ""
        yield (f"{outcome}: {self.flow_files} flow files{bodies}{others} and {self.inputs} input captures checked;"
               f" {len(self.missing)} missing, {len(self.changed)} changed, {len(self.extra)} extra")


def _input_path(recorded: str, absolute: str, report_dir: Path) -> Path:
    """Where the input was when the report was made; else as given, from here or from the report."""
    for candidate in (Path(absolute), Path(recorded), report_dir / recorded):
        if candidate.exists():
            return candidate
    return Path(absolute or recorded)


def expected_files(report: Path, run: dict[str, str] | None = None) -> Iterator[tuple[str, Expected]]:
    """("flow" | "body" | "cert" | "output" | "input", Expected) for every file the report names, streamed;
    `run` gets the run's attributes and derived options as they go by."""
    report_dir = report.parent
    run = {} if run is None else run
    for element in report_elements(report, (_FILEOBJECT, _INPUT, _SAVED, _OUTPUT, _RUN, _DERIVED)):
        if element.tag == _RUN:
            run.update(element.attrib)
        elif element.tag == _DERIVED:
            run.update((option.get("name", ""), option.get("value", "")) for option in element.iter(_OPTION))
        elif element.tag == _OUTPUT:
            yield "output", Expected(report_dir / element.get("path", ""), element.get("path", ""),
                                     {name: element.get(name, "") for name in ("md5", "sha256")})
        elif element.tag == _SAVED:
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
            flow = element.find(_FLOW)
            index = flow.get("index_filename") if flow is not None else None
            if index:
                digests = {key[len(_INDEX_PREFIX):]: value for key, value in flow.attrib.items()
                           if key.startswith(_INDEX_PREFIX) and key != "index_filename"}
                yield "flow", Expected(report_dir / index, index, digests)
            for run in element.iter(_BYTE_RUN):
                body = run.get(_BODY_NAME)
                if body:
                    found = {algorithm: run.get(attribute, "") for algorithm, attribute in _BODY_HASHES.items()}
                    yield "body", Expected(report_dir / body, body, found)
            for cert in element.iter(_CERTIFICATE):
                if name := cert.get("filename"):
                    yield "cert", Expected(report_dir / name, name, {h: cert.get(h, "") for h in ("md5", "sha256")})


def report_elements(report: Path, tags: tuple[str, ...]) -> Iterator[etree._Element]:
    """Every element of these tags, complete, in document order; each is dropped once the caller moves
    on (with what came before it), so memory stays flat over any number of fileobjects."""
    for _, element in etree.iterparse(str(report), events=("end",), tag=tags, huge_tree=True):
        yield element
        element.clear()
        while element.getprevious() is not None:
            del element.getparent()[0]


def report_outputs(report: Path) -> set[Path]:
    """The report and the indexes and pictures written beside it: files of the run that no report line names."""
    beside = (*BODY_INDEXES, *SCAN_INDEXES, *PICTURES)
    return {WRITERS[name].target(report) for name in WRITERS} | {named_after(report, name) for name in beside}


def report_folders(report: Path) -> frozenset[Path]:
    """Folders a report format owns whole beside the report (the case page's data): no file in them is extra."""
    return frozenset(folder for writer in WRITERS.values() for folder in writer.folders(report))


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
    for path in report_outputs(report):
        named.add(path)
    run: dict[str, str] = {}
    counted = {"flow": "flow_files", "body": "body_files", "cert": "cert_files", "output": "outputs",
               "input": "inputs"}
    for kind, item in expected_files(report, run):
        named.add(item.path)
        setattr(verdict, counted[kind], getattr(verdict, counted[kind]) + 1)
        if not item.path.is_file():
            verdict.missing.append(item.name)
            continue
        found = digests(item.path, [name for name in item.digests if name in hashlib.algorithms_available])
        if any(found.get(name) not in (None, digest) for name, digest in item.digests.items()):
            verdict.changed.append(item.name)
    verdict.interrupted = run.get("interrupted") == "true"
    out = _outdir(report, run)
    for path in files_below(out, skip=report_folders(report)) if out is not None else ():
        if path not in named:
            verdict.extra.append(os.path.relpath(path, report.parent).replace(os.sep, "/"))


def _outdir(report: Path, run: dict[str, str]) -> Path | None:
    """The run's OUT as the report records it, seen from the report; None for a console run (no OUT is
    kept); the report's folder for a report from before OUT was recorded."""
    if OUT_FROM_REPORT in run:
        return report.parent / run[OUT_FROM_REPORT]
    return None if "runner" in run else report.parent
