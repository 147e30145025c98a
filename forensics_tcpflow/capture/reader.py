"""Open any capture we can read: format and compression come from magic bytes only."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from types import TracebackType
from typing import BinaryIO, Protocol

from . import pcap, pcapng
from .compression import STREAM_ERRORS, open_stream
from .evidence import EvidenceFile
from .record import CaptureError, Record
from .window import ByteWindow


class FormatReader(Protocol):
    def __init__(self, window: ByteWindow, path: str, linktypes: set[int]) -> None: ...
    def records(self) -> Iterator[Record]: ...

    @property
    def snaplen(self) -> int: ...


# Leading 4 bytes of the decompressed stream -> (format name, reader).
FORMATS: dict[bytes, tuple[str, type[FormatReader]]] = {
    **{magic: ("pcap", pcap.PcapReader) for magic in pcap.MAGICS},
    **{magic: ("pcapng", pcapng.PcapngReader) for magic in pcapng.MAGICS},
}


def detect_format(path: str | os.PathLike[str]) -> tuple[str, str] | None:
    """(format "pcap"|"pcapng", compression ""|"gzip"|"bzip2"|"xz"), or None if not a capture.

    OSError (missing or unreadable file) propagates: that is not a verdict on the content.
    """
    with io.BufferedReader(EvidenceFile(str(path), ())) as raw:      # a FIFO in a folder cannot block the walk
        stream, compression = open_stream(raw)
        try:
            head = stream.read(4)
        except STREAM_ERRORS:
            return None
        found = FORMATS.get(head)
        return (found[0], compression) if found else None


class Capture:
    """An open capture; iterate it once for its records, in file order."""

    def __init__(self, path: str | os.PathLike[str], source: io.RawIOBase | None = None) -> None:
        """`source`: the file already opened (an EvidenceFile, which fingerprints what is read);
        it stays open when the capture closes."""
        self.path = path = os.fspath(path)
        self.linktypes: set[int] = set()
        self._source = source
        try:
            self._raw: BinaryIO = (io.BufferedReader(EvidenceFile(str(path), ()), 1 << 20) if source is None
                                   else io.BufferedReader(source, 1 << 20))
        except OSError as exc:
            raise CaptureError(path, f"cannot open: {exc.strerror or exc}") from exc
        try:
            stream, self.compression = open_stream(self._raw)
            window = ByteWindow(stream, path, self.compression)
            head, _ = window.refill(0, 4)
            found = FORMATS.get(bytes(head[:4]))
            if found is None:
                what = f"{self.compression}-compressed data" if self.compression else "file"
                start = bytes(head[:4]).hex() or "nothing"
                raise CaptureError(path, f"not a pcap or pcapng {what} (starts with {start})", offset=0)
            self.format, reader_class = found
            self._reader = reader_class(window, path, self.linktypes)
            self._records = self._reader.records()
        except BaseException:
            self.close()
            raise

    @property
    def snaplen(self) -> int:
        """The capture's snap length as its header says (pcapng: the largest of the interfaces read so far)."""
        return self._reader.snaplen

    @property
    def raw_position(self) -> int:
        """Bytes of the file (compressed, if it is) consumed so far: for progress bars."""
        return self._raw.tell()

    def __iter__(self) -> Iterator[Record]:
        return self._records

    def close(self) -> None:
        raw, self._raw = self._raw, None      # type: ignore[assignment]
        if raw is None:
            return
        if self._source is not None:
            raw.detach()               # type: ignore[attr-defined]  # the caller's file stays open
        else:
            raw.close()

    def __enter__(self) -> Capture:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def open_capture(path: str | os.PathLike[str], source: io.RawIOBase | None = None) -> Capture:
    """Open `path` read-only (or read the already open `source`); raises CaptureError if it is
    not a capture we can read."""
    return Capture(path, source)
