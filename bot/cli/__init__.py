"""``linli``: the command line.

Each subcommand lives in a module of this package with a ``register(subparsers, common)`` function
that adds its parser and sets ``func`` (a coroutine function taking the parsed args and returning an
exit code).  Every subcommand accepts ``--config PATH`` and ``--db PATH``.  A bad config prints one
clear message (file, line, key) and exits 2; a database file that is damaged, not a database or not
writable prints one line naming it and exits 1; nothing prints a traceback at a user.  Modules whose
name starts with ``_`` are helpers, not subcommands.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import pkgutil
import sqlite3
import sys
from pathlib import Path

from bot.cli._problems import database_problem, with_lines
from bot.config import Config, ConfigError, load_config

DEFAULT_CONFIG = "config.example.toml"
DEFAULT_DB = "linli.db"


def find_default_config() -> Path:
    """``config.example.toml`` in the current folder, else the one beside the package."""
    here = Path(DEFAULT_CONFIG)
    if here.exists():
        return here
    beside = Path(__file__).resolve().parents[2] / DEFAULT_CONFIG
    return beside if beside.exists() else here


def common_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", metavar="PATH", type=Path, default=None,
                        help=f"the compound's TOML config (default: {DEFAULT_CONFIG})")
    common.add_argument("--db", metavar="PATH", default=None,
                        help=f"the SQLite database file (default: ./{DEFAULT_DB})")
    common.add_argument("--log-level", default=None, metavar="LEVEL",
                        help="logging level: DEBUG, INFO, WARNING (default) or ERROR")
    return common


def build_parser() -> argparse.ArgumentParser:
    common = common_options()
    parser = argparse.ArgumentParser(
        prog="linli", parents=[common],
        description="邻里 Linli — the chat bot of a residential compound: repair reports, "
                    "volunteers, duty rotas and announcements in WeChat and Telegram groups.",
        epilog="Start with:  linli console   (a chat simulator; no tokens needed)")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if module.name.startswith("_"):
            continue
        importlib.import_module(f"{__name__}.{module.name}").register(subparsers, common)
    return parser


def config_from(args: argparse.Namespace) -> Config:
    path = args.config or find_default_config()
    try:
        return load_config(path)
    except ConfigError as exc:
        raise with_lines(exc, Path(path)) from exc.__cause__


def db_from(args: argparse.Namespace) -> str:
    return args.db or DEFAULT_DB


async def open_existing(args: argparse.Namespace, command: str):
    """The database of ``--db`` opened for a command that only reads it, or None (said why) when
    there is none: such commands never create an empty database by mistake."""
    from storage import Database

    path = db_from(args)
    if not await asyncio.to_thread(Path(path).exists):
        print(f"linli {command}: no database at {path} (give --db PATH)", file=sys.stderr)
        return None
    return await Database(path).open()


def hold_database(args: argparse.Namespace, command: str):
    """Take ``--db`` for this process (:mod:`bot.instance`), or None (said why) when another
    process holds it or its folder cannot hold the lock."""
    from bot.instance import InstanceError, hold

    try:
        return hold(db_from(args))
    except InstanceError as exc:
        print(f"linli {command}: {exc}", file=sys.stderr, flush=True)
        return None


def command_name(args: argparse.Namespace) -> str:
    return " ".join(str(p) for p in (args.command, getattr(args, "db_command", None)) if p)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    logging.basicConfig(
        level=(args.log_level or getattr(args, "default_log_level", "WARNING")).upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    # httpx logs every request's URL at INFO, and a Bot API URL carries the bot's token
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        return asyncio.run(args.func(args)) or 0
    except ConfigError as exc:
        print(f"linli: config problem\n{exc}", file=sys.stderr)
        return 2
    except sqlite3.Error as exc:  # the database file itself is wrong (see bot.cli._problems)
        print(f"linli {command_name(args)}: {database_problem(db_from(args), exc)}", file=sys.stderr,
              flush=True)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
