"""What an operator sees when something outside Linli is wrong: one line that names the file and what
is wrong with it, a non-zero exit, promptly — never a traceback, never a process that hangs.

* a database that is random bytes, one with damaged pages, one in a read-only folder: ``linli
  status``, ``console``, ``export``, ``digest`` and ``run`` (which used to print a traceback and then
  never exit: aiosqlite's thread outlived the error in ``Database.open``);
* an output path that cannot be written (``digest --out``, ``export --out``, ``db backup``);
* a config problem names its line; a config with no ``[chats]`` gets a warning.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import random
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from storage import Database
from tests.harness import EXAMPLE_CONFIG, ROOT, Compound

ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
TIMEOUT = 20  # seconds: each of these must end long before


def linli(*args: str, stdin: str = "", preexec_fn=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot", *args, "--config", str(EXAMPLE_CONFIG)],
                          input=stdin, capture_output=True, text=True, timeout=TIMEOUT, cwd=ROOT,
                          env=ENV, preexec_fn=preexec_fn)


def said(result: subprocess.CompletedProcess) -> list[str]:
    """The lines the command itself printed on stderr (not log records)."""
    return [line for line in result.stderr.splitlines() if line.startswith("linli")]


async def make_db(folder: Path, name: str = "linli.db") -> Path:
    compound = await Compound.open(folder, db_name=name)
    try:
        for n in range(20):
            await compound.say("b3", f"r{n}", f"报修 3栋电梯坏了 第{n}次")
    finally:
        await compound.close()
    return folder / name


def random_bytes(folder: Path) -> Path:
    path = folder / "random.db"
    path.write_bytes(random.Random(1).randbytes(64 * 1024))
    return path


def scribble(path: Path) -> Path:
    """Overwrite every page of a database after the first (which holds the schema)."""
    size = path.stat().st_size
    assert size > 4096 * 4
    with open(path, "r+b") as handle:
        handle.seek(4096)
        handle.write(b"\xff" * (size - 4096))
    return path


def damaged(folder: Path) -> Path:
    """A Linli database with damaged pages."""
    return scribble(asyncio.run(make_db(folder, "damaged.db")))


def without_privileges() -> None:
    """In the child (before exec): drop every capability, so that root too is refused by a folder's
    permissions (CAP_DAC_OVERRIDE gone), as any other user would be."""
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in range(64):
        libc.prctl(24, capability, 0, 0, 0)  # PR_CAPBSET_DROP


def read_only_folder(folder: Path) -> tuple[Path, object]:
    """A Linli database in a folder this test's children cannot write; (path, preexec_fn)."""
    inside = folder / "ro"
    inside.mkdir()
    path = asyncio.run(make_db(inside))
    inside.chmod(0o555)
    preexec = without_privileges if os.geteuid() == 0 else None
    probe = subprocess.run([sys.executable, "-c", f"open({str(inside / 'probe')!r}, 'w')"],
                           capture_output=True, preexec_fn=preexec, timeout=TIMEOUT)
    if probe.returncode == 0:
        inside.chmod(0o755)
        pytest.skip("cannot make a folder read-only for this user here")
    return path, preexec


COMMANDS = {
    "status": ("status",),
    "export": ("export", "tickets", "--since", "2026-11-01"),
    "digest": ("digest", "--week", "2026-W49"),
    "console": ("console",),
    "run": ("run",),
}


@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_file_that_is_not_a_database(tmp_path, command):
    path = random_bytes(tmp_path)
    result = linli(*COMMANDS[command], "--db", str(path), stdin="b3 alice: 报修 3栋电梯坏了\n")
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert said(result) == [
        f"linli {command}: {path} is not an SQLite database (the file is damaged, or it is another "
        f"kind of file); restore the last good copy with `linli db restore BACKUP --db {path}` "
        f"(copies are made with `linli db backup PATH`)"]


@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_database_with_damaged_pages(tmp_path, command):
    path = damaged(tmp_path)
    result = linli(*COMMANDS[command], "--db", str(path), stdin="b3 alice: 报修 3栋电梯坏了\n")
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert said(result) == [
        f"linli {command}: {path} is damaged (database disk image is malformed); restore the last "
        f"good copy with `linli db restore BACKUP --db {path}` (copies are made with `linli db "
        f"backup PATH`)"]


@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_database_in_a_read_only_folder(tmp_path, command):
    path, preexec = read_only_folder(tmp_path)
    try:
        result = linli(*COMMANDS[command], "--db", str(path), stdin="b3 alice: 报修 3栋电梯坏了\n",
                       preexec_fn=preexec)
    finally:
        path.parent.chmod(0o755)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert said(result) == [
        f"linli {command}: {path} cannot be used: its folder {path.parent} is read-only for this "
        f"user; Linli writes the database and, beside it, linli.db-wal, linli.db-shm and "
        f"linli.db.lock. Give the user running Linli write access, or copy the database to a "
        f"writable folder."]


async def test_a_failed_open_leaves_no_thread_behind(tmp_path):
    """The cause of the hang: aiosqlite's worker thread (not a daemon) kept running after the error."""
    broken = scribble(await make_db(tmp_path, "damaged.db"))
    before = set(threading.enumerate())
    for path in (random_bytes(tmp_path), broken):
        with pytest.raises(sqlite3.DatabaseError):
            await Database(path).open()
    for _ in range(100):
        if set(threading.enumerate()) <= before:
            break
        await asyncio.sleep(0.01)
    assert set(threading.enumerate()) <= before


