"""Faults: kill -9 mid-burst, redelivered platform messages, a flaky platform, a locked database.

Real SQLite files, real subprocesses, a real SIGKILL, the real Dispatcher.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter, defaultdict
from datetime import timedelta
from pathlib import Path

import pytest

from bot.adapters.base import SendLimits, TemporaryError
from bot.app import App
from bot.clock import ManualClock
from bot.config import load_config
from bot.messages import Outbound
from tests.fault_child import report
from tests.harness import EXAMPLE_CONFIG, ROOT, START, Compound

ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
BURST = 500
ACK = re.compile(r"已收到报修 #(\d+)")


# --- kill -9 in the middle of a burst -------------------------------------------------------------
def start_child(db: Path, store: Path, pace: float) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "fault_child.py"), str(EXAMPLE_CONFIG), str(db),
         str(store), str(BURST), str(pace)],
        cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def acks_seen(store: Path) -> dict[int, str]:
    """The acknowledgements the platform has taken so far: ticket number → the sender it went to
    (privately: a report's receipt is its reporter's)."""
    if not store.exists():
        return {}
    conn = sqlite3.connect(store, timeout=30)
    try:
        rows = conn.execute("SELECT address, text FROM delivered WHERE kind = 'private'").fetchall()
    except sqlite3.OperationalError:  # the child has not made its tables yet
        return {}
    finally:
        conn.close()
    seen = {}
    for address, text in rows:
        match = ACK.search(text)
        if match:
            seen[int(match.group(1))] = address
    return seen


def rows(path: Path, sql: str) -> list[tuple]:
    conn = sqlite3.connect(path, timeout=30)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


@pytest.mark.slow
def test_kill_9_mid_burst_then_restart_loses_and_repeats_nothing(tmp_path):
    db, store = tmp_path / "bot.db", tmp_path / "platform.db"
    acknowledged: dict[int, str] = {}
    kills = []
    for threshold in (120, 330):  # two kills, at different points of the burst
        child = start_child(db, store, pace=0.003)
        deadline = time.monotonic() + 60
        while len(acks_seen(store)) < threshold:
            assert child.poll() is None, f"the child ended before the kill: {child.stderr.read()}"
            assert time.monotonic() < deadline, "no progress"
            time.sleep(0.005)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        assert child.returncode == -signal.SIGKILL
        acknowledged.update(acks_seen(store))  # every ack the senders saw before the kill
        tickets = rows(db, "SELECT COUNT(*) FROM tickets")[0][0]
        pending = rows(db, "SELECT COUNT(*) FROM outbox WHERE status = 'pending'")[0][0]
        kills.append((len(acknowledged), tickets, pending))
        assert threshold <= len(acknowledged)
        assert tickets < BURST or pending > 0, "killed with work in flight"
    assert kills[0][1] < BURST, f"the first kill is in the middle of the burst: {kills}"
    child = start_child(db, store, pace=0.0)
    out, err = child.communicate(timeout=120)
    assert child.returncode == 0 and out.strip() == "done", err

    # every report exists exactly once, and every acknowledgement a sender saw names its report
    tickets = rows(db, "SELECT t.id, i.external_id, t.text FROM tickets t "
                       "JOIN identities i ON i.person_id = t.reporter_id AND i.platform = 'console'")
    assert len(tickets) == BURST
    by_sender = Counter(sender for _, sender, _ in tickets)
    assert set(by_sender) == {f"r{i}" for i in range(BURST)} and max(by_sender.values()) == 1
    number_of = {sender: number for number, sender, _ in tickets}
    for _, sender, text in tickets:
        assert text == f"3栋电梯坏了 第{sender[1:]}号"
    for number, sender in acknowledged.items():
        assert number_of[sender] == number, f"{sender} was told #{number}"

    # every outbox message reached the platform exactly once, nothing else did
    outbox = dict(rows(db, "SELECT id, status FROM outbox"))
    assert set(outbox.values()) == {"sent"}
    delivered = rows(store, "SELECT outbox_id, kind, address, mention, text FROM delivered")
    assert sorted(r[0] for r in delivered) == sorted(outbox)
    acks = Counter(int(ACK.search(r[4]).group(1)) for r in delivered if ACK.search(r[4]))
    assert acks == Counter(range(1, BURST + 1)), "one acknowledgement per report"
    pings = Counter(r[4].split("#", 1)[1].split("｜", 1)[0] for r in delivered
                    if r[2] == "wang" and "新报修" in r[4])
    assert sorted(map(int, pings)) == list(range(1, BURST + 1)) and max(pings.values()) == 1
    for _, kind, address, _, text in delivered:
        match = ACK.search(text)
        if match:  # the receipt went to its reporter alone, and the group heard nothing of it
            assert kind == "private"
            assert address == next(s for n, s, _ in tickets if n == int(match.group(1)))
    # at least once underneath: only what was in flight at a kill (one per chat) went twice
    tries = Counter(r[0] for r in rows(store, "SELECT outbox_id FROM attempts"))
    chat_of = {r[0]: (r[1], r[2]) for r in delivered}
    repeats = Counter()
    for outbox_id, n in tries.items():
        repeats[chat_of[outbox_id]] += n - 1
    assert max(tries.values()) <= 1 + len(kills), kills
    assert max(repeats.values(), default=0) <= len(kills), (kills, repeats.most_common(3))


async def test_the_same_500_platform_messages_delivered_twice_make_500_tickets(tmp_path):
    compound = await Compound.open(tmp_path)
    try:
        for i in range(BURST):
            await compound.core.handle(report(i))
        await compound.app.dispatcher.drain()
        sent_once = len(compound.adapter.sent)
    finally:
        await compound.close()
    # the platform redelivers all of them, out of order and all at once, to a restarted bot
    compound = await Compound.open(tmp_path)
    try:
        again = [report(i) for i in range(BURST)]
        random.Random(7).shuffle(again)
        await asyncio.gather(*(compound.core.handle(m) for m in again))
        await compound.app.dispatcher.drain()
        assert compound.adapter.sent == [], "nothing answered twice"
        async with compound.app.db.read() as tx:
            assert await tx.tickets.count() == BURST
            assert sum((await tx.outbox.counts()).values()) == sent_once
            assert (await tx.outbox.counts()) == {"sent": sent_once}
            reporters = await tx.tickets._all("SELECT reporter_id FROM tickets")
        assert len({r[0] for r in reporters}) == BURST
    finally:
        await compound.close()


# --- a platform that fails 30% of sends for a while ---------------------------------------------
class FlakyPlatform:
    """Fails 30% of sends (429 with retry_after, 5xx, a dropped connection) until ``calm_at``."""

    platform = "console"
    limits = SendLimits(overall_per_second=1e6, group_per_minute=1e6, private_per_second=1e6)

    def __init__(self, clock: ManualClock, calm_at: float, seed: int = 1) -> None:
        self.clock = clock
        self.calm_at = calm_at
        self.rng = random.Random(seed)
        self.accepted: list[Outbound] = []
        self.failures: Counter[str] = Counter()

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def send(self, message: Outbound) -> str:
        if self.clock.now().timestamp() < self.calm_at and self.rng.random() < 0.3:
            kind = self.rng.choice(("429", "503", "reset"))
            self.failures[kind] += 1
            if kind == "429":
                raise TemporaryError("Too Many Requests", retry_after=self.rng.choice((1, 5, 30)))
            if kind == "503":
                raise TemporaryError("Service Unavailable")
            raise ConnectionResetError("connection reset by peer")
        self.accepted.append(message)
        return f"p{len(self.accepted)}"


@pytest.mark.slow
async def test_a_platform_failing_30_percent_of_sends_loses_repeats_and_reorders_nothing(tmp_path):
    config = load_config(EXAMPLE_CONFIG)
    clock = ManualClock(config.tz, START)
    platform = FlakyPlatform(clock, calm_at=(START.replace(tzinfo=config.tz)
                                             + timedelta(minutes=20)).timestamp())
    app = App.create(config, tmp_path / "bot.db", ["console"], clock=clock,
                     adapters={"console": platform})
    await app.open()
    try:
        rng = random.Random(3)
        chats = {"b3": ("3栋", "wang"), "b5": ("5栋", "li"), "b7": ("building 7", None)}
        number = 0
        for step in range(120):  # reports, and captains moving them along (private updates)
            chat = rng.choice(sorted(chats))
            building, captain = chats[chat]
            number += 1
            await app.core.handle(_inbound(chat, f"r{step % 25}", f"报修 {building}电梯坏了 {step}",
                                           f"f{step}"))
            if captain and rng.random() < 0.5:
                await app.core.handle(_inbound("dm", captain, f"受理 {number} 在路上", f"a{step}"))
            if step % 7 == 0:  # the dispatcher runs while messages keep coming
                await app.dispatcher.drain_once()
                clock.advance(timedelta(seconds=1))
        for _ in range(10_000):
            await app.dispatcher.drain()
            async with app.db.read() as tx:
                next_due = await tx.outbox.next_due(["console"])
            if next_due is None:
                break
            clock.advance(timedelta(seconds=max(0.5, next_due - clock.now().timestamp())))
        async with app.db.read() as tx:
            messages = await tx.outbox.all_messages()
            counts = await tx.outbox.counts()
    finally:
        await app.stop()
    assert sum(platform.failures.values()) >= 50 and all(platform.failures[k] >= 10
                                                         for k in ("429", "503", "reset"))
    assert counts == {"sent": len(messages)}, counts  # nothing lost or given up on
    accepted = [m.outbox_id for m in platform.accepted]
    assert len(accepted) == len(set(accepted)) == len(messages)  # nothing twice
    per_chat_sent: dict[tuple[str, str], list[int]] = defaultdict(list)
    for m in platform.accepted:
        per_chat_sent[(m.kind, m.address)].append(m.outbox_id)
    per_chat_written: dict[tuple[str, str], list[int]] = defaultdict(list)
    for m in messages:
        per_chat_written[(m.kind, m.address)].append(m.outbox_id)
    assert len(per_chat_written) >= 10
    assert per_chat_sent == per_chat_written  # each chat got its messages in the order written


class HeldUp:
    """Takes everything, except that the first message to alice gets "429, retry in 60 s"."""

    platform = "console"
    limits = SendLimits(overall_per_second=1e6, group_per_minute=1e6, private_per_second=1e6)

    def __init__(self) -> None:
        self.refused = 0
        self.accepted: list[Outbound] = []

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def send(self, message: Outbound) -> str:
        if message.address == "alice" and not self.refused:
            self.refused += 1
            raise TemporaryError("Too Many Requests", retry_after=60)
        self.accepted.append(message)
        return str(len(self.accepted))


async def test_a_chat_waiting_for_a_retry_does_not_make_the_dispatcher_spin(tmp_path):
    """A later message of a chat is due, but waits behind the chat's first one (retry in 60 s):
    the dispatcher must sleep until then, not poll in a busy loop (found by the flaky-platform
    test: ``next_due`` counted messages that were held back)."""
    config = load_config(EXAMPLE_CONFIG)
    clock = ManualClock(config.tz, START)
    platform = HeldUp()
    app = App.create(config, tmp_path / "bot.db", ["console"], clock=clock,
                     adapters={"console": platform})
    await app.open()
    passes = 0
    original = app.dispatcher.drain_once

    async def counted() -> int:
        nonlocal passes
        passes += 1
        return await original()

    app.dispatcher.drain_once = counted
    try:
        await app.core.handle(_inbound("b3", "alice", "报修 3栋电梯坏了", "h1"))
        started = time.monotonic()
        await app.dispatcher.drain()
        assert platform.refused == 1
        # her second receipt is due now, held back behind her first
        await app.core.handle(_inbound("b3", "alice", "报修 3栋门禁坏了", "h2"))
        await app.dispatcher.drain()
        assert time.monotonic() - started < 5, "drain() spun until its time budget ran out"
        passes = 0
        runner = asyncio.create_task(app.dispatcher.run())
        await asyncio.sleep(0.5)
        assert passes <= 3, f"{passes} dispatcher passes in 0.5 s while nothing could be sent"
        assert [m.address for m in platform.accepted] == ["wang", "wang"]  # alice still waits
        clock.advance(timedelta(seconds=61))
        app.core.outbox_changed.set()
        for _ in range(100):
            await asyncio.sleep(0.01)
            if len(platform.accepted) == 4:
                break
        app.dispatcher.stop()
        await runner
        alice = [m.outbox_id for m in platform.accepted if m.address == "alice"]
        assert len(alice) == 2 and alice == sorted(alice)
    finally:
        await app.stop()


def _inbound(chat: str, user: str, text: str, message_id: str):
    from bot.messages import Inbound

    private = chat == "dm"
    return Inbound("console", user if private else chat, "private" if private else "group", user,
                   user, text, message_id)


# --- another process holds the database's write lock ----------------------------------------------
HOLD_LOCK = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
conn.execute("INSERT INTO kv VALUES ('held-by', 'another process')")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("COMMIT")
print("released", flush=True)
"""


