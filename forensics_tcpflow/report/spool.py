"""Finished flows parked on disk, replayed in a fixed order whatever order they closed in."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import IO, Iterable, Iterator, Sequence

from forensics_tcpflow.flow.record import FlowRecord
from forensics_tcpflow.report.codec import flow_from_dict, flow_to_dict

# (capture rank, capture, first_ts_ns, filename, first_frame, connection_id, direction, file number, offset)
SpoolKey = tuple[int, str, int, str, int, int, str, int, int]


class FlowSpool:
    """Append-only JSON-lines files plus, in memory, one sort key and file offset per flow.

    Flows come back ordered by (capture's position in `captures`, first packet time,
    filename); captures not listed sort after the listed ones, by path. A spool
    pickles as its file names and keys, so worker processes can hand theirs to the
    parent, which combines them with merge().
    """

    def __init__(self, directory: str | os.PathLike[str], captures: Sequence[str] = ()) -> None:
        self.directory = Path(directory)
        self.captures = tuple(captures)
        self._rank = {path: index for index, path in enumerate(self.captures)}
        self._paths: list[Path] = []
        self._keys: list[SpoolKey] = []
        self._sorted = True
        self._out: IO[bytes] | None = None
        self._out_size = 0

    def add(self, rec: FlowRecord) -> None:
        if self._out is None:
            self._open_output()
        # ASCII JSON escapes every odd character (even lone surrogates from undecodable paths) losslessly.
        line = json.dumps(flow_to_dict(rec), separators=(",", ":")).encode("ascii")
        key: SpoolKey = (self._rank.get(rec.capture, len(self.captures)), rec.capture, rec.first_ts_ns,
                         rec.filename, rec.first_frame, rec.connection_id, rec.direction,
                         len(self._paths) - 1, self._out_size)
        assert self._out is not None
        self._out.write(line + b"\n")
        self._out_size += len(line) + 1
        if self._sorted and self._keys and key < self._keys[-1]:
            self._sorted = False
        self._keys.append(key)

    def _open_output(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix="flows-", suffix=".spool", dir=self.directory)
        self._out = os.fdopen(fd, "wb")
        self._out_size = 0
        self._paths.append(Path(name))

    def close(self) -> None:
        """Finish the current file; a later add() starts a new one."""
        if self._out is not None:
            self._out.close()
            self._out = None

    def __len__(self) -> int:
        return len(self._keys)

    def __iter__(self) -> Iterator[FlowRecord]:
        if self._out is not None:
            self._out.flush()
        if not self._sorted:
            self._keys.sort()
            self._sorted = True
        return self._replay()

    def _replay(self) -> Iterator[FlowRecord]:
        files = [open(path, "rb") for path in self._paths]
        try:
            for key in self._keys:
                handle = files[key[-2]]
                handle.seek(key[-1])
                yield flow_from_dict(json.loads(handle.readline()))
        finally:
            for handle in files:
                handle.close()

    def __getstate__(self) -> dict[str, object]:
        self.close()
        return {"directory": self.directory, "captures": self.captures, "paths": self._paths, "keys": self._keys}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__init__(state["directory"], state["captures"])  # type: ignore[misc, arg-type]
        self._paths = list(state["paths"])  # type: ignore[call-overload]
        self._keys = list(state["keys"])  # type: ignore[call-overload]
        self._sorted = False

    @classmethod
    def merge(cls, spools: Iterable[FlowSpool], captures: Sequence[str] | None = None) -> FlowSpool:
        """One spool over the files of several (e.g. one per worker process); their files stay shared.

        Capture ranks are recomputed from `captures` (default: the first spool's list).
        """
        spools = list(spools)
        if captures is None:
            captures = spools[0].captures if spools else ()
        merged = cls(spools[0].directory if spools else tempfile.gettempdir(), captures)
        for spool in spools:
            spool.close()
            base = len(merged._paths)
            merged._paths.extend(spool._paths)
            merged._keys.extend((merged._rank.get(key[1], len(merged.captures)), *key[1:-2], base + key[-2], key[-1])
                                for key in spool._keys)
        merged._sorted = False
        return merged

    def remove(self) -> None:
        """Delete the spool files (merged spools share them with their sources)."""
        self.close()
        for path in self._paths:
            path.unlink(missing_ok=True)
        self._paths.clear()
        self._keys.clear()
