"""Find the captures among the inputs, by magic bytes, in a stable order."""

from __future__ import annotations

import os
from pathlib import Path

from ..capture.reader import detect_format


def walk_inputs(inputs: tuple[str, ...]) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Captures as (path, output sub-directory) and skipped files as (path, reason).

    One capture in: its flows go straight into OUT, as tcpflow's do. Several:
    each capture's flows go under its path relative to the input it came from.
    """
    found: list[tuple[str, str]] = []
    skipped: list[tuple[str, str]] = []
    for given in inputs:
        root = Path(given)
        if root.is_dir():
            for path in _files_below(root, skipped):
                _classify(path, path.relative_to(root).as_posix(), found, skipped)
        else:
            found.append((str(root), root.name))   # named explicitly: its errors are reported, not skipped
    found = _distinct(found, skipped)
    if len(found) == 1:
        found = [(found[0][0], "")]
    return found, skipped


def _distinct(found: list[tuple[str, str]], skipped: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Each file once; output sub-directories made unique ("name~2") when two inputs share a relative path."""
    seen_files: dict[str, str] = {}
    used: set[str] = set()
    out: list[tuple[str, str]] = []
    for path, rel in found:
        real = os.path.realpath(path)
        if real in seen_files:
            skipped.append((path, f"the same file as {seen_files[real]}"))
            continue
        seen_files[real] = path
        unique, n = rel, 1
        while unique in used:
            n += 1
            unique = f"{rel}~{n}"
        used.add(unique)
        out.append((path, unique))
    return out


def _files_below(root: Path, skipped: list[tuple[str, str]]) -> list[Path]:
    out: list[Path] = []
    seen: set[tuple[int, int]] = set()

    def onerror(exc: OSError) -> None:
        skipped.append((exc.filename or str(root), f"cannot read: {exc.strerror or exc}"))

    for dirpath, dirnames, filenames in os.walk(root, onerror=onerror, followlinks=True):
        st = os.stat(dirpath)
        if (st.st_dev, st.st_ino) in seen:
            skipped.append((dirpath, "symlink loop"))
            dirnames.clear()
            continue
        seen.add((st.st_dev, st.st_ino))
        dirnames.sort()
        out.extend(Path(dirpath) / name for name in sorted(filenames))
    return out


def _classify(path: Path, rel: str, found: list[tuple[str, str]], skipped: list[tuple[str, str]]) -> None:
    try:
        kind = detect_format(path)
    except OSError as exc:
        skipped.append((str(path), f"cannot read: {exc.strerror or exc}"))
        return
    if kind is None:
        skipped.append((str(path), "not a pcap or pcapng capture"))
    else:
        found.append((str(path), rel))
