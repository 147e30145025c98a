"""Issue acceptance on real captures: the JPEGs carried in jpegs.cap come out whole.

The capture holds tail fragments whose first fragments were never captured
(frames 18, 98, ...: offset 744, no offset-0 piece); those land in HTTP 302
responses and stay recorded holes. Every JPEG body must be complete.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from conftest import CORPUS, require_corpus
from forensics_tcpflow.cli import main

RESPONSE = re.compile(rb"HTTP/1\.[01] 200[^\r]*\r\n(.*?)\r\n\r\n", re.S)


def test_jpegs_come_out_whole(tmp_path: Path) -> None:
    require_corpus()
    out = tmp_path / "out"
    assert main([str(CORPUS / "tcpflow__samplePcaps_jpegs.cap"), "-o", str(out), "-q"]) == 0
    jpegs = []
    for row in map(json.loads, (out / "flows.jsonl").read_text().splitlines()):
        if not row["filename"] or row["sport"] != 80:
            continue
        data = (out / row["filename"]).read_bytes()
        for m in RESPONSE.finditer(data):
            headers = m.group(1)
            length = re.search(rb"Content-Length: (\d+)", headers, re.I)
            if b"image/jpeg" in headers and length:
                body = data[m.end():m.end() + int(length.group(1))]
                assert not any(start < m.end() + len(body) and start + size > m.end()
                               for start, size in row["holes"]), row["filename"]
                jpegs.append(body)
    assert len(jpegs) == 5            # tshark: 5 image-jfif responses
    for body in jpegs:
        assert body[:2] == b"\xff\xd8" and body[-2:] == b"\xff\xd9"
