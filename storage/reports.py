"""Read-only queries for reports: the weekly digest, the ticket export, delivery counts.

Nothing here changes anything; every function answers one question about a span of time
``[start, end)`` in Unix seconds.  "Open at a moment" is read from the ticket's history (its last
status-changing event before that moment), so a digest of a past week says what was open *then*.
"""

from __future__ import annotations

from dataclasses import dataclass

from storage.db import Repo, repository
from storage.tickets import Ticket, _ticket

# The events that change a ticket's status, and which of them leave it open.
_STATUS_EVENTS = ("reported", "acknowledged", "in_progress", "resolved", "rejected", "confirmed",
                  "auto_closed", "reopened")
_OPEN_EVENTS = ("reported", "acknowledged", "in_progress", "reopened")
_LAST_STATUS = (
    "(SELECT e.action FROM ticket_events e WHERE e.ticket_id = t.id AND e.at < ? AND e.action IN ("
    + ",".join(f"'{a}'" for a in _STATUS_EVENTS) + ") ORDER BY e.at DESC, e.id DESC LIMIT 1)")
_OPEN_STATUSES = ("open", "acknowledged", "in_progress")
# The tickets open at a moment (three parameters, each that moment): a ticket whose last change came
# before it still has the status it had then, so only tickets changed since need their history read.
# Both halves are index searches (tickets_status_created, tickets_updated); reading every ticket's
# history instead made a digest over 1,000,000 tickets take 11 s (bench P5).
_OPEN_AT = (
    "t.id IN (SELECT id FROM tickets WHERE status IN ("
    + ",".join(f"'{s}'" for s in _OPEN_STATUSES) + ") AND updated_at < ? "
    f"UNION ALL SELECT t.id FROM tickets t WHERE t.updated_at >= ? AND {_LAST_STATUS} IN ("
    + ",".join(f"'{a}'" for a in _OPEN_EVENTS) + "))")


@dataclass(frozen=True, slots=True)
class Tally:
    """One building's (or one category's) week."""

    opened: int = 0
    acknowledged: int = 0
    resolved: int = 0
    still_open: int = 0


@repository("reports")
class Reports(Repo):
    async def sent_since(self, platform: str, since: float) -> int:
        """How many outbox messages went out on ``platform`` since ``since`` (a daily cap's count)."""
        return int(await self._value(
            "SELECT COUNT(*) FROM outbox WHERE platform = ? AND status = 'sent' AND sent_at >= ?",
            (platform, since)) or 0)

    # --- the weekly digest --------------------------------------------------------------------
    async def tallies(self, start: float, end: float, by: str = "building") -> dict[str, Tally]:
        """Opened, acknowledged and resolved in the span, and open at its end, per building (or
        per ``category``); tickets with no building count under ""."""
        column = {"building": "COALESCE(t.building, '')", "category": "t.category"}[by]
        counts: dict[str, dict[str, int]] = {}
        queries = {
            "opened": ("t.created_at >= ? AND t.created_at < ?", (start, end)),
            "acknowledged": ("t.acknowledged_at >= ? AND t.acknowledged_at < ?", (start, end)),
            "resolved": ("t.resolved_at >= ? AND t.resolved_at < ?", (start, end)),
            "still_open": (f"t.created_at < ? AND {_OPEN_AT}", (end, end, end, end)),
        }
        for name, (where, params) in queries.items():
            rows = await self._all(
                f"SELECT {column} AS k, COUNT(*) FROM tickets t WHERE t.status != 'draft' AND "
                f"{where} GROUP BY k", params)
            for key, count in rows:
                counts.setdefault(key, {})[name] = count
        return {key: Tally(**values) for key, values in counts.items()}

    async def durations(self, start: float, end: float, building: str | None = None
                        ) -> tuple[list[float], list[float]]:
        """Seconds from report to acknowledgement (for tickets acknowledged in the span) and from
        report to resolution (resolved in the span); of one building or all."""
        # "+building": search the week by its time index, not a whole building's history
        where, params = ("", ()) if building is None else (" AND +building = ?", (building,))
        acks = await self._all(
            "SELECT acknowledged_at - created_at FROM tickets WHERE acknowledged_at >= ? "
            f"AND acknowledged_at < ?{where}", (start, end, *params))
        fixes = await self._all(
            "SELECT resolved_at - created_at FROM tickets WHERE resolved_at >= ? "
            f"AND resolved_at < ?{where}", (start, end, *params))
        return [r[0] for r in acks], [r[0] for r in fixes]

    async def oldest_open(self, end: float, building: str | None = None,
                          limit: int = 3) -> list[Ticket]:
        """The tickets open at ``end`` that were reported longest before it."""
        # "+": start from the few open tickets, not from all of a building's or the oldest tickets
        where, params = ("", ()) if building is None else (" AND +t.building = ?", (building,))
        rows = await self._all(
            f"SELECT t.* FROM tickets t WHERE t.status != 'draft' AND t.created_at < ? AND {_OPEN_AT}"
            f"{where} ORDER BY +t.created_at, t.id LIMIT ?", (end, end, end, end, *params, limit))
        return [_ticket(r) for r in rows]

    # --- the export ----------------------------------------------------------------------------
    async def tickets_since(self, since: float, until: float | None = None) -> list[Ticket]:
        """Every ticket (drafts aside) reported in ``[since, until)``, oldest first."""
        rows = await self._all(
            "SELECT * FROM tickets WHERE status != 'draft' AND created_at >= ? AND created_at < ? "
            "ORDER BY id", (since, until if until is not None else 1e18))
        return [_ticket(r) for r in rows]

    async def last_notes(self, ticket_ids: list[int]) -> dict[int, str]:
        """The latest note written on each ticket's history (a status note), by ticket id."""
        out: dict[int, str] = {}
        for chunk in range(0, len(ticket_ids), 500):
            ids = ticket_ids[chunk:chunk + 500]
            marks = ",".join("?" * len(ids))
            rows = await self._all(
                f"SELECT ticket_id, note FROM ticket_events WHERE ticket_id IN ({marks}) "
                "AND note != '' AND action != 'escalated' ORDER BY at, id", ids)
            out |= {r[0]: r[1] for r in rows}
        return out
