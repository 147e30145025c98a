"""`-e http`: every HTTP/1.x message body of a connection into its own file, as tcpflow's scan_http.

Reads the two finished flow files of a connection forward, once each: requests
first (their methods decide which responses carry a body, e.g. HEAD), then the
responses paired with them in order. Bodies are copied in bounded chunks
(Content-Length, chunked, or up to the connection's close), decoded on the way,
and stop at the first hole: what came before is kept and marked incomplete.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, ClassVar

from forensics_tcpflow.flow.record import FlowRecord
from forensics_tcpflow.scan.body import BodyRecord, BodyWriter
from forensics_tcpflow.scan.mime import extension
from forensics_tcpflow.scan.registry import ScanContext, ScanResults, register

READ_CHUNK = 1 << 16
MAX_LINE = 1 << 16            # a longer header line is not HTTP we can trust
MAX_HEADERS = 512
RESPONSE_TAG, REQUEST_TAG = "HTTPBODY", "HTTPREQBODY"
_REQUEST_LINE = re.compile(rb"[A-Z][A-Z_-]{1,19} [^ \r\n]+ HTTP/1\.[0-9]\r?\n")
_NO_BODY_STATUS = (204, 304)

Key = tuple[object, ...]


@dataclass(slots=True)
class _Request:
    method: str
    uri: str
    host: str


@dataclass(slots=True)
class _Head:
    """A message's start line and headers (names lower-cased; repeated ones joined with ', ')."""

    offset: int
    start: list[str]
    headers: dict[str, str] = field(default_factory=dict)


class _FlowReader:
    """A flow file read forward in bounded pieces that never cross into a hole (zero-filled, not data)."""

    def __init__(self, path: Path, rec: FlowRecord) -> None:
        self._fh = open(path, "rb")
        self.size = rec.filesize
        self._holes = sorted((offset, offset + length) for offset, length in rec.holes)
        self.pos = 0

    def close(self) -> None:
        self._fh.close()

    def limit(self) -> int:
        """Where the readable bytes from here end: the next hole, or the end of the file."""
        for start, end in self._holes:
            if end > self.pos:
                return max(self.pos, min(start, self.size))
        return self.size

    def at_hole(self) -> bool:
        return self.limit() < self.size and self.pos == self.limit()

    def read(self, most: int) -> bytes:
        data = self._fh.read(max(0, min(most, self.limit() - self.pos)))
        self.pos += len(data)
        return data

    def readline(self) -> bytes:
        data = self._fh.readline(max(0, min(MAX_LINE, self.limit() - self.pos)))
        self.pos += len(data)
        return data

    def peek(self, most: int) -> bytes:
        data = self.read(most)
        self.seek(self.pos - len(data))
        return data

    def seek(self, offset: int) -> None:
        self._fh.seek(offset)
        self.pos = offset

    def where(self) -> str:
        return f"a hole at offset {self.pos}" if self.at_hole() else f"the end of the flow at offset {self.pos}"


def _head(reader: _FlowReader) -> _Head | None:
    """The next message head, or None at the end, at a hole, or where the bytes are not HTTP."""
    line = reader.readline()
    while line in (b"\r\n", b"\n"):          # CRLF between messages (RFC 9112 2.2)
        line = reader.readline()
    offset = reader.pos - len(line)
    if not line.endswith(b"\n"):
        return None
    head = _Head(offset, line.decode("latin-1").split(None, 2))
    for _ in range(MAX_HEADERS):
        line = reader.readline()
        if not line.endswith(b"\n"):
            return None
        if line in (b"\r\n", b"\n"):
            return head
        name, _, value = line.decode("latin-1").partition(":")
        name, value = name.strip().lower(), value.strip()
        head.headers[name] = f"{head.headers[name]}, {value}" if name in head.headers else value
    return None


def _copy(reader: _FlowReader, count: int, out: Callable[[bytes], None]) -> bool:
    """Copy `count` bytes; False when the flow ends or a hole starts first."""
    while count > 0:
        data = reader.read(min(count, READ_CHUNK))
        if not data:
            return False
        out(data)
        count -= len(data)
    return True


def _chunked(reader: _FlowReader, out: Callable[[bytes], None]) -> tuple[bool, str]:
    while True:
        line = reader.readline()
        if not line.endswith(b"\n"):
            return False, f"chunked body cut by {reader.where()}"
        try:
            size = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            return False, f"bad chunk size line at offset {reader.pos - len(line)}"
        if size == 0:
            while (trailer := reader.readline()) not in (b"\r\n", b"\n"):
                if not trailer.endswith(b"\n"):
                    return True, ""        # the body is whole; only the trailer section is cut
            return True, ""
        if not _copy(reader, size, out):
            return False, f"chunked body cut by {reader.where()}"
        reader.readline()                   # the CRLF after the chunk data


def _to_close(reader: _FlowReader, out: Callable[[bytes], None], closed: bool) -> tuple[bool, str]:
    while data := reader.read(READ_CHUNK):
        out(data)
    if reader.at_hole():
        return False, f"body cut by {reader.where()}"
    if not closed:
        return False, "body ends where the flow ends, without the close that would end it"
    return True, ""


