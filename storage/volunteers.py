"""Volunteer events, their weekly templates, sign-ups with the waitlist, attendance and hours."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from storage.db import Repo, repository


@dataclass(frozen=True, slots=True)
class Event:
    id: int
    title: str
    starts_at: float
    ends_at: float
    place: str
    capacity: int
    building: str | None
    deadline: float | None
    template_id: int | None
    status: str
    created_by: int | None
    created_at: float
    remind_eve_at: float | None
    remind_soon_at: float | None
    advertise_at: float | None

    @property
    def hours(self) -> float:
        return (self.ends_at - self.starts_at) / 3600


@dataclass(frozen=True, slots=True)
class Template:
    id: int
    title: str
    repeat: str
    minutes: int
    place: str
    capacity: int
    building: str | None
    created_by: int | None
    created_at: float
    active: int
    made_until: float


@dataclass(frozen=True, slots=True)
class Signup:
    id: int
    event_id: int
    person_id: int
    status: str  # going, waiting, cancelled
    created_at: float
    updated_at: float
    attended: int | None


@dataclass(frozen=True, slots=True)
class Counts:
    going: int
    waiting: int


_EVENT = Event.__slots__
# Rows are selected in their dataclass's field order, so a row becomes an object positionally
# (Event(*row)): no look-up by column name per field (报名 maps an event and a sign-up each time).
_EVENT_COLUMNS = ", ".join(_EVENT)
_EVENT_COLUMNS_OF_E = ", ".join(f"e.{f}" for f in _EVENT)  # joined with signups
_TEMPLATE_COLUMNS = ", ".join(Template.__slots__)
_SIGNUP_COLUMNS = ", ".join(Signup.__slots__)


def _event(row) -> Event | None:
    """An event from a row selected as ``_EVENT_COLUMNS``."""
    return None if row is None else Event(*row)


def _template(row) -> Template | None:
    """A template from a row selected as ``_TEMPLATE_COLUMNS``."""
    return None if row is None else Template(*row)


def _signup(row) -> Signup | None:
    """A sign-up from a row selected as ``_SIGNUP_COLUMNS``."""
    return None if row is None else Signup(*row)


class EventFull(Exception):
    """The database refused a sign-up beyond the capacity."""


@repository("volunteers")
class Volunteers(Repo):
    # --- events --------------------------------------------------------------------------------
    async def create(self, *, title: str, starts_at: float, ends_at: float, place: str,
                     capacity: int, building: str | None, deadline: float | None,
                     created_by: int | None, now: float, remind_eve_at: float | None,
                     remind_soon_at: float | None, advertise_at: float | None,
                     template_id: int | None = None) -> Event | None:
        """A new event; None when its template already has one at that moment."""
        cursor = await self._run(
            "INSERT OR IGNORE INTO events (title, starts_at, ends_at, place, capacity, building, "
            "deadline, template_id, created_by, created_at, remind_eve_at, remind_soon_at, "
            "advertise_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (title, starts_at, ends_at, place, capacity, building, deadline, template_id,
             created_by, now, remind_eve_at, remind_soon_at, advertise_at))
        if cursor.rowcount != 1:
            return None
        return await self.get(cursor.lastrowid)

    async def get(self, event_id: int) -> Event | None:
        return _event(await self._one(f"SELECT {_EVENT_COLUMNS} FROM events WHERE id = ?", (event_id,)))

    async def update(self, event_id: int, **fields: object) -> Event:
        for name in fields:
            if name not in _EVENT or name == "id":
                raise ValueError(f"not an event field: {name}")
        assignments = ", ".join(f"{name} = ?" for name in fields)
        await self._run(f"UPDATE events SET {assignments} WHERE id = ?", (*fields.values(), event_id))
        return await self.get(event_id)

    async def upcoming(self, now: float, buildings: list[str | None] | None = None,
                       limit: int = 20) -> list[Event]:
        """Open events that have not started, soonest first; of some buildings (None in the list:
        compound-wide ones), or all when ``buildings`` is None."""
        if buildings is None:
            rows = await self._all(
                f"SELECT {_EVENT_COLUMNS} FROM events WHERE status = 'open' AND starts_at > ? "
                "ORDER BY starts_at, id LIMIT ?", (now, limit))
        else:
            named = [b for b in buildings if b is not None]
            marks = ",".join("?" * len(named)) or "NULL"
            wide = "building IS NULL OR " if None in buildings else ""
            rows = await self._all(
                f"SELECT {_EVENT_COLUMNS} FROM events WHERE status = 'open' AND starts_at > ? "
                f"AND ({wide}building IN ({marks})) ORDER BY starts_at, id LIMIT ?",
                (now, *named, limit))
        return [_event(r) for r in rows]

    async def clash(self, person_id: int, starts_at: float, ends_at: float,
                    not_event: int) -> Event | None:
        """An open event this person is signed up for (or waiting on) that overlaps the span."""
        return _event(await self._one(
            f"SELECT {_EVENT_COLUMNS_OF_E} FROM events e JOIN signups s ON s.event_id = e.id "
            "WHERE s.person_id = ? AND s.status IN ('going', 'waiting') AND e.status = 'open' "
            "AND e.id != ? AND e.starts_at < ? AND e.ends_at > ? ORDER BY e.starts_at LIMIT 1",
            (person_id, not_event, ends_at, starts_at)))

    async def due(self, column: str, now: float, limit: int = 200) -> list[Event]:
        """Open events whose ``remind_eve_at``/``remind_soon_at``/``advertise_at`` has come."""
        if column not in ("remind_eve_at", "remind_soon_at", "advertise_at"):
            raise ValueError(column)
        rows = await self._all(
            f"SELECT {_EVENT_COLUMNS} FROM events WHERE {column} IS NOT NULL AND {column} <= ? "
            f"ORDER BY {column}, id LIMIT ?", (now, limit))
        return [_event(r) for r in rows]

    # --- sign-ups ------------------------------------------------------------------------------
    async def sign_up(self, event_id: int, person_id: int, now: float) -> Signup:
        """Sign up: a place if one is free, else the end of the waitlist — decided by one statement,
        so concurrent sign-ups can never overfill the event (a trigger guards it as well)."""
        try:
            # RETURNING: the new row comes back from the INSERT itself, not from a second query
            return _signup(await self._one(
                "INSERT INTO signups (event_id, person_id, status, created_at, updated_at) "
                "SELECT ?, ?, CASE WHEN (SELECT COUNT(*) FROM signups WHERE event_id = ? "
                "AND status = 'going') < capacity THEN 'going' ELSE 'waiting' END, ?, ? "
                f"FROM events WHERE id = ? RETURNING {_SIGNUP_COLUMNS}",
                (event_id, person_id, event_id, now, now, event_id)))
        except sqlite3.IntegrityError as exc:
            raise EventFull(str(exc)) from exc

    async def signup_of(self, event_id: int, person_id: int) -> Signup | None:
        """This person's live sign-up (going or waiting) for the event."""
        return _signup(await self._one(
            f"SELECT {_SIGNUP_COLUMNS} FROM signups WHERE event_id = ? AND person_id = ? "
            "AND status != 'cancelled'",
            (event_id, person_id)))

    async def cancel(self, signup_id: int, now: float) -> None:
        await self._run("UPDATE signups SET status = 'cancelled', updated_at = ? WHERE id = ?",
                        (now, signup_id))

    async def promote_next(self, event_id: int, now: float) -> Signup | None:
        """Give a free place to the first on the waitlist, if there is a free place and a waiter."""
        first = await self._value(
            "SELECT id FROM signups WHERE event_id = ? AND status = 'waiting' ORDER BY id LIMIT 1",
            (event_id,))
        if first is None:
            return None
        cursor = await self._run(
            "UPDATE signups SET status = 'going', updated_at = ? WHERE id = ? "
            "AND (SELECT COUNT(*) FROM signups WHERE event_id = ? AND status = 'going') "
            "< (SELECT capacity FROM events WHERE id = ?)", (now, first, event_id, event_id))
        if cursor.rowcount != 1:
            return None
        return _signup(await self._one(f"SELECT {_SIGNUP_COLUMNS} FROM signups WHERE id = ?", (first,)))

    async def waitlist_place(self, signup: Signup) -> int:
        """1 for the first on the waitlist."""
        return await self._value(
            "SELECT COUNT(*) FROM signups WHERE event_id = ? AND status = 'waiting' AND id <= ?",
            (signup.event_id, signup.id))

    async def counts(self, event_id: int) -> Counts:
        row = await self._one(
            "SELECT COALESCE(SUM(status = 'going'), 0), COALESCE(SUM(status = 'waiting'), 0) "
            "FROM signups WHERE event_id = ?", (event_id,))
        return Counts(row[0], row[1])

    async def signups(self, event_id: int, status: str | None = None) -> list[Signup]:
        """The event's live sign-ups in arrival order (or those of one status)."""
        if status is None:
            rows = await self._all(
                f"SELECT {_SIGNUP_COLUMNS} FROM signups WHERE event_id = ? AND status != 'cancelled' "
                "ORDER BY id",
                (event_id,))
        else:
            rows = await self._all(
                f"SELECT {_SIGNUP_COLUMNS} FROM signups WHERE event_id = ? AND status = ? ORDER BY id",
                (event_id, status))
        return [_signup(r) for r in rows]

    async def remember_posted(self, event_id: int, chat_key: str) -> None:
        """The event was posted to this group chat (its cancellation is announced there)."""
        await self._run("INSERT OR IGNORE INTO kv VALUES (?, '1')",
                        (f"volunteers.posted:{event_id}:{chat_key}",))

    async def posted_chats(self, event_id: int) -> list[str]:
        """The group chats the event was posted to: as remembered, and as the outbox still shows
        (posts made before they were remembered)."""
        prefix = f"volunteers.posted:{event_id}:"
        rows = await self._all("SELECT substr(key, ?) FROM kv WHERE substr(key, 1, ?) = ?",
                               (len(prefix) + 1, len(prefix), prefix))
        rows += await self._all(
            "SELECT DISTINCT chat_key FROM outbox WHERE ref = ? AND kind = 'group' "
            "AND chat_key IS NOT NULL", (f"event:{event_id}",))
        return list(dict.fromkeys(r[0] for r in rows))

    async def of_person(self, person_id: int, now: float) -> list[tuple[Event, Signup]]:
        """This person's live sign-ups for open events that have not ended, soonest first."""
        rows = await self._all(
            f"SELECT {_EVENT_COLUMNS_OF_E}, s.id, s.status, s.created_at, s.updated_at, s.attended "
            "FROM signups s "
            "JOIN events e ON e.id = s.event_id WHERE s.person_id = ? AND s.status != 'cancelled' "
            "AND e.status = 'open' AND e.ends_at > ? ORDER BY e.starts_at", (person_id, now))
        size = len(_EVENT)  # the event's columns, then the sign-up's
        return [(Event(*r[:size]), Signup(r[size], r[0], person_id, *r[size + 1:])) for r in rows]

    async def mark_attendance(self, event_id: int, came: list[int]) -> int:
        """Those in ``came`` attended; everyone else going with nothing recorded did not.
        Returns how many were marked as having come."""
        marked = 0
        for person_id in came:
            cursor = await self._run(
                "UPDATE signups SET attended = 1 WHERE event_id = ? AND person_id = ? "
                "AND status = 'going'", (event_id, person_id))
            marked += cursor.rowcount
        await self._run(
            "UPDATE signups SET attended = 0 WHERE event_id = ? AND status = 'going' "
            "AND attended IS NULL", (event_id,))
        return marked

    async def no_shows(self, person_id: int) -> int:
        return await self._value(
            "SELECT COUNT(*) FROM signups WHERE person_id = ? AND attended = 0", (person_id,))

    async def hours_of(self, person_id: int, start_ts: float, end_ts: float) -> float:
        """Hours this person attended at events starting in [start_ts, end_ts)."""
        value = await self._value(
            "SELECT SUM(e.ends_at - e.starts_at) FROM signups s JOIN events e ON e.id = s.event_id "
            "WHERE s.person_id = ? AND s.attended = 1 AND e.starts_at >= ? AND e.starts_at < ?",
            (person_id, start_ts, end_ts))
        return (value or 0) / 3600

    async def hours_between(self, start_ts: float, end_ts: float,
                            building: str | None = None) -> float:
        """Volunteer hours attended at events starting in [start_ts, end_ts): everyone's, or one
        building's (its own events, and compound-wide ones by residents registered there)."""
        if building is None:
            value = await self._value(
                "SELECT SUM(e.ends_at - e.starts_at) FROM signups s "
                "JOIN events e ON e.id = s.event_id WHERE s.attended = 1 "
                "AND e.starts_at >= ? AND e.starts_at < ?", (start_ts, end_ts))
        else:
            value = await self._value(
                "SELECT SUM(e.ends_at - e.starts_at) FROM signups s "
                "JOIN events e ON e.id = s.event_id JOIN people p ON p.id = s.person_id "
                "WHERE s.attended = 1 AND e.starts_at >= ? AND e.starts_at < ? "
                "AND (e.building = ? OR (e.building IS NULL AND p.building = ?))",
                (start_ts, end_ts, building, building))
        return (value or 0) / 3600

    # --- templates -----------------------------------------------------------------------------
    async def create_template(self, *, title: str, repeat: str, minutes: int, place: str,
                              capacity: int, building: str | None, created_by: int | None,
                              now: float) -> Template:
        cursor = await self._run(
            "INSERT INTO event_templates (title, repeat, minutes, place, capacity, building, "
            "created_by, created_at, made_until) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (title, repeat, minutes, place, capacity, building, created_by, now, now))
        return _template(await self._one(f"SELECT {_TEMPLATE_COLUMNS} FROM event_templates WHERE id = ?",
                                         (cursor.lastrowid,)))

    async def templates(self) -> list[Template]:
        rows = await self._all(
            f"SELECT {_TEMPLATE_COLUMNS} FROM event_templates WHERE active = 1 ORDER BY id")
        return [_template(r) for r in rows]

    async def template(self, template_id: int) -> Template | None:
        return _template(await self._one(f"SELECT {_TEMPLATE_COLUMNS} FROM event_templates WHERE id = ?",
                                         (template_id,)))

    async def template_made_until(self, template_id: int, until: float) -> None:
        await self._run("UPDATE event_templates SET made_until = ? WHERE id = ?",
                        (until, template_id))

    async def stop_template(self, template_id: int) -> None:
        await self._run("UPDATE event_templates SET active = 0 WHERE id = ?", (template_id,))
