"""The TLS record layer and the clear-text handshake of one reassembled direction.

Records may span TCP segments (the flow file is the reassembled stream) and
handshake messages may span records (their payloads are joined before parsing).
Parsing stops at the first record that is not a handshake (ChangeCipherSpec,
application data, alert: what follows is encrypted or not ours), at a hole, at
the end of the stream, or at malformed bytes; `stopped` says which and where, in
the flow file's own offsets, and whatever was parsed before is kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

RECORD_HEADER = 5
MAX_RECORD = (1 << 14) + 2048            # TLSCiphertext's limit (RFC 8446 5.2)
HANDSHAKE, CHANGE_CIPHER_SPEC = 22, 20
_CONTENT_TYPES = (20, 21, 22, 23, 24)    # CCS, alert, handshake, application data, heartbeat
CLIENT_HELLO, SERVER_HELLO, CERTIFICATE, SERVER_HELLO_DONE = 1, 2, 11, 14
EXT_SNI, EXT_GROUPS, EXT_POINT_FORMATS, EXT_SIG_ALGS, EXT_ALPN, EXT_VERSIONS = 0, 10, 11, 13, 16, 43


def is_grease(value: int) -> bool:
    """RFC 8701's reserved values 0x?A?A (both bytes equal); they say nothing about the client."""
    return value & 0x0F0F == 0x0A0A and value >> 8 == value & 0xFF


def looks_like_tls(head: bytes) -> bool:
    """A handshake record header at the start of a stream: content type 22, major version 3, a sane length."""
    return (len(head) >= RECORD_HEADER and head[0] == HANDSHAKE and head[1] == 3 and head[2] <= 4
            and 0 < int.from_bytes(head[3:5], "big") <= MAX_RECORD)


# A handshake record (length < 0x4900) holding a ClientHello or ServerHello (length < 64 KiB).
_HELLO_RECORD = re.compile(rb"\x16\x03[\x00-\x04][\x00-\x48].[\x01\x02]\x00", re.DOTALL)


def tls_start(head: bytes) -> int | None:
    """Where TLS starts in a stream's first bytes: at 0, or after a plain-text prelude that upgrades
    the connection (SMTP/IMAP/POP3 STARTTLS, FTP AUTH TLS, MySQL's SSL request, HTTP CONNECT). A later
    start counts only where a whole hello parses there, so stray bytes that look like a header do not."""
    if looks_like_tls(head):
        return 0
    for found in _HELLO_RECORD.finditer(head):
        side = parse_side(head, "", found.start())
        if side.hello is not None and side.role:
            return found.start()
    return None


class Cut(Exception):
    """The bytes end, or stop making sense, inside a structure: the message says which and where."""


