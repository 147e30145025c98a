"""timeline.jsonl: every line has Timesketch's required fields; a start and an end per flow, one per body."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from batchkit import CORPUS, run_cli
from forensics_tcpflow.exitstatus import ExitStatus

HTTP = "suricata__http-gap-simple_input.pcap"
REQUIRED = ("message", "datetime", "timestamp_desc")


def test_events_have_the_required_fields_and_the_flow_facts(tmp_path: Path, corpus: Path) -> None:
    out = tmp_path / "o"
    assert run_cli("-q", "-e", "http", "-r", str(CORPUS / HTTP), "-o", str(out),
                   "--report", "jsonl,timesketch") == ExitStatus.OK
    flows = [json.loads(line) for line in (out / "flows.jsonl").read_text().splitlines()]
    events = [json.loads(line) for line in (out / "timeline.jsonl").read_text().splitlines()]
    for event in events:
        assert all(isinstance(event[name], str) and event[name] for name in REQUIRED)
        stamp = datetime.fromisoformat(event["datetime"])
        assert stamp.utcoffset() is not None and int(stamp.timestamp() * 1_000_000) == event["timestamp"]
    kinds = [event["timestamp_desc"] for event in events if event["data_type"] == "forensics_tcpflow:flow"]
    assert kinds == ["First Packet", "Last Packet"] * len(flows)
    bodies = [event for event in events if event["data_type"] == "forensics_tcpflow:http_body"]
    assert len(bodies) == 3 and all(event["filename"].endswith(".html") and event["md5"] for event in bodies)
    first = events[0]
    assert first["datetime"].startswith(flows[0]["start_time"][:26])
    assert (first["src"], first["sport"], first["stream_length"], first["md5"]) == (
        flows[0]["src"], flows[0]["sport"], flows[0]["stream_length"], flows[0]["hashes"]["md5"])
