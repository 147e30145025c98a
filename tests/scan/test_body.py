"""HTTP bodies across a hole: every captured byte at its offset, the hole zero-filled and recorded;
a compressed body decoded up to the hole and kept as sent beside it."""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

from capturekit import sample_generator
from forensics_tcpflow.cli import main
from forensics_tcpflow.scan.body import RAW_SUFFIX, BodyWriter

SIZE = 181_348
PIECE = 1448


def _capture(tmp: Path, body: bytes, *headers: str, lost: set[int]) -> Path:
    """An HTTP exchange whose response goes in 1448-byte segments; the segments numbered in `lost` never arrive."""
    gen = sample_generator()
    conv = gen.conversation(gen.ethernet(gen.ETH_IPV4))
    head = "\r\n".join(["HTTP/1.1 200 OK", f"Content-Length: {len(body)}", *headers]).encode() + b"\r\n\r\n"
    response = head + body
    frames = conv.handshake() + [conv.packet(True, gen.PSH | gen.ACK, gen.REQUEST)]
    for number, at in enumerate(range(0, len(response), PIECE)):
        tcp = conv.segment(False, gen.PSH | gen.ACK, response[at:at + PIECE])
        if number not in lost:
            frames.append(conv.link(conv.ip(False, tcp), False))
    path = tmp / "hole.pcap"
    path.write_bytes(gen.pcap_bytes(gen.LINKTYPE_ETHERNET, gen.timed(frames + conv.close())))
    return path


def _bodies(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "bodies.jsonl").read_text().splitlines()]


def test_bytes_after_a_hole_are_kept_at_their_offset(tmp_path: Path) -> None:
    body = bytes(random.Random(7).getrandbits(8) for _ in range(SIZE))
    out = tmp_path / "out"
    assert main([str(_capture(tmp_path, body, "Content-Type: application/octet-stream", lost={20, 21})),
                 "-e", "http", "-o", str(out), "-q"]) == 0
    row, = _bodies(out)
    written = (out / row["filename"]).read_bytes()
    head = row["file_offset"]
    start, end = 20 * PIECE - head, 22 * PIECE - head
    assert len(written) == SIZE and written[end:] == body[end:] and written[:start] == body[:start]
    assert written[start:end] == bytes(end - start)
    assert row["holes"] == [[20 * PIECE, 2 * PIECE]] and row["complete"] is False and row["form"] == "as-sent"
    report = (out / "report.xml").read_text()
    assert f'ftf:holes="{20 * PIECE}:{2 * PIECE}"' in report and 'ftf:complete="false"' in report
    assert main(["validate", str(out / "report.xml")]) == 0
    assert main(["verify", str(out / "report.xml")]) == 0


def test_a_compressed_body_is_decoded_up_to_the_hole_and_kept_as_sent(tmp_path: Path) -> None:
    text = b"".join(b"line %06d of a page that compresses\n" % n for n in range(6000))
    packed = gzip.compress(text, mtime=0)
    out = tmp_path / "out"
    capture = _capture(tmp_path, packed, "Content-Type: text/html", "Content-Encoding: gzip", lost={3})
    assert main([str(capture), "-e", "http", "-o", str(out), "-q"]) == 0
    decoded, as_sent = _bodies(out)
    assert decoded["form"] == "decoded" and as_sent["form"] == "as-sent"
    assert as_sent["filename"] == decoded["filename"] + RAW_SUFFIX and decoded["filename"].endswith(".html")
    assert not decoded["complete"] and "decoded up to the hole" in decoded["note"]
    assert decoded["holes"] == as_sent["holes"] == [[3 * PIECE, PIECE]]
    kept = (out / decoded["filename"]).read_bytes()
    assert 0 < len(kept) < len(text) and text.startswith(kept)
    raw = (out / as_sent["filename"]).read_bytes()
    cut = 3 * PIECE - decoded["file_offset"]
    assert len(raw) == len(packed) and raw[:cut] == packed[:cut] and raw[cut + PIECE:] == packed[cut + PIECE:]
    assert main(["validate", str(out / "report.xml")]) == 0


def test_a_compressed_body_without_a_hole_keeps_no_copy(tmp_path: Path) -> None:
    writer = BodyWriter(tmp_path / "b.html", "gzip", decompress=True)
    writer.write(gzip.compress(b"whole", mtime=0))
    assert writer.close(True)[0] == 5 and writer.as_sent is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.html"]
