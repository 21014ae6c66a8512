"""What the office board (bot/web) reads that no chat command needs, and the calendar feeds.

* ``tx.board`` — the rota week's open swaps, the events of a span with their counts, attendance and
  hours, recent announcements with what their runs sent.
* ``tx.calendar`` — each person's private calendar URL token (日历链接, handlers/calendar.py) and
  the events they signed up for, for the feed.
"""

from __future__ import annotations

from dataclasses import dataclass

from storage.announcements import Announcement, _announcement
from storage.db import Repo, repository
from storage.volunteers import _EVENT, Event


@dataclass(frozen=True, slots=True)
class EventSummary:
    event: Event
    going: int
    waiting: int
    attended: int  # sign-ups marked as having come
    no_show: int  # marked as not having come

    @property
    def hours(self) -> float:
        return self.attended * self.event.hours


@dataclass(frozen=True, slots=True)
class AnnouncementSummary:
    announcement: Announcement
    runs: int
    messages: int
    last_run: float | None


@repository("board")
class Board(Repo):
    async def open_swaps(self, shift_ids: list[int]) -> dict[int, tuple[int, str]]:
        """Shift id → (swap id, status) of the swaps still waiting on those shifts (either side)."""
        if not shift_ids:
            return {}
        marks = ",".join("?" * len(shift_ids))
        rows = await self._all(
            f"SELECT id, shift_id, other_shift_id, status FROM swaps WHERE status IN "
            f"('asked', 'accepted') AND (shift_id IN ({marks}) OR other_shift_id IN ({marks})) "
            f"ORDER BY id", (*shift_ids, *shift_ids))
        found: dict[int, tuple[int, str]] = {}
        for row in rows:
            for shift in (row["shift_id"], row["other_shift_id"]):
                if shift is not None:
                    found.setdefault(shift, (row["id"], row["status"]))
        return found

    async def events_between(self, start_ts: float, end_ts: float,
                             limit: int = 200) -> list[EventSummary]:
        """Events starting in [start_ts, end_ts) (cancelled ones too), soonest first, with counts."""
        rows = await self._all(
            "SELECT e.*, "
            "(SELECT COUNT(*) FROM signups s WHERE s.event_id = e.id AND s.status = 'going') AS n_going, "
            "(SELECT COUNT(*) FROM signups s WHERE s.event_id = e.id AND s.status = 'waiting') AS n_wait, "
            "(SELECT COUNT(*) FROM signups s WHERE s.event_id = e.id AND s.status = 'going' "
            " AND s.attended = 1) AS n_came, "
            "(SELECT COUNT(*) FROM signups s WHERE s.event_id = e.id AND s.status = 'going' "
            " AND s.attended = 0) AS n_missed "
            "FROM events e WHERE e.starts_at >= ? AND e.starts_at < ? ORDER BY e.starts_at, e.id "
            "LIMIT ?", (start_ts, end_ts, limit))
        return [EventSummary(Event(*(r[f] for f in _EVENT)), r["n_going"], r["n_wait"], r["n_came"],
                             r["n_missed"]) for r in rows]

    async def announcements(self, limit: int = 100) -> list[AnnouncementSummary]:
        """The latest announcements (active first, then newest), with how many runs went out."""
        rows = await self._all(
            "SELECT a.*, (SELECT COUNT(*) FROM announcement_runs r WHERE r.announcement_id = a.id "
            " AND r.outcome != 'skipped') AS n_runs, "
            "(SELECT COALESCE(SUM(messages), 0) FROM announcement_runs r "
            " WHERE r.announcement_id = a.id) AS n_messages, "
            "(SELECT MAX(handled_at) FROM announcement_runs r WHERE r.announcement_id = a.id) "
            " AS last_run FROM announcements a "
            "ORDER BY a.status = 'active' DESC, a.id DESC LIMIT ?", (limit,))
        return [AnnouncementSummary(_announcement(r), r["n_runs"], r["n_messages"], r["last_run"])
                for r in rows]

    async def board_page_sql(self, limit: int) -> tuple[list[tuple], dict[str, int]]:
        """The raw SQL of the board's first page of open tickets (the bench's baseline): the open
        tickets oldest first, and the counts by status (storage/tickets.py ``listed``,
        ``count_by_status``) — the statements alone, nothing made of them."""
        one = ("SELECT * FROM (SELECT * FROM tickets WHERE status != 'draft' AND status IN (?) "
               "ORDER BY id LIMIT ?)")
        rows = await self._all(
            f"SELECT * FROM ({' UNION ALL '.join([one] * 3)}) ORDER BY id LIMIT ?",
            ("open", limit, "acknowledged", limit, "in_progress", limit, limit))
        counts = await self._all("SELECT status, SUM(n) FROM ticket_status_counts GROUP BY status")
        return [tuple(r) for r in rows], {r[0]: r[1] for r in counts}

    async def ticket_with_events(self, ticket_id: int) -> tuple[tuple | None, list[tuple]]:
        """The raw SQL of a ticket page: the ticket and its timeline (the bench's baseline)."""
        ticket = await self._one("SELECT * FROM tickets WHERE id = ?", (ticket_id,))
        events = await self._all("SELECT * FROM ticket_events WHERE ticket_id = ? ORDER BY id",
                                 (ticket_id,))
        return (tuple(ticket) if ticket else None), [tuple(e) for e in events]


@repository("calendar")
class CalendarFeeds(Repo):
    async def token_of(self, person_id: int) -> str | None:
        return await self._value("SELECT token FROM calendar_feeds WHERE person_id = ?",
                                 (person_id,))

    async def set_token(self, person_id: int, token: str, now: float) -> None:
        """Give the person this token; any earlier one stops working."""
        await self._run(
            "INSERT INTO calendar_feeds (person_id, token, created_at) VALUES (?, ?, ?) "
            "ON CONFLICT (person_id) DO UPDATE SET token = excluded.token, "
            "created_at = excluded.created_at", (person_id, token, now))

    async def person_of(self, token: str) -> int | None:
        return await self._value("SELECT person_id FROM calendar_feeds WHERE token = ?", (token,))

    async def events_of(self, person_id: int, after: float, limit: int = 500) -> list[tuple[Event, str]]:
        """(event, going|waiting) of this person's live sign-ups for events ending after ``after``."""
        rows = await self._all(
            "SELECT e.*, s.status AS s_status FROM signups s JOIN events e ON e.id = s.event_id "
            "WHERE s.person_id = ? AND s.status IN ('going', 'waiting') AND e.status = 'open' "
            "AND e.ends_at > ? ORDER BY e.starts_at LIMIT ?", (person_id, after, limit))
        return [(Event(*(r[f] for f in _EVENT)), r["s_status"]) for r in rows]
