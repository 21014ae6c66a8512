"""Declaring what Linli answers to, apart from how it answers (after NoneBot2's ``on_command``).

A handler module says::

    report = on_command("report", zh=["报修", "报事"], en=["report"])

    @report.handle
    async def file_report(ctx: Context) -> None:
        \"\"\"A resident reports a problem: open a ticket and tell the captain.\"\"\"

``roles`` limits who may use a command (the core refuses everyone else, naming who can);
``needs_number`` marks commands whose first argument is a number, so that a bare word in chatter
("确认一下…") is not mistaken for a command.  ``on_reply(kind)`` answers the plain-text reply to a
question the bot asked (a prompt), and ``on_tick(name)`` registers a sweep the scheduler runs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.context import Context

Handler = Callable[["Context"], Awaitable[None]]
Sweep = Callable[..., Awaitable[Any]]


@dataclass
class Command:
    """One command: its words in each language, who may use it, and what does the work."""

    name: str
    zh: tuple[str, ...]
    en: tuple[str, ...]
    roles: frozenset[str] | None = None  # None: anyone; else any of these base roles
    needs_number: bool = False
    private_only: bool = False
    group: str = "general"  # which part of 帮助 lists it
    handler: Handler | None = field(default=None, repr=False)

    def handle(self, func: Handler) -> Handler:
        self.handler = func
        return func

    @property
    def words(self) -> tuple[str, ...]:
        return self.zh + self.en


COMMANDS: dict[str, Command] = {}
REPLIES: dict[str, Handler] = {}
SWEEPS: dict[str, Sweep] = {}


def on_command(name: str, *, zh: list[str] | tuple[str, ...], en: list[str] | tuple[str, ...],
               roles: list[str] | tuple[str, ...] | None = None, needs_number: bool = False,
               private_only: bool = False, group: str = "general") -> Command:
    """Declare a command; attach its coroutine with ``@<command>.handle``."""
    if name in COMMANDS:
        raise ValueError(f"command {name!r} is declared twice")
    words = {w.lower() for w in (*zh, *en)}
    for other in COMMANDS.values():
        clash = words & {w.lower() for w in other.words}
        if clash:
            raise ValueError(f"command words {sorted(clash)} of {name!r} are taken by {other.name!r}")
    command = Command(name, tuple(zh), tuple(en), frozenset(roles) if roles else None,
                      needs_number, private_only, group)
    COMMANDS[name] = command
    return command


def on_reply(kind: str) -> Callable[[Handler], Handler]:
    """Answer a person's plain reply to a prompt of this kind (see ``Context.ask``)."""

    def register(func: Handler) -> Handler:
        REPLIES[kind] = func
        return func

    return register


def on_tick(name: str) -> Callable[[Sweep], Sweep]:
    """A sweep the scheduler runs every tick: ``async def sweep(core, now) -> None``."""

    def register(func: Sweep) -> Sweep:
        SWEEPS[name] = func
        return func

    return register
