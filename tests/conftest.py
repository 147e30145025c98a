"""Shared fixtures: the development corpus, its MANIFEST rows, the per-capture expectations, the oracle policy."""

from __future__ import annotations

import csv
import os
import tomllib
from pathlib import Path

import pytest

from oracles import have

TESTS = Path(__file__).resolve().parent
CORPUS = Path(os.environ.get("FTF_CORPUS") or Path(__file__).resolve().parents[2] / "shared" / "corpus")
EXPECTATIONS = TESTS / "expectations.toml"


def manifest_rows() -> dict[str, dict[str, str]]:
    """MANIFEST.tsv rows by file name (empty when the corpus is absent)."""
    path = CORPUS / "MANIFEST.tsv"
    if not path.exists():
        return {}
    with path.open(newline="", encoding="utf-8") as fh:
        return {row["file"]: row for row in csv.DictReader(fh, delimiter="\t")}


def expectations() -> dict[str, dict]:
    """Per-capture expected differences (tests/expectations.toml), keyed by capture file name."""
    with EXPECTATIONS.open("rb") as fh:
        return tomllib.load(fh)


def corpus_files() -> list[str]:
    return sorted(manifest_rows())


def require_oracle(tool: str) -> None:
    """Skip when a reference tool is missing, but never silently under CI: there it is a failure."""
    if have(tool):
        return
    message = f"reference tool {tool!r} is not installed"
    if os.environ.get("CI") == "true":
        pytest.fail(message + " (required under CI=true)")
    pytest.skip(message)


def require_extra(module: str, extra: str) -> None:
    """A pip extra's module (e.g. matplotlib for [netviz]): the oracle policy, a failure under CI=true."""
    import importlib.util
    if importlib.util.find_spec(module) is not None:
        return
    message = f"{module} is not installed (pip install '.[{extra}]')"
    if os.environ.get("CI") == "true":
        pytest.fail(message + " (required under CI=true)")
    pytest.skip(message)


def require_corpus() -> None:
    """Same policy as the oracles: the corpus is test input, not optional under CI."""
    if (CORPUS / "MANIFEST.tsv").exists():
        return
    message = f"development corpus not found at {CORPUS}"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def corpus() -> Path:
    require_corpus()
    return CORPUS


@pytest.fixture(scope="session")
def manifest() -> dict[str, dict[str, str]]:
    require_corpus()
    return manifest_rows()


@pytest.fixture(scope="session")
def expected() -> dict[str, dict]:
    return expectations()
