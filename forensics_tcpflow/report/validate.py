"""Check a written report against the official DFXML schema, our strict report schema, and cross-field rules.

Two validators run on each schema because they disagree: libxml2 (lxml) accepts
some orderings that the schema forbids, xmlschema does not. Both stream the file,
so memory stays flat however many flows the report holds.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Callable, Iterator

from lxml import etree

from forensics_tcpflow.report.dfxml import DFXML_NS, FTF_NS

DFXML_XSD = "dfxml/dfxml.xsd"
REPORT_XSD = "forensics_tcpflow_report.xsd"
_DIGEST_LENGTHS = {"md5": 32, "sha1": 40, "sha224": 56, "sha256": 64, "sha384": 96, "sha512": 128}


def schema_dir() -> Path:
    """schemas/ inside the installed package, else the repository's (an editable checkout)."""
    package = Path(__file__).resolve().parents[1]
    for candidate in (package / "schemas", package.parent / "schemas"):
        if (candidate / REPORT_XSD).is_file() and (candidate / DFXML_XSD).is_file():
            return candidate
    raise FileNotFoundError(f"no {REPORT_XSD} with {DFXML_XSD} under {package} or {package.parent}")


@cache
def _lxml_schema(name: str) -> etree.XMLSchema:
    return etree.XMLSchema(file=str(schema_dir() / name))


@cache
def _xmlschema_schema(name: str) -> "xmlschema.XMLSchema10":
    import xmlschema   # imported when first needed: it is large, and most runs stay with lxml
    return xmlschema.XMLSchema10(str(schema_dir() / name))


def warm() -> None:
    """Compile every schema with both validators now (before -U takes away the files they come from)."""
    for name in (DFXML_XSD, REPORT_XSD):
        _lxml_schema(name)
        _xmlschema_schema(name)


def _xmlschema_errors(path: Path, name: str, shown: str) -> list[str]:
    import xmlschema
    try:
        resource = xmlschema.XMLResource(str(path), lazy=True, iterparse=etree.iterparse)  # lxml: line numbers
        return [f"{shown}:{error.sourceline or '?'}: {name} (xmlschema): {error.reason}"
                for error in _xmlschema_schema(name).iter_errors(resource)]
    except xmlschema.XMLResourceError as exc:
        return [f"{shown}: {name} (xmlschema): {exc}"]


_OPTION, _FILEOBJECT = f"{{{FTF_NS}}}option", f"{{{DFXML_NS}}}fileobject"
_FILENAME, _HASHDIGEST = f"{{{DFXML_NS}}}filename", f"{{{DFXML_NS}}}hashdigest"
READ_CHUNK = 1 << 20


class NotWellFormed(Exception):
    """The report is not XML at all: nothing else about it is worth saying."""


class _Rules:
    """Fed the watched elements as a parser ends them: with `rules`, says what XSD 1.0 cannot,
    that a flow file carries exactly the run's hashes, each of its algorithm's length; and drops
    every finished fileobject, so memory stays flat however many flows the report holds.
    Messages name the report `shown`."""

    watched = (_OPTION, _FILEOBJECT)

    def __init__(self, shown: str, rules: bool) -> None:
        self.shown = shown
        self.rules = rules
        self.run_hashes: set[str] = set()
        self.errors: list[str] = []

    def see(self, element: etree._Element) -> None:
        if element.tag == _OPTION:
            if element.get("name") == "hashes":
                self.run_hashes = {value.get("value", "") for value in element}
            return
        if self.rules:
            self.errors += _hash_problems(self.shown, element, self.run_hashes)
        element.clear()
        while element.getprevious() is not None:
            del element.getparent()[0]

    def failed(self, exc: etree.XMLSyntaxError, name: str) -> list[str]:
        """libxml2 stops at the first schema error when validating while streaming: one such
        message at most, and without a line number."""
        if exc.code < etree.ErrorTypes.SCHEMAV_NOROOT:
            raise NotWellFormed(f"{self.shown}:{exc.lineno}: not well-formed XML: {exc.msg}") from exc
        return self.errors + [f"{self.shown}:{exc.lineno or '?'}: {name} (lxml): {exc.msg}"]


