"""-e http on hand-made connections: framing, pairing, numbering, decoding, holes, uploads."""

from __future__ import annotations

import gzip
import tracemalloc
import zlib
from pathlib import Path

from flowkit import ACK, CLIENT, FIN, SERVER, SYN, Wire
from forensics_tcpflow.options import Options
from forensics_tcpflow.scan.registry import ScanContext, ScanResults, run_scanners


def _exchange(tmp: Path, requests: list[bytes], responses: list[bytes], hole_at: int | None = None,
              fin: bool = True) -> Wire:
    """One connection: the requests, then the responses (one segment each); `hole_at` drops the
    response segment with that index, leaving a hole the next segment's sequence number proves."""
    wire = Wire(tmp)
    wire.c(100, flags=SYN)
    wire.s(500, flags=SYN | ACK)
    seq = 101
    for data in requests:
        wire.c(seq, data)
        seq += len(data)
    sseq = 501
    for index, data in enumerate(responses):
        if index != hole_at:
            wire.s(sseq, data)
        sseq += len(data)
    if fin:
        wire.s(sseq, flags=FIN | ACK)
        wire.c(seq, flags=FIN | ACK)
    return wire


def _scan(wire: Wire, tmp: Path, decompress: bool = True) -> ScanResults:
    records = list(wire.close().values())
    options = Options(inputs=("x",), outdir=str(tmp), scanners=("http",), decompress=decompress)
    return run_scanners(ScanContext(options, tmp, tmp / "report.xml", [], lambda line: None), records)


def _response(body: bytes, *headers: str, status: str = "200 OK") -> bytes:
    head = [f"HTTP/1.1 {status}", *headers]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


GET = b"GET /a HTTP/1.1\r\nHost: example.test\r\n\r\n"


def test_pipelined_keep_alive_numbering_and_framing(tmp_path: Path) -> None:
    chunked = b"5\r\nhello\r\n6;x=1\r\n world\r\n0\r\nTrailer: t\r\n\r\n"
    wire = _exchange(tmp_path, [GET, b"HEAD /b HTTP/1.1\r\nHost: h\r\n\r\n", GET, GET],
                     [_response(b"<html>x</html>", "Content-Type: text/html; charset=utf-8", "Content-Length: 14"),
                      _response(b"", "Content-Type: image/png", "Content-Length: 27036"),
                      _response(b"", status="304 Not Modified"),
                      _response(chunked, "Content-Type: image/jpeg", "Transfer-Encoding: chunked")])
    results = _scan(wire, tmp_path)
    bodies = results.bodies[SERVER]
    assert [(b.index, Path(b.filename).name) for b in bodies] == [
        (1, f"{SERVER}-HTTPBODY-001.html"), (4, f"{SERVER}-HTTPBODY-004.jpg")]
    assert (tmp_path / bodies[0].filename).read_bytes() == b"<html>x</html>"
    assert (tmp_path / bodies[1].filename).read_bytes() == b"hello world"
    assert all(b.complete and b.kind == "response" and b.method == "GET" for b in bodies)
    assert bodies[0].host == "example.test" and bodies[0].uri == "/a" and bodies[0].status == 200
    assert not list(tmp_path.glob("*HTTPBODY-002*")) and not list(tmp_path.glob("*HTTPBODY-003*"))
    flow = (tmp_path / SERVER).read_bytes()
    assert flow[bodies[0].file_offset:bodies[0].file_offset + bodies[0].length] == b"<html>x</html>"


