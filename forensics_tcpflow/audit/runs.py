"""One run as `diff` sees it: its report's header in memory, its flows, bodies and files in SQLite.

The header (options, inputs, versions, arguments) is small; everything per flow is streamed from
the report into a temporary on-disk database, and every file under the report's folder is hashed
once, so memory stays flat whatever the number of flows.
"""

from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from lxml import etree

from ..batch.verify import report_elements, report_folders, report_outputs
from ..report.outputs import digests, files_below
from ..report.dfxml import D, F

BATCH = 1000          # rows per executemany: a few hundred KB of facts in memory at a time
NO_FILE = "(no file) "     # the key of a flow direction that wrote no file


@dataclass(frozen=True, slots=True)
class Input:
    """An input as its report records it."""

    path: str
    abspath: str
    size: int
    md5: str
    sha256: str
    stream: bool
    live: bool
    kernel: str = ""        # the flow kernel's implementation, when the report states one (<ftf:kernel>)


@dataclass(slots=True)
class Run:
    """The report's header: what the run was given and what it ran with."""

    report: Path
    version: str = ""
    libraries: dict[str, str] = field(default_factory=dict)    # and "platform", "implementation" when recorded
    options: dict[str, str] = field(default_factory=dict)
    argv: tuple[str, ...] | None = None       # None: an older report without <ftf:replay>
    cwd: str = ""
    inputs: list[Input] = field(default_factory=list)
    exit_status: str = ""
    interrupted: str = ""

    def capture_identity(self) -> dict[str, str]:
        """A flow's capture attribute names its input as given: compare the input's content instead."""
        return {inp.path: inp.sha256 or inp.path for inp in self.inputs}


def _input(element: etree._Element) -> Input:
    digests = {h.get("type", ""): h.get("before", "") for h in element.iter(F("hash"))}
    kernel = element.find(F("kernel"))
    return Input(path=element.get("path", ""), abspath=element.get("abspath", ""), size=int(element.get("size", "0")),
                 md5=digests.get("md5", ""), sha256=digests.get("sha256", ""),
                 stream=element.get("stream") == "true", live=element.get("format") == "live",
                 kernel="" if kernel is None else kernel.get("implementation", ""))


def _option(element: etree._Element) -> str:
    """A list as its values joined by commas, a scalar as its value; unset as "(unset)"."""
    if len(element):
        return ",".join(v.get("value", "") for v in element.iter(F("value")))
    return element.get("value", "(unset)")


def _local(name: str) -> str:
    return etree.QName(name).localname


def _flow_facts(fileobject: etree._Element, identity: dict[str, str]) -> tuple[str | None, dict[str, object]]:
    flow = fileobject.find(F("flow"))
    facts: dict[str, object] = dict(flow.attrib) if flow is not None else {}
    facts["capture"] = identity.get(str(facts.get("capture", "")), facts.get("capture", ""))
    facts["filesize"] = fileobject.findtext(D("filesize"), "")
    for child in flow if flow is not None else ():
        attrs = dict(child.attrib)
        if "capture" in attrs:
            attrs["capture"] = identity.get(attrs["capture"], attrs["capture"])
        facts.setdefault(_local(child.tag), []).append(" ".join(f"{k}={v}" for k, v in attrs.items()))
    return fileobject.findtext(D("filename")), facts


def _flow_key(facts: dict[str, object]) -> str:
    return (f"{NO_FILE}{facts.get('src_ipn')}.{facts.get('srcport')}-{facts.get('dst_ipn')}.{facts.get('dstport')}"
            f" {facts.get('direction')} connection {facts.get('connection_id')}"
            f" of input {str(facts.get('capture'))[:16]}")


HEADER_TAGS = (F("option"), F("input"), F("run"), F("replay"), D("version"), D("library"))


def _take(run: Run, element: etree._Element) -> None:
    """One header element into the Run."""
    tag = element.tag
    if tag == F("option"):
        run.options[element.get("name", "")] = _option(element)
    elif tag == F("input"):
        run.inputs.append(_input(element))
    elif tag == F("run"):
        run.exit_status, run.interrupted = element.get("exit_status", ""), element.get("interrupted", "")
    elif tag == F("replay"):
        run.argv = tuple(arg.text or "" for arg in element.iter(F("arg")))
        run.cwd = element.get("cwd", "")
        run.version = element.get("version", run.version)
        run.libraries.update((lib.get("name", ""), lib.get("version", "")) for lib in element.iter(F("library")))
        run.libraries.update(platform=element.get("platform", ""), implementation=element.get("implementation", ""))
    elif tag == D("version"):
        run.version = run.version or (element.text or "")
    elif tag == D("library"):
        run.libraries.setdefault(element.get("name", ""), element.get("version", ""))


def _check(run: Run) -> None:
    if not run.exit_status:
        raise ValueError("not a forensics-tcpflow report (it has no <ftf:run>)")


