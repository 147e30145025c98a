"""Walking evidence folders: captures by magic bytes, stable order, skipped files with reasons."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from batchkit import CORPUS, build_evidence
from forensics_tcpflow.batch.walk import walk_inputs

pytestmark = pytest.mark.usefixtures("corpus")


def test_nested_folder_sorted_with_relative_subdirs(tmp_path: Path) -> None:
    evidence = build_evidence(tmp_path)
    found, skipped = walk_inputs((str(evidence),))
    assert [subdir for _, subdir in found] == [
        "site-a/http_get.pcap", "site-a/day2/three-flows.pcap", "site-b/rotated.dat", "site-b/truncated.pcap"]
    assert skipped == [(str(evidence / "site-b" / "notes.txt"), "not a pcap or pcapng capture")]
    assert walk_inputs((str(evidence),)) == (found, skipped)   # stable


def test_one_capture_goes_straight_into_out(tmp_path: Path) -> None:
    found, _ = walk_inputs((str(CORPUS / "zeek__http_get.pcap"),))
    assert found == [(str(CORPUS / "zeek__http_get.pcap"), "")]


def test_symlink_loops_and_dangling_links_are_skipped(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "a").mkdir(parents=True)
    shutil.copy(CORPUS / "zeek__http_get.pcap", root / "a" / "x.pcap")
    os.symlink(root, root / "a" / "loop")
    os.symlink(tmp_path / "nowhere", root / "a" / "dangling")
    found, skipped = walk_inputs((str(root),))
    assert found == [(str(root / "a" / "x.pcap"), "")]    # one capture found: its flows go straight into OUT
    reasons = dict(skipped)
    assert reasons[str(root / "a" / "loop")] == "symlink loop"
    assert reasons[str(root / "a" / "dangling")].startswith("cannot read")


def test_same_file_once_and_name_clashes_made_unique(tmp_path: Path) -> None:
    for folder in ("one", "two"):
        (tmp_path / folder).mkdir()
        shutil.copy(CORPUS / "zeek__http_get.pcap", tmp_path / folder / "x.pcap")
    one, two = str(tmp_path / "one" / "x.pcap"), str(tmp_path / "two" / "x.pcap")
    found, skipped = walk_inputs((one, two, one))
    assert found == [(one, "x.pcap"), (two, "x.pcap~2")]
    assert skipped == [(one, f"the same file as {one}")]
