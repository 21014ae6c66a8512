"""Declaring what Linli answers to, apart from how it answers (after aiogram's ``Router`` and
NoneBot2's ``on_command``).

A handler module declares everything it answers to on its own :class:`Router`::

    router = Router("tickets")
    report = router.command("report", zh=["报修", "报事"], en=["report"])

    @report.handle
    async def file_report(ctx: Context) -> None:
        \"\"\"A resident reports a problem: open a ticket and tell the captain.\"\"\"

``roles`` limits who may use a command (the core refuses everyone else, naming who can);
``needs_number`` marks commands whose first argument is a number, so that a bare word in chatter
("确认一下…") is not mistaken for a command.  ``@router.reply(kind)`` answers the plain-text reply to
a question the bot asked (a prompt), ``@router.sweep(name)`` declares a sweep the scheduler runs, and
``@router.on(event)`` listens for what another capability announces (``ctx.emit``), so that no
handler module imports another.  ``@router.hear(name)`` looks at a plain group message (no command,
no question pending) before the free-text listener does, and returns True when it took it (a bare
``好的`` under a notice that asks for confirmation).

Nothing is registered by importing a module: the app builds a :class:`Registry` from the modules
listed in ``handlers.MODULES`` (or any other list) and hands it to the core, so two apps in one
process can answer to different commands, and reloading a module declares nothing twice.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.context import Context

Handler = Callable[["Context"], Awaitable[None]]
Sweep = Callable[..., Awaitable[Any]]
Listener = Callable[..., Awaitable[None]]
Hearer = Callable[["Context"], Awaitable[bool]]


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


class Router:
    """What one handler module declares: its commands, reply listeners and sweeps."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.commands: dict[str, Command] = {}
        self.replies: dict[str, Handler] = {}
        self.sweeps: dict[str, Sweep] = {}
        self.listeners: dict[str, list[Listener]] = {}
        self.hearers: dict[str, Hearer] = {}

    def command(self, name: str, *, zh: Iterable[str], en: Iterable[str],
                roles: Iterable[str] | None = None, needs_number: bool = False,
                private_only: bool = False, group: str = "general") -> Command:
        """Declare a command; attach its coroutine with ``@<command>.handle``."""
        if name in self.commands:
            raise ValueError(f"command {name!r} is declared twice in {self.name!r}")
        command = Command(name, tuple(zh), tuple(en), frozenset(roles) if roles else None,
                          needs_number, private_only, group)
        self.commands[name] = command
        return command

    def reply(self, kind: str) -> Callable[[Handler], Handler]:
        """Answer a person's plain reply to a prompt of this kind (see ``Context.ask``)."""

        def register(func: Handler) -> Handler:
            self.replies[kind] = func
            return func

        return register

    def sweep(self, name: str) -> Callable[[Sweep], Sweep]:
        """A sweep the scheduler runs every tick: ``async def sweep(core, now) -> None``."""

        def register(func: Sweep) -> Sweep:
            self.sweeps[name] = func
            return func

        return register

    def hear(self, name: str) -> Callable[[Hearer], Hearer]:
        """Look at a plain group message before the free-text listener: ``async def hear(ctx) ->
        bool``, True when it took the message (nothing else then sees it).  It must decide from the
        words first and touch the database only for the few messages it could take."""

        def register(func: Hearer) -> Hearer:
            self.hearers[name] = func
            return func

        return register

    def on(self, event: str) -> Callable[[Listener], Listener]:
        """Listen for something another capability announces with ``ctx.emit(event, **values)``:
        ``async def listener(ctx, **values) -> None``, run in the announcer's transaction."""

        def register(func: Listener) -> Listener:
            self.listeners.setdefault(event, []).append(func)
            return func

        return register


class Registry:
    """Every command, reply listener and sweep of the routers an app is built from.

    Command names and words must be unique across the routers; a clash is an error naming both.
    """

    def __init__(self, routers: Iterable[Router]) -> None:
        self.routers = tuple(routers)
        commands: dict[str, Command] = {}
        replies: dict[str, Handler] = {}
        sweeps: dict[str, Sweep] = {}
        listeners: dict[str, list[Listener]] = {}
        hearers: dict[str, Hearer] = {}
        owner: dict[str, str] = {}  # a lowered command word → the command that has it
        for router in self.routers:
            for name, command in router.commands.items():
                if name in commands:
                    raise ValueError(f"command {name!r} is declared twice")
                for word in (w.lower() for w in command.words):
                    if word in owner:
                        raise ValueError(f"command word {word!r} of {name!r} is taken by "
                                         f"{owner[word]!r}")
                    owner[word] = name
                commands[name] = command
            for kind, listener in router.replies.items():
                if kind in replies:
                    raise ValueError(f"reply kind {kind!r} is declared twice")
                replies[kind] = listener
            for name, sweep in router.sweeps.items():
                if name in sweeps:
                    raise ValueError(f"sweep {name!r} is declared twice")
                sweeps[name] = sweep
            for event, funcs in router.listeners.items():
                listeners.setdefault(event, []).extend(funcs)
            for name, hearer in router.hearers.items():
                if name in hearers:
                    raise ValueError(f"hearer {name!r} is declared twice")
                hearers[name] = hearer
        self.commands = MappingProxyType(commands)
        self.replies = MappingProxyType(replies)
        self.sweeps = MappingProxyType(sweeps)
        self.listeners = MappingProxyType({k: tuple(v) for k, v in listeners.items()})
        self.hearers = tuple(hearers.values())

    @classmethod
    def from_modules(cls, names: Iterable[str]) -> Registry:
        """Import each module and take its ``router``."""
        return cls(importlib.import_module(name).router for name in names)

    def command_with_word(self, word: str) -> Command | None:
        word = word.lower()
        return next((c for c in self.commands.values() if word in (w.lower() for w in c.words)),
                    None)
