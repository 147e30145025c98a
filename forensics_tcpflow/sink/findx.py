"""tcpflow's -I byte index: a `.findx` file beside each flow file, one line per stored segment.

`offset|seconds.microseconds|length` in arrival order: tcpflow 1.6.1 means to
sort its index by offset at close but writes it as the segments came, and a
reader of both files must find the same lines. `length` is what was written,
so it is 0 past -b.
"""

from __future__ import annotations

from ..options import NS

SUFFIX = ".findx"
USEC = NS // 1_000_000


def findx_text(entries: list[tuple[int, int, int]]) -> bytes:
    """(offset, ts_ns, length) entries as the file's bytes."""
    lines = (f"{off}|{ts // NS}.{ts % NS // USEC:06d}|{length}\n"
             for off, ts, length in entries)
    return "".join(lines).encode()
