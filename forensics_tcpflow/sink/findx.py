"""tcpflow's -I byte index: a `.findx` file beside each flow file, one line per stored segment.

`offset|seconds.microseconds|length`, sorted by offset when the flow closes
(tcpflow sorts its index at close too; equal offsets keep arrival order).
`length` is what was written, so it is 0 past -b.
"""

from __future__ import annotations

from ..options import NS

SUFFIX = ".findx"
USEC = NS // 1_000_000


def findx_text(entries: list[tuple[int, int, int]]) -> bytes:
    """(offset, ts_ns, length) entries as the file's bytes."""
    lines = (f"{off}|{ts // NS}.{ts % NS // USEC:06d}|{length}\n"
             for off, ts, length in sorted(entries, key=lambda entry: entry[0]))
    return "".join(lines).encode()
