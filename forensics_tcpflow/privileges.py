"""-U USER and -z DIR: give up root once the interface is open, as tcpflow does.

Only opening the interface needs root. After the switch the run can neither read
files only root may read (a Python installed under /root) nor write folders root
made, so what the rest of the run loads late is loaded first, and the folders
this run made are handed to USER. With -z the run is also shut into DIR: every
path it still writes (OUT, the report, its state folder) lies inside DIR, and
DIR gets one symlink, DIR/<DIR's own path> -> /, so that those absolute paths,
taken before the switch, still name the same files inside it.
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


def relinquish(user: str, jail: str | None = None) -> None:
    """Become USER for good (groups, group, then user: the order that cannot be undone midway),
    shut into `jail` first when given (tcpflow's -z needs -U: root could leave a chroot)."""
    from .report.validate import warm
    from .runinfo import library_versions
    warm()
    library_versions()
    entry = account(user)
    if jail is not None:
        _shut_into(Path(jail))
    os.setgroups([])
    os.setgid(entry.pw_gid)
    os.setuid(entry.pw_uid)


def jail_alias(jail: Path) -> Path:
    """Where, inside the jail, its own absolute path must lead back to its root."""
    return jail / jail.relative_to(jail.anchor)


def _shut_into(jail: Path) -> None:
    alias = jail_alias(jail)
    if not os.path.islink(alias) or os.readlink(alias) != "/":
        alias.parent.mkdir(parents=True, exist_ok=True)
        os.symlink("/", alias)          # FileExistsError if something else is there: the run ends, clearly
    os.chroot(jail)
    os.chdir("/")
