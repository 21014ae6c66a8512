"""The SQLite file, its migrations and its transactions (aiosqlite).

``Database.open()`` connects, sets WAL mode and a busy timeout (so another process holding a write
lock makes us wait instead of fail), and applies every migration in ``storage/migrations/`` that has
not run yet, in file-name order, each in its own transaction.  ``async with db.transaction() as tx``
gives a :class:`Tx` whose attributes are the repositories (``tx.tickets``, ``tx.outbox`` …); all of a
handler's changes and the outbox rows they cause commit together or not at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

import aiosqlite

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).parent / "migrations"
CHECKPOINT_EVERY = 500  # commits (~25 MB of WAL at a dozen pages a command)
BUSY_TIMEOUT_MS = 30000  # how long a write waits for another process's lock (on aiosqlite's thread)


class Ran(NamedTuple):
    """What a change statement left behind: the new row's id and how many rows it touched."""

    lastrowid: int | None
    rowcount: int


def _fetch(conn: sqlite3.Connection, sql: str, params: tuple, every: bool,
           deferred: tuple[str, ...] = ()) -> Any:
    """Run a query on aiosqlite's thread and fetch its first row (or every row)."""
    for statement in deferred:
        conn.execute(statement)
    cursor = conn.execute(sql, params)
    try:
        return cursor.fetchall() if every else cursor.fetchone()
    finally:
        cursor.close()


def _change(conn: sqlite3.Connection, sql: str, params: tuple, deferred: tuple[str, ...] = ()) -> Ran:
    """Run a change statement on aiosqlite's thread."""
    for statement in deferred:
        conn.execute(statement)
    cursor = conn.execute(sql, params)
    try:
        return Ran(cursor.lastrowid, cursor.rowcount)
    finally:
        cursor.close()


# Statements with no answer (BEGIN, SAVEPOINT, RELEASE) wait on the connection until the next trip
# to aiosqlite's thread, which runs them first: a command saves three trips (P1 in
# docs/bench-results.md).  Only the event loop's thread touches the list.
def _defer(conn: aiosqlite.Connection, statement: str) -> None:
    conn.linli_deferred = [*getattr(conn, "linli_deferred", ()), statement]


def _take(conn: aiosqlite.Connection) -> tuple[str, ...]:
    deferred = getattr(conn, "linli_deferred", None)
    if not deferred:
        return ()
    conn.linli_deferred = []
    return tuple(deferred)


def _cancel(conn: aiosqlite.Connection, statement: str) -> bool:
    """Drop ``statement`` if it is the last one still waiting (nothing ran after it)."""
    deferred = getattr(conn, "linli_deferred", [])
    if deferred and deferred[-1] == statement:
        conn.linli_deferred = deferred[:-1]
        return True
    return False


def _finish(conn: sqlite3.Connection, deferred: tuple[str, ...], last: str) -> None:
    """Run what waits, then ``last`` (COMMIT, ROLLBACK) if a transaction is open."""
    if deferred and deferred[0].startswith("BEGIN") and not conn.in_transaction and all(
            s.startswith(("BEGIN", "SAVEPOINT", "RELEASE")) for s in deferred):
        return  # nothing ran inside: no transaction to take or end
    if last == "ROLLBACK":
        deferred = ()  # undo: what waited need not run
    for statement in deferred:
        conn.execute(statement)
    if conn.in_transaction:
        conn.execute(last)


def _begin_if_free(conn: sqlite3.Connection) -> bool:
    """Take the write lock right here if nobody holds it: True if the transaction began.

    With the busy timeout at zero, ``BEGIN IMMEDIATE`` either gets the lock at once or fails at once;
    it never blocks the event loop.  On any failure (another process writing, a damaged file) the
    caller leaves ``BEGIN IMMEDIATE`` to the thread, which waits, or raises, as before."""
    conn.execute("PRAGMA busy_timeout=0")
    try:
        conn.execute("BEGIN IMMEDIATE")
        return True
    except sqlite3.Error:
        return False
    finally:
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")


def _call(conn: sqlite3.Connection, deferred: tuple[str, ...], fn, args: tuple) -> Any:
    for statement in deferred:
        conn.execute(statement)
    return fn(conn, *args)


async def _go(conn: aiosqlite.Connection, deferred: tuple[str, ...], fn, *args: Any) -> Any:
    """Run ``fn(sqlite3_connection, *args)`` where it costs least.

    Only taking the write lock (the deferred ``BEGIN IMMEDIATE``) can wait, for as long as another
    process holds it (busy_timeout): that trip goes to aiosqlite's thread, so the event loop keeps
    serving the chats meanwhile.  Everything after it, inside the transaction we now hold, and every
    read (WAL: readers never wait), runs right here: a statement costs SQLite ~10–100 µs, while a
    trip to the thread and back cost 15–85 µs on the benchmark machine (71% of a command on a quiet
    machine, P1 in docs/bench-results.md).  One task at a time uses the connection (the database's
    lock), so the thread and the loop never touch it together.
    """
    if deferred and deferred[0].startswith("BEGIN"):  # transaction() defers it first, if at all
        return await _on_thread(conn, fn, *args)
    return fn(conn._conn, *args)


