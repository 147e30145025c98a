"""One X.509 certificate's facts, read with PyCA's `cryptography` (a maintained, fuzzed DER parser:
certificates from evidence are hostile input, and a hand-written walker would have to be as careful).
A certificate it cannot read keeps its bytes, digests and the parser's reason."""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass
from datetime import datetime

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cryptography import x509


@dataclass(slots=True)
class CertFacts:
    """What the report says about one certificate of a chain (index 1 is the server's own)."""

    index: int
    filename: str              # the DER file written, relative to OUT
    file_offset: int           # where its DER starts in the flow file
    length: int
    sha256: str
    md5: str
    subject: str = ""          # RFC 4514 strings
    issuer: str = ""
    serial: str = ""           # hex
    not_before: str = ""       # ISO 8601, UTC
    not_after: str = ""
    san: str = ""              # "DNS:a, IP:1.2.3.4, ..." as usually shown
    note: str = ""             # why the fields above are empty


def _san(cert: "x509.Certificate") -> str:
    from cryptography import x509
    from cryptography.x509.oid import ExtensionOID
    try:
        names = cert.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value
    except x509.ExtensionNotFound:
        return ""
    shown = []
    for name in names:
        kind = {x509.DNSName: "DNS", x509.IPAddress: "IP", x509.RFC822Name: "email",
                x509.UniformResourceIdentifier: "URI"}.get(type(name), type(name).__name__)
        shown.append(f"{kind}:{name.value}")
    return ", ".join(shown)


def cert_facts(index: int, filename: str, offset: int, der: bytes) -> CertFacts:
    facts = CertFacts(index, filename, offset, len(der), hashlib.sha256(der).hexdigest(), hashlib.md5(der).hexdigest())
    with warnings.catch_warnings(record=True) as said:     # e.g. a negative serial: a fact, not a line on stderr
        warnings.simplefilter("always")
        _read(facts, der)
    if said and not facts.note:
        facts.note = "; ".join(dict.fromkeys(str(warning.message) for warning in said))
    return facts


def _utc(when: datetime) -> str:
    """ISO 8601 with a 4-digit year also before 1000 (strftime's %Y would write "5" for year 5)."""
    return f"{when.year:04d}-{when:%m-%dT%H:%M:%S}Z"


def _read(facts: CertFacts, der: bytes) -> None:
    try:
        from cryptography import x509      # loaded by the first certificate, not by every run
        cert = x509.load_der_x509_certificate(der)
        facts.subject = cert.subject.rfc4514_string()
        facts.issuer = cert.issuer.rfc4514_string()
        facts.serial = f"{cert.serial_number:x}"
        facts.not_before, facts.not_after = _utc(cert.not_valid_before_utc), _utc(cert.not_valid_after_utc)
        facts.san = _san(cert)
    except Exception as exc:     # noqa: BLE001 - hostile DER makes cryptography raise ValueError, TypeError,
        # KeyError (an unknown string tag in a name), DuplicateExtension...: each is a fact about the certificate
        facts.note = f"not a readable X.509 certificate: {type(exc).__name__}: {exc}"
