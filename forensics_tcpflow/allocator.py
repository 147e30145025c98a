"""glibc malloc settings for a process that allocates and frees large buffers all run long.

By default glibc raises its mmap threshold after the first large free, after
which window buffers come from (and stay in) the heap, and each thread gets
its own arena. A fixed threshold hands large buffers back to the system as
soon as they are freed; two arenas suffice for the parser and hashing threads.
Elsewhere (or without glibc) nothing changes.
"""

from __future__ import annotations

import ctypes
import sys

_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8
MMAP_THRESHOLD = 128 * 1024
ARENAS = 2


def tune() -> None:
    if not sys.platform.startswith("linux"):
        return
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):     # not glibc (musl has no mallopt)
        return
    mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)
    mallopt(_M_ARENA_MAX, ARENAS)
