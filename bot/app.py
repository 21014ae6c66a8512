"""Assembling Linli: registry → config → database → core → adapters → dispatcher → scheduler.

``App.create`` builds everything for the given adapters: the :class:`~bot.commands.Registry` from
the handler modules listed in ``handlers.MODULES`` (or the ones given), and a core that is handed
all it works with (the registry, the platforms' send limits, the scheduler's wake-up).
``await app.start()`` opens the database, brings the config's people in, starts the adapters, the
dispatcher and the scheduler; ``await app.stop()`` undoes it in reverse.  The console,
``linli run``, the tests and the benchmarks all assemble Linli the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import handlers
from bot.adapters.base import SendLimits
from bot.clock import Clock
from bot.commands import Registry
from bot.config import Config
from bot.core import Core
from bot.dispatcher import Dispatcher
from bot.scheduler import Scheduler
from storage import Database
from storage.media import MediaStore, media_folder

log = logging.getLogger(__name__)


def configured_platforms(config: Config) -> list[str]:
    """The chat platforms the config has credentials for (console is never among them)."""
    platforms = []
    if config.telegram.token or os.environ.get("LINLI_TELEGRAM_TOKEN"):
        platforms.append("telegram")
    if config.wechat.endpoint:
        platforms.append("wechat")
    return platforms


def adapter_class(platform: str):
    """The adapter class for ``platform``, imported only when it is used."""
    if platform == "console":
        from bot.adapters.console import ConsoleAdapter

        return ConsoleAdapter
    if platform == "telegram":
        from bot.adapters.telegram import TelegramAdapter

        return TelegramAdapter
    if platform == "wechat":
        from bot.adapters.wechat import WechatAdapter

        return WechatAdapter
    raise ValueError(f"unknown platform {platform!r}")


def send_limits_of(platform: str, config: Config) -> SendLimits:
    """A platform's send limits, as its adapter will keep them (WeChat's come from the config)."""
    if platform == "wechat":
        from bot.adapters.wechat import limits_of

        return limits_of(config)
    return adapter_class(platform).limits


def make_adapter(platform: str, config: Config, core: Core):
    """The adapter for ``platform``, imported only when it is used."""
    if platform == "console":
        from bot.adapters.console import ConsoleAdapter

        return ConsoleAdapter(config, core)
    if platform == "telegram":
        from bot.adapters.telegram import TelegramAdapter

        return TelegramAdapter(config, core)
    if platform == "wechat":
        from bot.adapters.wechat import WechatAdapter

        return WechatAdapter(config, core)
    raise ValueError(f"unknown platform {platform!r}")


@dataclass
class App:
    config: Config
    db: Database
    core: Core
    adapters: dict = field(default_factory=dict)
    dispatcher: Dispatcher | None = None
    scheduler: Scheduler | None = None
    _tasks: list[asyncio.Task] = field(default_factory=list)

    @classmethod
    def create(cls, config: Config, db_path: str | Path, platforms: list[str],
               clock: Clock | None = None, adapters: dict | None = None,
               registry: Registry | None = None) -> App:
        """Build Linli for ``platforms`` (``adapters`` replaces the real ones, e.g. in tests;
        ``registry`` the commands of ``handlers.MODULES``)."""
        db = Database(db_path)
        clock = clock or Clock(config.tz)
        registry = registry or Registry.from_modules(handlers.MODULES)
        scheduler = Scheduler(config.tz, clock)
        limits = {name: adapter.limits for name, adapter in adapters.items()} if adapters \
            is not None else {p: send_limits_of(p, config) for p in platforms}
        folder = media_folder(db_path)
        media = MediaStore(folder if folder is not None else Path(tempfile.mkdtemp(prefix="linli-media-")),
                           max_bytes=config.media.max_bytes, max_side=config.media.max_side,
                           thumb_side=config.media.thumb_side)
        core = Core(config, db, clock, platforms, registry, send_limits=limits,
                    wake_at=scheduler.wake_at, media=media)
        app = cls(config, db, core, scheduler=scheduler)
        app.adapters = adapters if adapters is not None else {
            p: make_adapter(p, config, core) for p in platforms}
        app.dispatcher = Dispatcher(core, app.adapters)
        return app

    async def open(self) -> None:
        """Open the database and bring the config's people in (no adapters, no timers)."""
        await self.db.open()
        await self.core.start()

    async def start(self, *, scheduler: bool = True, dispatcher: bool = True) -> None:
        await self.open()
        for adapter in self.adapters.values():
            await adapter.start()
        if dispatcher:
            self._tasks.append(asyncio.create_task(self.dispatcher.run(), name="dispatcher"))
        if scheduler and self.scheduler:
            self.scheduler.start(self.core.tick, self.config.scheduler.tick_seconds)

    async def stop(self) -> None:
        if self.scheduler:
            await self.scheduler.stop()
        if self.dispatcher:
            self.dispatcher.stop()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, 5)
        for adapter in self.adapters.values():
            with contextlib.suppress(Exception):
                await adapter.stop()
        await self.db.close()
