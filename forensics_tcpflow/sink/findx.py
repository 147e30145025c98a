"""tcpflow's -I byte index: a `.findx` file beside each flow file, one line per stored segment.

`offset|seconds.microseconds|length` in arrival order: tcpflow 1.6.1 means to
sort its index by offset at close but writes it as the segments came, and a
reader of both files must find the same lines. `length` is what was written,
so it is 0 past -b.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..options import NS

if TYPE_CHECKING:
    from . import FlowSink

SUFFIX = ".findx"
USEC = NS // 1_000_000


def findx_text(entries: list[tuple[int, int, int]]) -> bytes:
    """(offset, ts_ns, length) entries as the file's bytes."""
    lines = (f"{off}|{ts // NS}.{ts % NS // USEC:06d}|{length}\n"
             for off, ts, length in entries)
    return "".join(lines).encode()


def write_findx(sink: FlowSink, flow_name: str, entries: list[tuple[int, int, int]],
                mtime_ns: int) -> tuple[str, dict[str, str]]:
    """The index beside the flow file `flow_name`: its name and digests for the report
    ("" and none when the name is taken)."""
    name = flow_name + SUFFIX
    index = sink.create(name)
    if index is None:
        return "", {}
    index.write(0, findx_text(entries))
    return name, index.close(mtime_ns)[1]
