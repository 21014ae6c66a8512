"""A Linli process for the fault tests (tests/test_faults.py): the real App — core, SQLite file,
outbox, Dispatcher — fed a burst of repair reports, delivering through a transport that records
every delivery durably in its own SQLite file.  The parent kills it with SIGKILL mid-burst and starts
it again.

    python tests/fault_child.py CONFIG DB STORE COUNT [PACE_SECONDS]

Residents ``r0`` … ``r<COUNT-1>`` each report once in the 3栋 group (platform message ids
``burst-<i>``).  Every run feeds all COUNT messages, as a platform does after a restart when it
redelivers what it never saw confirmed; the core must ignore the ones it already handled.  Prints
``done`` when the outbox is empty.

The transport (:class:`RecordingTransport`) is a platform that de-duplicates by the outbox id the
dispatcher hands it (the dispatcher delivers at least once): every attempt goes into ``attempts``,
and the message into ``delivered`` keyed by outbox id, each committed with ``synchronous=FULL``
before ``send`` returns — what the platform took survives the kill.
"""

from __future__ import annotations

import asyncio
import sqlite3
import sys

from bot.adapters.base import SendLimits
from bot.app import App
from bot.config import load_config
from bot.messages import Inbound, Outbound

STORE_SCHEMA = """
CREATE TABLE IF NOT EXISTS attempts (seq INTEGER PRIMARY KEY, outbox_id INTEGER NOT NULL,
    kind TEXT NOT NULL, address TEXT NOT NULL, mention TEXT NOT NULL, text TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS delivered (outbox_id INTEGER PRIMARY KEY, seq INTEGER NOT NULL,
    kind TEXT NOT NULL, address TEXT NOT NULL, mention TEXT NOT NULL, text TEXT NOT NULL);
"""


def report(i: int) -> Inbound:
    """The i-th report of the burst, exactly as the platform would (re)deliver it."""
    return Inbound("console", "b3", "group", f"r{i}", f"r{i}", f"报修 3栋电梯坏了 第{i}号",
                   f"burst-{i}")


class RecordingTransport:
    """A platform that keeps what it was sent in an SQLite file (see module docstring)."""

    platform = "console"
    limits = SendLimits(overall_per_second=1e6, group_per_minute=1e6, private_per_second=1e6)

    def __init__(self, path: str) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=FULL")
        self.conn.executescript(STORE_SCHEMA)

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def send(self, message: Outbound) -> str:
        row = (message.outbox_id, message.kind, message.address, ",".join(message.mention_ids),
               message.text)
        self.conn.execute("BEGIN IMMEDIATE")
        seq = self.conn.execute(
            "INSERT INTO attempts (outbox_id, kind, address, mention, text) VALUES (?, ?, ?, ?, ?)",
            row).lastrowid
        self.conn.execute(
            "INSERT OR IGNORE INTO delivered (outbox_id, seq, kind, address, mention, text) "
            "VALUES (?, ?, ?, ?, ?, ?)", (row[0], seq, *row[1:]))
        self.conn.execute("COMMIT")
        return f"t-{message.outbox_id}"


async def main(config_path: str, db_path: str, store: str, count: int, pace: float) -> None:
    transport = RecordingTransport(store)
    app = App.create(load_config(config_path), db_path, ["console"],
                     adapters={"console": transport})
    await app.start(scheduler=False)  # the dispatcher runs in the background, as in `linli run`
    try:
        for i in range(count):
            await app.core.handle(report(i))
            await asyncio.sleep(pace)
        while True:
            async with app.db.read() as tx:
                if await tx.outbox.count_pending() == 0:
                    break
            await asyncio.sleep(0.02)
    finally:
        await app.stop()
    print("done", flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]),
                     float(sys.argv[5]) if len(sys.argv) > 5 else 0.0))
