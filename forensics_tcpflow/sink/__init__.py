"""Flow sinks: where reassembled bytes land. The core never decides that itself."""

from __future__ import annotations

from typing import Protocol


class FlowFile(Protocol):
    """One direction's byte stream, written at absolute offsets."""

    def write(self, offset: int, data: bytes) -> None: ...

    def read(self, offset: int, length: int) -> bytes: ...

    def prepend(self, count: int) -> None: ...

    def close(self, mtime_ns: int) -> tuple[int, dict[str, str]]: ...


class FlowSink(Protocol):
    """Creates flow files by name; names are relative to the sink's root."""

    def create(self, name: str) -> FlowFile | None:
        """A new, empty file; None when the name is in use already (the caller tries the next cN)."""

    def close(self) -> None: ...
