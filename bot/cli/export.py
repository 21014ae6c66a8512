"""``linli export tickets --since 2026-11-01 [--until …] --format csv|json [--out FILE]``
(``linli export polls``: see ``bot/cli/_polls_export.py``).

The rows and their text come from bot/exports.py (the office board's Exports page uses the same).
``--satisfaction`` writes the share satisfied of those tickets instead (overall, per category, per
captain; see bot/exports.py).
"""

from __future__ import annotations

import sys
from pathlib import Path

from bot.cli._exporting import moment, opened, written
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
