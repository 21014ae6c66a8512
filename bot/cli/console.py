"""``linli console``: the chat simulator (see :mod:`bot.adapters.console` for the line format).

Interactive at a terminal (with readline history); reading a script with ``--script FILE`` or when
standard input is not a terminal, echoing each input line as ``> …`` before what the bot sends, and
exiting 0 once the outbox is drained.  Like ``linli run`` it holds the database while it runs
(:mod:`bot.instance`): one of them per database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from pathlib import Path

from bot.adapters.console import HELP, ConsoleError
from bot.app import App
from bot.cli import config_from, db_from, hold_database
from bot.clock import OffsetClock

log = logging.getLogger(__name__)
HISTORY = Path.home() / ".linli_history"


def register(subparsers, common) -> None:
    parser = subparsers.add_parser(
        "console", parents=[common], help="chat with the bot in the terminal",
        description="A chat simulator: type lines like  `b3 alice: 报修 3栋电梯坏了`  and see what "
                    "the bot sends to each chat and person. " + HELP.split("\n")[0])
    parser.add_argument("--script", metavar="FILE", help="read lines from FILE instead of typing")
    parser.add_argument("--web", metavar="HOST:PORT", default=None,
                        help="also serve the office board there, e.g. 127.0.0.1:8080 "
                             "(sign in with  dm admin: 后台  in the console, or linli web-login)")
    parser.set_defaults(func=console)


async def console(args) -> int:
    config = config_from(args)
    if args.web:
        from bot.config import WebSettings

        try:
            web = WebSettings(**{**(config.web.model_dump() if config.web else {}),
                                 "listen": args.web, "public_url": f"http://{args.web}"})
        except ValueError as exc:
            print(f"linli console: --web {args.web}: {exc}", file=sys.stderr)
            return 2
        config = config.model_copy(update={"web": web})
    lock = hold_database(args, "console")
    if lock is None:
        return 1
    with lock:
        return await _console(args, App.create(config, db_from(args), ["console"],
                                               clock=OffsetClock(config.tz)))


async def _console(args, app: App) -> int:
    await app.open()
    board = deliver = None
    try:
        if getattr(args, "web", None):
            from bot.web import Board

            board = Board(app.core, app.config.web.listen)
            try:
                await board.start()
            except OSError as exc:
                print(f"linli console: cannot serve the board on {args.web}: {exc}", file=sys.stderr)
                return 1
            print(f"office board: {board.url}  (sign in: type  dm admin: 后台  or run "
                  "linli web-login admin)", flush=True)
            deliver = asyncio.create_task(_deliver_board_actions(app), name="board-delivery")
        if args.script:
            text = await asyncio.to_thread(Path(args.script).read_text, encoding="utf-8")
            lines = text.splitlines()
            await replay(app, lines, echo=True)
        elif not sys.stdin.isatty():
            await replay(app, sys.stdin, echo=True)
        else:
            await interactive(app)
    finally:
        if deliver is not None:
            deliver.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await deliver
        if board is not None:
            await board.stop()
        await app.stop()
    return 0


async def _deliver_board_actions(app: App) -> None:
    """What an action on the board sends (the reporter told of 受理 …) is printed as it happens."""
    while True:
        await app.core.outbox_changed.wait()
        app.core.outbox_changed.clear()
        await app.dispatcher.drain()


async def replay(app: App, lines, *, echo: bool) -> None:
    for line in lines:
        await one_line(app, line.rstrip("\n"), echo=echo)
    await app.dispatcher.drain()


async def one_line(app: App, line: str, *, echo: bool) -> None:
    """Carry out one console line and print everything the bot sends because of it."""
    adapter = app.adapters["console"]
    if not line.strip():
        return
    if echo:
        print(f"> {line}", flush=True)
    if line.lstrip().startswith("#"):
        return
    try:
        if line.lstrip().startswith(":"):
            if line.strip() in (":quit", ":q", ":exit"):
                raise EOFError
            shown = adapter.steer(line.strip())
            if shown:
                print(shown, flush=True)
        else:
            await app.core.handle(adapter.to_inbound(line))
    except ConsoleError as exc:
        print(f"! {exc}", flush=True)
    await app.core.tick()
    await app.dispatcher.drain()


async def interactive(app: App) -> None:
    readline = None
    with contextlib.suppress(ImportError):
        import readline
    if readline is not None:
        with contextlib.suppress(OSError):
            readline.read_history_file(HISTORY)
    print(f"邻里 Linli console — {app.config.compound.name}. "
          "Type  <chat> <user>: <text>   e.g.  b3 alice: 报修 3栋电梯坏了   (:help, :quit)")
    print(f"chats: {', '.join([*app.config.chats, 'dm'])}; people: {', '.join(app.config.people)}"
          "; any other name is a resident.")
    try:
        while True:
            try:
                line = await asyncio.to_thread(input, "linli> ")
            except EOFError:
                break
            try:
                await one_line(app, line, echo=False)
            except EOFError:
                break
    finally:
        if readline is not None:
            with contextlib.suppress(OSError):
                readline.write_history_file(HISTORY)
