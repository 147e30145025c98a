"""The files a run writes besides its flow files, their indexes and its reports (-K pcaps, the -w
capture, netviz pictures), hashed once they are complete: the report vouches for them as for flow
files, and `verify` hashes them again."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Collection, Iterable, Iterator

from ..batch.journal import STATE_DIR
from ..sink.packets import SUFFIX as PCAP_SUFFIX

OUTPUT_HASHES = ("md5", "sha256")


@dataclass(frozen=True, slots=True)
class Output:
    """One file the run wrote: its kind, its path as seen from the report's folder, its size and digests."""

    kind: str             # "packets" | "unprocessed" | "picture"
    path: str
    size: int
    md5: str
    sha256: str


def digests(path: Path, algorithms: Iterable[str]) -> dict[str, str]:
    """The file's digests, read once."""
    hashers = {name: hashlib.new(name) for name in algorithms}
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            for hasher in hashers.values():
                hasher.update(chunk)
    return {name: hasher.hexdigest() for name, hasher in hashers.items()}


def files_below(root: Path, ordered: bool = True, skip: Collection[Path] = ()) -> Iterator[Path]:
    """Every file under root, but the state a run keeps for --resume and the folders in `skip`: in sorted
    order, or unordered as each folder lists them (regular files only), never holding a folder's names at
    once (400,000 flow files in one folder are some 50 MB of names)."""
    if not ordered:
        yield from _streamed(root, skip)
        return
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d != STATE_DIR and Path(dirpath) / d not in skip)
        for name in sorted(filenames):
            yield Path(dirpath) / name


def _streamed(root: Path, skip: Collection[Path]) -> Iterator[Path]:
    folders = [root]
    while folders:
        with os.scandir(folders.pop()) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    if entry.name != STATE_DIR and Path(entry.path) not in skip:
                        folders.append(Path(entry.path))
                elif entry.is_file():         # no stat call: the folder listing says it
                    yield Path(entry.path)


def outputs_written(outdir: Path, report_dir: Path, packet_files: bool,
                    others: Iterable[tuple[str, Path]]) -> list[Output]:
    """The -K files under OUT (by their suffix) and the `others` (kind, path), hashed. (A flow's
    .findx index is named and hashed with its flow: index_filename.)"""
    found = [("packets", path) for path in (files_below(outdir) if packet_files else ()) if path.suffix == PCAP_SUFFIX]
    return [_hashed(kind, path, report_dir) for kind, path in [*found, *others]]


def _hashed(kind: str, path: Path, report_dir: Path) -> Output:
    found = digests(path, OUTPUT_HASHES)
    shown = os.path.relpath(os.path.abspath(path), os.path.abspath(report_dir)).replace(os.sep, "/")
    return Output(kind, shown, os.path.getsize(path), found["md5"], found["sha256"])
