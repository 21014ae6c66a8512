"""``linli digest --week 2026-W48 [--out DIR]``: the weekly digest, offline, for the three-party
meeting (物业, 业委会, 社区): the compound's text and each building's, printed, and with ``--out``
written to ``DIR/digest-2026-W48.txt`` and the chart to ``DIR/digest-2026-W48.png``.  It reads the
database and changes nothing; the week defaults to last week.
"""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

from bot.cli import config_from, open_existing
from bot.cli._problems import cannot_write
from bot.digest import building_text, compound_text, gather, render_chart, week_before, week_bounds


def register(subparsers, common) -> None:
    parser = subparsers.add_parser(
        "digest", parents=[common], help="render a week's digest (text and chart) offline",
        description="Print a week's digest of repair reports, volunteer hours and rota cover, for "
                    "the whole compound and each building; with --out, also write the text and the "
                    "chart (PNG) to a folder. Reads the database, changes nothing.")
    parser.add_argument("--week", metavar="YYYY-Www", default=None,
                        help="the ISO week, e.g. 2026-W48 (default: last week)")
    parser.add_argument("--out", metavar="DIR", type=Path, default=None,
                        help="write digest-<week>.txt and digest-<week>.png here")
    parser.add_argument("--lang", choices=("zh", "en"), default=None,
                        help="the language (default: the compound's)")
    parser.set_defaults(func=digest)


async def digest(args) -> int:
    config = config_from(args)
    lang = args.lang or config.compound.language
    week = (args.week or week_before(datetime.now(config.tz))).strip().upper()
    try:
        start, end = week_bounds(week, config.tz)
    except ValueError as exc:
        print(f"linli digest: {exc}", file=sys.stderr)
        return 2
    db = await open_existing(args, "digest")
    if db is None:
        return 1
    try:
        async with db.read() as tx:
            result = await gather(config, tx, start, end, config.digest.oldest_open)
    finally:
        await db.close()
    parts = [compound_text(result, lang)]
    parts += [building_text(result, key, lang) for key, week_data in result.buildings.items()
              if not week_data.quiet]
    text = "\n\n".join(parts)
    print(text)
    if args.out is not None:
        txt, png = args.out / f"digest-{result.week}.txt", args.out / f"digest-{result.week}.png"
        try:
            args.out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            print(f"linli digest: {cannot_write(args.out, exc, 'create the folder')}", file=sys.stderr)
            return 1
        chart = render_chart(result, lang)
        writing = txt
        try:
            txt.write_text(text + "\n", encoding="utf-8")
            writing = png
            png.write_bytes(chart.png)
        except OSError as exc:
            print(f"linli digest: {cannot_write(writing, exc)}", file=sys.stderr)
            return 1
        print(f"\nwrote {txt} and {png} ({chart.width}×{chart.height})")
    return 0
