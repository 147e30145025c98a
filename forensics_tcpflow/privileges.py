"""-U USER: give up root once the interface is open, as tcpflow does.

Only opening the interface needs root. After the switch the run can neither read
files only root may read (a Python installed under /root) nor write folders root
made, so what the rest of the run loads late is loaded first, and the folders
this run made are handed to USER.
"""

from __future__ import annotations

import os
import pwd
from pathlib import Path
from typing import Iterable


def account(user: str) -> pwd.struct_passwd:
    """The user's account; KeyError names an unknown user."""
    try:
        return pwd.getpwnam(user)
    except KeyError:
        raise KeyError(f"-U: no such user {user!r}") from None


def hand_over(user: str, folders: Iterable[Path], trees: Iterable[Path]) -> None:
    """Give USER the output folders (not what an earlier run left in them) and the trees this run
    made, so it can write its outputs."""
    entry = account(user)
    for folder in folders:
        os.chown(folder, entry.pw_uid, entry.pw_gid)
    for tree in trees:
        for root, dirs, files in os.walk(tree):
            for name in (root, *(os.path.join(root, f) for f in (*dirs, *files))):
                os.chown(name, entry.pw_uid, entry.pw_gid, follow_symlinks=False)


def relinquish(user: str) -> None:
    """Become USER for good (groups, group, then user: the order that cannot be undone midway)."""
    from .report.validate import warm
    from .runinfo import library_versions
    warm()
    library_versions()
    entry = account(user)
    os.setgroups([])
    os.setgid(entry.pw_gid)
    os.setuid(entry.pw_uid)
