"""``linli export tickets --since 2026-11-01 [--until …] --format csv|json [--out FILE]``
(``linli export polls``: see ``bot/cli/_polls_export.py``).

The rows and their text come from bot/exports.py (the office board's Exports page uses the same).
``--satisfaction`` writes the share satisfied of those tickets instead (overall, per category, per
captain; see bot/exports.py).
"""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

from bot.cli import config_from, open_existing
from bot.cli._problems import cannot_write
from bot.exports import FIELDS, as_text, satisfaction_output, spreadsheet_safe, tickets_and_rows

__all__ = ["FIELDS", "export", "moment", "register", "spreadsheet_safe"]


def register(subparsers, common) -> None:
    parser = subparsers.add_parser(
        "export", parents=[common], help="export tickets as CSV or Open311-style JSON",
        description="Export repair reports reported since a date, as JSON shaped like Open311 "
                    "GeoReport v2 service requests, or as CSV with the same columns.")
    parser.add_argument("what", choices=("tickets", "polls"), help="what to export")
    parser.add_argument("--since", default=None, metavar="DATE",
                        help="reported (a poll: started) on or after this date (2026-11-01 or "
                             "2026-11-01T08:00); required for tickets")
    parser.add_argument("--until", default=None, metavar="DATE", help="… and before this date")
    parser.add_argument("--format", choices=("csv", "json"), default="json")
    parser.add_argument("--lang", choices=("zh", "en"), default=None,
                        help="language of service names (default: the compound's)")
    parser.add_argument("--out", metavar="FILE", type=Path, default=None,
                        help="write here instead of standard output")
    parser.add_argument("--satisfaction", action="store_true",
                        help="the share satisfied (满意 + 基本满意 over rated) of these tickets, "
                             "overall, per category and per captain, instead of the tickets")
    parser.set_defaults(func=export)


def moment(text: str | None, tz) -> datetime | None:
    if text is None:
        return None
    value = datetime.fromisoformat(text.strip())
    return value if value.tzinfo else value.replace(tzinfo=tz)


async def opened(args):
    """What every export starts with: (config, language, since, until, database), or the exit code
    when the dates cannot be read (2) or the database cannot be opened (1)."""
    config = config_from(args)
    lang = args.lang or config.compound.language
    try:
        since, until = moment(args.since, config.tz), moment(args.until, config.tz)
    except ValueError:
        print("linli export: write dates like 2026-11-01 or 2026-11-01T08:00", file=sys.stderr)
        return 2
    db = await open_existing(args, "export")
    if db is None:
        return 1
    return config, lang, since, until, db


def written(args, output: str, what: str) -> int:
    """What every export ends with: ``output`` to ``--out`` (saying how much) or standard output."""
    if args.out is not None:
        try:
            args.out.write_text(output, encoding="utf-8")
        except OSError as exc:
            print(f"linli export: {cannot_write(args.out, exc)}", file=sys.stderr)
            return 1
        print(f"wrote {what} to {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(output)
    return 0


async def export(args) -> int:
    if args.what == "polls":
        from bot.cli._polls_export import export_polls

        return await export_polls(args)
    if args.since is None:
        print("linli export tickets: --since is required (e.g. --since 2026-11-01)", file=sys.stderr)
        return 2
    started = await opened(args)
    if isinstance(started, int):
        return started
    config, lang, since, until, db = started
    try:
        async with db.read() as tx:
            tickets, ratings, rows = await tickets_and_rows(config, tx, lang, since, until)
    finally:
        await db.close()
    if args.satisfaction:
        output, what = satisfaction_output(args.format, tickets, ratings)
    else:
        output, what = as_text(rows, args.format), f"{len(rows)} ticket(s)"
    return written(args, output, what)
