"""``linli run``: start every configured adapter, the dispatcher and the scheduler.

It holds the database (``<db>.lock``, :mod:`bot.instance`) while it runs: a second ``linli run`` or
``linli console`` on the same database refuses to start and names this process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys

from bot.app import App, configured_platforms
from bot.cli import config_from, db_from, hold_database

log = logging.getLogger(__name__)


def register(subparsers, common) -> None:
    parser = subparsers.add_parser(
        "run", parents=[common], help="run the bot on the configured platforms",
        description="Run Linli on every platform the config has credentials for "
                    "([telegram] token, [wechat] endpoint), with the scheduler. "
                    "Stop with Ctrl-C or SIGTERM.")
    parser.set_defaults(func=run, default_log_level="INFO")


async def run(args) -> int:
    config = config_from(args)
    platforms = configured_platforms(config)
    lock = hold_database(args, "run")
    if lock is None:
        return 1
    if not platforms:
        log.warning("no platform configured ([telegram] token or [wechat] endpoint): running the "
                    "core and scheduler only; try `linli console` for a local chat")
    with lock:
        return await _run(App.create(config, db_from(args), platforms), platforms)


async def _start_board(app: App):
    """Serve the office board ([web]) in this event loop; None when the config has no [web]."""
    if app.config.web is None:
        return None
    from bot.web import Board

    board = Board(app.core, app.config.web.listen)
    await board.start()
    print(f"linli: office board at {board.url}", file=sys.stderr, flush=True)
    return board


async def _run(app: App, platforms: list[str]) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    board = None
    try:
        try:
            await app.start()
            board = await _start_board(app)
        except (ConnectionError, OSError) as exc:  # a platform or the board's port at start-up
            print(f"linli: cannot start: {exc}", file=sys.stderr, flush=True)
            return 1
        print(f"linli: ready (platforms: {', '.join(platforms) or 'none'})", file=sys.stderr,
              flush=True)
        await stop.wait()
    finally:
        if board is not None:
            await board.stop()
        await app.stop()
    return 0
