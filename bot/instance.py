"""One Linli process per database: ``linli run`` and ``linli console`` hold ``<db>.lock``.

Two bots on one database would both sweep, both escalate and both send what waits in the outbox.
:func:`hold` takes an exclusive ``fcntl.flock`` on the file ``<db>.lock`` beside the database (the
database's real path, so a symlink leads to the same lock) and writes the holder's pid and command
line into it.  The kernel releases an flock when the process ends, however it ends (``kill -9``, a
crash, a power cut), so a dead process never leaves the database locked: the next one takes the lock
and writes its own pid over the stale text.  Whoever finds the lock held reads who holds it from the
file and refuses with :class:`AlreadyRunning`.  A process that stops normally removes the file; so
that nobody ends up holding a removed file, a lock taken on a file that is no longer at its path is
let go and taken again on the new one.

Read-only commands (``status``, ``export``, ``digest``, ``db backup``) need no lock (SQLite lets
them read while the bot writes).  Tests and ``linli simulate`` build :class:`bot.app.App` directly
and take no lock either.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shlex
import sys
import time
from pathlib import Path


class InstanceError(Exception):
    """The database cannot be taken for this process; the message says why, naming the file."""


class AlreadyRunning(InstanceError):
    """Another live process holds the database."""

    def __init__(self, database: str, pid: int | None, command: str) -> None:
        self.database, self.pid, self.command = database, pid, command
        who = f"process {pid}" if pid else "another process"
        what = f" ({command})" if command else ""
        super().__init__(
            f"{database} is in use by {who}{what}: only one `linli run` or `linli console` may use "
            f"a database at a time. Stop that one first, or give this one another --db.")


def lock_path(database: str | Path) -> Path:
    """Where the lock of ``database`` lives: ``<db>.lock`` beside the real file."""
    return Path(f"{os.path.realpath(database)}.lock")


def _read_holder(fd: int) -> tuple[int | None, str]:
    """The pid and command written into an open lock file (empty while its holder writes)."""
    text = os.pread(fd, 4096, 0).decode("utf-8", "replace")
    first, _, rest = text.partition("\n")
    try:
        pid = int(first.strip())
    except ValueError:
        return None, ""
    return pid, rest.strip()


class InstanceLock:
    """A held ``<db>.lock``; :meth:`release` (or the process ending) lets it go."""

    def __init__(self, database: str, path: Path, fd: int | None) -> None:
        self.database, self.path, self._fd = database, path, fd

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        with contextlib.suppress(OSError):
            if _same_file(fd, self.path):
                self.path.unlink()  # while still held: see hold() for who opened it meanwhile
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)

    def __enter__(self) -> InstanceLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _open(path: Path, database: str) -> tuple[int, bool]:
    """Open (creating) the lock file; (fd, writable).  An existing lock file this user may not
    write is still good for locking, just not for saying who we are."""
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644), True
    except PermissionError as exc:
        if path.exists():
            with contextlib.suppress(OSError):
                return os.open(path, os.O_RDONLY | os.O_CLOEXEC), False
        name = Path(database).name
        raise InstanceError(
            f"{database} cannot be used: its folder {path.parent} is read-only for this user; "
            f"Linli writes the database and, beside it, {name}-wal, {name}-shm and {name}.lock. "
            f"Give the user running Linli write access, or copy the database to a writable "
            f"folder.") from exc
    except OSError as exc:
        raise InstanceError(f"{database} cannot be used: cannot create {path} "
                            f"({exc.strerror or exc})") from exc


def _same_file(fd: int, path: Path) -> bool:
    """Is the open file ``fd`` still the one at ``path`` (not removed or replaced)?"""
    try:
        here, there = os.fstat(fd), os.stat(path)
    except OSError:
        return False
    return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)


def hold(database: str | Path, command: list[str] | None = None) -> InstanceLock:
    """Take the database for this process, or raise :class:`AlreadyRunning` naming the holder
    (:class:`InstanceError` when the lock file cannot be made at all).  Never waits."""
    database = str(database)
    path = lock_path(database)
    if database == ":memory:":
        return InstanceLock(database, path, None)  # nobody else can open that one
    try:
        path.parent.mkdir(parents=True, exist_ok=True)  # as Database.open() would
    except OSError as exc:
        raise InstanceError(f"{database} cannot be used: cannot create the folder {path.parent} "
                            f"({exc.strerror or exc})") from exc
    for _ in range(100):
        fd, writable = _open(path, database)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                pid, text = _read_holder(fd)
                deadline = time.monotonic() + 1.0
                while pid is None and time.monotonic() < deadline:  # the holder is writing it now
                    time.sleep(0.02)
                    pid, text = _read_holder(fd)
            finally:
                os.close(fd)
            raise AlreadyRunning(database, pid, text) from None
        except BaseException:
            os.close(fd)
            raise
        if _same_file(fd, path):
            break
        os.close(fd)  # its holder removed it as we opened it: take the new one
    else:
        raise InstanceError(f"{database} cannot be used: {path} keeps changing")
    try:
        if writable:
            line = shlex.join(command if command is not None else sys.orig_argv)
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n{line}\n".encode(), 0)
    except BaseException:
        os.close(fd)
        raise
    return InstanceLock(database, path, fd)


def holder(database: str | Path) -> tuple[int | None, str] | None:
    """Who holds ``database`` now ((pid, command)), or None when nobody does.  Does not take it."""
    path = lock_path(database)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_holder(fd)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)