def _complete(seconds: float) -> bool:
    return True


def _lxml_errors(path: Path, name: str, rules: bool, shown: str,
                 finished: Callable[[float], bool] = _complete) -> list[str]:
    """One streaming pass: schema `name` through libxml2, and the rules. The report may still be
    growing: at the end of what is there, `finished(seconds)` (waiting at most that long) says
    whether the writer is done, before the end of the file is taken for the end of the report.
    """
    seen = _Rules(shown, rules)
    parser = etree.XMLPullParser(events=("end",), tag=_Rules.watched, huge_tree=True, schema=_lxml_schema(name))
    done = False
    try:
        with open(path, "rb") as report:
            while (chunk := report.read(READ_CHUNK)) or not done:
                if not chunk:
                    done = finished(0.05)
                    continue
                parser.feed(chunk)
                for _, element in parser.read_events():
                    seen.see(element)
        parser.close()
        for _, element in parser.read_events():
            seen.see(element)
    except etree.XMLSyntaxError as exc:
        return seen.failed(exc, name)
    return seen.errors


def follow_report(path: Path, finished: Callable[[float], bool], shown_as: Path | None = None) -> list[str]:
    """The check every run makes (our schema through libxml2, and the rules), on a report that
    is still being written, as `validate_report` words its problems. Beside the writer, the
    check costs no time of its own."""
    try:
        return _lxml_errors(path, REPORT_XSD, True, str(shown_as or path), finished)
    except NotWellFormed as exc:
        return [str(exc)]


def _hash_problems(shown: str, fileobject: etree._Element, run_hashes: set[str]) -> Iterator[str]:
    digests = {digest.get("type", ""): digest.text or "" for digest in fileobject.iter(_HASHDIGEST)}
    expected = run_hashes if fileobject.find(_FILENAME) is not None else set()
    if set(digests) != expected:
        yield (f"{shown}:{fileobject.sourceline}: fileobject has hashdigest types {sorted(digests)},"
               f" expected {sorted(expected)}")
    for algorithm, digest in digests.items():
        if len(digest) != _DIGEST_LENGTHS.get(algorithm, -1):
            yield f"{shown}:{fileobject.sourceline}: {algorithm} digest of length {len(digest)}"


OFFICIAL_MAX_BYTES = 256 * 1024     # reports up to this size are also checked against official DFXML at run time


def validate_report(path: Path, thorough: bool = False, shown_as: Path | None = None,
                    official_max_bytes: int = OFFICIAL_MAX_BYTES) -> list[str]:
    """Every problem found, as "file:line: what" (the file named `shown_as`, default `path`, e.g.
    the place a report checked under its temporary name is going to); empty when it is valid.

    Every run checks its report with lxml against the project's own schema (stricter than
    DFXML and free of the wildcards where libxml2 misjudges element order) and, up to
    `official_max_bytes`, against official DFXML. `thorough` (the `validate` command and the
    tests) adds xmlschema on both schemas: pure Python, about half a millisecond per flow and
    schema plus 0.4 s to load, which would double a small run's time.
    """
    path = Path(path)
    shown = str(shown_as or path)
    try:
        errors = _lxml_errors(path, REPORT_XSD, True, shown)     # proves the file well-formed, too
    except NotWellFormed as exc:
        return [str(exc)]
    if thorough or path.stat().st_size <= official_max_bytes:
        errors += _lxml_errors(path, DFXML_XSD, False, shown)
    if thorough:
        errors += _xmlschema_errors(path, REPORT_XSD, shown) + _xmlschema_errors(path, DFXML_XSD, shown)
    return errors
