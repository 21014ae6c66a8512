"""Claims on outbox rows: two dispatchers on one database never send one row twice.

Reproduced on main before claims: two ``linli console`` processes replaying 300 reports each into
one database gave 626 receipts and 620 captain pings for 600 tickets.  Here two apps (two
``Database`` objects, two dispatchers) share one SQLite file in one process, and two processes do,
as the consoles did; each outbox row must reach the platform exactly once.

    python tests/test_outbox_claim.py CONFIG DB TAG COUNT   (the child of the two-process test)
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

if __name__ == "__main__":  # run as the child process: import the project from its root
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.adapters.base import SendLimits
from bot.app import App
from bot.clock import ManualClock
from bot.config import load_config
from bot.dispatcher import LEASE_SECONDS, Dispatcher
from bot.messages import Inbound, Outbound
from tests.harness import EXAMPLE_CONFIG, ROOT, START

RECEIPT = "tickets.acknowledged"  # the receipt, to the reporter privately
PING = "tickets.ping.new"  # the captain's ping


class Platform:
    """Records what it is sent; yields to the loop on every send, as a network call would."""

    platform = "console"
    limits = SendLimits(overall_per_second=1e6, group_per_minute=1e6, private_per_second=1e6)

    def __init__(self, on_send=None) -> None:
        self.sent: list[Outbound] = []
        self.on_send = on_send

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def send(self, message: Outbound) -> str:
        await asyncio.sleep(0)
        self.sent.append(message)
        if self.on_send is not None:
            await self.on_send(message)
        return f"p{len(self.sent)}"


class Wall:
    """A wall clock the test moves (leases are wall-clock time)."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


async def open_app(db: Path, platform: Platform, wall=time.time) -> App:
    config = load_config(EXAMPLE_CONFIG)
    app = App.create(config, db, ["console"], clock=ManualClock(config.tz, START),
                     adapters={"console": platform})
    app.dispatcher = Dispatcher(app.core, app.adapters, wall=wall)
    await app.open()
    return app


def report(tag: str, i: int) -> Inbound:
    return Inbound("console", "b3", "group", f"{tag}{i}", f"{tag}{i}", f"报修 3栋电梯坏了 {tag}{i}",
                   f"{tag}-{i}")


def report_by(reporter: str, i: int) -> Inbound:
    """The ``i``th report of one resident: its receipts all go to one private chat, theirs."""
    return Inbound("console", "b3", "group", reporter, reporter, f"报修 3栋电梯坏了 {reporter}{i}",
                   f"{reporter}-{i}")


def outbox(db: Path) -> dict[int, str]:
    conn = sqlite3.connect(db, timeout=30)
    try:
        return dict(conn.execute("SELECT id, status FROM outbox"))
    finally:
        conn.close()


