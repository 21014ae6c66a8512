"""``linli run``: start every configured adapter, the dispatcher and the scheduler."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys

from bot.app import App, configured_platforms
from bot.cli import config_from, db_from

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
    if not platforms:
        log.warning("no platform configured ([telegram] token or [wechat] endpoint): running the "
                    "core and scheduler only; try `linli console` for a local chat")
    app = App.create(config, db_from(args), platforms)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        try:
            await app.start()
        except ConnectionError as exc:  # a platform cannot be reached at start-up
            print(f"linli: cannot start: {exc}", file=sys.stderr, flush=True)
            return 1
        print(f"linli: ready (platforms: {', '.join(platforms) or 'none'})", file=sys.stderr,
              flush=True)
        await stop.wait()
    finally:
        await app.stop()
    return 0
