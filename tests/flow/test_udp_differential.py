"""Differential test of UDP flows (--udp) against tshark 4.0 on every corpus capture.

For every udp.stream tshark finds (`-T fields -e udp.stream`), each direction's payloads as
`-z follow,udp,raw,N` concatenates them must be byte-identical to our flow file of that direction, and its
datagram count (from tshark's per-packet fields, empty datagrams included) must equal our `packets`.
Our run never ends a UDP flow for silence (--udp-timeout 0), so one tshark stream is one of our flows (tshark does
not split UDP conversations by time).

Exceptions, each with its reason:
- a stream whose datagrams use a UDP port of a tunnel we decapsulate (decode/dispatch.py's UDP_PORTS:
  VXLAN, Geneve, GRE-in-UDP, GTP-U, L2TP, AYIYA, Teredo) is the tunnel, not a flow: we write its inner
  traffic instead, and nothing under the outer addresses;
- streams listed per capture in tests/udp_expectations.toml (`stream = "reason"`): strict, a listed stream
  that matches fails the test.
Conversely every UDP direction we write must be one tshark follows.
"""

from __future__ import annotations

import json
import tomllib
from collections import defaultdict
from pathlib import Path

import pytest

from conftest import CORPUS, TESTS, corpus_files, require_corpus, require_oracle
from oracles import TSHARK, Key, norm_addr, tshark_udp_streams
from forensics_tcpflow.cli import main
from forensics_tcpflow.decode import decoder  # noqa: F401  (registers the tunnel ports)
from forensics_tcpflow.decode.dispatch import UDP_PORTS

UDP_EXPECTATIONS = TESTS / "udp_expectations.toml"
NEVER = "0"                   # --udp-timeout 0: one flow per key, as tshark


def _expected() -> dict[str, dict[str, str]]:
    with UDP_EXPECTATIONS.open("rb") as fh:
        return tomllib.load(fh)


def _ours(capture: Path, out: Path) -> dict[Key, tuple[bytes, int]]:
    """Our UDP directions: bytes of their files (cN in order) and datagrams, by key."""
    rc = main(["-q", "--udp", "--udp-timeout", NEVER, "-r", str(capture), "-o", str(out)])
    assert rc in (0, 1), rc
    found: dict[Key, list[tuple[int, bytes, int]]] = defaultdict(list)
    for line in (out / "flows.jsonl").read_text().splitlines():
        row = json.loads(line)
        if row["protocol"] == "udp":
            key = (norm_addr(row["src"]), row["sport"], norm_addr(row["dst"]), row["dport"])
            data = (out / row["filename"]).read_bytes() if row["filename"] else b""
            found[key].append((row["connection_index"], data, row["packets"]))
    return {key: (b"".join(d for _, d, _ in sorted(parts)), sum(n for _, _, n in parts))
            for key, parts in found.items()}


@pytest.mark.parametrize("name", corpus_files() or [None])
def test_udp_streams_match_tshark(name, tmp_path):
    require_corpus()
    require_oracle(TSHARK)
    capture = CORPUS / name
    streams = tshark_udp_streams(capture)
    if not streams:
        return
    listed = _expected().get(name, {})
    ours = _ours(capture, tmp_path / "out")
    problems, matched_listed, followed = [], [], set()
    for stream in streams:
        tunnel = sorted(stream.ports & UDP_PORTS.keys())
        if tunnel:
            continue
        followed.update(stream.datagrams)
        wrong = []
        for direction in stream.directions:
            count = stream.datagrams.get(direction.key, 0)
            mine, packets = ours.get(direction.key, (b"", 0))
            if (mine, packets) != (direction.data, count):
                wrong.append(f"{direction.key}: ours {len(mine)} bytes in {packets} datagrams,"
                             f" tshark {len(direction.data)} in {count}")
        if not stream.directions:
            wrong.append("tshark follows nothing")
        if str(stream.stream) in listed:
            (matched_listed if not wrong else []).append(stream.stream)
        elif wrong:
            problems.append(f"stream {stream.stream}: " + "; ".join(wrong))
    extra = sorted(set(ours) - followed)
    assert not problems, problems
    assert not extra, f"UDP directions tshark does not follow: {extra}"
    assert not matched_listed, f"streams listed in {UDP_EXPECTATIONS.name} now match: {matched_listed}"
