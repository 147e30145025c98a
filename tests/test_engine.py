"""Captures through the pipeline: a merged set's connections span files; a stop closes every flow."""

from __future__ import annotations

from pathlib import Path

import pytest

from batchkit import CORPUS, pcap_records, split_pcap
from forensics_tcpflow import engine
from forensics_tcpflow.engine import process_captures
from forensics_tcpflow.flow.record import FlowRecord
from forensics_tcpflow.options import Options
from forensics_tcpflow.sink.files import FileSink

pytestmark = pytest.mark.usefixtures("corpus")


def _run(tmp_path: Path, captures: list[tuple[str, str]], stop=lambda: False) -> tuple[list, list[FlowRecord], bool]:
    records: list[FlowRecord] = []
    sink = FileSink(tmp_path / "out", ("md5",))
    summaries, interrupted = process_captures(captures, Options(inputs=(), outdir=str(tmp_path)), sink,
                                              records.append, lambda event: None, None, stop)
    return summaries, records, interrupted


def test_merged_pieces_make_the_same_flows_as_the_whole(tmp_path: Path) -> None:
    _, whole, _ = _run(tmp_path / "whole", [(str(CORPUS / "zeek__http_get.pcap"), "whole")])
    first, second = tmp_path / "p1.pcap", tmp_path / "p2.pcap"
    split_pcap(CORPUS / "zeek__http_get.pcap", first, second, at=8)
    summaries, merged, interrupted = _run(tmp_path / "merged", [(str(first), "p1"), (str(second), "p2")])
    assert not interrupted
    assert [s.path for s in summaries] == ["p1", "p2"]
    assert [s.packets for s in summaries] == [8, len(pcap_records(CORPUS / "zeek__http_get.pcap")[1]) - 8]
    assert sorted((r.filename, r.hashes["md5"]) for r in merged) == sorted((r.filename, r.hashes["md5"]) for r in whole)
    for rec in merged:
        assert rec.capture == "p1"
        assert [source[0] for source in rec.sources] == ["p1", "p2"]
        assert rec.sources[0][1] == rec.first_frame and rec.sources[-1][2] == rec.last_frame
    assert all(not rec.sources for rec in whole)


def test_stop_ends_the_capture_and_closes_every_flow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "PROGRESS_EVERY", 1)
    monkeypatch.setattr(engine, "kernel_header", lambda path: None)   # the per-record loop checks every record
    calls = 0

    def stop() -> bool:
        nonlocal calls
        calls += 1
        return calls > 6          # one check before the capture, then one per record
    summaries, records, interrupted = _run(tmp_path, [(str(CORPUS / "zeek__http_get.pcap"), "c")], stop)
    assert interrupted
    assert summaries[0].packets == 6
    assert "interrupted" in summaries[0].error and "record 6" in summaries[0].error
    assert records and all(rec.close_reason for rec in records)
