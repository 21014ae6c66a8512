"""``linli db backup PATH`` and ``linli db restore PATH``: copies of the database, safe while running.

``backup`` uses SQLite's online backup API (:meth:`storage.Database.backup`): it reads one consistent
snapshot while the bot goes on writing (WAL mode: the bot is never blocked for long), writes the copy
beside ``PATH`` first, checks it, and only then moves it into place, so ``PATH`` is never half a copy.

``restore`` checks that ``PATH`` is a Linli database (an SQLite file with Linli's tables and a schema
version this Linli knows), refuses while a process has the database open (``linli run``, ``linli
console`` …, found through /proc and the ``<db>.lock`` of :mod:`bot.instance`) unless ``--force``,
keeps a copy of the database it replaces (``<db>.replaced-<time>``), and copies ``PATH`` in with the
same backup API, which also brings a live database's write-ahead log along correctly.  A damaged
database (or a file that is not one) cannot be copied that way: it is moved aside whole instead (with
its write-ahead log), and the backup is copied into a new file.  While it restores it holds the
database's lock, so a ``linli run`` started meanwhile waits for nothing and refuses.

Photos kept with reports live in the media folder beside the database (``linli.db`` →
``linli-media/``, :mod:`storage.media`).  ``backup`` copies it beside the backup (``PATH`` →
``<PATH without its suffix>-media/``), after the database: file names are the SHA-256 of their
content, so a file already there is the same file and only new ones are copied (a second backup to
the same place is quick), and a photo the copied database names is never missing from it.
``restore`` brings the backup's media folder back the same way (adding what is missing).
Exit codes: 0 done, 1 refused or failed.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import sys
from datetime import UTC, datetime
from pathlib import Path

from bot.cli import db_from
from bot.cli._problems import cannot_write
from bot.instance import AlreadyRunning, InstanceError, hold
from storage import Database
from storage.db import MIGRATIONS
from storage.media import media_folder

LINLI_TABLES = ("people", "identities", "inbound", "tickets", "audit", "outbox")
SQLITE_HEADER = b"SQLite format 3\x00"


class NotLinli(Exception):
    """The file is not a Linli database this version can use (the message says why)."""


def register(subparsers, common) -> None:
    parser = subparsers.add_parser(
        "db", help="back up or restore the database",
        description="Back up the database while the bot runs, or restore a backup.")
    actions = parser.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    backup = actions.add_parser(
        "backup", parents=[common], help="copy the database to PATH (safe while the bot runs)",
        description="Copy the database (--db, default ./linli.db) to PATH with SQLite's online "
                    "backup API. Safe while the bot runs. An existing PATH is replaced only with "
                    "--force.")
    backup.add_argument("path", metavar="PATH", help="where to write the copy")
    backup.add_argument("--force", action="store_true", help="replace PATH if it exists")
    backup.set_defaults(func=backup_command)
    restore = actions.add_parser(
        "restore", parents=[common], help="replace the database with the backup at PATH",
        description="Replace the database (--db, default ./linli.db) with the backup at PATH. "
                    "Refuses while the bot has the database open, unless --force. The replaced "
                    "database is kept as <db>.replaced-<time>.")
    restore.add_argument("path", metavar="PATH", help="the backup to restore")
    restore.add_argument("--force", action="store_true",
                         help="restore even while a process has the database open")
    restore.set_defaults(func=restore_command)


def say(text: str) -> None:
    print(f"linli db: {text}", flush=True)


def complain(text: str) -> int:
    print(f"linli db: {text}", file=sys.stderr, flush=True)
    return 1


# --- backup -------------------------------------------------------------------------------------
async def backup_command(args) -> int:
    source = Path(db_from(args))
    target = Path(args.path)
    problem = await asyncio.to_thread(backup_problem, source, target, args.force)
    if problem:
        return complain(problem)
    partial = target.with_name(f".{target.name}.partial-{os.getpid()}")
    problem = await asyncio.to_thread(writable, partial, target)
    if problem:
        return complain(problem)
    db = Database(source)
    await db.open(migrate=False)  # copy the file as it is: a backup never changes the database
    try:
        await db.backup(partial)
    except (sqlite3.Error, OSError) as exc:
        await asyncio.to_thread(partial.unlink, missing_ok=True)
        if not await asyncio.to_thread(partial.parent.is_dir) or "unable to open" in str(exc):
            return complain(f"cannot write the backup to {target}: {exc}")
        raise  # the database itself is wrong: said by bot.cli.main, naming it
    except BaseException:
        await asyncio.to_thread(partial.unlink, missing_ok=True)
        raise
    finally:
        await db.close()
    try:
        await asyncio.to_thread(standalone, partial)
        version, counts = await asyncio.to_thread(inspect, partial)
        await asyncio.to_thread(_fsync, partial)
    except (NotLinli, sqlite3.Error) as exc:
        await asyncio.to_thread(partial.unlink, missing_ok=True)
        return complain(f"the copy of {source} is not usable: {exc}")
    try:
        await asyncio.to_thread(os.replace, partial, target)
    except OSError as exc:
        await asyncio.to_thread(partial.unlink, missing_ok=True)
        return complain(cannot_write(target, exc))
    say(f"backed up {source} to {target} (schema {version}; {describe(counts)})")
    try:
        copied, folder = await asyncio.to_thread(copy_media, source, target)
    except OSError as exc:
        return complain(f"the database is backed up, but not its photos: {exc}")
    if folder is not None:
        say(f"photos: {copied} new file(s) copied to {folder}")
    return 0


def copy_media(source: Path, target: Path) -> tuple[int, Path | None]:
    """Copy the media folder of ``source`` to that of ``target``: the files not there yet (each
    written under a temporary name, then renamed).  (0, None) when there is no media folder."""
    origin, destination = media_folder(source), media_folder(target)
    if origin is None or destination is None or not origin.is_dir():
        return 0, None
    copied = 0
    for path in sorted(origin.rglob("*")):
        if not path.is_file() or path.name.startswith("."):
            continue
        to = destination / path.relative_to(origin)
        if to.is_file() and to.stat().st_size == path.stat().st_size:
            continue  # content-addressed: the same name is the same bytes
        to.parent.mkdir(parents=True, exist_ok=True)
        partial = to.with_name(f".{to.name}.partial-{os.getpid()}")
        shutil.copyfile(path, partial)
        os.replace(partial, to)
        copied += 1
    return copied, destination


# --- restore ------------------------------------------------------------------------------------
async def restore_command(args) -> int:
    backup = Path(args.path)
    target = Path(db_from(args))
    problem = await asyncio.to_thread(restore_problem, backup, target)
    if problem:
        return complain(problem)
    try:
        version, counts = await asyncio.to_thread(inspect, backup)
    except (NotLinli, sqlite3.Error) as exc:
        return complain(f"{backup} cannot be restored: {exc}")
    holders = await asyncio.to_thread(processes_using, target)
    lock = None
    if not args.force:
        try:
            lock = await asyncio.to_thread(hold, target)
        except AlreadyRunning as exc:
            if exc.pid and exc.pid not in holders:
                holders = sorted([*holders, exc.pid])
            holders = holders or [0]
        except InstanceError as exc:
            return complain(str(exc))
    if holders and not args.force:
        if lock is not None:
            lock.release()
        running = ", ".join(str(pid) if pid else "(unknown)" for pid in holders)
        return complain(
            f"{target} is in use by process {running} (is the bot running?). "
            "Stop it first, or pass --force to restore into the running database.")
    try:
        return await _restore(backup, target, version, counts)
    finally:
        if lock is not None:
            lock.release()


async def _restore(backup: Path, target: Path, version: str, counts: dict[str, int]) -> int:
    damage = await asyncio.to_thread(damage_of, target)
    try:
        if damage:
            kept = await asyncio.to_thread(set_aside, target)
        else:
            kept = await asyncio.to_thread(keep_copy, target)
        await asyncio.to_thread(copy_database, backup, target)
    except OSError as exc:
        return complain(cannot_write(target, exc))
    except sqlite3.Error as exc:
        return complain(f"cannot restore into {target}: {exc}")
    try:
        await asyncio.to_thread(inspect, target)
    except (NotLinli, sqlite3.Error) as exc:
        return complain(f"the restored database failed its check: {exc}"
                        + (f"; the previous one is kept at {kept}" if kept else ""))
    say(f"restored {backup} into {target} (schema {version}; {describe(counts)})")
    try:
        copied, folder = await asyncio.to_thread(copy_media, backup, target)
        if folder is not None:
            say(f"photos: {copied} file(s) brought back to {folder}")
    except OSError as exc:
        complain(f"the database is restored, but not all its photos: {exc}")
    if kept:
        say(f"the replaced database{f' ({damage})' if damage else ''} is kept at {kept}")
    return 0


# --- helpers ------------------------------------------------------------------------------------
def backup_problem(source: Path, target: Path, force: bool) -> str | None:
    """Why a backup of ``source`` to ``target`` cannot start (None: it can); makes target's folder."""
    if not source.is_file():
        return f"no database at {source}"
    if target.exists() and not force:
        return f"{target} exists; pass --force to replace it"
    if target.resolve() == source.resolve():
        return "the backup cannot be the database itself"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return cannot_write(target.parent, exc, "create the folder")
    return None