class _Cursor:
    """Bounds-checked big-endian reads over one structure; `base` maps positions to flow-file offsets."""

    def __init__(self, data: bytes, what: str, base: int = 0) -> None:
        self.data, self.what, self.base, self.pos = data, what, base, 0

    def take(self, count: int) -> bytes:
        if self.pos + count > len(self.data):
            raise Cut(f"{self.what} cut at offset {self.base + self.pos}: {count} bytes needed,"
                      f" {len(self.data) - self.pos} left")
        piece = self.data[self.pos:self.pos + count]
        self.pos += count
        return piece

    def uint(self, size: int) -> int:
        return int.from_bytes(self.take(size), "big")

    def vector(self, length_size: int) -> "_Cursor":
        start = self.base + self.pos + length_size
        return _Cursor(self.take(self.uint(length_size)), self.what, start)

    def left(self) -> int:
        return len(self.data) - self.pos

    def uints(self, size: int) -> list[int]:
        return [self.uint(size) for _ in range(self.left() // size)]


@dataclass(slots=True)
class Hello:
    """A ClientHello's or ServerHello's facts (a ServerHello has one cipher and no SNI)."""

    version: int                           # the legacy version field
    ciphers: list[int]
    extensions: list[int]                  # in the order sent, GREASE included
    sni: str = ""
    alpn: list[str] = field(default_factory=list)
    supported_versions: list[int] = field(default_factory=list)
    groups: list[int] = field(default_factory=list)
    point_formats: list[int] = field(default_factory=list)
    signature_algorithms: list[int] = field(default_factory=list)


@dataclass(slots=True)
class Side:
    """What one direction's clear-text handshake said."""

    record_versions: list[int] = field(default_factory=list)   # distinct, as first seen
    hello: Hello | None = None
    role: str = ""                                             # "client" | "server"
    certificates: list[tuple[int, bytes]] = field(default_factory=list)   # (flow-file offset, DER)
    stopped: str = ""                                          # why parsing ended early ("" when it did not)


def _alpn_names(ext: _Cursor) -> list[str]:
    names = ext.vector(2)
    found = []
    while names.left():
        found.append(names.vector(1).data.decode("latin-1"))
    return found


def _sni(ext: _Cursor) -> str:
    names = ext.vector(2)
    while names.left():
        kind, name = names.uint(1), names.vector(2).data
        if kind == 0:
            return name.decode("ascii", "backslashreplace")
    return ""


def _extension(hello: Hello, kind: int, ext: _Cursor, client: bool) -> None:
    if kind == EXT_SNI and client and ext.left():
        hello.sni = _sni(ext)
    elif kind == EXT_ALPN and ext.left():
        hello.alpn = _alpn_names(ext)
    elif kind == EXT_VERSIONS:
        hello.supported_versions = ext.vector(1).uints(2) if client else [ext.uint(2)]
    elif kind == EXT_GROUPS and client:
        hello.groups = ext.vector(2).uints(2)
    elif kind == EXT_POINT_FORMATS:
        hello.point_formats = ext.vector(1).uints(1)
    elif kind == EXT_SIG_ALGS and client:
        hello.signature_algorithms = ext.vector(2).uints(2)


def parse_hello(body: _Cursor, client: bool) -> Hello:
    """A ClientHello (RFC 8446 4.1.2, RFC 5246 7.4.1.2) or ServerHello body."""
    version = body.uint(2)
    body.take(32)                                  # random
    body.vector(1)                                 # session id
    ciphers = body.vector(2).uints(2) if client else [body.uint(2)]
    if client:
        body.vector(1)                             # compression methods
    else:
        body.uint(1)
    hello = Hello(version, ciphers, [])
    if not body.left():
        return hello                               # SSL 3.0 / early TLS: no extensions block
    extensions = body.vector(2)
    while extensions.left():
        kind = extensions.uint(2)
        hello.extensions.append(kind)
        _extension(hello, kind, extensions.vector(2), client)
    return hello


def _certificates(body: _Cursor) -> list[tuple[int, bytes]]:
    """TLS <= 1.2's Certificate message: a list of DER certificates, each with its own length."""
    chain = body.vector(3)
    found = []
    while chain.left():
        cert = chain.vector(3)
        found.append((cert.base, cert.data))
    return found


class _Handshake:
    """Handshake payload joined across records, with the flow-file offset of every joined piece."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.pieces: list[tuple[int, int]] = []    # (position in data, flow-file offset)
        self.pos = 0

    def add(self, payload: bytes, offset: int) -> None:
        self.pieces.append((len(self.data), offset))
        self.data += payload

    def offset(self, position: int) -> int:
        """The flow-file offset of a joined position (exact inside one record's piece)."""
        start, where = max(((p, o) for p, o in self.pieces if p <= position), default=(0, 0))
        return where + position - start

    def messages(self, side: Side) -> bool:
        """Parse every whole message now joined; False once there is nothing more to learn."""
        while len(self.data) - self.pos >= 4:
            kind = self.data[self.pos]
            length = int.from_bytes(self.data[self.pos + 1:self.pos + 4], "big")
            if len(self.data) - self.pos - 4 < length:
                return True                        # the rest comes in later records
            start = self.pos + 4
            body = _Cursor(bytes(self.data[start:start + length]), _NAMES.get(kind, f"handshake message {kind}"),
                           self.offset(start))
            self.pos = start + length
            if not side.role:
                if kind not in (CLIENT_HELLO, SERVER_HELLO):
                    side.stopped = f"first handshake message is type {kind}, not a hello, at offset {body.base - 4}"
                    return False
                side.role = "client" if kind == CLIENT_HELLO else "server"
                side.hello = parse_hello(body, kind == CLIENT_HELLO)
                if kind == CLIENT_HELLO:
                    return False
            elif kind == CERTIFICATE:
                side.certificates = _certificates(body)
                return False
            elif kind == SERVER_HELLO_DONE:
                return False
        return True

    def pending(self) -> str:
        """What the joined bytes still hold unparsed, for the stop reason."""
        left = len(self.data) - self.pos
        if not left:
            return ""
        if left < 4:
            return f"a handshake message header cut at offset {self.offset(self.pos)}"
        kind = self.data[self.pos]
        need = int.from_bytes(self.data[self.pos + 1:self.pos + 4], "big")
        name = _NAMES.get(kind, f"handshake message {kind}")
        return f"{name} at offset {self.offset(self.pos)} cut: {left - 4} of {need} bytes present"


_NAMES = {CLIENT_HELLO: "ClientHello", SERVER_HELLO: "ServerHello", CERTIFICATE: "Certificate"}


def parse_side(data: bytes, end_reason: str, start: int = 0) -> Side:
    """Walk the records of `data` (a direction's first readable bytes) from `start`; `end_reason` says
    why the bytes end there (a hole, the end of the flow, the scan limit), should a structure be cut by it."""
    side = Side()
    handshake = _Handshake()
    pos = start
    try:
        while True:
            if len(data) - pos < RECORD_HEADER:
                if side.hello is None or side.role == "server":
                    side.stopped = handshake.pending() or (f"record header cut at offset {pos}" if pos < len(data)
                                                           else "")
                    side.stopped = f"{side.stopped} ({end_reason})" if side.stopped else f"stream ends: {end_reason}"
                return side
            kind, major, minor = data[pos], data[pos + 1], data[pos + 2]
            length = int.from_bytes(data[pos + 3:pos + 5], "big")
            if kind not in _CONTENT_TYPES or major != 3 or length > MAX_RECORD:
                side.stopped = f"not a TLS record at offset {pos} (type {kind}, version {major}.{minor}, length {length})"
                return side
            version = major << 8 | minor
            if version not in side.record_versions:
                side.record_versions.append(version)
            if kind != HANDSHAKE:
                if side.role == "server" and not side.certificates and kind == CHANGE_CIPHER_SPEC:
                    return side                    # resumed session or TLS 1.3: nothing more in clear text
                if side.hello is None:
                    side.stopped = f"record of type {kind} at offset {pos} before any hello"
                return side
            handshake.add(data[pos + RECORD_HEADER:pos + RECORD_HEADER + length], pos + RECORD_HEADER)
            if not handshake.messages(side):
                return side
            if len(data) - pos - RECORD_HEADER < length:      # what it holds was parsed above
                pending = handshake.pending()
                side.stopped = (f"handshake record at offset {pos} cut: {len(data) - pos - RECORD_HEADER} of {length}"
                                f" bytes present{'; ' + pending if pending else ''} ({end_reason})")
                return side
            pos += RECORD_HEADER + length
    except Cut as exc:
        side.stopped = str(exc)
        return side
