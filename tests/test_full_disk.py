"""A full disk: a message is not sent thousands of times, and a report that cannot be stored is not
acknowledged.

Reproduced on main: on a 600 KB filesystem, 3,000 reports — the receipt of #2 and the captain's ping
for #2 were printed 29,532 times within seconds, then a traceback.  The platform took the message,
marking it sent failed (``database or disk is full``), and the dispatcher sent it again at once.

The tests with ``small_disk`` run on a real tmpfs of their own (``mount -t tmpfs``, which needs root;
they are skipped where mounting is not allowed), filled up with a file at the moment the test wants
the disk full, and freed by deleting it: 600 KB for the console, as in the reproduction, 4 MB where
a test first needs room for some traffic (a new database takes ~450 KB, and with checkpoints only
every 500 commits its WAL grows by ~40 KB a report).  The others make the outbox's writes fail by
replacing ``Outbox.mark_sent``/``Outbox.claim`` with ones raising the ``sqlite3.OperationalError``
SQLite gives, and run anywhere.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import queue
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from bot.adapters.base import SendLimits
from bot.app import App
from bot.clock import ManualClock
from bot.config import load_config
from bot.dispatcher import LEASE_SECONDS, OUTAGE_MAX_WAIT, Dispatcher
from bot.messages import Inbound, Outbound
from storage.outbox import Outbox
from tests.harness import EXAMPLE_CONFIG, ROOT, START

RECEIPT = "tickets.acknowledged"
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}


# --- a small disk ---------------------------------------------------------------------------------
@pytest.fixture
def small_disk(tmp_path, request):
    """A tmpfs of its own (root only; 4 MB, or the size the test names with
    ``@pytest.mark.parametrize("small_disk", ["600k"], indirect=True)``), unmounted afterwards."""
    size = getattr(request, "param", "4m")
    folder = tmp_path / "disk"
    folder.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def fill(folder: Path) -> Path:
    """Take every byte left on the filesystem of ``folder`` (delete the file to free them)."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        for size in (65536, 4096, 512, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
    finally:
        os.close(fd)
    return filler


