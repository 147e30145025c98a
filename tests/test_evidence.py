"""Evidence is read once, fingerprinted from the bytes read, and a change during the run is an error."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

import pytest
from lxml import etree

from batchkit import CORPUS
from forensics_tcpflow.capture.evidence import EvidenceFile, NotEvidence, identity
from forensics_tcpflow.cli import main
from forensics_tcpflow.environment import Environment, Progress
from forensics_tcpflow.report.dfxml import FTF_NS

pytestmark = pytest.mark.usefixtures("corpus")
CAPTURE = CORPUS / "zeek__http_get.pcap"


def digests(data: bytes) -> dict[str, str]:
    return {"md5": hashlib.md5(data).hexdigest(), "sha256": hashlib.sha256(data).hexdigest()}


def test_digests_cover_every_byte_once_whatever_the_reads(tmp_path: Path) -> None:
    data = os.urandom(3 << 20)
    path = tmp_path / "x.pcap"
    path.write_bytes(data)
    with EvidenceFile(str(path)) as f:
        f.seek(24)                       # a reader that skips the file header still hashes it
        f.readinto(bytearray(100_000))
        f.seek(0)                        # and one that reads again from the start hashes nothing twice
        f.readinto(bytearray(1 << 20))
        assert f.finish() == digests(data)     # the unread tail is read for the fingerprint
        assert f.before == identity(path.stat())


def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "x.pcap"
    os.mkfifo(fifo)
    outcome: list[BaseException] = []
    worker = threading.Thread(target=lambda: outcome.append(pytest.raises(NotEvidence, EvidenceFile, str(fifo)).value))
    worker.start()
    worker.join(5)
    assert not worker.is_alive() and outcome and "not a regular file" in str(outcome[0])


def _inputs(report: Path) -> list[etree._Element]:
    return list(etree.parse(str(report)).getroot().iter(f"{{{FTF_NS}}}input"))


def test_report_digests_equal_the_file_and_identity_is_recorded(tmp_path: Path) -> None:
    assert main([str(CAPTURE), "-o", str(tmp_path / "out"), "-q", "--rehash-inputs"]) == 0
    (inp,) = _inputs(tmp_path / "out" / "report.xml")
    want = digests(CAPTURE.read_bytes())
    hashes = {h.get("type"): (h.get("before"), h.get("after")) for h in inp.iter(f"{{{FTF_NS}}}hash")}
    assert hashes == {name: (value, value) for name, value in want.items()}
    stats = {s.get("when"): s.attrib for s in inp.iter(f"{{{FTF_NS}}}stat")}
    assert stats["before"]["size"] == stats["after"]["size"] == str(CAPTURE.stat().st_size)
    assert stats["before"]["inode"] == str(CAPTURE.stat().st_ino)


@pytest.mark.parametrize(("mode", "offset", "what"), [("ab", None, "size"), ("r+b", 200, "mtime_ns")])
def test_a_capture_changed_during_the_run_is_an_error(tmp_path: Path, mode: str, offset: int | None,
                                                      what: str) -> None:
    """Something appends to the input, or overwrites bytes in place, after it was opened:
    exit 1, the error names what changed, and so does the report."""
    capture = tmp_path / "evidence" / "c.pcap"
    capture.parent.mkdir()
    capture.write_bytes(CAPTURE.read_bytes())
    os.utime(capture, ns=(1_000_000_000, 1_000_000_000))
    lines: list[str] = []

    def tamper(event: Progress) -> None:
        if event.kind == "start-capture":
            with open(capture, mode) as fh:
                if offset is not None:
                    fh.seek(offset)
                fh.write(b"\0" * 24)
    env = Environment(progress=tamper, log=lines.append)
    assert main([str(capture), "-o", str(tmp_path / "out"), "-q"], env) == 1
    assert any("changed while it was processed" in line and what in line for line in lines)
    (inp,) = _inputs(tmp_path / "out" / "report.xml")
    errors = [e.text for e in inp.iter(f"{{{FTF_NS}}}error")]
    assert any("changed while it was processed" in (e or "") for e in errors)
