"""The flow kernel: per-record work from capture bytes to flow bytes, in one of two implementations.

`_kernel` is the compiled one (Cython, built by `pip install .`; its loop runs without
the GIL so digests are computed on the other core meanwhile); `pure` is its twin in
plain Python, taken where the extension was not built or when FTF_KERNEL=python asks
for it. Both implement kernel/api.py; this is the one place the choice is made.
"""

from __future__ import annotations

import os

IMPLEMENTATION: str
if os.environ.get("FTF_KERNEL") == "python":
    from .pure import Kernel
    IMPLEMENTATION = "python"
else:
    try:
        from ._kernel import Kernel  # type: ignore[no-redef]
        IMPLEMENTATION = "compiled"
    except ImportError:
        from .pure import Kernel  # type: ignore[no-redef]
        IMPLEMENTATION = "python"

__all__ = ["IMPLEMENTATION", "Kernel"]
