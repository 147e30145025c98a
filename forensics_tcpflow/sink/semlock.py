"""-L NAME: tcpflow's named POSIX semaphore, held while one segment is printed (and flushed), so
several runs printing to one terminal never interleave inside a segment.

The standard library opens named semaphores only under names it makes up itself (multiprocessing),
so the semaphore comes from posix_ipc (the [lock] extra): NAME is opened, or created with the
value 1, under "/NAME" as tcpflow's sem_open does.
"""

from __future__ import annotations

from types import TracebackType

INSTALL_HINT = "pip install 'forensics-tcpflow[lock]' (posix_ipc)"


class SemaphoreError(Exception):
    """-L cannot work here: posix_ipc is missing or the name is refused."""


class NamedSemaphore:
    """A context manager: acquire on entry, release on exit."""

    def __init__(self, name: str) -> None:
        try:
            import posix_ipc
        except ImportError:
            raise SemaphoreError(f"-L needs the posix_ipc package: {INSTALL_HINT}") from None
        self.name = "/" + name.lstrip("/")
        try:
            self._sem = posix_ipc.Semaphore(self.name, posix_ipc.O_CREAT, initial_value=1)
        except (posix_ipc.Error, ValueError) as exc:
            raise SemaphoreError(f"-L {name}: cannot open the named semaphore: {exc}") from None

    def __enter__(self) -> NamedSemaphore:
        self._sem.acquire()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._sem.release()

    def close(self) -> None:
        """Our handle only: the semaphore stays for the other runs that share it (as tcpflow leaves it)."""
        self._sem.close()
