"""--merge: rotated pieces of one capture, put back in the order their packets were taken."""

from __future__ import annotations

from ..capture.reader import open_capture
from ..capture.record import CaptureError


def first_packet_ns(path: str) -> int | None:
    """Timestamp of the first record, or None for an empty or unreadable capture."""
    try:
        with open_capture(path) as capture:
            for record in capture:
                return record.ts_ns
    except (CaptureError, OSError, ValueError):
        return None
    return None


def order_by_first_packet(captures: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Captures by first packet time; those without one go last, in walking order (their errors still get reported)."""
    timed = [(first_packet_ns(capture[0]), index, capture) for index, capture in enumerate(captures)]
    timed.sort(key=lambda item: (item[0] is None, item[0] or 0, item[1]))
    return [capture for _, _, capture in timed]