def test_the_advice_works_a_damaged_database_is_restored_from_a_backup(tmp_path):
    good = asyncio.run(make_db(tmp_path, "good.db"))
    backup = tmp_path / "backup.db"
    assert linli("db", "backup", str(backup), "--db", str(good)).returncode == 0
    for broken in (random_bytes(tmp_path), damaged(tmp_path)):
        result = linli("db", "restore", str(backup), "--db", str(broken))
        assert result.returncode == 0, result.stderr
        kept = list(tmp_path.glob(f"{broken.name}.replaced-*"))
        assert len(kept) == 1 and f"is kept at {kept[0]}" in result.stdout
        status = linli("status", "--db", str(broken))
        assert status.returncode == 0, status.stderr  # no platform configured: nothing is down
        export = linli("export", "tickets", "--since", "2026-11-01", "--db", str(broken))
        assert export.returncode == 0 and "3栋电梯坏了 第19次" in export.stdout


# --- paths the operator gave that cannot be written -----------------------------------------------
@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs /proc")
def test_digest_to_a_folder_that_cannot_be_made(tmp_path):
    db = asyncio.run(make_db(tmp_path))
    result = linli("digest", "--week", "2026-W49", "--out", "/proc/nope", "--db", str(db))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert said(result) == ["linli digest: cannot create the folder /proc/nope: No such file or "
                            "directory"]
    (tmp_path / "a-file").write_text("x")
    result = linli("digest", "--week", "2026-W49", "--out", str(tmp_path / "a-file" / "sub"),
                   "--db", str(db))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert said(result) == [f"linli digest: cannot create the folder {tmp_path / 'a-file' / 'sub'}: "
                            f"part of the path is a file, not a folder"]


def test_export_to_a_folder_that_does_not_exist(tmp_path):
    db = asyncio.run(make_db(tmp_path))
    for out in (Path("/nonexistent/x.csv"), tmp_path / "no-such-folder" / "x.csv"):
        if out.parent.exists():
            continue
        result = linli("export", "tickets", "--since", "2026-11-01", "--format", "csv",
                       "--out", str(out), "--db", str(db))
        assert result.returncode == 1 and "Traceback" not in result.stderr
        assert said(result) == [f"linli export: cannot write {out}: the folder {out.parent} does "
                                f"not exist"]
    result = linli("export", "tickets", "--since", "2026-11-01", "--out", str(tmp_path),
                   "--db", str(db))
    assert result.returncode == 1
    assert said(result) == [f"linli export: cannot write {tmp_path}: it is a folder; give a file name"]


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs /proc")
def test_backup_to_a_place_that_cannot_be_written(tmp_path):
    db = asyncio.run(make_db(tmp_path))
    result = linli("db", "backup", "/proc/x.db", "--db", str(db))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert said(result) == ["linli db: cannot write the backup to /proc/x.db: No such file or "
                            "directory"]
    result = linli("db", "backup", "/proc/nope/x.db", "--db", str(db))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert said(result) == ["linli db: cannot create the folder /proc/nope: No such file or directory"]


def test_backup_of_a_damaged_database_names_it(tmp_path):
    path = random_bytes(tmp_path)
    result = linli("db", "backup", str(tmp_path / "copy.db"), "--db", str(path))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert said(result) and said(result)[0].startswith(
        f"linli db backup: {path} is not an SQLite database")
    assert not list(tmp_path.glob(".copy.db.partial*"))


# --- the config -----------------------------------------------------------------------------------
def check_config(tmp_path: Path, text: str) -> subprocess.CompletedProcess:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return subprocess.run([sys.executable, "-m", "bot", "check-config", "--offline", "--config",
                           str(path)], capture_output=True, text=True, timeout=TIMEOUT, cwd=ROOT,
                          env=ENV)


@pytest.mark.parametrize(("text", "expected"), [
    ("[compound]\nname = 'x'\nnmae = 'y'\n",
     ":3: compound.nmae: unknown key (check the spelling against config.example.toml)"),
    ("# a comment\n[compound]\nname = 'x'\n\n[tickets]\nack_within = 'soon'\n",
     ":6: tickets.ack_within: not a duration: 'soon'"),
    ("[people.x]\nroles = [\n  'mayor',\n]\n[buildings]\nnumbered = 3\n",
     ":2: people.x.roles: unknown role 'mayor'"),
    ("[buildings]\nnumbered = 20\n\n[chats.b3]\nname = 'x'\nbuilding = '33'\n",
     ":6: [chats.b3] building = '33': no such building"),
    ("[people.a]\ntelegram = 1\n[people.b]\ntelegram = 1\n",
     ":4: [people.b] telegram = 1 is also used by [people.a]"),
    ("[compound]\nname = 'x'\n[compound\n", ":3: not valid TOML"),
    ("[compound]\ntimezone = \"Mars/Base\"   # where else\n",
     ":2: compound.timezone: unknown timezone 'Mars/Base'"),
])
def test_a_config_problem_names_its_line(tmp_path, text, expected):
    result = check_config(tmp_path, text)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert f"{tmp_path / 'config.toml'}{expected}" in result.stderr


def test_a_config_without_chats_is_a_warning(tmp_path):
    result = check_config(tmp_path, "[compound]\nname = 'x'\n[buildings]\nnumbered = 3\n")
    assert result.returncode == 0, result.stderr
    path = tmp_path / "config.toml"
    assert (f"  warning: {path} has no [chats]: the bot will answer in no group (it ignores every "
            f"group message and only answers private chats). Add a [chats.<key>] table for each "
            f"group (see config.example.toml).") in result.stdout.splitlines()
    result = check_config(tmp_path, EXAMPLE_CONFIG.read_text(encoding="utf-8"))
    assert result.returncode == 0 and "warning" not in result.stdout
