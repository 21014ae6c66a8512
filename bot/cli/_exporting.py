"""What every ``linli export`` shares: reading its dates, opening the database, writing its output
(``linli export tickets`` in bot/cli/export.py, ``linli export polls`` in bot/cli/_polls_export.py)."""

from __future__ import annotations

import sys
from datetime import datetime

from bot.cli import config_from, open_existing
from bot.cli._problems import cannot_write


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
