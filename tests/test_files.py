"""The file sink: offsets, running hashes, rewrites, descriptor LRU and buffer budget."""

from __future__ import annotations

import hashlib
import os

from forensics_tcpflow.sink.files import FileSink


def digest(data: bytes) -> dict[str, str]:
    return {"md5": hashlib.md5(data).hexdigest(), "sha256": hashlib.sha256(data).hexdigest()}


def test_sequential_writes_hash_without_reread(tmp_path):
    sink = FileSink(tmp_path, ("md5", "sha256"))
    f = sink.create("a")
    f.write(0, b"abc")
    f.write(3, b"def")
    f.write(10, b"z")                      # sparse: a hole of zeros
    size, hashes = f.close(1_000_000_000_123)
    data = b"abcdef" + bytes(4) + b"z"
    assert (tmp_path / "a").read_bytes() == data and size == len(data) and hashes == digest(data)
    assert os.stat(tmp_path / "a").st_mtime_ns == 1_000_000_000_123


def test_rewrite_and_prepend_rehash(tmp_path):
    sink = FileSink(tmp_path, ("md5", "sha256"))
    f = sink.create("sub/dir/b")
    f.write(0, b"GOODtail")
    f.write(0, b"EVIL")
    f.prepend(2)
    assert f.read(0, 4) == b"\0\0EV"
    _, hashes = f.close(0)
    assert (tmp_path / "sub/dir/b").read_bytes() == b"\0\0EVILtail" and hashes == digest(b"\0\0EVILtail")


def test_descriptor_lru_and_buffer_budget(tmp_path):
    sink = FileSink(tmp_path, ("md5",), max_fds=3)
    sink.budget.limit = 1000
    files = [sink.create(f"f{i}") for i in range(20)]
    for rnd in range(5):
        for i, f in enumerate(files):
            f.write(rnd * 100, bytes([i]) * 100)
            f.read(0, 1)                   # forces a descriptor
            assert len(sink.descriptors.lru) <= 3 and sink.budget.total <= 1000
    for i, f in enumerate(files):
        f.close(0)
        assert (tmp_path / f"f{i}").read_bytes() == bytes([i]) * 500
    sink.close()


def test_report_only_mode_leaves_no_file(tmp_path):
    sink = FileSink(tmp_path, ("md5",), keep=False)
    f = sink.create("gone")
    f.write(0, b"data")
    size, hashes = f.close(0)
    assert size == 4 and hashes["md5"] == hashlib.md5(b"data").hexdigest()
    assert not (tmp_path / "gone").exists()


def test_a_name_in_use_is_refused(tmp_path):
    sink = FileSink(tmp_path, ("md5",))
    assert sink.create("a") is not None
    (tmp_path / "b").write_bytes(b"from an earlier run")
    assert sink.create("a") is None and sink.create("b") is None
    assert (tmp_path / "b").read_bytes() == b"from an earlier run"
    sink.close()


def test_reads_span_the_file_and_its_buffer(tmp_path):
    sink = FileSink(tmp_path, ("md5",))
    f = sink.create("a")
    f.write(0, b"x" * 70_000)           # past the buffer limit: on disk
    f.write(70_000, b"abc")
    f.write(70_003, b"def")             # buffered
    assert f.read(69_998, 10) == b"xxabcdef"
    assert f.read(70_004, 100) == b"ef" and f.read(80_000, 5) == b""
    assert f.close(0) == (70_006, {"md5": hashlib.md5(b"x" * 70_000 + b"abcdef").hexdigest()})
    sink.close()