def read_header(report: Path) -> Run:
    """The header alone: parsing stops where the flows begin."""
    run = Run(report=report)
    for element in report_elements(report, (*HEADER_TAGS, D("source"))):
        if element.tag == D("source"):
            break
        _take(run, element)
    _check(run)
    return run


class Store:
    """Both runs' named files and files on disk, in a private temporary SQLite database on disk."""

    def __init__(self) -> None:
        self.db = sqlite3.connect("")
        self.db.executescript("""
            CREATE TABLE named (run INTEGER, name TEXT, kind TEXT, onfile INTEGER, sha256 TEXT, md5 TEXT,
                                facts TEXT, PRIMARY KEY (run, name)) WITHOUT ROWID;
            CREATE TABLE files (run INTEGER, name TEXT, size INTEGER, sha256 TEXT, intact INTEGER,
                                PRIMARY KEY (run, name)) WITHOUT ROWID;
        """)

    def close(self) -> None:
        self.db.close()

    def load(self, index: int, report: Path) -> Run:
        """Read run `index` (0: A, 1: B): its report streamed, then every file under its folder hashed once."""
        run = Run(report=report)
        self._insert("named", self._named(index, run))
        self._insert("files", self._on_disk(index, report))
        self._insert("files", self._named_elsewhere(index, report))
        return run

    def _insert(self, table: str, rows: Iterator[tuple[object, ...]]) -> None:
        marks = ",".join("?" * (7 if table == "named" else 5))
        batch: list[tuple[object, ...]] = []
        for row in rows:
            batch.append(row)
            if len(batch) >= BATCH:
                self.db.executemany(f"INSERT OR REPLACE INTO {table} VALUES ({marks})", batch)
                batch.clear()
        self.db.executemany(f"INSERT OR REPLACE INTO {table} VALUES ({marks})", batch)
        self.db.commit()

    def _named(self, index: int, run: Run) -> Iterator[tuple[object, ...]]:
        identity: dict[str, str] = {}
        for element in report_elements(run.report, (*HEADER_TAGS, D("fileobject"))):
            if element.tag != D("fileobject"):
                _take(run, element)
                identity = run.capture_identity() if element.tag == F("run") else identity
                continue
            name, facts = _flow_facts(element, identity)
            digests = {d.get("type"): (d.text or "").strip() for d in element.iter(D("hashdigest"))}
            yield (index, name or _flow_key(facts), "flow", int(bool(name)), digests.get("sha256", ""),
                   digests.get("md5", ""), json.dumps(facts, sort_keys=True))
            for body in element.iter(D("byte_run")):
                attrs = {_local(k): v for k, v in body.attrib.items()}
                if attrs.get("filename"):
                    body_name = attrs.pop("filename")
                    attrs["flow"] = name or ""
                    yield (index, body_name, "body", 1, attrs.pop("sha256", ""), attrs.pop("md5", ""),
                           json.dumps(attrs, sort_keys=True))
        _check(run)

    def _hashed(self, index: int, path: Path, name: str) -> tuple[object, ...]:
        """The file's sha256 (what A and B are compared by), and whether it still matches its own report
        (by sha256, or md5 when the report has no sha256 for it)."""
        recorded = self.db.execute("SELECT sha256, md5 FROM named WHERE run = ? AND name = ?",
                                   (index, name)).fetchone() or ("", "")
        check = "md5" if recorded[1] and not recorded[0] else None
        found = digests(path, ["sha256", check] if check else ["sha256"])
        expected, got = (recorded[1], found["md5"]) if check else (recorded[0], found["sha256"])
        return index, name, path.stat().st_size, found["sha256"], None if not expected else int(expected == got)

    def _on_disk(self, index: int, report: Path) -> Iterator[tuple[object, ...]]:
        skip = report_outputs(report)
        cut = len(str(report.parent).rstrip(os.sep)) + 1
        for path in files_below(report.parent, ordered=False, skip=report_folders(report)):
            if path not in skip:
                yield self._hashed(index, path, str(path)[cut:].replace(os.sep, "/"))

    def _named_elsewhere(self, index: int, report: Path) -> Iterator[tuple[object, ...]]:
        """Files the report names outside its own folder (a -X report beside OUT's parent, say)."""
        rows = self.db.execute("SELECT name FROM named n WHERE run = ? AND onfile = 1 AND name LIKE '../%' AND NOT"
                               " EXISTS (SELECT 1 FROM files f WHERE f.run = n.run AND f.name = n.name)", (index,))
        for (name,) in rows.fetchall():
            path = report.parent / name
            if path.is_file():
                yield self._hashed(index, path, name)


def first_difference(a: Path, b: Path) -> int:
    """The offset of the first byte that differs (or where the shorter file ends)."""
    offset = 0
    with open(a, "rb") as fa, open(b, "rb") as fb:
        while True:
            ca, cb = fa.read(1 << 16), fb.read(1 << 16)
            if ca != cb:
                return offset + next((i for i, (x, y) in enumerate(zip(ca, cb)) if x != y), min(len(ca), len(cb)))
            if not ca:
                return offset
            offset += len(ca)

