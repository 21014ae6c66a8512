"""``linli export polls [--since DATE] [--until DATE] --format csv|json [--out FILE]``: each poll's
result, for the committee's minutes.

JSON: one object per poll — its number, question, status, whether it was secret and whether it
counted households or people, its scope (building names; empty: the whole compound), when it
started, closes or closed (ISO 8601 with the compound's offset), each option with its votes and
share, the turnout (households that voted of the households registered now in scope) and the turnout
per building (with the counts per option for a poll that was not secret).  CSV: one row per option,
with the poll's columns repeated, cells made spreadsheet-safe as in ``linli export tickets``.

What is never exported: who voted, or what anyone chose.  A secret poll (不公开) has nothing else to
give (its ballots are bare counts once it closes); for the others the export keeps to the counts the
result post shows.  Free text passes the same mask as the groups (phone and unit numbers).
"""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime

from bot.cli._exporting import opened, written
from bot.exports import spreadsheet_safe
from bot.i18n import t
from bot.privacy import redact

LETTERS = "ABCDEFGHIJ"
CSV_FIELDS = ("poll_id", "question", "status", "secret", "one_vote_per", "scope",
              "created_datetime", "closes_datetime", "closed_datetime", "option_letter", "option",
              "votes", "percent", "households_voted", "households_registered")


def share(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


async def export_polls(args) -> int:
    """The same dates on the command line, the same CSV cells and the same output as ``linli
    export tickets`` (bot/cli/export.py)."""
    started = await opened(args)
    if isinstance(started, int):
        return started
    config, lang, since, until, db = started
    names = {b.key: b.name for b in config.building_list()}
    mask = t(lang, "core.hidden")
    polls = []
    try:
        async with db.read() as tx:
            units = await tx.people.registered_units()
            for poll in await tx.polls.created_between(since.timestamp() if since else None,
                                                       until.timestamp() if until else None):
                polls.append(await one_poll(tx, poll, names, config.tz,
                                            lambda s: redact(s, mask, units)))
    finally:
        await db.close()
    if args.format == "json":
        output = json.dumps(polls, ensure_ascii=False, indent=2) + "\n"
    else:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS, lineterminator="\n")
        writer.writeheader()
        for poll in polls:
            for option in poll["options"]:
                row = {key: poll[key] for key in CSV_FIELDS if key in poll}
                row.update(option_letter=option["letter"], option=option["option"],
                           votes=option["votes"], percent=option["percent"],
                           households_voted=poll["turnout"]["households_voted"],
                           households_registered=poll["turnout"]["households_registered"],
                           scope="、".join(poll["scope"]) if lang == "zh" else ", ".join(poll["scope"]))
                writer.writerow({k: spreadsheet_safe(str(v)) if isinstance(v, str) else
                                 ("" if v is None else v) for k, v in row.items()})
        output = buffer.getvalue()
    return written(args, output, f"{len(polls)} poll(s)")


async def one_poll(tx, poll, names: dict[str, str], tz, mask) -> dict:
    """One poll's result: counts and turnout only (see module docstring)."""
    counts = await tx.polls.counts(poll.id)
    votes = sum(counts.values())
    households = await tx.people.households(poll.buildings)
    voted = await tx.polls.voters_by_building(poll.id)
    by_building = {} if poll.secret else await tx.polls.counts_by_building(poll.id)
    total = sum(len(u) for u in households.values())
    homes = sum(v[1] for b, v in voted.items() if b in households)
    keys = list(poll.buildings) or sorted(set(households) | {b for b in voted if b},
                                          key=lambda k: (len(k), k))
    buildings = []
    for key in keys:
        row = {"building": names.get(key, key),
               "households_voted": voted.get(key, (0, 0))[1],
               "households_registered": len(households.get(key, []))}
        if not poll.secret:
            row["votes"] = {LETTERS[i]: by_building.get(key, {}).get(i, 0)
                            for i in range(len(poll.options))}
        buildings.append(row)

    def when(ts: float | None) -> str | None:
        return None if ts is None else datetime.fromtimestamp(ts, tz).isoformat()

    return {
        "poll_id": poll.id,
        "question": mask(poll.question),
        "status": poll.status,
        "secret": poll.secret,
        "one_vote_per": "household" if poll.per_household else "person",
        "scope": [names.get(k, k) for k in poll.buildings],
        "created_datetime": when(poll.created_at),
        "closes_datetime": when(poll.closes_at),
        "closed_datetime": when(poll.closed_at),
        "votes": votes,
        "options": [{"letter": LETTERS[i], "option": mask(o), "votes": counts.get(i, 0),
                     "percent": share(counts.get(i, 0), votes)} for i, o in enumerate(poll.options)],
        "turnout": {"households_voted": homes, "households_registered": total,
                    "percent": share(homes, total)},
        "buildings": buildings,
    }
