"""The unit the capture stage hands to decoding."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import InputError


@dataclass(slots=True)
class Record:
    """One captured packet, with everything the examiner may need to cite it.

    `frame` is 1-based, as tshark and Wireshark number frames, so a report line
    can be checked against either tool. `offset` is the byte offset of the
    record header in the (decompressed) capture stream.
    """

    frame: int
    linktype: int
    ts_ns: int
    caplen: int
    origlen: int
    data: bytes
    offset: int
    interface: int = 0


class CaptureError(InputError):
    """A capture that cannot be read on from some point.

    Carries the file and the position so the message can name them; every
    record yielded before the error stays valid.
    """

    def __init__(self, path: str, message: str, frame: int | None = None,
                 offset: int | None = None) -> None:
        self.path = path
        self.message = message
        self.frame = frame
        self.offset = offset
        super().__init__(str(self))

    def __str__(self) -> str:
        where = []
        if self.frame is not None:
            where.append(f"record {self.frame}")
        if self.offset is not None:
            where.append(f"offset {self.offset}")
        suffix = f" ({', '.join(where)})" if where else ""
        return f"{self.path}{suffix}: {self.message}"
