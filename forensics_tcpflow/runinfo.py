"""Build the RunInfo of this process: who ran what, where, with which software."""

from __future__ import annotations

import getpass
import os
import platform
import socket
import uuid
from functools import cache
from dataclasses import asdict
from importlib.metadata import PackageNotFoundError, version

from . import __version__
from .options import Options
from .provenance import ReplayInfo, RunInfo


@cache
def library_versions() -> dict[str, str]:
    """Read once per process (and early with -U, while the installed metadata is readable)."""
    return {"python": platform.python_version(), "dpkt": _version("dpkt"), "lxml": _version("lxml"),
            "pcapy-ng": _version("pcapy-ng")}


def _version(dist: str) -> str:
    try:
        return version(dist)
    except PackageNotFoundError:
        return "unknown"


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())


def make_run_info(command_line: str, given: Options, derived: dict[str, object], start_ns: int) -> RunInfo:
    """The run as recorded: the options exactly as given, and apart what the run derived from them."""
    uname = platform.uname()
    return RunInfo(
        uuid=str(uuid.uuid4()), command_line=command_line, program="forensics-tcpflow",
        version=__version__,
        libraries=dict(library_versions()),
        host=socket.gethostname(), user=_user(), uid=os.getuid(), os_sysname=uname.system,
        os_release=uname.release, os_version=uname.version, arch=uname.machine,
        start_ns=start_ns, options=asdict(given), derived=derived,
    )


def replay_info(argv: tuple[str, ...], cwd: str) -> ReplayInfo:
    """The command as given, for `reproduce`; the versions it compares with the replaying program's."""
    return ReplayInfo(argv=argv, cwd=cwd, version=__version__, libraries=dict(library_versions()),
                      platform=platform.platform(), implementation=platform.python_implementation())