def test_gzip_zlib_and_raw_deflate_are_decoded_unless_minus_z(tmp_path: Path) -> None:
    text = b"the quick brown fox " * 50
    raw = zlib.compressobj(9, zlib.DEFLATED, -15)
    raw_deflate = raw.compress(text) + raw.flush()
    encoded = [gzip.compress(text), zlib.compress(text), raw_deflate]
    responses = [_response(e, f"Content-Encoding: {c}", f"Content-Length: {len(e)}")
                 for e, c in zip(encoded, ("gzip", "deflate", "deflate"))]
    results = _scan(_exchange(tmp_path / "on", [GET] * 3, responses), tmp_path / "on")
    assert [(tmp_path / "on" / b.filename).read_bytes() for b in results.bodies[SERVER]] == [text] * 3
    results = _scan(_exchange(tmp_path / "off", [GET] * 3, responses), tmp_path / "off", decompress=False)
    assert [(tmp_path / "off" / b.filename).read_bytes() for b in results.bodies[SERVER]] == encoded
    assert results.bodies[SERVER][0].content_encoding == "gzip"


def test_corrupt_gzip_keeps_what_decoded_and_says_so(tmp_path: Path) -> None:
    text = b"decoded before the damage"
    stored = b"\x00" + len(text).to_bytes(2, "little") + (len(text) ^ 0xFFFF).to_bytes(2, "little") + text
    packed = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff" + stored + b"\x07" + b"junk" * 10  # then a reserved block type
    results = _scan(_exchange(tmp_path, [GET], [_response(packed, "Content-Encoding: gzip",
                                                          f"Content-Length: {len(packed)}")]), tmp_path)
    body = results.bodies[SERVER][0]
    assert (tmp_path / body.filename).read_bytes() == text
    assert not body.complete and "corrupt gzip stream" in body.note


def test_a_body_runs_on_across_a_hole_and_the_next_response_is_still_found(tmp_path: Path) -> None:
    first = _response(b"A" * 100, "Content-Length: 300")
    responses = [first, b"B" * 100, b"C" * 100, _response(b"next", "Content-Length: 4", "Content-Type: text/plain")]
    results = _scan(_exchange(tmp_path, [GET, GET], responses, hole_at=1), tmp_path)
    cut, after = results.bodies[SERVER]
    assert (tmp_path / cut.filename).read_bytes() == b"A" * 100 + bytes(100) + b"C" * 100
    assert not cut.complete and "never captured" in cut.note and cut.holes == (((cut.file_offset + 100), 100),)
    assert after.index == 2 and after.complete and (tmp_path / after.filename).read_bytes() == b"next"


def test_close_delimited_body_1xx_and_upload(tmp_path: Path) -> None:
    post = b"POST /up HTTP/1.1\r\nHost: h\r\nContent-Type: application/zip\r\nContent-Length: 7\r\n\r\nPK\x03\x04abc"
    responses = [b"HTTP/1.1 100 Continue\r\n\r\n", b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil close"]
    results = _scan(_exchange(tmp_path, [post], responses), tmp_path)
    upload, = results.bodies[CLIENT]
    assert Path(upload.filename).name == f"{CLIENT}-HTTPREQBODY-001.zip" and upload.kind == "request"
    assert (tmp_path / upload.filename).read_bytes() == b"PK\x03\x04abc" and upload.method == "POST"
    body, = results.bodies[SERVER]
    assert body.index == 2 and body.method == "POST" and body.complete
    assert (tmp_path / body.filename).read_bytes() == b"until close"


def test_body_without_its_end_is_incomplete(tmp_path: Path) -> None:
    results = _scan(_exchange(tmp_path, [GET], [_response(b"part", "Content-Length: 10")], fin=False), tmp_path)
    body, = results.bodies[SERVER]
    assert not body.complete and (tmp_path / body.filename).read_bytes() == b"part"


def test_a_large_body_is_never_held_in_memory(tmp_path: Path) -> None:
    size = 8 << 20
    payload = gzip.compress(bytes(size), compresslevel=1)
    wire = _exchange(tmp_path, [GET], [_response(payload, "Content-Encoding: gzip", f"Content-Length: {len(payload)}")])
    records = list(wire.close().values())
    options = Options(inputs=("x",), outdir=str(tmp_path), scanners=("http",))
    tracemalloc.start()
    results = run_scanners(ScanContext(options, tmp_path, tmp_path / "r.xml", [], lambda line: None), records)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert results.bodies[SERVER][0].filesize == size
    assert peak < size // 2
