"""Builds the compiled kernel; without a C compiler (or Cython) the package installs all the same
and its pure-Python twin runs (`forensics-tcpflow --version` says which is active)."""

from __future__ import annotations

import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

KERNEL = "forensics_tcpflow.kernel._kernel"


class BuildKernel(build_ext):
    """Says plainly whether the kernel was compiled: an optional extension that fails is
    otherwise only a warning in a long log."""

    def build_extension(self, ext: Extension) -> None:
        try:
            super().build_extension(ext)
        except Exception as exc:      # noqa: BLE001 - any compiler failure leaves the twin in charge
            print(f"forensics-tcpflow: the compiled kernel was NOT built ({exc}); "
                  "the pure-Python kernel will run", file=sys.stderr)
            return
        print(f"forensics-tcpflow: compiled kernel built: {self.get_ext_fullpath(ext.name)}", file=sys.stderr)


def extensions() -> list[Extension]:
    try:
        from Cython.Build import cythonize
    except ImportError:
        print("forensics-tcpflow: Cython is missing: the pure-Python kernel will run", file=sys.stderr)
        return []
    built = cythonize([Extension(KERNEL, ["forensics_tcpflow/kernel/_kernel.pyx"], extra_compile_args=["-O3"])],
                      language_level=3, quiet=True)
    for ext in built:
        ext.optional = True        # cythonize() returns new Extension objects without it
    return built


setup(ext_modules=extensions(), cmdclass={"build_ext": BuildKernel})
