"""Tickets (报修/报事), their history, followers and attachments."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from storage.db import Repo, repository
from storage.interned import interned

OPEN_STATUSES = ("open", "acknowledged", "in_progress")


@dataclass(frozen=True, slots=True)
class Ticket:
    id: int
    building: str | None
    category: str
    text: str
    status: str
    reporter_id: int
    platform: str
    chat_id: str
    chat_key: str | None
    created_at: float
    updated_at: float
    awaiting_since: float | None
    acknowledged_at: float | None
    resolved_at: float | None
    closed_at: float | None
    escalation_level: int
    escalate_at: float | None
    close_at: float | None
    duplicate_of: int | None
    reopen_count: int
    area: str | None = None  # a common area's key ([areas] in the config) when no building
    urgent: int = 0  # 1: someone trapped, water pouring, fire, gas, injury … (short window)
    anonymous: int = 0  # 1: 报修 匿名 — only the reporter, property and admin know who reported it

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


@dataclass(frozen=True, slots=True)
class TicketEvent:
    at: float
    actor_id: int | None
    action: str
    note: str


_FIELDS = Ticket.__slots__


_known_ticket = interned(Ticket)  # 进度 and 同问 read the same few recent tickets again and again


def _ticket(row) -> Ticket | None:
    """A ticket from a row of ``SELECT *`` (or ``t.*``): the table's columns are Ticket's fields in
    order (tests/test_tickets.py checks), so the row is built positionally, once per distinct row."""
    if row is None:
        return None
    if len(row) == len(_FIELDS):
        return _known_ticket(row)
    return Ticket(*(row[f] for f in _FIELDS))


def _buildings_or_areas(buildings: list[str], areas: list[str]) -> tuple[str, tuple]:
    clauses = [f"building IN ({','.join('?' * len(buildings))})"]
    if areas:
        clauses.append(f"area IN ({','.join('?' * len(areas))})")
    return "(" + " OR ".join(clauses) + ")", (*buildings, *areas)


class Nearby(NamedTuple):
    """An open ticket nearby, as the "reported already?" hint compares it."""

    id: int
    reporter_id: int
    category: str
    text: str


@repository("tickets")
class Tickets(Repo):
    async def create(self, *, building: str | None, category: str, text: str, status: str,
                     reporter_id: int, platform: str, chat_id: str, chat_key: str | None,
                     now: float, escalate_at: float | None, area: str | None = None,
                     urgent: bool = False, anonymous: bool = False) -> Ticket:
        ticket = _ticket(await self._one(  # RETURNING: one trip to aiosqlite's thread, not two
            "INSERT INTO tickets (building, category, text, status, reporter_id, platform, chat_id, "
            "chat_key, created_at, updated_at, awaiting_since, escalate_at, area, urgent, anonymous) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *",
            (building, category, text, status, reporter_id, platform, chat_id, chat_key, now, now,
             now, escalate_at, area, int(urgent), int(anonymous))))
        self._bare().add(ticket.id)  # no attachments yet: nothing to look up until attach()
        return ticket

    def _bare(self) -> set[int]:
        """Tickets made in this transaction that have no attachments (yet)."""
        return self.__dict__.setdefault("_no_attachments", set())

    def forget(self) -> None:
        self.__dict__.pop("_no_attachments", None)

    async def get(self, ticket_id: int) -> Ticket | None:
        return _ticket(await self._one("SELECT * FROM tickets WHERE id = ?", (ticket_id,)))

    async def update(self, ticket_id: int, now: float, **fields: object) -> Ticket:
        """Set ``fields`` (column = value) and the update time; return the ticket as it now is."""
        for name in fields:
            if name not in _FIELDS:
                raise ValueError(f"not a ticket field: {name}")
        assignments = ", ".join(f"{name} = ?" for name in fields)
        return _ticket(await self._one(
            f"UPDATE tickets SET {assignments}, updated_at = ? WHERE id = ? RETURNING *",
            (*fields.values(), now, ticket_id)))

    async def add_event(self, ticket_id: int, now: float, actor_id: int | None, action: str,
                        note: str = "", platform: str | None = None) -> None:
        await self._run(
            "INSERT INTO ticket_events (ticket_id, at, actor_id, action, note, platform) "
            "VALUES (?, ?, ?, ?, ?, ?)", (ticket_id, now, actor_id, action, note, platform))

    async def events(self, ticket_id: int) -> list[TicketEvent]:
        rows = await self._all(
            "SELECT at, actor_id, action, note FROM ticket_events WHERE ticket_id = ? ORDER BY id",
            (ticket_id,))
        return [TicketEvent(*r) for r in rows]

    async def follow(self, ticket_id: int, person_id: int, now: float) -> bool:
        cursor = await self._run(
            "INSERT OR IGNORE INTO ticket_followers VALUES (?, ?, ?)", (ticket_id, person_id, now))
        return cursor.rowcount == 1

    async def followers(self, ticket_id: int) -> list[int]:
        rows = await self._all(
            "SELECT person_id FROM ticket_followers WHERE ticket_id = ? ORDER BY since",
            (ticket_id,))
        return [r[0] for r in rows]

    async def of_reporter(self, person_id: int, limit: int = 10) -> list[Ticket]:
        rows = await self._all(
            "SELECT * FROM tickets WHERE reporter_id = ? AND status != 'draft' "
            "ORDER BY id DESC LIMIT ?", (person_id, limit))
        return [_ticket(r) for r in rows]

    async def open_in(self, buildings: list[str] | None, limit: int = 20,
                      areas: list[str] = ()) -> list[Ticket]:
        """Open tickets, oldest first; of some buildings (and common ``areas``), or of all when
        ``buildings`` is None."""
        if buildings is None:
            rows = await self._all(
                "SELECT * FROM tickets WHERE status IN ('open','acknowledged','in_progress') "
                "ORDER BY id LIMIT ?", (limit,))
        else:
            where, params = _buildings_or_areas(buildings, areas)
            rows = await self._all(
                f"SELECT * FROM tickets WHERE {where} "
                "AND status IN ('open','acknowledged','in_progress') ORDER BY id LIMIT ?",
                (*params, limit))
        return [_ticket(r) for r in rows]

    async def count_open(self, buildings: list[str] | None, areas: list[str] = ()) -> int:
        if buildings is None:
            return await self._value(
                "SELECT COUNT(*) FROM tickets WHERE status IN ('open','acknowledged','in_progress')")
        where, params = _buildings_or_areas(buildings, areas)
        return await self._value(
            f"SELECT COUNT(*) FROM tickets WHERE {where} "
            "AND status IN ('open','acknowledged','in_progress')", params)

    async def draft_of(self, reporter_id: int) -> Ticket | None:
        """The reporter's latest report still waiting to be told its building."""
        return _ticket(await self._one(
            "SELECT * FROM tickets WHERE reporter_id = ? AND building IS NULL AND area IS NULL "
            "AND status IN ('draft','open') ORDER BY id DESC LIMIT 1", (reporter_id,)))

    async def awaiting_confirmation(self, reporter_id: int, limit: int = 5) -> list[Ticket]:
        """The reporter's resolved tickets that wait for 确认 or 未解决."""
        rows = await self._all(
            "SELECT * FROM tickets WHERE reporter_id = ? AND status = 'resolved' ORDER BY id LIMIT ?",
            (reporter_id, limit))
        return [_ticket(r) for r in rows]

    async def without_building(self, created_before: float, limit: int = 200) -> list[Ticket]:
        """Open reports whose building nobody has said yet, made before ``created_before``."""
        rows = await self._all(
            "SELECT * FROM tickets WHERE building IS NULL AND area IS NULL AND status = 'open' "
            "AND created_at < ? ORDER BY id LIMIT ?", (created_before, limit))
        return [_ticket(r) for r in rows]

    async def due_escalation(self, now: float, limit: int = 200) -> list[Ticket]:
        rows = await self._all(
            "SELECT * FROM tickets WHERE escalate_at IS NOT NULL AND escalate_at <= ? "
            "ORDER BY escalate_at LIMIT ?", (now, limit))
        return [_ticket(r) for r in rows]

    async def due_closing(self, now: float, limit: int = 200) -> list[Ticket]:
        rows = await self._all(
            "SELECT * FROM tickets WHERE close_at IS NOT NULL AND close_at <= ? "
            "ORDER BY close_at LIMIT ?", (now, limit))
        return [_ticket(r) for r in rows]

    async def filed_by_message(self, platform: str, chat_id: str, message_id: str,
                               within: float = 86400) -> int | None:
        """The ticket a resident's own message in a chat filed (within ``within`` seconds of it, as
        a report confirmed with 是 is filed a little later): a neighbour quoting it says 同问."""
        row = await self._one(
            "SELECT t.id FROM inbound i JOIN tickets t ON t.reporter_id = i.person_id "
            "AND t.platform = i.platform AND t.chat_id = i.chat_id "
            "AND t.created_at >= i.received_at AND t.created_at < i.received_at + ? "
            "WHERE i.platform = ? AND i.chat_id = ? AND i.message_id = ? ORDER BY t.id LIMIT 1",
            (within, platform, chat_id, message_id))
        return row["id"] if row else None

    async def latest_in_chat_since(self, platform: str, chat_id: str, since: float) -> Ticket | None:
        """The latest report made in this chat since ``since`` (a bare 同问 right after it follows it)."""
        return _ticket(await self._one(
            "SELECT * FROM tickets WHERE platform = ? AND chat_id = ? AND created_at >= ? "
            "AND status IN ('open','acknowledged','in_progress') ORDER BY id DESC LIMIT 1",
            (platform, chat_id, since)))

    async def open_near(self, building: str | None, area: str | None, not_id: int,
                        limit: int = 20) -> list[Nearby]:
        """The open tickets of the same building (or common area), newest first: the candidates for
        "someone reported this already" (only what comparing them needs)."""
        column, place = ("building", building) if building is not None else ("area", area)
        rows = await self._all(
            f"SELECT id, reporter_id, category, text FROM tickets WHERE {column} = ? AND id != ? "
            "AND status IN ('open','acknowledged','in_progress') ORDER BY id DESC LIMIT ?",
            (place, not_id, limit))
        return [Nearby(*r) for r in rows]

    async def latest_of_reporter_since(self, person_id: int, since: float) -> Ticket | None:
        return _ticket(await self._one(
            "SELECT * FROM tickets WHERE reporter_id = ? AND created_at >= ? "
            "AND status != 'draft' ORDER BY id DESC LIMIT 1", (person_id, since)))

    async def attach(self, ticket_id: int, platform: str, kind: str, file_id: str,
                     now: float, media: str = "", stage: str = "report") -> None:
        """A file sent with a ticket: the platform's id, and the stored photo (``media``, a name
        in the media folder) when it was kept."""
        self._bare().discard(ticket_id)
        await self._run(
            "INSERT INTO ticket_attachments (ticket_id, platform, kind, file_id, at, media, stage) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (ticket_id, platform, kind, file_id, now, media or None, stage))

    async def attachments(self, ticket_id: int,
                          stage: str | None = None) -> list[tuple[str, str, str, str]]:
        """(platform, kind, file id, stored name or "") of a ticket's files, of one stage or all."""
        if ticket_id in self._bare():
            return []
        rows = await self._all(
            "SELECT platform, kind, file_id, media FROM ticket_attachments WHERE ticket_id = ? "
            "AND (? IS NULL OR stage = ?) ORDER BY id", (ticket_id, stage, stage))
        return [(r[0], r[1], r[2], r[3] or "") for r in rows]

    async def count(self) -> int:
        return await self._value("SELECT COUNT(*) FROM tickets WHERE status != 'draft'")

    async def listed(self, buildings: list[str] | None, statuses: list[str] | None,
                     created_before: float | None, limit: int = 100, *, area: str | None = None,
                     category: str | None = None) -> list[Ticket]:
        """Tickets for the office board, oldest first: of some buildings (None: all), in some
        statuses (None: any but draft), reported before a moment (None: any), of one common area
        and one category (None: any).  With several statuses, each one's first ``limit`` come from
        the (status, id) index and are merged, so the first page of open tickets never sorts
        thousands of rows."""
        if statuses and len(statuses) > 1:
            parts, params = [], []
            for status in statuses:
                where, more = self._board_filter(buildings, [status], created_before, area, category)
                parts.append(f"SELECT * FROM (SELECT * FROM tickets WHERE {where} "
                             f"ORDER BY id LIMIT ?)")
                params += [*more, limit]
            rows = await self._all(f"SELECT * FROM ({' UNION ALL '.join(parts)}) ORDER BY id "
                                   f"LIMIT ?", (*params, limit))
            return [_ticket(r) for r in rows]
        where, params = self._board_filter(buildings, statuses, created_before, area, category)
        rows = await self._all(f"SELECT * FROM tickets WHERE {where} ORDER BY id LIMIT ?",
                               (*params, limit))
        return [_ticket(r) for r in rows]

    async def count_by_status(self, buildings: list[str] | None, created_before: float | None, *,
                              area: str | None = None, category: str | None = None) -> dict[str, int]:
        """How many tickets are in each status, with the board's building, age, area and category
        filters.  With the building filter alone the counts come from ``ticket_status_counts``,
        kept by triggers (migration 0015), instead of counting every ticket."""
        if created_before is None and area is None and category is None:
            where, params = "", ()
            if buildings is not None:
                where, params = f"WHERE building IN ({','.join('?' * len(buildings))})", buildings
            rows = await self._all(f"SELECT status, SUM(n) FROM ticket_status_counts {where} "
                                   f"GROUP BY status", params)
            return {r[0]: r[1] for r in rows if r[0] != "draft" and r[1]}
        where, params = self._board_filter(buildings, None, created_before, area, category)
        rows = await self._all(f"SELECT status, COUNT(*) FROM tickets WHERE {where} GROUP BY status",
                               params)
        return {r[0]: r[1] for r in rows}

    @staticmethod
    def _board_filter(buildings: list[str] | None, statuses: list[str] | None,
                      created_before: float | None, area: str | None = None,
                      category: str | None = None) -> tuple[str, tuple]:
        clauses, params = ["status != 'draft'"], []
        for column, value in (("area", area), ("category", category)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        if buildings is not None:
            clauses.append(f"building IN ({','.join('?' * len(buildings))})")
            params += buildings
        if statuses is not None:
            clauses.append(f"status IN ({','.join('?' * len(statuses))})")
            params += statuses
        if created_before is not None:
            clauses.append("created_at < ?")
            params.append(created_before)
        return " AND ".join(clauses), tuple(params)

    async def week_summary(self, since: float, until: float) -> list[tuple]:
        """Per building, for tickets reported in [since, until): (building, reported, acknowledged,
        resolved or closed, still open, mean hours to acknowledge), plus every building's open
        backlog.  The benchmarks' stand-in for the weekly digest until storage/reports.py has one."""
        rows = await self._all(
            "SELECT building, COUNT(*), COUNT(acknowledged_at), "
            "SUM(status IN ('resolved','closed')), SUM(status IN ('open','acknowledged','in_progress')), "
            "AVG(acknowledged_at - created_at) / 3600.0 "
            "FROM tickets WHERE created_at >= ? AND created_at < ? AND status != 'draft' "
            "GROUP BY building ORDER BY building", (since, until))
        backlog = dict(await self._all(
            "SELECT building, COUNT(*) FROM tickets "
            "WHERE status IN ('open','acknowledged','in_progress') GROUP BY building"))
        return [(*tuple(r), backlog.get(r[0], 0)) for r in rows]