def writable(partial: Path, target: Path) -> str | None:
    """Why the copy cannot be written beside ``target`` (None: it can): try making the file."""
    try:
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except OSError as exc:
        return f"cannot write the backup to {target}: {exc.strerror or exc}"
    os.close(fd)
    partial.unlink()
    return None


def restore_problem(backup: Path, target: Path) -> str | None:
    if not backup.is_file():
        return f"no backup at {backup}"
    if target.exists() and backup.resolve() == target.resolve():
        return "the backup is the database itself"
    return None


def _kept_name(target: Path) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    kept = target.with_name(f"{target.name}.replaced-{stamp}")
    n = 1
    while kept.exists():
        n += 1
        kept = target.with_name(f"{target.name}.replaced-{stamp}-{n}")
    return kept


def keep_copy(target: Path) -> Path | None:
    """Copy the database about to be replaced to ``<db>.replaced-<time>``; return where."""
    if not target.exists() or target.stat().st_size == 0:
        return None
    kept = _kept_name(target)
    copy_database(target, kept, alone=True)
    return kept


def damage_of(target: Path) -> str | None:
    """What is wrong with the database at ``target`` (None: nothing, or there is none)."""
    if not target.exists() or target.stat().st_size == 0:
        return None
    with open(target, "rb") as handle:
        if handle.read(16) != SQLITE_HEADER:
            return "not an SQLite database"
    try:
        conn = sqlite3.connect(target, timeout=30)
        try:
            check = [r[0] for r in conn.execute("PRAGMA quick_check")]
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        return f"damaged: {exc}"
    return None if check == ["ok"] else "damaged: " + "; ".join(check[:3])