async def hold_write_lock(db: Path, seconds: float) -> asyncio.subprocess.Process:
    holder = await asyncio.create_subprocess_exec(
        sys.executable, "-c", HOLD_LOCK, str(db), str(seconds), stdout=asyncio.subprocess.PIPE)
    assert (await asyncio.wait_for(holder.stdout.readline(), 30)).strip() == b"locked"
    return holder


async def test_a_write_lock_held_by_another_process_for_2_s_makes_the_bot_wait_not_fail(tmp_path):
    compound = await Compound.open(tmp_path)
    try:
        holder = await hold_write_lock(tmp_path / "linli.db", 2.0)
        started = time.monotonic()
        sent = await compound.say("b3", "alice", "报修 3栋电梯坏了")
        waited = time.monotonic() - started
        assert (await holder.stdout.readline()).strip() == b"released"
        assert await holder.wait() == 0
        assert waited >= 1.5, f"the bot did not wait for the lock ({waited:.2f} s)"
        assert "已收到报修 #1" in sent.to("alice")[0]
        async with compound.app.db.read() as tx:
            assert await tx.tickets.count() == 1
            assert await tx.kv.get("held-by") == "another process"
    finally:
        await compound.close()


async def test_the_bot_starts_while_another_process_holds_the_write_lock(tmp_path):
    first = await Compound.open(tmp_path)
    await first.close()
    holder = await hold_write_lock(tmp_path / "linli.db", 2.0)
    started = time.monotonic()
    compound = await Compound.open(tmp_path)  # migrations check, people from the config: writes
    try:
        assert time.monotonic() - started >= 1.5
        assert await holder.wait() == 0
        sent = await compound.say("b3", "alice", "报修 3栋电梯坏了")
        assert "已收到报修 #1" in sent.to("alice")[0]
    finally:
        await compound.close()
