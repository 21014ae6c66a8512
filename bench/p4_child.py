"""P4's measured process: ``python -m bench.p4_child CONFIG DB`` (a fresh process, so nothing of the
benchmark's own memory is in its peak).

It imports what Linli stands on first (python-telegram-bot and Linli's Telegram adapter, aiosqlite,
APScheduler, pydantic: what ``linli run`` with a Telegram token holds), then starts the app the way
``linli run`` does (dispatcher and scheduler running; the console platform, whose messages are
dropped), waits for the first sweeps and prints ``idle <VmHWM kB>``.  Then it touches every ticket:
reads each one through the storage layer (``Tickets.get``, a thousand per read), and answers 待办 of
the property staff (all buildings) and of every building's captain, and 我的报修 of 200 residents,
through ``Core.handle``; waits again and prints ``touched <VmHWM kB> <tickets read>``.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import aiosqlite  # noqa: F401
import apscheduler.schedulers.asyncio  # noqa: F401
import pydantic  # noqa: F401
import telegram
import telegram.ext  # noqa: F401

import bot.adapters.telegram  # noqa: F401  (what a Telegram deployment imports)

SETTLE = 3.0


def vm_hwm_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status")


class Sink:
    """The console platform's adapter here: takes every message and keeps none."""

    platform = "console"

    def __init__(self) -> None:
        from bot.adapters.base import SendLimits

        self.limits = SendLimits(overall_per_second=1e6, group_per_minute=1e6, private_per_second=1e6)
        self.sent = 0

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def send(self, message) -> str:
        self.sent += 1
        return str(self.sent)


async def main(config_path: str, db_path: str, settle: float) -> None:
    from bot.app import App
    from bot.config import load_config
    from bot.messages import Inbound

    config = load_config(config_path)
    app = App.create(config, db_path, ["console"], adapters={"console": Sink()})
    await app.start()
    try:
        await asyncio.sleep(settle)
        print(f"idle {vm_hwm_kb()}", flush=True)
        async with app.db.read() as tx:
            last = await tx.tickets._value("SELECT COALESCE(MAX(id), 0) FROM tickets")
        read = 0
        for first in range(1, last + 1, 1000):
            async with app.db.read() as tx:
                for number in range(first, min(first + 1000, last + 1)):
                    read += await tx.tickets.get(number) is not None
        asks = [("prop1", "prop1", "private", "待办")]
        asks += [(f"cap{b}", f"b{b}", "group", "待办") for b in range(1, 21)]
        asks += [(f"r{k}", f"b{(k - 1) % 20 + 1}", "group", "我的报修") for k in range(1, 201)]
        for i, (sender, chat, kind, text) in enumerate(asks):
            await app.core.handle(Inbound("console", chat, kind, sender, sender, text, f"p4-{i}"))
        await asyncio.sleep(settle)
        print(f"touched {vm_hwm_kb()} {read}", flush=True)
    finally:
        await app.stop()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], float(sys.argv[3]) if len(sys.argv) > 3 else SETTLE))
