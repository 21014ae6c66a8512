"""A compound to run scenarios against: the real core, a real SQLite file, a clock the test moves.

    compound = await Compound.open(tmp_path)
    sent = await compound.say("b3", "alice", "报修 3栋电梯坏了")
    assert "#1" in sent.to_chat("b3")[0]
    assert "alice" in sent.to("wang")[0]

Messages go through the real outbox and dispatcher to a recording adapter on the console platform,
so addresses are config chat keys (groups) and person keys or names (private chats).
"""

from __future__ import annotations

import itertools
import string
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import handlers
from bot.adapters.base import SendLimits
from bot.app import App
from bot.clock import ManualClock
from bot.commands import Registry
from bot.config import Config, load_config
from bot.i18n import LANGUAGES, catalogue
from bot.messages import Attachment, Inbound, Outbound
from bot.privacy import redact

REGISTRY = Registry.from_modules(handlers.MODULES)  # every command Linli has, as the app builds it
COMMANDS = REGISTRY.commands

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_CONFIG = ROOT / "config.example.toml"
START = datetime(2026, 12, 1, 9, 0)  # a Tuesday morning
# The catalogue's fixed wording (the text between placeholders) is written by us, not by residents:
# an example like "登记 3栋 1203" in the help menu is nobody's unit, so privacy checks skip it.
# So are the operator's [faq] answers (a front desk's public phone number).
FIXED_TEXTS = sorted({literal for lang in LANGUAGES for text in catalogue(lang).values()
                      for literal, _, _, _ in string.Formatter().parse(text) if len(literal) >= 6}
                     | set(load_config(EXAMPLE_CONFIG).faq.values()), key=len, reverse=True)


def without_fixed_texts(text: str) -> str:
    for fixed in FIXED_TEXTS:
        if fixed in text:
            text = text.replace(fixed, "\n")
    return text


class RecordingAdapter:
    """Takes every message the dispatcher hands it and remembers it."""

    platform = "console"
    limits = SendLimits(overall_per_second=1e6, group_per_minute=1e6, private_per_second=1e6)

    def __init__(self) -> None:
        self.sent: list[Outbound] = []

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def send(self, message: Outbound) -> str:
        self.sent.append(message)
        return str(len(self.sent))


@dataclass
class Sent:
    """What the bot sent in answer to one step of a scenario."""

    messages: list[Outbound] = field(default_factory=list)

    def to_chat(self, chat_key: str) -> list[str]:
        return [m.plain_text() for m in self.messages if m.kind == "group" and m.address == chat_key]

    def to(self, person: str) -> list[str]:
        return [m.plain_text() for m in self.messages
                if m.kind == "private" and m.address == person]

    def keys_to(self, person: str) -> list[str]:
        """The catalogue keys of what ``person`` was told privately, in order."""
        return [m.key for m in self.messages if m.kind == "private" and m.address == person]

    def keys_in(self, chat_key: str) -> list[str]:
        """The catalogue keys of what was posted to a group chat, in order (a command's second
        reply there is part of its first message: its key follows the first's)."""
        return [key for m in self.messages if m.kind == "group" and m.address == chat_key
                for key in (m.key, *(part["key"] for part in m.gathered.get("parts", ())))]

    def values_to(self, person: str, key: str) -> dict:
        """The values of the first message with ``key`` that ``person`` was told."""
        return next(m.values for m in self.messages
                    if m.kind == "private" and m.address == person and m.key == key)

    def texts(self) -> list[str]:
        return [m.plain_text() for m in self.messages]

    def all(self) -> str:
        return "\n".join(self.texts())

    def __len__(self) -> int:
        return len(self.messages)


class Compound:
    """The demo compound of config.example.toml, on a manual clock, one scenario at a time."""

    def __init__(self, app: App, clock: ManualClock, adapter: RecordingAdapter) -> None:
        self.app = app
        self.clock = clock
        self.adapter = adapter
        self.core = app.core
        self.config = app.config
        self._ids = itertools.count(1)

    @classmethod
    async def open(cls, folder: Path, config: Config | None = None, start: datetime = START,
                   db_name: str = "linli.db", registry: Registry | None = None) -> Compound:
        config = config or load_config(EXAMPLE_CONFIG)
        clock = ManualClock(config.tz, start)
        adapter = RecordingAdapter()
        app = App.create(config, folder / db_name, ["console"], clock=clock,
                         adapters={"console": adapter}, registry=registry)
        await app.open()
        return cls(app, clock, adapter)

    async def close(self) -> None:
        await self.app.stop()

    def inbound(self, chat: str, user: str, text: str, *, message_id: str | None = None,
                attachments: tuple[Attachment, ...] = ()) -> Inbound:
        private = chat == "dm"
        return Inbound(platform="console", chat_id=user if private else chat,
                       chat_kind="private" if private else "group", sender_id=user,
                       sender_name=user, text=text,
                       message_id=message_id or f"m{next(self._ids)}", attachments=attachments)

    async def say(self, chat: str, user: str, text: str, **kwargs) -> Sent:
        """``user`` says ``text`` in ``chat`` (a chat key, or "dm"); what did the bot send?"""
        return await self.deliver(self.inbound(chat, user, text, **kwargs))

    async def deliver(self, message: Inbound) -> Sent:
        before = len(self.adapter.sent)
        await self.core.handle(message)
        await self.core.tick()
        await self.app.dispatcher.drain()
        sent = Sent(self.adapter.sent[before:])
        await self.check_privacy(sent)
        return sent

    async def advance(self, delta: timedelta) -> Sent:
        """Let time pass; the sweeps run; what did the bot send?"""
        before = len(self.adapter.sent)
        self.clock.advance(delta)
        await self.core.tick()
        await self.app.dispatcher.drain()
        sent = Sent(self.adapter.sent[before:])
        await self.check_privacy(sent)
        return sent

    async def check_privacy(self, sent: Sent) -> None:
        """No registered unit or phone number may appear in a group message."""
        async with self.app.db.read() as tx:
            units = await tx.people.registered_units()
        for message in sent.messages:
            if message.kind == "group":
                text = without_fixed_texts(message.text)
                assert redact(text, "<>", units) == text, (
                    f"private detail in a group message: {message.text!r}")
