"""-e http against tcpflow 1.6.1's -e http on the corpus HTTP captures (tests/http_expectations.toml
says where and why tcpflow is wrong): same body file names and bytes wherever both tools wrote the
same flow file, every other difference explained."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from batchkit import CORPUS, run_cli
from conftest import TESTS, require_oracle
from oracles import run_tcpflow

EXPECTED = tomllib.loads((TESTS / "http_expectations.toml").read_text())
KINDS = ("raw-deflate", "hole", "hole-in-head", "empty-incomplete", "tcpflow-misses", "padding")
PADDING = 64      # tcpflow's flow may end in Ethernet trailer bytes (tests/expectations.toml: padding)
TAG = "-HTTPBODY-"


def _bodies(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in out.iterdir() if TAG in p.name}


def _flow(out: Path, body: str) -> bytes | None:
    path = out / body.split(TAG)[0]
    return path.read_bytes() if path.is_file() else None


def _same_flow(ours: bytes | None, theirs: bytes | None) -> bool:
    """Both tools wrote the flow alike: the same bytes, or tcpflow's with trailer padding at the end."""
    if ours is None or theirs is None:
        return False
    return theirs.startswith(ours) and len(theirs) - len(ours) <= PADDING


@pytest.mark.parametrize("capture", EXPECTED["captures"])
def test_bodies_match_tcpflow(capture: str, corpus: Path, tmp_path: Path) -> None:
    require_oracle("tcpflow")
    theirs_dir, ours_dir = tmp_path / "tcpflow", tmp_path / "ours"
    run_tcpflow(CORPUS / capture, theirs_dir, "-e", "http")
    run_cli("-q", "-E", "http", "-r", str(CORPUS / capture), "-o", str(ours_dir))
    theirs, ours = _bodies(theirs_dir), _bodies(ours_dir)
    explained = EXPECTED.get(capture, {})
    assert all(reason.split(":")[0] in KINDS for reason in explained.values())
    compared, unexplained, stale = 0, [], set(explained)
    for name in sorted(set(theirs) | set(ours)):
        if not _same_flow(_flow(ours_dir, name), _flow(theirs_dir, name)):
            continue                        # the flow itself differs: tests/expectations.toml's business
        compared += 1
        stale.discard(name)
        same = theirs.get(name) == ours.get(name)
        if same and name in explained:
            pytest.fail(f"{name} now matches tcpflow; drop it from http_expectations.toml")
        if not same and name not in explained:
            unexplained.append(name)
    assert not unexplained, f"bodies that differ from tcpflow's without a reason: {unexplained}"
    assert compared or not (theirs or ours)
    assert not stale, f"http_expectations.toml explains bodies that are no longer compared: {sorted(stale)}"
