"""``linli db backup`` while the bot writes, and ``linli db restore`` (refusing while the bot runs).

Real SQLite files and real processes: the bot writes in this process while ``linli db backup`` runs
as a separate process; ``linli run`` runs as a subprocess for the refusal.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from tests.harness import EXAMPLE_CONFIG, ROOT, Compound

ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def linli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot", *args, "--config", str(EXAMPLE_CONFIG)],
                          capture_output=True, text=True, timeout=120, cwd=ROOT, env=ENV)


async def linli_async(*args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *args, "--config", str(EXAMPLE_CONFIG), cwd=ROOT, env=ENV,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    return proc.returncode, out.decode(), err.decode()


def dump(path: Path) -> dict[str, list[tuple]]:
    """Every row of every table, for comparing two databases."""
    conn = sqlite3.connect(path)
    try:
        tables = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "ORDER BY name")]
        return {t: conn.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall() for t in tables}
    finally:
        conn.close()


def integrity(path: Path) -> str:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()


def check_consistent(rows: dict[str, list[tuple]]) -> int:
    """A snapshot taken mid-write is still whole: tickets 1..n, each with everything its report
    transaction wrote (event, audit row, the reporter's receipt in the outbox).  Returns n."""
    ids = [r[0] for r in rows["tickets"]]
    assert ids == list(range(1, len(ids) + 1))
    events = {r[1] for r in rows["ticket_events"]}
    assert events == set(ids)
    audited = {r[5] for r in rows["audit"] if r[4] == "ticket.report"}
    assert audited == {f"ticket:{i}" for i in ids}
    receipts = [(r[4], r[8]) for r in rows["outbox"]
                if json.loads(r[7]).get("key") == "tickets.acknowledged"]
    assert {kind for kind, _ in receipts} <= {"private"}  # each to its reporter
    assert sorted(ref for _, ref in receipts) == sorted(f"ticket:{i}" for i in ids)  # one each
    return len(ids)


async def test_backup_while_the_bot_writes_then_restore_into_a_fresh_path(tmp_path):
    compound = await Compound.open(tmp_path, db_name="live.db")
    live = tmp_path / "live.db"
    stop, started = asyncio.Event(), asyncio.Event()
    filed = 0

    async def keep_reporting() -> None:
        nonlocal filed
        while not stop.is_set():
            filed += 1
            await compound.core.handle(compound.inbound("b3", f"r{filed % 40}",
                                                        f"报修 3栋电梯坏了 第{filed}次"))
            if filed % 10 == 0:
                await compound.app.dispatcher.drain_once()
            if filed == 30:
                started.set()
            await asyncio.sleep(0)

    writer = asyncio.create_task(keep_reporting())
    try:
        await started.wait()
        counts = []
        for n in range(3):
            before = filed
            code, out, err = await linli_async("db", "backup", str(tmp_path / f"b{n}.db"),
                                               "--db", str(live))
            assert code == 0, err
            assert "backed up" in out
            assert filed > before, "the bot kept writing while the backup ran"
            assert integrity(tmp_path / f"b{n}.db") == "ok"
            counts.append(check_consistent(dump(tmp_path / f"b{n}.db")))
        # … and the bot can back itself up too, from its own connection, mid-write
        await compound.app.db.backup(tmp_path / "self.db")
        counts.append(check_consistent(dump(tmp_path / "self.db")))
    finally:
        stop.set()
        await writer
        await compound.close()
    assert counts == sorted(counts) and counts[0] >= 30 and counts[-1] > counts[0]
    assert not list(tmp_path.glob(".*partial*")), "no half-written copies left behind"

    fresh = tmp_path / "fresh" / "restored.db"
    fresh.parent.mkdir()
    result = linli("db", "restore", str(tmp_path / "b2.db"), "--db", str(fresh))
    assert result.returncode == 0, result.stderr
    assert integrity(fresh) == "ok"
    assert dump(fresh) == dump(tmp_path / "b2.db")
    assert not list(fresh.parent.glob("*.replaced-*")), "nothing was replaced"

    # the restored database is a working Linli database: the next report gets the next number
    again = await Compound.open(fresh.parent, db_name="restored.db")
    try:
        sent = await again.say("b5", "zed", "报修 5栋垃圾满了")
        assert f"#{counts[2] + 1}" in sent.to("zed")[0]
    finally:
        await again.close()


async def make_db(folder: Path, name: str, reports: list[str]) -> Path:
    compound = await Compound.open(folder, db_name=name)
    try:
        for text in reports:
            await compound.say("b3", "alice", text)
    finally:
        await compound.close()
    return folder / name


def scribble(path: Path) -> None:
    """Damage a database: overwrite some of its table pages, keep its header."""
    with open(path, "r+b") as handle:
        handle.seek(4096 * 3)
        handle.write(b"\xff" * 4096 * 4)


def tickets_in(path: Path) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        return [r[0] for r in conn.execute("SELECT text FROM tickets ORDER BY id")]
    finally:
        conn.close()


def test_restore_refuses_while_the_bot_runs_and_keeps_the_replaced_database(tmp_path):
    live = asyncio.run(make_db(tmp_path, "live.db", ["报修 3栋电梯坏了", "报修 3栋门禁坏了"]))
    backup = asyncio.run(make_db(tmp_path, "old.db", ["报修 3栋路灯不亮"]))
    bot = subprocess.Popen([sys.executable, "-m", "bot", "run", "--db", str(live), "--config",
                            str(EXAMPLE_CONFIG)], cwd=ROOT, env=ENV, stderr=subprocess.PIPE,
                           text=True)
    try:
        line = ""
        deadline = time.monotonic() + 60
        while "ready" not in line and time.monotonic() < deadline:
            line = bot.stderr.readline()
            assert line or bot.poll() is None, "linli run ended early"
        assert "ready" in line
        refused = linli("db", "restore", str(backup), "--db", str(live))
        assert refused.returncode == 1
        assert f"in use by process {bot.pid}" in refused.stderr
        assert "--force" in refused.stderr
        assert tickets_in(live) == ["3栋电梯坏了", "3栋门禁坏了"]
        assert not list(tmp_path.glob("live.db.replaced-*"))
    finally:
        bot.send_signal(signal.SIGTERM)
        bot.communicate(timeout=30)
    assert bot.returncode == 0

    result = linli("db", "restore", str(backup), "--db", str(live))
    assert result.returncode == 0, result.stderr
    assert tickets_in(live) == ["3栋路灯不亮"]
    assert integrity(live) == "ok"
    kept = list(tmp_path.glob("live.db.replaced-*"))
    assert len(kept) == 1 and f"kept at {kept[0]}" in result.stdout
    assert tickets_in(kept[0]) == ["3栋电梯坏了", "3栋门禁坏了"]
    assert integrity(kept[0]) == "ok"


async def test_restore_with_force_into_a_running_bot(tmp_path):
    """--force restores into a database another connection holds open (and writes to)."""
    live = await make_db(tmp_path, "live.db", ["报修 3栋电梯坏了"])
    backup = await make_db(tmp_path, "old.db", ["报修 3栋路灯不亮", "报修 3栋门禁坏了"])
    compound = await Compound.open(tmp_path, db_name="live.db")  # the bot, running
    try:
        code, _, err = await linli_async("db", "restore", str(backup), "--db", str(live))
        assert code == 1 and "in use" in err
        code, _, err = await linli_async("db", "restore", str(backup), "--db", str(live),
                                         "--force")
        assert code == 0, err
        sent = await compound.say("b3", "bob", "报修 3栋水管漏水", message_id="after-restore")
        assert "#3" in sent.to("bob")[0]  # the running bot now works on the restored data
    finally:
        await compound.close()
    assert tickets_in(live) == ["3栋路灯不亮", "3栋门禁坏了", "3栋水管漏水"]
    assert integrity(live) == "ok"


async def test_restore_refuses_what_is_not_a_linli_database(tmp_path):
    live = await make_db(tmp_path, "live.db", ["报修 3栋电梯坏了"])
    before = dump(live)
    junk = tmp_path / "junk.db"
    junk.write_bytes(os.urandom(8192))
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE notes (x)")
    future = await make_db(tmp_path, "future.db", ["报修 3栋门禁坏了"])
    with sqlite3.connect(future) as conn:
        conn.execute("INSERT INTO schema_migrations VALUES ('9999_from_the_future.sql', '')")
    damaged = await make_db(tmp_path, "damaged.db", ["报修 3栋门禁坏了"] * 30)
    scribble(damaged)
    for path, why in [(junk, "not an SQLite database"), (other, "no schema version"),
                      (future, "made by a newer Linli"), (damaged, "")]:
        result = linli("db", "restore", str(path), "--db", str(live))
        assert result.returncode == 1, (path, result.stdout)
        assert "cannot be restored" in result.stderr and why in result.stderr
        assert "Traceback" not in result.stderr
    assert dump(live) == before
    assert not list(tmp_path.glob("live.db.replaced-*"))


def test_backup_refuses_to_overwrite_or_copy_nothing(tmp_path):
    (tmp_path / "exists.db").write_bytes(b"precious")
    missing = linli("db", "backup", str(tmp_path / "b.db"), "--db", str(tmp_path / "none.db"))
    assert missing.returncode == 1 and "no database" in missing.stderr
    assert not (tmp_path / "none.db").exists()
    asyncio.run(make_db(tmp_path, "live.db", ["报修 3栋电梯坏了"]))
    kept = linli("db", "backup", str(tmp_path / "exists.db"), "--db", str(tmp_path / "live.db"))
    assert kept.returncode == 1 and "--force" in kept.stderr
    assert (tmp_path / "exists.db").read_bytes() == b"precious"
    forced = linli("db", "backup", str(tmp_path / "exists.db"), "--db", str(tmp_path / "live.db"),
                   "--force")
    assert forced.returncode == 0, forced.stderr
    assert tickets_in(tmp_path / "exists.db") == ["3栋电梯坏了"]
