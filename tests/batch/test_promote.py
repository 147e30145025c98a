"""Staged flow files moved into place, in this process or in a child."""

from __future__ import annotations

from pathlib import Path

import pytest

from forensics_tcpflow.batch import promote as promote_module
from forensics_tcpflow.batch.promote import Mover, promote


def test_promote_replaces_what_an_earlier_attempt_left(tmp_path: Path) -> None:
    stage, target = tmp_path / "stage", tmp_path / "out" / "sub"
    (stage / "d").mkdir(parents=True)
    (stage / "d" / "f").write_bytes(b"new")
    (target / "d").mkdir(parents=True)
    (target / "d" / "f").write_bytes(b"old and longer")
    promote(stage, target, replace=True)
    assert (target / "d" / "f").read_bytes() == b"new"
    assert not stage.exists()


def test_a_fresh_run_never_replaces_a_file(tmp_path: Path) -> None:
    """Defect 1: a file in OUT at a flow file's name, which the run did not create, stops it; it stays."""
    stage, target = tmp_path / "stage", tmp_path / "out"
    (stage / "d").mkdir(parents=True)
    (stage / "d" / "f").write_bytes(b"new")
    (target / "d").mkdir(parents=True)
    (target / "d" / "f").write_bytes(b"the examiner's")
    with pytest.raises(FileExistsError, match="did not create"):
        promote(stage, target)
    assert (target / "d" / "f").read_bytes() == b"the examiner's"


def test_promote_moves_more_files_than_one_listing(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(promote_module, "PROMOTE_BATCH", 3)
    stage, target = tmp_path / "stage", tmp_path / "out"
    (stage / "new" / "deeper").mkdir(parents=True)
    (stage / "new" / "deeper" / "g").write_bytes(b"g")
    (stage / "kept").mkdir()
    (target / "kept").mkdir(parents=True)
    (target / "kept" / "old").write_bytes(b"old")
    names = [f"f{i}" for i in range(10)]
    for name in names:
        (stage / name).write_bytes(name.encode())
        (stage / "kept" / name).write_bytes(name.encode())
    promote(stage, target)
    assert sorted(p.name for p in target.iterdir()) == sorted([*names, "new", "kept"])
    assert sorted(p.name for p in (target / "kept").iterdir()) == sorted([*names, "old"])
    assert (target / "new" / "deeper" / "g").read_bytes() == b"g"
    assert not stage.exists()


def test_a_mover_does_the_same_in_a_child(tmp_path: Path) -> None:
    stage, target = tmp_path / "stage", tmp_path / "out"
    (stage / "d").mkdir(parents=True)
    for name in ("a", "b", "d/c"):
        (stage / name).write_bytes(name.encode())
    mover = Mover(stage, target)
    mover.wait()
    mover.close()
    assert sorted(p.relative_to(target).as_posix() for p in target.rglob("*")) == ["a", "b", "d", "d/c"]
    assert not stage.exists()


def test_a_failed_move_says_so(tmp_path: Path) -> None:
    stage, target = tmp_path / "stage", tmp_path / "out"
    stage.mkdir()
    (stage / "a").write_bytes(b"a")
    target.write_bytes(b"a file where the folder should be")
    mover = Mover(stage, target)
    with pytest.raises(OSError, match="moving flow files into place failed"):
        mover.wait()
    assert (stage / "a").exists()