async def _on_thread(conn: aiosqlite.Connection, fn, *args: Any) -> Any:
    """Run ``fn`` on aiosqlite's thread and wait for it to finish even if our task is cancelled
    meanwhile (the thread runs it anyway): the caller's rollback must see what it did, and the loop
    must not touch the connection while the thread still does."""
    trip = asyncio.ensure_future(conn._execute(fn, conn._conn, *args))
    try:
        return await asyncio.shield(trip)
    except asyncio.CancelledError:
        with contextlib.suppress(BaseException):
            await trip
        raise


class Repo:
    """Base of the repositories: SQL lives in their methods and nowhere else."""

    name: ClassVar[str]

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.conn = conn

    # Each helper executes, fetches and closes in one go: on the loop, or on aiosqlite's thread when
    # the write lock is still to be taken (see _go; written out here, one coroutine less a
    # statement, as every command runs a dozen of them: P1 in docs/bench-results.md).
    async def _one(self, sql: str, params: Iterable[Any] = ()) -> sqlite3.Row | None:
        conn = self.conn
        deferred = _take(conn)
        if deferred and deferred[0].startswith("BEGIN"):
            return await _on_thread(conn, _fetch, sql, tuple(params), False, deferred)
        return _fetch(conn._conn, sql, tuple(params), False, deferred)

    async def _all(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        conn = self.conn
        deferred = _take(conn)
        if deferred and deferred[0].startswith("BEGIN"):
            return await _on_thread(conn, _fetch, sql, tuple(params), True, deferred)
        return _fetch(conn._conn, sql, tuple(params), True, deferred)

    async def _run(self, sql: str, params: Iterable[Any] = ()) -> Ran:
        conn = self.conn
        deferred = _take(conn)
        if deferred and deferred[0].startswith("BEGIN"):
            return await _on_thread(conn, _change, sql, tuple(params), deferred)
        return _change(conn._conn, sql, tuple(params), deferred)

    async def _call(self, fn, *args: Any) -> Any:
        """Run ``fn(sqlite3_connection, *args)`` inside the transaction."""
        deferred = _take(self.conn)
        return await _go(self.conn, deferred, _call, deferred, fn, args)

    async def _value(self, sql: str, params: Iterable[Any] = ()) -> Any:
        row = await self._one(sql, params)
        return None if row is None else row[0]

    def forget(self) -> None:
        """Drop whatever this repository keeps for its transaction (after a savepoint's undo)."""


_REPOS: dict[str, type[Repo]] = {}


def repository(name: str):
    """Register a repository class so it is reachable as ``tx.<name>``."""

    def register(cls: type[Repo]) -> type[Repo]:
        cls.name = name
        _REPOS[name] = cls
        return cls

    return register


class Tx:
    """The repositories, all on one connection inside one transaction."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.conn = conn

    def __getattr__(self, name: str) -> Repo:
        cls = _REPOS.get(name)
        if cls is None:
            raise AttributeError(f"no repository {name!r}")
        repo = self.__dict__[name] = cls(self.conn)  # found directly from now on
        return repo

    def savepoint(self) -> _Savepoint:
        """Changes inside (``async with tx.savepoint():``) are undone if the block raises (the
        transaction goes on)."""
        return _Savepoint(self)


class _Savepoint:
    """``Tx.savepoint()``: a class rather than a generator, as every command opens one (P1)."""

    __slots__ = ("tx",)

    def __init__(self, tx: Tx) -> None:
        self.tx = tx

    async def __aenter__(self) -> None:
        _defer(self.tx.conn, "SAVEPOINT handler")

    async def __aexit__(self, exc_type, exc, tb) -> bool:
        conn = self.tx.conn
        if exc_type is None:
            if not _cancel(conn, "SAVEPOINT handler"):
                _defer(conn, "RELEASE handler")
            return False
        if not _cancel(conn, "SAVEPOINT handler"):  # it ran: undo on the thread
            deferred = _take(conn)
            await _go(conn, deferred, _call, deferred, _undo_savepoint, ())
        for repo in list(vars(self.tx).values()):
            if isinstance(repo, Repo):
                repo.forget()
        return False  # the error goes on


class Database:
    """One SQLite file, one connection, transactions taken one at a time."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._conn: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()
        self._commits = 0

    @property
    def conn(self) -> aiosqlite.Connection:
        if self._conn is None:
            raise RuntimeError("database is not open")
        return self._conn

    async def open(self, *, migrate: bool = True) -> Database:
        """Connect; apply pending migrations unless ``migrate`` is False (e.g. to back a file up
        as it is)."""
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        # check_same_thread=False: statements inside a held transaction run on the loop (see _go)
        self._conn = await aiosqlite.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            self._conn.row_factory = sqlite3.Row
            for pragma in (
                "PRAGMA journal_mode=WAL",
                "PRAGMA synchronous=NORMAL",
                # No checkpoint inside a COMMIT (which runs on the loop, see _go): transaction() runs
                # one on aiosqlite's thread every CHECKPOINT_EVERY commits instead. Rarer checkpoints
                # copy the hot pages back less often (P1 in docs/bench-results.md: +30%).
                "PRAGMA wal_autocheckpoint=0",
                "PRAGMA foreign_keys=ON",
                f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}",
            ):
                await self._conn.execute(pragma)
            if migrate:
                await self.migrate()
        except BaseException:
            # A file that is not a database, a damaged one or a read-only one fails only here, once
            # aiosqlite's thread runs. That thread is not a daemon: left running, it would keep the
            # process alive after the error forever. Stop it, then let the error go on.
            conn, self._conn = self._conn, None
            with contextlib.suppress(BaseException):
                await conn.close()
            raise
        return self

    async def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(sqlite3.Error):
                await _on_thread(self._conn, _checkpoint)
            await self._conn.close()
            self._conn = None

    async def migrate(self) -> list[str]:
        """Apply the migrations not applied yet; return their names."""
        conn = self.conn
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT)"
        )
        async with conn.execute("SELECT name FROM schema_migrations") as cursor:
            done = {row[0] for row in await cursor.fetchall()}
        applied = []
        for path in sorted(MIGRATIONS.glob("*.sql")):
            if path.name in done:
                continue
            script = path.read_text(encoding="utf-8")
            async with self._lock:
                await conn.execute("BEGIN IMMEDIATE")
                try:
                    for statement in _statements(script):
                        await conn.execute(statement)
                    await conn.execute(
                        "INSERT INTO schema_migrations VALUES (?, datetime('now'))", (path.name,)
                    )
                    await conn.execute("COMMIT")
                except BaseException:
                    await conn.execute("ROLLBACK")
                    raise
            log.info("applied migration %s", path.name)
            applied.append(path.name)
        return applied

    def transaction(self) -> _Transaction:
        """A write transaction (``async with db.transaction() as tx:``): everything inside commits
        together, or nothing does."""
        return _Transaction(self)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[Tx]:
        """Read-only access, taken in turn with the transactions (one connection)."""
        async with self._lock:
            yield Tx(self.conn)

    async def backup(self, target: str | Path) -> None:
        """Copy the live database to ``target`` with SQLite's online backup API."""
        async with self._lock:
            dest = await aiosqlite.connect(str(target))
            try:
                await self.conn.backup(dest)
            finally:
                await dest.close()