def dead_pid() -> int:
    """The pid of a process that has ended (and been waited for): it names no process now."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def in_chat_order(sent: list[Outbound]) -> bool:
    """Within each chat, a dispatcher sent its messages in outbox order."""
    last: dict[str, int] = {}
    for message in sent:
        if message.outbox_id <= last.get(message.address, 0):
            return False
        last[message.address] = message.outbox_id
    return True


async def test_two_dispatchers_on_one_file_drain_300_messages_each_exactly_once(tmp_path):
    db = tmp_path / "linli.db"
    one, two = Platform(), Platform()
    first, second = await open_app(db, one), await open_app(db, two)
    try:
        now = first.core.clock.now().timestamp()
        async with first.db.transaction() as tx:  # 300 messages to 30 chats and people
            for i in range(300):
                kind = "group" if i % 3 == 0 else "private"
                await tx.outbox.add(Outbound("console", f"{kind[0]}{i % 30}", kind, f"message {i}",
                                             key="test.message"), now)
        async with first.db.read() as tx:
            assert await tx.outbox.count_pending(["console"]) == 300
        await asyncio.gather(first.dispatcher.drain(), second.dispatcher.drain())
        delivered = Counter(m.outbox_id for m in one.sent + two.sent)
        assert set(delivered) == set(outbox(db)) and len(delivered) == 300
        assert max(delivered.values()) == 1, [i for i, n in delivered.items() if n > 1][:10]
        assert set(outbox(db).values()) == {"sent"}
        assert in_chat_order(one.sent) and in_chat_order(two.sent)
    finally:
        await first.stop()
        await second.stop()


async def test_two_apps_taking_reports_and_sending_at_once_send_each_message_once(tmp_path):
    """The reproduction in one process: two apps, each replaying 300 reports and draining after each,
    side by side, as two consoles did."""
    db = tmp_path / "linli.db"
    one, two = Platform(), Platform()
    first, second = await open_app(db, one), await open_app(db, two)

    async def replay(app: App, tag: str) -> None:
        for i in range(300):
            await app.core.handle(report(tag, i))
            await asyncio.sleep(0)  # a transaction that never waits runs whole: let the other in
            await app.dispatcher.drain()
        await app.dispatcher.drain()

    try:
        await asyncio.gather(replay(first, "a"), replay(second, "b"))
        await first.dispatcher.drain()
        delivered = Counter(m.outbox_id for m in one.sent + two.sent)
        assert max(delivered.values()) == 1, [i for i, n in delivered.items() if n > 1][:10]
        assert set(delivered) == set(outbox(db))
        keys = Counter(m.key for m in one.sent + two.sent)
        assert keys[RECEIPT] == 600 and keys[PING] == 600, keys
        assert one.sent and two.sent, "both dispatchers took part"
    finally:
        await first.stop()
        await second.stop()


def test_two_processes_replaying_300_reports_each_into_one_database(tmp_path):
    """Two processes, each replaying 300 reports into the same database at once (what two
    ``linli console`` processes did before the lock file): 600 receipts, 600 captain pings."""
    db = tmp_path / "linli.db"
    # migrate first: two processes migrating one new file at once trip over each other (a separate
    # problem of storage/db.py's migrate, which the lock file of bot/instance.py keeps away)
    asyncio.run(_migrated(db))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    children = [subprocess.Popen([sys.executable, __file__, str(EXAMPLE_CONFIG), str(db), tag, "300"],
                                 cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True) for tag in ("a", "b")]
    outputs = [child.communicate(timeout=300) for child in children]
    for child, (_, err) in zip(children, outputs, strict=True):
        assert child.returncode == 0, err
    sent = [line.split() for out, _ in outputs for line in out.splitlines() if line.strip()]
    # what one child left to the other as it finished (held by the other when it last looked)
    sent += [[str(m.outbox_id), m.key] for m in asyncio.run(_drained(db))]
    delivered = Counter(int(outbox_id) for outbox_id, _ in sent)
    assert max(delivered.values()) == 1, [i for i, n in delivered.items() if n > 1][:10]
    keys = Counter(key for _, key in sent)
    assert keys[RECEIPT] == 600 and keys[PING] == 600, keys
    statuses = outbox(db)
    assert set(delivered) == set(statuses) and set(statuses.values()) == {"sent"}


async def test_a_chat_another_dispatcher_holds_waits_and_its_lease_runs_out(tmp_path):
    """A dispatcher that crashed holding the first message of a chat: the chat waits (in order)
    until the lease is over, then that message and the ones after it go, once."""
    db = tmp_path / "linli.db"
    wall = Wall()
    platform = Platform()
    app = await open_app(db, platform, wall)
    try:
        for i in range(3):
            await app.core.handle(report_by("alice", i))
        async with app.db.read() as tx:
            first_of_chat = min(m.outbox_id for m in await tx.outbox.all_messages()
                                if m.address == "alice")
        async with app.db.transaction() as tx:  # a dispatcher on another host claimed it
            assert await tx.outbox.claim([first_of_chat], "elsewhere/4242/dead", wall() + 60,
                                         wall()) == {first_of_chat}
        await app.dispatcher.drain()
        assert platform.sent and {m.address for m in platform.sent} == {"wang"}, \
            "the captain's pings go; alice's receipts wait behind the held one"
        wall.now += LEASE_SECONDS + 1
        await app.dispatcher.drain()
        to_alice = [m.outbox_id for m in platform.sent if m.address == "alice"]
        assert to_alice[0] == first_of_chat and to_alice == sorted(to_alice)
        assert len(to_alice) == 3
        assert [m.key for m in platform.sent].count(RECEIPT) == 3
        assert set(outbox(db).values()) == {"sent"}
    finally:
        await app.stop()


@pytest.mark.parametrize("pid", ["ended", "ours"])
async def test_the_claims_of_a_process_that_is_gone_are_free_at_once(tmp_path, pid):
    """A process on this host that ended, or an earlier process with our pid (a restarted
    container's bot is pid 1 again) and no dispatcher of ours by that name: no lease to wait for."""
    db = tmp_path / "linli.db"
    platform = Platform()
    app = await open_app(db, platform)
    try:
        await app.core.handle(report("r", 0))
        ids = sorted(outbox(db))
        holder = f"{app.dispatcher.id.split('/')[0]}/{dead_pid() if pid == 'ended' else os.getpid()}/0123"
        async with app.db.transaction() as tx:
            assert await tx.outbox.claim(ids, holder, time.time() + 3600, time.time()) == set(ids)
        await app.dispatcher.drain()
        assert sorted(m.outbox_id for m in platform.sent) == ids
    finally:
        await app.stop()


async def test_a_long_pass_renews_its_lease_so_no_one_else_sends_its_messages(tmp_path):
    """Each send takes 30 s of wall time: the lease (60 s) is renewed on the way, and the other
    dispatcher, trying between the sends, gets nothing."""
    db = tmp_path / "linli.db"
    wall = Wall()
    attempts: list[int] = []

    async def slow_send(_message: Outbound) -> None:
        wall.now += 30
        attempts.append(await second.dispatcher.drain_once())

    one, two = Platform(slow_send), Platform()
    first, second = await open_app(db, one, wall), await open_app(db, two, wall)
    try:
        for i in range(4):  # two chats, as before receipts went privately: alice's and the captain's
            await first.core.handle(report_by("alice", i))
        await first.dispatcher.drain()
        assert len(one.sent) == len(outbox(db)) and two.sent == [] and set(attempts) == {0}
        assert set(outbox(db).values()) == {"sent"}
    finally:
        await first.stop()
        await second.stop()


async def test_mark_sent_retry_and_give_up_end_the_claim(tmp_path):
    db = tmp_path / "linli.db"
    app = await open_app(db, Platform())
    try:
        for i in range(2):
            await app.core.handle(report("r", i))
        ids = sorted(outbox(db))
        now = time.time()
        async with app.db.transaction() as tx:
            assert await tx.outbox.claim(ids, "me", now + 60, now) == set(ids)
            assert await tx.outbox.claim(ids, "other", now + 60, now) == set()
            await tx.outbox.mark_sent(ids[0], now, "x")
            await tx.outbox.retry_later(ids[1], now + 5, "429")
            await tx.outbox.give_up(ids[2], "blocked")
            await tx.outbox.unclaim(ids[3:], "me")
            rows = await tx.outbox._all("SELECT id, claimed_by, claimed_until FROM outbox ORDER BY id")
        assert [tuple(r)[1:] for r in rows] == [(None, None)] * len(ids)
    finally:
        await app.stop()


async def _migrated(db: Path) -> None:
    app = await open_app(db, Platform())
    await app.stop()


async def _drained(db: Path) -> list[Outbound]:
    platform = Platform()
    app = await open_app(db, platform)
    try:
        await app.dispatcher.drain()
    finally:
        await app.stop()
    return platform.sent


# --- the child process of the two-process test ------------------------------------------------------
class _Printing:
    platform = "console"
    limits = SendLimits(overall_per_second=1e6, group_per_minute=1e6, private_per_second=1e6)

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def send(self, message: Outbound) -> str:
        print(message.outbox_id, message.key, flush=True)
        return str(message.outbox_id)


async def _child(config: str, db: str, tag: str, count: int) -> None:
    app = App.create(load_config(config), db, ["console"], adapters={"console": _Printing()})
    await app.open()
    try:
        for i in range(count):
            await app.core.handle(report(tag, i))
            await app.dispatcher.drain()
        await app.dispatcher.drain()
    finally:
        await app.stop()


if __name__ == "__main__":
    asyncio.run(_child(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])))
