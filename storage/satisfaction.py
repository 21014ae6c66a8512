"""Satisfaction after a repair (满意度回访): the reporter's rating of a closed ticket.

A rating is 1-5; 4-5 count as 满意 (satisfied), 3 as 基本满意 (basically satisfied), 1-2 as 不满意
(dissatisfied).  The share satisfied is (满意 + 基本满意) / rated, as the 12345 hotlines report it.
Each rating counts for the person who resolved the ticket (``handler_id``: the actor of its last
``resolved`` event), so the digest and the export can give it per captain.
"""

from __future__ import annotations

from dataclasses import dataclass

from storage.db import Repo, repository
from storage.tickets import Ticket, _ticket

SATISFIED_FROM = 3  # ratings at or above this count as satisfied (满意 + 基本满意)


def level(rating: int) -> str:
    """``satisfied`` (4-5), ``basically_satisfied`` (3) or ``dissatisfied`` (1-2)."""
    return "satisfied" if rating >= 4 else "basically_satisfied" if rating == 3 else "dissatisfied"


@dataclass(frozen=True, slots=True)
class Rating:
    ticket_id: int
    asked_at: float | None
    handler_id: int | None
    rating: int | None
    rated_at: float | None


@dataclass(frozen=True, slots=True)
class Share:
    """Ratings of one category or one captain: how many, how many satisfied (满意 + 基本满意)."""

    rated: int
    satisfied: int

    @property
    def percent(self) -> int:
        return round(100 * self.satisfied / self.rated) if self.rated else 0


_HANDLER = ("(SELECT e.actor_id FROM ticket_events e WHERE e.ticket_id = ? AND e.action = 'resolved' "
            "ORDER BY e.id DESC LIMIT 1)")


@repository("satisfaction")
class Satisfaction(Repo):
    async def get(self, ticket_id: int) -> Rating | None:
        row = await self._one("SELECT ticket_id, asked_at, handler_id, rating, rated_at "
                              "FROM ticket_satisfaction WHERE ticket_id = ?", (ticket_id,))
        return None if row is None else Rating(*row)

    async def mark_asked(self, ticket_id: int, now: float) -> bool:
        """Note that the reporter was asked; False if they had been already (asked once only)."""
        cursor = await self._run(
            f"INSERT OR IGNORE INTO ticket_satisfaction (ticket_id, asked_at, handler_id) "
            f"VALUES (?, ?, {_HANDLER})", (ticket_id, now, ticket_id))
        return cursor.rowcount == 1

    async def rate(self, ticket_id: int, rating: int, now: float) -> None:
        """Record (or change) the reporter's rating."""
        await self._run(
            f"INSERT INTO ticket_satisfaction (ticket_id, handler_id, rating, rated_at) "
            f"VALUES (?, {_HANDLER}, ?, ?) ON CONFLICT(ticket_id) DO UPDATE SET "
            "rating = excluded.rating, rated_at = excluded.rated_at",
            (ticket_id, ticket_id, rating, now))

    async def closed_unasked(self, closed_since: float, limit: int = 200) -> list[Ticket]:
        """Tickets closed (confirmed or closed by themselves) since ``closed_since`` whose reporter
        has not been asked yet."""
        rows = await self._all(
            "SELECT t.* FROM tickets t WHERE t.status = 'closed' AND t.closed_at >= ? "
            "AND NOT EXISTS (SELECT 1 FROM ticket_satisfaction s WHERE s.ticket_id = t.id) "
            "ORDER BY t.closed_at LIMIT ?", (closed_since, limit))
        return [_ticket(r) for r in rows]

    async def shares(self, start: float, end: float) -> tuple[dict[str, Share], dict[str, Share]]:
        """Ratings given in ``[start, end)``: per category, and per name of who resolved the ticket
        ("" when nobody did, e.g. a ticket closed without a resolve)."""
        where = "s.rating IS NOT NULL AND s.rated_at >= ? AND s.rated_at < ?"
        by_category = await self._all(
            f"SELECT t.category, COUNT(*), SUM(s.rating >= {SATISFIED_FROM}) FROM ticket_satisfaction s "
            f"JOIN tickets t ON t.id = s.ticket_id WHERE {where} GROUP BY t.category "
            "ORDER BY t.category", (start, end))
        by_handler = await self._all(
            f"SELECT COALESCE(p.name, ''), COUNT(*), SUM(s.rating >= {SATISFIED_FROM}) "
            f"FROM ticket_satisfaction s LEFT JOIN people p ON p.id = s.handler_id WHERE {where} "
            "GROUP BY COALESCE(p.name, '') ORDER BY COALESCE(p.name, '')", (start, end))
        return ({r[0]: Share(r[1], r[2]) for r in by_category},
                {r[0]: Share(r[1], r[2]) for r in by_handler})

    async def of_tickets(self, ticket_ids: list[int]) -> dict[int, tuple[int, str]]:
        """The rating of each rated ticket and the name of who resolved it, by ticket id."""
        out: dict[int, tuple[int, str]] = {}
        for chunk in range(0, len(ticket_ids), 500):
            ids = ticket_ids[chunk:chunk + 500]
            marks = ",".join("?" * len(ids))
            rows = await self._all(
                "SELECT s.ticket_id, s.rating, COALESCE(p.name, '') FROM ticket_satisfaction s "
                f"LEFT JOIN people p ON p.id = s.handler_id WHERE s.rating IS NOT NULL "
                f"AND s.ticket_id IN ({marks})", ids)
            out.update({r[0]: (r[1], r[2]) for r in rows})
        return out