class _Transaction:
    """``Database.transaction()``: a class rather than a generator, as every command opens one
    (P1 in docs/bench-results.md)."""

    __slots__ = ("db",)

    def __init__(self, db: Database) -> None:
        self.db = db

    async def __aenter__(self) -> Tx:
        db = self.db
        await db._lock.acquire()
        try:
            conn = db.conn
            _take(conn)
            if not _begin_if_free(conn._conn):  # the usual case: no trip to the thread at all
                _defer(conn, "BEGIN IMMEDIATE")  # busy: the thread waits for the lock
        except BaseException:
            db._lock.release()
            raise
        return Tx(conn)

    async def __aexit__(self, exc_type, exc, tb) -> bool:
        db = self.db
        try:
            conn = db.conn
            deferred = _take(conn)
            if exc_type is not None:
                await _go(conn, deferred, _finish, deferred, "ROLLBACK")
                return False  # the error goes on
            await _go(conn, deferred, _finish, deferred, "COMMIT")
            db._commits += 1
            if db._commits % CHECKPOINT_EVERY == 0:
                # copying the WAL back and syncing the file must not stall the chats: the thread
                await _on_thread(conn, _checkpoint)
        finally:
            db._lock.release()
        return False


def _checkpoint(conn: sqlite3.Connection) -> None:
    """Copy the WAL back into the database file (never waits for readers or writers)."""
    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()


def _undo_savepoint(conn: sqlite3.Connection) -> None:
    conn.execute("ROLLBACK TO handler")
    conn.execute("RELEASE handler")


def _statements(script: str) -> list[str]:
    """Split a migration script into statements (sqlite3.complete_statement knows the grammar)."""
    out, buffer = [], ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            if buffer.strip():
                out.append(buffer.strip())
            buffer = ""
    if buffer.strip() and not buffer.strip().startswith("--"):
        out.append(buffer.strip())
    return out