# --- the pieces -----------------------------------------------------------------------------------
class Monotonic:
    """The dispatcher's monotonic clock, moved by the test (how long it waits before trying again)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Platform:
    """Records every message it is handed; ``before_taking`` runs as a message is being sent."""

    platform = "console"
    limits = SendLimits(overall_per_second=1e6, group_per_minute=1e6, private_per_second=1e6)

    def __init__(self) -> None:
        self.sent: list[Outbound] = []
        self.before_taking = None

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def send(self, message: Outbound) -> str:
        await asyncio.sleep(0)
        if self.before_taking is not None:
            self.before_taking()
        self.sent.append(message)
        return f"p{len(self.sent)}"

    def times(self) -> Counter[int]:
        return Counter(m.outbox_id for m in self.sent)


async def open_app(db: Path, platform: Platform, monotonic=time.monotonic, wall=time.time) -> App:
    config = load_config(EXAMPLE_CONFIG)
    app = App.create(config, db, ["console"], clock=ManualClock(config.tz, START),
                     adapters={"console": platform})
    app.dispatcher = Dispatcher(app.core, app.adapters, monotonic=monotonic, wall=wall)
    await app.open()
    return app


def report(i: int) -> Inbound:
    return Inbound("console", "b3", "group", f"r{i}", f"r{i}", f"报修 3栋电梯坏了 第{i}号", f"m{i}")


def outbox(db: Path) -> dict[int, str]:
    conn = sqlite3.connect(db, timeout=30)
    try:
        return dict(conn.execute("SELECT id, status FROM outbox"))
    finally:
        conn.close()


def at_most_one_per_chat(messages: list[Outbound]) -> None:
    """What went while the outbox could not be written: something, and at most what was on its way
    to each chat (a chat's next message waits for its last one to be recorded).  Each report makes
    two chats busy: its receipt goes to its reporter privately, the ping to the captain."""
    per_chat = Counter((m.kind, m.address) for m in messages)
    assert messages and max(per_chat.values()) == 1, per_chat


def dispatcher_lines(caplog, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "bot.dispatcher" and r.levelno == level]


# --- on a real 600 KB disk ------------------------------------------------------------------------
async def test_a_full_disk_stops_sending_logs_once_and_resumes_when_space_is_freed(small_disk,
                                                                                     caplog):
    caplog.set_level(logging.INFO, logger="bot.dispatcher")
    db = small_disk / "linli.db"
    clock = Monotonic()
    platform = Platform()
    app = await open_app(db, platform, clock)
    try:
        for i in range(3):  # all is well
            await app.core.handle(report(i))
            await app.dispatcher.drain()
        for i in range(3, 15):  # reports keep coming while the dispatcher is behind
            await app.core.handle(report(i))
        before = len(platform.sent)
        filled: list[Path] = []
        # the disk fills up while the first message is on its way: the platform takes it, the
        # outbox cannot record that
        platform.before_taking = lambda: filled or filled.append(fill(small_disk))
        started = time.monotonic()
        await app.dispatcher.drain()
        assert time.monotonic() - started < 10, "drain gave up at once, it did not spin"
        platform.before_taking = None
        in_flight = len(platform.sent) - before
        at_most_one_per_chat(platform.sent[before:])  # only what was on its way to each chat went
        # the disk stays full: the dispatcher tries again less and less often, sends nothing
        for _ in range(8):
            clock.now += OUTAGE_MAX_WAIT + 1
            await app.dispatcher.drain()
        assert len(platform.sent) - before == in_flight
        errors = dispatcher_lines(caplog, logging.ERROR)
        assert len(errors) == 1, errors
        assert "database or disk is full" in errors[0] and "console" in errors[0]
        # space is freed: what was sent is recorded, not sent again, and the rest goes
        filled[0].unlink()
        clock.now += OUTAGE_MAX_WAIT + 1
        await app.dispatcher.drain()
        assert set(outbox(db).values()) == {"sent"}
        assert set(platform.times()) == set(outbox(db))
        assert max(platform.times().values()) == 1, "each message once (at most twice is allowed)"
        assert len(dispatcher_lines(caplog, logging.ERROR)) == 1
        assert len([w for w in dispatcher_lines(caplog, logging.WARNING) if "resumes" in w]) == 1

        # an hour later the disk fills up again: a second outage, a second error line
        clock.now += 3600
        for i in range(15, 18):
            await app.core.handle(report(i))
        filled.clear()
        platform.before_taking = lambda: filled or filled.append(fill(small_disk))
        await app.dispatcher.drain()
        platform.before_taking = None
        filled[0].unlink()
        clock.now += OUTAGE_MAX_WAIT + 1
        await app.dispatcher.drain()
        assert len(dispatcher_lines(caplog, logging.ERROR)) == 2
        assert set(outbox(db).values()) == {"sent"} and max(platform.times().values()) == 1
    finally:
        await app.stop()


async def test_after_a_crash_on_a_full_disk_a_message_goes_at_most_once_more(small_disk):
    """The platform took a message, the disk was full, the bot died: the next one sends it again
    once its claim ran out — once."""
    db = small_disk / "linli.db"
    platform = Platform()
    crashed = await open_app(db, platform, Monotonic())
    try:
        for i in range(10):
            await crashed.core.handle(report(i))
        filled: list[Path] = []
        platform.before_taking = lambda: filled or filled.append(fill(small_disk))
        await crashed.dispatcher.drain()
        platform.before_taking = None
        unrecorded = set(platform.times())
        at_most_one_per_chat(platform.sent)
        # it dies here (never runs again); space is freed; a new bot starts on the database
        filled[0].unlink()
        later = time.time() + LEASE_SECONDS + 1
        restarted = await open_app(db, platform, wall=lambda: later)
        try:
            await restarted.dispatcher.drain()
        finally:
            await restarted.stop()
        times = platform.times()
        assert set(outbox(db).values()) == {"sent"} and set(times) == set(outbox(db))
        assert {i for i, n in times.items() if n == 2} == unrecorded
        assert max(times.values()) == 2
    finally:
        await crashed.stop()


async def test_a_report_that_cannot_be_stored_is_not_acknowledged(small_disk, caplog):
    db = small_disk / "linli.db"
    platform = Platform()
    app = await open_app(db, platform)
    try:
        await app.core.handle(report(0))
        await app.dispatcher.drain()
        assert [m.key for m in platform.sent].count(RECEIPT) == 1
        filler = fill(small_disk)
        # the adapter is told: the error reaches it (Telegram's and WeChat's log it; the console
        # says it in one line, see below), and the platform will deliver the message again
        with pytest.raises(sqlite3.OperationalError, match="database or disk is full"):
            await app.core.handle(report(1))
        await app.dispatcher.drain()
        filler.unlink()
        await app.dispatcher.drain()
        assert [m.key for m in platform.sent].count(RECEIPT) == 1, "nothing says #2 was filed"
        async with app.db.read() as tx:
            assert await tx.tickets.count() == 1
        # the platform delivers it again once there is room: filed and acknowledged, once
        await app.core.handle(report(1))
        await app.dispatcher.drain()
        receipts = [m for m in platform.sent if m.key == RECEIPT]
        assert [m.values["number"] for m in receipts] == [1, 2]
    finally:
        await app.stop()


@pytest.mark.parametrize("small_disk", ["1m"], indirect=True)  # the schema alone takes ~500 KB
def test_the_console_says_in_one_line_that_a_report_could_not_be_stored(small_disk):
    db = small_disk / "linli.db"
    console = subprocess.Popen(
        [sys.executable, "-m", "bot", "console", "--config", str(EXAMPLE_CONFIG), "--db", str(db)],
        cwd=ROOT, env=ENV, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(line) for line in console.stdout],
                              daemon=True)
    reader.start()
    try:
        # a comment line is echoed once the line before it is done (filed, and its messages sent)
        console.stdin.write("b3 r0: 报修 3栋电梯坏了\n# next\n")
        console.stdin.flush()
        seen = []
        while "> # next" not in seen:
            seen.append(lines.get(timeout=60).rstrip("\n"))
        assert any("已收到报修 #1" in line for line in seen), seen
        filler = fill(small_disk)
        console.stdin.write("b3 r1: 报修 3栋水管漏水\n")
        console.stdin.close()
        console.wait(timeout=60)
        reader.join(timeout=10)
        while not lines.empty():
            seen.append(lines.get().rstrip("\n"))
        err = console.stderr.read()
    finally:
        if console.poll() is None:
            console.kill()
            console.wait()
    assert console.returncode == 1, err
    assert not any("#2" in line for line in seen), seen
    assert "Traceback" not in err
    assert err.strip().splitlines() == [
        f"linli console: {db} cannot grow: the disk is full (database or disk is full)"]
    filler.unlink()


# --- anywhere: the outbox's writes fail -----------------------------------------------------------
class FailingWrites:
    """Makes ``Outbox.mark_sent`` and ``Outbox.claim`` raise ``error`` while ``failing`` is set."""

    def __init__(self, monkeypatch, error: str, clock=None) -> None:
        self.error = error
        self.failing = False
        self.tries: list[float] = []
        self.clock = clock
        for name in ("mark_sent", "claim"):
            original = getattr(Outbox, name)
            monkeypatch.setattr(Outbox, name, self._wrap(original))

    def _wrap(self, original):
        async def write(repo, *args, **kwargs):
            if self.failing:
                self.tries.append(self.clock() if self.clock else 0.0)
                raise sqlite3.OperationalError(self.error)
            return await original(repo, *args, **kwargs)

        return write


@pytest.mark.parametrize("error", ["database or disk is full", "disk I/O error",
                                   "attempt to write a readonly database", "database is locked"])
async def test_when_the_outbox_cannot_be_written_nothing_is_sent_twice(tmp_path, monkeypatch, caplog,
                                                                       error):
    caplog.set_level(logging.INFO, logger="bot.dispatcher")
    clock = Monotonic()
    writes = FailingWrites(monkeypatch, error, clock)
    platform = Platform()
    app = await open_app(tmp_path / "linli.db", platform, clock)
    try:
        for i in range(20):
            await app.core.handle(report(i))

        def break_writes() -> None:
            writes.failing = True

        platform.before_taking = break_writes
        await app.dispatcher.drain()
        platform.before_taking = None
        in_flight = len(platform.sent)
        at_most_one_per_chat(platform.sent)
        # the outage goes on: tries come 1, 2, 4 … 60, 60 s apart, and send nothing
        tries_before = len(writes.tries)
        for _ in range(500):
            clock.now += 0.5
            await app.dispatcher.drain_once()
        gaps = [round(b - a) for a, b in zip(writes.tries[tries_before:], writes.tries[tries_before + 1:],
                                             strict=False)]
        assert gaps[:8] == [2, 4, 8, 16, 32, 60, 60, 60], gaps
        assert len(platform.sent) == in_flight
        errors = dispatcher_lines(caplog, logging.ERROR)
        assert len(errors) == 1 and error in errors[0], errors
        writes.failing = False
        clock.now += OUTAGE_MAX_WAIT
        await app.dispatcher.drain()
        assert set(outbox(app.db.path).values()) == {"sent"}
        assert max(platform.times().values()) == 1 and set(platform.times()) == set(outbox(app.db.path))
        assert len(dispatcher_lines(caplog, logging.ERROR)) == 1
    finally:
        await app.stop()


async def test_the_running_dispatcher_waits_instead_of_spinning(tmp_path, monkeypatch, caplog):
    """``Dispatcher.run`` (``linli run``) in real time: three seconds of a full disk cost a handful
    of tries and no repeated message; then delivery resumes by itself."""
    writes = FailingWrites(monkeypatch, "database or disk is full")
    platform = Platform()
    app = await open_app(tmp_path / "linli.db", platform)
    try:
        for i in range(20):
            await app.core.handle(report(i))

        def break_writes() -> None:
            writes.failing = True

        platform.before_taking = break_writes
        task = asyncio.create_task(app.dispatcher.run())
        await asyncio.sleep(3)
        platform.before_taking = None
        at_most_one_per_chat(platform.sent)
        # one failed record of each message in flight, then a handful of tries, not a spin
        assert len(writes.tries) <= len(platform.sent) + 4, writes.tries
        writes.failing = False
        deadline = time.monotonic() + 20
        while set(outbox(app.db.path).values()) != {"sent"}:
            assert time.monotonic() < deadline, "delivery did not resume"
            await asyncio.sleep(0.1)
        app.dispatcher.stop()
        await asyncio.wait_for(task, 10)
        assert max(platform.times().values()) == 1
        assert len([r for r in caplog.records if r.levelno >= logging.ERROR]) == 1
    finally:
        await app.stop()