class _Extractor:
    """Bodies of one direction of one connection, written beside its flow file."""

    def __init__(self, ctx: ScanContext, rec: FlowRecord, tag: str, results: ScanResults) -> None:
        self._ctx, self._rec, self._tag = ctx, rec, tag
        self._found = results.bodies.setdefault(rec.filename, [])
        self.reader = _FlowReader(ctx.outdir / rec.filename, rec)

    def body(self, index: int, head: _Head, request: _Request, status: int | None, has_body: bool) -> bool:
        """Write the body after `head` (if any); False when the stream cannot be followed past it."""
        reader, headers = self.reader, head.headers
        content_type = headers.get("content-type", "")
        coding = headers.get("content-encoding", "").strip().lower()
        chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        length = headers.get("content-length", "").strip()
        if not has_body or (not chunked and length == "0"):
            return True
        if not chunked and length and not length.isdigit():
            return False
        start = reader.pos
        if not chunked and not length and (status is None or reader.peek(1) == b""):
            return True                     # a request without a length has no body (RFC 9112 6.3)
        name = f"{self._rec.filename}-{self._tag}-{index:03d}{extension(content_type)}"
        writer = BodyWriter(self._ctx.outdir / name, coding, self._ctx.options.decompress)
        follow_on = True
        try:
            if chunked:
                complete, note = _chunked(reader, writer.write)
                follow_on = complete
            elif length:
                complete = _copy(reader, int(length), writer.write)
                note = "" if complete else f"body cut by {reader.where()} ({reader.pos - start} of {length} bytes)"
                follow_on = complete or start + int(length) <= reader.size
            else:
                complete, note = _to_close(reader, writer.write, self._rec.close_reason in ("fin", "rst"))
                follow_on = False
        except BaseException:
            writer.discard()
            raise
        taken = reader.pos - start
        if follow_on and not complete:
            reader.seek(start + int(length))            # the next message starts after the hole
        size, md5, sha256, problem = writer.close(complete)
        if not size and not problem and complete:
            writer.path.unlink()            # an empty body (e.g. gzip of nothing): no file, as tcpflow
            return follow_on
        notes = "; ".join(part for part in (note, problem) if part)
        self._found.append(BodyRecord(
            filename=name, filesize=size, md5=md5, sha256=sha256, kind="request" if status is None else "response",
            index=index, file_offset=start, length=taken,
            method=request.method, host=request.host, uri=request.uri, status=status,
            content_type=content_type, content_encoding=coding, complete=complete and not problem, note=notes))
        return follow_on


def _requests(ctx: ScanContext, rec: FlowRecord, results: ScanResults) -> list[_Request]:
    """Every request of the client's flow, in order; upload bodies written on the way."""
    found: list[_Request] = []
    extractor = _Extractor(ctx, rec, REQUEST_TAG, results)
    try:
        while (head := _head(extractor.reader)) is not None and len(head.start) == 3:
            request = _Request(head.start[0], head.start[1], head.headers.get("host", ""))
            found.append(request)
            if not extractor.body(len(found), head, request, None, True):
                break
    finally:
        extractor.reader.close()
    return found


def _responses(ctx: ScanContext, rec: FlowRecord, requests: list[_Request], results: ScanResults) -> None:
    extractor = _Extractor(ctx, rec, RESPONSE_TAG, results)
    number, paired = 0, 0
    try:
        while (head := _head(extractor.reader)) is not None and head.start[0].startswith("HTTP/"):
            number += 1
            status = int(head.start[1]) if len(head.start) > 1 and head.start[1].isdigit() else 0
            interim = 100 <= status < 200 and status != 101
            request = requests[paired] if paired < len(requests) else _Request("", "", "")
            paired += not interim
            has_body = not (interim or status in _NO_BODY_STATUS or request.method == "HEAD")
            if status == 101 or not extractor.body(number, head, request, status, has_body):
                break                       # upgraded to another protocol, or framing lost
    finally:
        extractor.reader.close()


def _side(path: Path) -> str:
    """"response" or "request" when the flow starts as HTTP/1.x does, else ""."""
    try:
        with open(path, "rb") as fh:
            first = fh.readline(MAX_LINE)
    except OSError:
        return ""
    if first.startswith(b"HTTP/1."):
        return "response"
    return "request" if _REQUEST_LINE.fullmatch(first) else ""


@register
class HttpScanner:
    """Pairs the two directions of each HTTP connection and extracts their bodies as soon as both
    have gone by (a direction without its partner waits for the end), so few flows are held."""

    name: ClassVar[str] = "http"

    def __init__(self, ctx: ScanContext) -> None:
        self._ctx = ctx
        self._waiting: dict[Key, dict[str, FlowRecord]] = {}
        self._found = ScanResults()

    def add(self, rec: FlowRecord) -> None:
        if not rec.filename or not rec.filesize or rec.protocol != "tcp":    # HTTP over UDP (SSDP) is not HTTP/1.x
            return
        side = _side(self._ctx.outdir / rec.filename)
        if not side:
            return
        ends = tuple(sorted(((rec.src, rec.sport), (rec.dst, rec.dport))))   # ids are per capture shard
        key = (rec.capture, rec.connection_id, rec.connection_index, rec.vlans, ends)
        sides = self._waiting.setdefault(key, {})
        sides[side] = rec
        if len(sides) == 2:
            self._extract(self._waiting.pop(key))

    def _extract(self, sides: dict[str, FlowRecord]) -> None:
        try:
            requests = _requests(self._ctx, sides["request"], self._found) if "request" in sides else []
            if "response" in sides:
                _responses(self._ctx, sides["response"], requests, self._found)
        except OSError as exc:
            self._ctx.log(f"forensics-tcpflow: error: http: {exc.filename}: {exc.strerror};"
                          " bodies of this connection after that point are missing")

    def finish(self, results: ScanResults) -> None:
        for sides in self._waiting.values():
            self._extract(sides)
        results.bodies.update((name, found) for name, found in self._found.bodies.items() if found)
