"""Write-then-rename, so a report path never holds a half-written file (tcpflow leaves truncated XML)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import IO


def current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


class AtomicWriter:
    """A report format's file handling: `_out` is its AtomicFile; `_trailer()` ends the document."""

    _out: AtomicFile
    _companions: tuple[AtomicFile, ...] = ()     # files written beside the format's own (e.g. bodies.csv)

    @staticmethod
    def folders(report_path: Path) -> tuple[Path, ...]:
        """Folders the format owns whole beside its file (none, unless a format says otherwise)."""
        return ()

    @property
    def temp(self) -> Path:
        """Where the format is being written until commit()."""
        return self._out.tmp

    def _trailer(self) -> None:
        """Nothing to add after the last flow, unless a format says otherwise."""

    def finish(self) -> Path:
        """Write what follows the last flow; the file is complete under its temporary name."""
        if not self._out.file.closed:
            self._trailer()
        for companion in self._companions:
            companion.close()
        return self._out.close()

    def commit(self) -> Path:
        self.finish()
        for companion in self._companions:
            companion.commit()
        return self._out.commit()

    def discard(self) -> None:
        for companion in self._companions:
            companion.discard()
        self._out.discard()


class AtomicFile:
    """A temporary file beside `path` that becomes `path` only on commit()."""

    def __init__(self, path: Path, mode: str = "wb", **open_args: object) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
        self.tmp = Path(tmp)
        self.file: IO = os.fdopen(fd, mode, **open_args)

    def close(self) -> Path:
        """Complete and durable, still under the temporary name (which is returned)."""
        if not self.file.closed:
            self.file.flush()
            os.fsync(self.file.fileno())
            self.file.close()
            os.chmod(self.tmp, 0o666 & ~current_umask())  # mkstemp makes 0600; reports are ordinary files
        return self.tmp

    def commit(self) -> Path:
        self.close()
        os.replace(self.tmp, self.path)
        return self.path

    def discard(self) -> None:
        try:
            self.file.close()     # flushes: on a full disk that fails, and the descriptor is closed anyway
        except OSError:
            pass
        self.tmp.unlink(missing_ok=True)
