"""iCalendar (RFC 5545) files of someone's duty shifts, made with the icalendar library.

Times are written in UTC (``DTSTART:20261202T000000Z``), which every calendar shows in its own
timezone and which needs no VTIMEZONE block; each shift's UID is stable (``shift-12@linli``), so
importing the file again updates the same entries instead of duplicating them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from icalendar import Calendar, Event


@dataclass(frozen=True, slots=True)
class Entry:
    uid: str
    summary: str
    starts_at: float
    ends_at: float
    description: str = ""
    location: str = ""


def calendar_text(entries: list[Entry], *, name: str, timezone: str, now: datetime) -> str:
    """The .ics text of these entries (CRLF line endings, folded as RFC 5545 says)."""
    calendar = Calendar()
    calendar.add("prodid", "-//Linli//duty rota//ZH")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", name)
    calendar.add("x-wr-timezone", timezone)
    stamp = now.astimezone(UTC)
    for entry in entries:
        event = Event()
        event.add("uid", entry.uid)
        event.add("dtstamp", stamp)
        event.add("dtstart", datetime.fromtimestamp(entry.starts_at, UTC))
        event.add("dtend", datetime.fromtimestamp(entry.ends_at, UTC))
        event.add("summary", entry.summary)
        if entry.description:
            event.add("description", entry.description)
        if entry.location:
            event.add("location", entry.location)
        calendar.add_component(event)
    return calendar.to_ical().decode("utf-8")