def set_aside(target: Path) -> Path:
    """Move a damaged database (and its write-ahead log) to ``<db>.replaced-<time>`` as it is: the
    backup API cannot read it to copy it, nor write over it."""
    kept = _kept_name(target)
    os.replace(target, kept)
    wal = Path(f"{target}-wal")
    if wal.exists():
        os.replace(wal, Path(f"{kept}-wal"))
    Path(f"{target}-shm").unlink(missing_ok=True)  # only an index of that log: rebuilt on open
    return kept


def known_migrations() -> list[str]:
    return sorted(p.name for p in MIGRATIONS.glob("*.sql"))


def inspect(path: Path) -> tuple[str, dict[str, int]]:
    """Check that ``path`` is a sound Linli database; return its schema version and row counts."""
    with open(path, "rb") as handle:
        if handle.read(16) != SQLITE_HEADER:
            raise NotLinli("not an SQLite database")
    conn = sqlite3.connect(path, timeout=30)  # not mode=ro: that would leave -wal/-shm files behind
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "schema_migrations" not in tables:
            raise NotLinli("not a Linli database (no schema version)")
        missing = [t for t in LINLI_TABLES if t not in tables]
        if missing:
            raise NotLinli(f"not a Linli database (no {', '.join(missing)} table)")
        applied = sorted(r[0] for r in conn.execute("SELECT name FROM schema_migrations"))
        newer = sorted(set(applied) - set(known_migrations()))
        if newer:
            raise NotLinli(f"made by a newer Linli (schema {newer[-1]}); upgrade Linli first")
        if not applied:
            raise NotLinli("not a Linli database (no migration applied)")
        check = [r[0] for r in conn.execute("PRAGMA integrity_check")]
        if check != ["ok"]:
            raise NotLinli("damaged: " + "; ".join(check[:3]))
        counts = {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
                  for t in ("tickets", "people", "outbox")}
        return applied[-1].removesuffix(".sql"), counts
    finally:
        conn.close()


def copy_database(source: Path, target: Path, *, alone: bool = False) -> None:
    """Copy ``source`` over ``target`` with SQLite's backup API (which waits for a busy target);
    ``alone``: make the copy one self-contained file (no write-ahead log)."""
    src = sqlite3.connect(source, timeout=30)
    try:
        dest = sqlite3.connect(target, timeout=30)
        try:
            dest.execute("PRAGMA busy_timeout=30000")
            src.backup(dest)
        finally:
            dest.close()
    finally:
        src.close()
    if alone:
        standalone(target)
    _fsync(target)


def standalone(path: Path) -> None:
    """Turn a copy into one self-contained file: rollback journal mode, no -wal or -shm beside it."""
    conn = sqlite3.connect(path, timeout=30)
    try:
        conn.execute("PRAGMA journal_mode=DELETE").fetchone()
    finally:
        conn.close()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def processes_using(path: Path) -> list[int]:
    """The other processes that have ``path`` (or its -wal or -shm file) open (Linux: /proc).

    Where /proc is missing, a present ``-shm`` file counts as "in use" by an unknown process (0)."""
    if not path.exists():
        return []
    names = {str(path.resolve()), f"{path.resolve()}-wal", f"{path.resolve()}-shm"}
    proc = Path("/proc")
    if not (proc / "self" / "fd").is_dir():
        return [0] if Path(f"{path}-shm").exists() else []
    found = []
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            fds = list((entry / "fd").iterdir())
        except OSError:
            continue  # gone, or not ours to look at
        for fd in fds:
            try:
                if os.readlink(fd) in names:
                    found.append(int(entry.name))
                    break
            except OSError:
                continue
    return sorted(found)


def describe(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {table}" for table, n in counts.items())
