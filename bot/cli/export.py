"""``linli export tickets --since 2026-11-01 [--until …] --format csv|json [--out FILE]``.

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
"""

from __future__ import annotations

import csv
import io
import json
import sys
from datetime import datetime
from pathlib import Path

from bot.cli import config_from, open_existing
from bot.cli._problems import cannot_write
from bot.i18n import t
from bot.privacy import redact
from storage.tickets import OPEN_STATUSES

FIELDS = ("service_request_id", "status", "status_notes", "service_name", "service_code",
          "description", "agency_responsible", "address", "requested_datetime", "updated_datetime")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: str) -> str:
    """``value`` as a CSV cell a spreadsheet shows as text, never runs as a formula."""
    if value.startswith(FORMULA_STARTS) or value.lstrip().startswith(FORMULA_STARTS):
        return "'" + value
    return value


def register(subparsers, common) -> None:
    parser = subparsers.add_parser(
        "export", parents=[common], help="export tickets as CSV or Open311-style JSON",
        description="Export repair reports reported since a date, as JSON shaped like Open311 "
                    "GeoReport v2 service requests, or as CSV with the same columns.")
    parser.add_argument("what", choices=("tickets",), help="what to export")
    parser.add_argument("--since", required=True, metavar="DATE",
                        help="reported on or after this date (2026-11-01 or 2026-11-01T08:00)")
    parser.add_argument("--until", default=None, metavar="DATE", help="… and before this date")
    parser.add_argument("--format", choices=("csv", "json"), default="json")
    parser.add_argument("--lang", choices=("zh", "en"), default=None,
                        help="language of service names (default: the compound's)")
    parser.add_argument("--out", metavar="FILE", type=Path, default=None,
                        help="write here instead of standard output")
    parser.set_defaults(func=export)


def moment(text: str | None, tz) -> datetime | None:
    if text is None:
        return None
    value = datetime.fromisoformat(text.strip())
    return value if value.tzinfo else value.replace(tzinfo=tz)


async def export(args) -> int:
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
    try:
        async with db.read() as tx:
            tickets = await tx.reports.tickets_since(since.timestamp(),
                                                     until.timestamp() if until else None)
            notes = await tx.reports.last_notes([ticket.id for ticket in tickets])
            units = await tx.people.registered_units()
    finally:
        await db.close()
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
        })
    if args.format == "json":
        output = json.dumps(rows, ensure_ascii=False, indent=2) + "\n"
    else:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows({key: spreadsheet_safe(value) for key, value in row.items()} for row in rows)
        output = buffer.getvalue()
    if args.out is not None:
        try:
            args.out.write_text(output, encoding="utf-8")
        except OSError as exc:
            print(f"linli export: {cannot_write(args.out, exc)}", file=sys.stderr)
            return 1
        print(f"wrote {len(rows)} ticket(s) to {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(output)
    return 0
