"""A finished job's flow files, moved from its staging folder into place.

Staging keeps a half-done job's files apart, so --resume can drop them; moving
them is one rename per file. On a large run the last job's files move in a
child process while the parent writes the reports (renames are system calls,
the reports are Python: they share two cores well).
"""

from __future__ import annotations

import errno
import itertools
import os
import shutil
import subprocess
import sys
from pathlib import Path

from .. import child

PROMOTE_BATCH = 4096


def promote(stage: Path, target: Path, replace: bool = False) -> None:
    """Move a job's finished flow files into place; with --resume or --fresh (`replace`) replacing any left
    by an earlier, unfinished attempt, else never replacing a file: one in the way is a FileExistsError.

    A few thousand entries at a time (each one moved leaves the listing): a list
    of a folder with hundreds of thousands of flow files would be the largest
    object of the whole run. A folder new to the target moves as a whole.
    """
    target.mkdir(parents=True, exist_ok=True)
    while batch := _entries(stage, PROMOTE_BATCH):
        for entry in batch:
            destination = target / entry.name
            if entry.is_dir(follow_symlinks=False) and destination.is_dir():
                promote(Path(entry.path), destination, replace)
            elif replace:
                os.replace(entry.path, destination)
            else:
                _move_new(entry, destination)
    shutil.rmtree(stage, ignore_errors=True)


def _move_new(entry: os.DirEntry[str], destination: Path) -> None:
    """A move that fails rather than replace: a folder by rename (onto nothing, as is_dir said), a file by link."""
    try:
        if entry.is_dir(follow_symlinks=False):
            os.rename(entry.path, destination)
        else:
            os.link(entry.path, destination, follow_symlinks=False)
            os.unlink(entry.path)
    except (FileExistsError, NotADirectoryError, IsADirectoryError):
        raise FileExistsError(errno.EEXIST, "a file this run did not create is in the way (a run never replaces"
                              " one): choose a new output directory", str(destination)) from None


def _entries(folder: Path, limit: int) -> list[os.DirEntry[str]]:
    with os.scandir(folder) as entries:
        return list(itertools.islice(entries, limit))


class Mover:
    """promote() in a child process; wait() before anything may rely on the files being in place."""

    def __init__(self, stage: Path, target: Path, replace: bool = False) -> None:
        self._target = target
        self._proc = child.start(__name__, str(stage), str(target), str(int(replace)), stdin=subprocess.DEVNULL,
                                 stdout=subprocess.DEVNULL)
        self._waited = False

    def wait(self) -> None:
        """Raises OSError if the files could not all be moved."""
        self._waited = True
        _, err = self._proc.communicate()
        if self._proc.returncode:
            raise OSError(errno.EIO, f"moving flow files into place failed: {child.failure(self._proc, err)}",
                          str(self._target))

    def close(self) -> None:
        """Never leave the child behind (after a failure elsewhere its outcome no longer matters)."""
        if not self._waited:
            self._waited = True
            self._proc.communicate()


def _serve(stage: str, target: str, replace: str) -> int:
    try:
        promote(Path(stage), Path(target), replace == "1")
    except OSError as exc:
        sys.stderr.write(f"{exc.filename or stage}: {exc.strerror or exc}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(_serve(sys.argv[1], sys.argv[2], sys.argv[3]))
