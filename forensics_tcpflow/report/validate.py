"""Check a written report against the official DFXML schema, our strict report schema, and cross-field rules.

Two validators run on each schema because they disagree: libxml2 (lxml) accepts
some orderings that the schema forbids, xmlschema does not. Both stream the file,
so memory stays flat however many flows the report holds.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Iterator

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


_TOP_LEVEL = tuple(f"{{{DFXML_NS}}}{tag}" for tag in ("metadata", "creator", "source", "fileobject", "rusage"))


def _lxml_errors(path: Path, name: str) -> list[str]:
    """libxml2 stops at the first error when validating while streaming: one message at most."""
    try:
        # Only the root's children come back to Python (one event per fileobject, not per element).
        for _, element in etree.iterparse(str(path), events=("end",), schema=_lxml_schema(name), huge_tree=True,
                                          tag=_TOP_LEVEL):
            if element.getparent() is not None and element.getparent().getparent() is None:
                element.clear()
                while element.getprevious() is not None:
                    del element.getparent()[0]
    except etree.XMLSyntaxError as exc:  # libxml2 gives no line for schema errors met while streaming
        return [f"{path}:{exc.lineno or '?'}: {name} (lxml): {exc.msg}"]
    return []


def _xmlschema_errors(path: Path, name: str) -> list[str]:
    import xmlschema
    try:
        resource = xmlschema.XMLResource(str(path), lazy=True, iterparse=etree.iterparse)  # lxml: line numbers
        return [f"{path}:{error.sourceline or '?'}: {name} (xmlschema): {error.reason}"
                for error in _xmlschema_schema(name).iter_errors(resource)]
    except xmlschema.XMLResourceError as exc:
        return [f"{path}: {name} (xmlschema): {exc}"]


def _hash_errors(path: Path) -> Iterator[str]:
    """What XSD 1.0 cannot say: a flow file carries exactly the run's hashes, each of its algorithm's length."""
    run_hashes: set[str] = set()
    option, fileobject, hashdigest = f"{{{FTF_NS}}}option", f"{{{DFXML_NS}}}fileobject", f"{{{DFXML_NS}}}hashdigest"
    for _, element in etree.iterparse(str(path), events=("end",), tag=(option, fileobject), huge_tree=True):
        if element.tag == option:
            if element.get("name") == "hashes":
                run_hashes = {value.get("value", "") for value in element}
            continue
        has_file = element.find(f"{{{DFXML_NS}}}filename") is not None
        digests = {digest.get("type", ""): digest.text or "" for digest in element.iter(hashdigest)}
        expected = run_hashes if has_file else set()
        if set(digests) != expected:
            yield (f"{path}:{element.sourceline}: fileobject has hashdigest types {sorted(digests)},"
                   f" expected {sorted(expected)}")
        for algorithm, digest in digests.items():
            if len(digest) != _DIGEST_LENGTHS.get(algorithm, -1):
                yield f"{path}:{element.sourceline}: {algorithm} digest of length {len(digest)}"
        element.clear()
        while element.getprevious() is not None:
            del element.getparent()[0]


XMLSCHEMA_MAX_BYTES = 256 * 1024     # the check every run makes; `validate` and the tests go all the way


def validate_report(path: Path, xmlschema_max_bytes: int | None = XMLSCHEMA_MAX_BYTES) -> list[str]:
    """Every problem found, as "file:line: what"; empty when the report is valid.

    A thorough check (reports up to `xmlschema_max_bytes`; None: always) runs
    both schemas, official DFXML and ours, through lxml and xmlschema. Past that
    size, xmlschema (pure Python, about half a millisecond per flow and schema)
    is left out and so is the official schema: the project's own report schema,
    stricter than DFXML and free of the wildcards where libxml2 misjudges element
    order, is what every run checks; tests and `validate` go all the way.
    """
    path = Path(path)
    try:
        errors = list(_hash_errors(path))  # also proves the file well-formed before the schema passes
    except etree.XMLSyntaxError as exc:
        return [f"{path}:{exc.lineno}: not well-formed XML: {exc.msg}"]
    thorough = xmlschema_max_bytes is None or path.stat().st_size <= xmlschema_max_bytes
    for name in (DFXML_XSD, REPORT_XSD) if thorough else (REPORT_XSD,):
        errors += _lxml_errors(path, name)
        if thorough:
            errors += _xmlschema_errors(path, name)
    return errors
