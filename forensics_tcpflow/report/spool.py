"""Finished flows parked on disk, replayed in a fixed order whatever order they closed in.

An external merge sort: flows gather in a bounded buffer, which is written out
sorted as a run file; replaying merges the runs. Memory stays flat however many
flows a run has, and spools from worker processes combine by sharing their runs.
"""

from __future__ import annotations

import heapq
import marshal
import os
import struct
import tempfile
from operator import attrgetter
from pathlib import Path
from typing import BinaryIO, Iterable, Iterator, Sequence

from forensics_tcpflow.flow.record import FlowRecord
from forensics_tcpflow.report.codec import FLOW_FIELDS

RUN_RECORDS = 2048       # flows sorted in memory before they go to a run file
MAX_OPEN_RUNS = 128      # runs merged at once; more are first merged into bigger runs

# (capture rank, capture, first_ts_ns, filename, first_frame, connection_id, direction)
SpoolKey = tuple[int, str, int, str, int, int, str]
_values = attrgetter(*FLOW_FIELDS)
_LENGTH = struct.Struct("<I")


class FlowSpool:
    """Flows come back ordered by (capture's position in `captures`, first packet time,
    filename, first frame, connection, direction); captures not listed sort after the
    listed ones, by path. A spool pickles as its run files, so worker processes can
    hand theirs to the parent, which combines them with merge().
    """

    def __init__(self, directory: str | os.PathLike[str], captures: Sequence[str] = ()) -> None:
        self.directory = Path(directory)
        self.captures = tuple(captures)
        self._rank = {path: index for index, path in enumerate(self.captures)}
        self._runs: list[Path] = []
        self._buffer: list[tuple[SpoolKey, bytes]] = []
        self._count = 0

    def key(self, rec: FlowRecord) -> SpoolKey:
        return (self._rank.get(rec.capture, len(self.captures)), rec.capture, rec.first_ts_ns, rec.filename,
                rec.first_frame, rec.connection_id, rec.direction)

    def add(self, rec: FlowRecord) -> None:
        self._buffer.append((self.key(rec), _encode(rec)))
        self._count += 1
        if len(self._buffer) >= RUN_RECORDS:
            self.close()

    def close(self) -> None:
        """Write the buffered flows out as a sorted run."""
        if not self._buffer:
            return
        self._buffer.sort(key=lambda item: item[0])
        self._runs.append(self._write_run(data for _, data in self._buffer))
        self._buffer.clear()

    def _write_run(self, records: Iterable[bytes]) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix="flows-", suffix=".run", dir=self.directory)
        with os.fdopen(fd, "wb") as out:
            out.writelines(records)
        return Path(name)

    def __len__(self) -> int:
        return self._count

    def settle(self) -> None:
        """Write out the buffer and merge runs down to what one pass opens at once; afterwards
        iterating only reads, so several processes may replay the same spool together."""
        self.close()
        while len(self._runs) > MAX_OPEN_RUNS:
            batch, self._runs = self._runs[:MAX_OPEN_RUNS], self._runs[MAX_OPEN_RUNS:]
            self._runs.append(self._write_run(self._encoded(batch)))

    def __iter__(self) -> Iterator[FlowRecord]:
        self.settle()
        return (record for _, record in self._merged(self._runs))

    def _merged(self, runs: list[Path]) -> Iterator[tuple[SpoolKey, FlowRecord]]:
        files = [open(path, "rb") for path in runs]
        try:
            streams = [((self.key(rec), rec) for rec in _records(handle)) for handle in files]
            yield from heapq.merge(*streams, key=lambda item: item[0])
        finally:
            for handle in files:
                handle.close()

    def _encoded(self, runs: list[Path]) -> Iterator[bytes]:
        for _, rec in self._merged(runs):
            yield _encode(rec)

    def __getstate__(self) -> dict[str, object]:
        self.close()
        return {"directory": self.directory, "captures": self.captures, "runs": self._runs, "count": self._count}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__init__(state["directory"], state["captures"])  # type: ignore[misc, arg-type]
        self._runs = list(state["runs"])  # type: ignore[call-overload]
        self._count = int(state["count"])  # type: ignore[call-overload]

    @classmethod
    def merge(cls, spools: Iterable[FlowSpool], captures: Sequence[str] | None = None) -> FlowSpool:
        """One spool over the runs of several (e.g. one per worker process); their files stay shared.

        Capture ranks come from `captures` (default: the first spool's list); each
        spool's own captures must keep their relative order there, as a run is
        sorted by them.
        """
        spools = list(spools)
        if captures is None:
            captures = spools[0].captures if spools else ()
        merged = cls(spools[0].directory if spools else tempfile.gettempdir(), captures)
        for spool in spools:
            spool.close()
            merged._runs.extend(spool._runs)
            merged._count += spool._count
        return merged

    def remove(self) -> None:
        """Delete the run files (merged spools share them with their sources)."""
        self._buffer.clear()
        for path in self._runs:
            path.unlink(missing_ok=True)
        self._runs.clear()
        self._count = 0


def _encode(rec: FlowRecord) -> bytes:
    """Length-prefixed marshal: a run file lives only as long as the run, and marshal is the fastest
    lossless codec for the record's plain values (tuples stay tuples, lone surrogates survive)."""
    data = marshal.dumps(_values(rec))
    return _LENGTH.pack(len(data)) + data


def _records(handle: BinaryIO) -> Iterator[FlowRecord]:
    read, size, unpack = handle.read, _LENGTH.size, _LENGTH.unpack
    while head := read(size):
        yield FlowRecord(*marshal.loads(read(unpack(head)[0])))
