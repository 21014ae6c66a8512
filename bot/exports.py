"""Tickets as CSV or Open311-shaped JSON: what ``linli export`` writes and the board's Exports page
serves (the same function, so the two never drift apart).

JSON is shaped like Open311 GeoReport v2 service requests (``GET /requests.json``): a list of objects
with ``service_request_id``, ``status`` (``open``/``closed``), ``status_notes``, ``service_name``,
``service_code``, ``description``, ``agency_responsible``, ``address`` (the building),
``requested_datetime`` and ``updated_datetime`` (ISO 8601 with the compound's offset).  CSV has the
same columns (the ``csv`` module).  Phone and unit numbers are masked in the free text, as in groups.

What residents and captains typed goes into the CSV, which is opened in Excel or LibreOffice: a cell
that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return (also after spaces) would be
read there as a formula (``=HYPERLINK(…)``, ``+cmd|' /C calc'!A0``), so such a cell is written with a
``'`` in front (OWASP's advice on CSV injection), which shows the text as text.  JSON keeps the text
exactly as written.

Satisfaction (issue 15): each ticket carries ``satisfaction`` (``satisfied``, ``basically_satisfied``,
``dissatisfied`` or empty), ``rating`` (1-5 or empty) and ``handled_by`` (who resolved it);
:func:`satisfaction_output` gives the share satisfied of the tickets, as the 12345 hotlines report it
((满意 + 基本满意) / rated): overall, per category and per captain (who resolved it).
"""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime

from bot.i18n import t
from bot.privacy import redact
from storage.satisfaction import SATISFIED_FROM, Share, level
from storage.tickets import OPEN_STATUSES

FIELDS = ("service_request_id", "status", "status_notes", "service_name", "service_code",
          "description", "agency_responsible", "address", "requested_datetime", "updated_datetime",
          "satisfaction", "rating", "handled_by")
SUMMARY_FIELDS = ("scope", "name", "rated", "satisfied", "percent")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: str) -> str:
    """``value`` as a CSV cell a spreadsheet shows as text, never runs as a formula."""
    if value.startswith(FORMULA_STARTS) or value.lstrip().startswith(FORMULA_STARTS):
        return "'" + value
    return value


async def ticket_rows(config, tx, lang: str, since: datetime, until: datetime | None) -> list[dict]:
    """The Open311-shaped rows of the tickets reported in [since, until), read through ``tx``."""
    return (await tickets_and_rows(config, tx, lang, since, until))[2]


async def tickets_and_rows(config, tx, lang: str, since: datetime, until: datetime | None):
    """The tickets reported in [since, until), their ratings and their Open311-shaped rows."""
    tickets = await tx.reports.tickets_since(since.timestamp(),
                                             until.timestamp() if until else None)
    ratings = await tx.satisfaction.of_tickets([ticket.id for ticket in tickets])
    notes = await tx.reports.last_notes([ticket.id for ticket in tickets])
    units = await tx.people.registered_units()
    captains = {role.split(":", 1)[1] for person in config.people.values() for role in person.roles
                if role.startswith("captain:")}
    names = {b.key: b.name for b in config.building_list()}
    mask = t(lang, "core.hidden")
    rows = []
    for ticket in tickets:
        building = names.get(ticket.building or "", ticket.building or "")
        agency = (f"{building}{t(lang, 'core.role.captain')}" if ticket.building in captains
                  else t(lang, "core.role.property"))
        rows.append({
            "service_request_id": str(ticket.id),
            "status": "open" if ticket.status in OPEN_STATUSES else "closed",
            "status_notes": redact(notes.get(ticket.id, ""), mask, units),
            "service_name": config.category_name(ticket.category, lang),
            "service_code": ticket.category,
            "description": redact(ticket.text, mask, units),
            "agency_responsible": agency,
            "address": building,
            "requested_datetime": datetime.fromtimestamp(ticket.created_at, config.tz).isoformat(),
            "updated_datetime": datetime.fromtimestamp(ticket.updated_at, config.tz).isoformat(),
            "satisfaction": level(ratings[ticket.id][0]) if ticket.id in ratings else "",
            "rating": str(ratings[ticket.id][0]) if ticket.id in ratings else "",
            "handled_by": ratings[ticket.id][1] if ticket.id in ratings else "",
        })
    return tickets, ratings, rows


def as_text(rows: list[dict], format: str) -> str:
    """The rows as ``json`` (Open311 shape) or ``csv`` (spreadsheet-safe cells)."""
    if format == "json":
        return json.dumps(rows, ensure_ascii=False, indent=2) + "\n"
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows({key: spreadsheet_safe(value) for key, value in row.items()} for row in rows)
    return buffer.getvalue()


def satisfaction_output(form: str, tickets, ratings: dict[int, tuple[int, str]]) -> tuple[str, str]:
    """The share satisfied of the rated ``tickets``: overall, per category, per captain."""
    tallies: dict[str, dict[str, list[int]]] = {"by_category": {}, "by_captain": {}}
    overall = [0, 0]
    for ticket in tickets:
        if ticket.id not in ratings:
            continue
        rating, handler = ratings[ticket.id]
        satisfied = int(rating >= SATISFIED_FROM)
        for scope, key in (("by_category", ticket.category), ("by_captain", handler)):
            tally = tallies[scope].setdefault(key, [0, 0])
            tally[0] += 1
            tally[1] += satisfied
        overall[0] += 1
        overall[1] += satisfied

    def shown(rated: int, satisfied: int) -> dict[str, int]:
        return {"rated": rated, "satisfied": satisfied, "percent": Share(rated, satisfied).percent}

    summary = {"overall": shown(*overall),
               **{scope: {key: shown(*tallies[scope][key]) for key in sorted(tallies[scope])}
                  for scope in tallies}}
    if form == "json":
        return json.dumps(summary, ensure_ascii=False, indent=2) + "\n", f"{overall[0]} rating(s)"
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=SUMMARY_FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerow({"scope": "overall", "name": "", **summary["overall"]})
    for scope in tallies:
        for key, values in summary[scope].items():
            writer.writerow({"scope": scope.removeprefix("by_"), "name": spreadsheet_safe(key),
                             **values})
    return buffer.getvalue(), f"{overall[0]} rating(s)"
