"""Client and server fingerprints of a TLS handshake: JA3/JA3S (Salesforce: MD5 of decimal lists)
and JA4/JA4S (FoxIO's spec: readable prefix, truncated SHA-256 of hex lists). GREASE values
(RFC 8701) are left out of every list, as both specs say."""

from __future__ import annotations

import hashlib

from forensics_tcpflow.scan.tlsparse import EXT_ALPN, EXT_SNI, Hello, is_grease

_JA4_VERSIONS = {0x0304: "13", 0x0303: "12", 0x0302: "11", 0x0301: "10", 0x0300: "s3", 0x0002: "s2",
                 0xFEFF: "d1", 0xFEFD: "d2", 0xFEFC: "d3"}
_EMPTY_HASH = "000000000000"


def _plain(values: list[int]) -> list[int]:
    return [value for value in values if not is_grease(value)]


def _dashed(values: list[int]) -> str:
    return "-".join(str(value) for value in values)


def ja3_string(hello: Hello) -> str:
    """SSLVersion,Ciphers,Extensions,EllipticCurves,EllipticCurvePointFormats."""
    return ",".join((str(hello.version), _dashed(_plain(hello.ciphers)), _dashed(_plain(hello.extensions)),
                     _dashed(_plain(hello.groups)), _dashed(hello.point_formats)))


def ja3s_string(hello: Hello) -> str:
    """SSLVersion,Cipher,Extensions of the ServerHello."""
    return ",".join((str(hello.version), _dashed(hello.ciphers), _dashed(_plain(hello.extensions))))


def md5(text: str) -> str:
    return hashlib.md5(text.encode("ascii")).hexdigest()


def _sha12(text: str) -> str:
    return hashlib.sha256(text.encode("ascii")).hexdigest()[:12]


def _hex(values: list[int]) -> str:
    return ",".join(f"{value:04x}" for value in values)


def _version(hello: Hello) -> str:
    """The highest supported_versions entry, else the legacy version field."""
    offered = _plain(hello.supported_versions)
    return _JA4_VERSIONS.get(max(offered) if offered else hello.version, "00")


def _alpn(names: list[str]) -> str:
    """First and last characters of the first ALPN value; hex digits when either is not alphanumeric."""
    first = names[0].encode("latin-1") if names else b""
    if not first:
        return "00"
    ends = (first[0], first[-1])
    if all(chr(byte).isascii() and chr(byte).isalnum() for byte in ends):
        return chr(ends[0]) + chr(ends[1])
    text = first.hex()
    return text[0] + text[-1]


def _count(values: list[int]) -> str:
    return f"{min(len(values), 99):02d}"


def ja4(hello: Hello, transport: str = "t") -> str:
    ciphers, extensions = _plain(hello.ciphers), _plain(hello.extensions)
    prefix = (f"{transport}{_version(hello)}{'d' if EXT_SNI in extensions else 'i'}"
              f"{_count(ciphers)}{_count(extensions)}{_alpn(hello.alpn)}")
    cipher_hash = _sha12(_hex(sorted(ciphers))) if ciphers else _EMPTY_HASH
    listed = sorted(value for value in extensions if value not in (EXT_SNI, EXT_ALPN))
    algorithms = _plain(hello.signature_algorithms)
    text = _hex(listed) + (f"_{_hex(algorithms)}" if algorithms else "")
    return f"{prefix}_{cipher_hash}_{_sha12(text) if listed else _EMPTY_HASH}"


def ja4s(hello: Hello, transport: str = "t") -> str:
    extensions = _plain(hello.extensions)
    version = _JA4_VERSIONS.get(hello.supported_versions[0] if hello.supported_versions else hello.version, "00")
    prefix = f"{transport}{version}{_count(extensions)}{_alpn(hello.alpn)}"
    cipher = f"{hello.ciphers[0]:04x}" if hello.ciphers else "0000"
    return f"{prefix}_{cipher}_{_sha12(_hex(extensions)) if extensions else _EMPTY_HASH}"
