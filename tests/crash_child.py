"""A Linli process that dies (SIGKILL) at the moment it first tries to send: after the report's
transaction committed, before anything reached a chat.  Used by tests/test_console.py."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

from bot.adapters.base import SendLimits
from bot.app import App
from bot.config import load_config
from bot.messages import Inbound


class DiesOnSend:
    platform = "console"
    limits = SendLimits()

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def send(self, message) -> str:
        os.kill(os.getpid(), signal.SIGKILL)
        return ""


async def main(config_path: str, db_path: str) -> None:
    app = App.create(load_config(config_path), db_path, ["console"],
                     adapters={"console": DiesOnSend()})
    await app.open()
    await app.core.handle(Inbound("console", "b3", "group", "alice", "alice",
                                  "报修 3栋电梯坏了", "crash-1"))
    await app.dispatcher.drain()
    print("not reached", flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
