"""Generated data for the benchmarks and the simulation: many residents and tickets, fast.

``tx.bench.generate(...)`` writes residents (with a console identity each) and tickets with a
realistic spread of buildings, categories, reporters, statuses and times, with their history
(reported, acknowledged, resolved, confirmed …), in one trip to aiosqlite's thread using
``executemany``.  Nothing in the bot calls it; ``python -m bench`` does.
"""

from __future__ import annotations

import random
import sqlite3

from storage.db import Repo, repository

CATEGORIES = ("elevator", "sanitation", "noise", "fire_door", "ev_charging", "parking", "dogs",
              "lake", "falling_objects", "other")
TEXTS = ("电梯坏了", "楼道垃圾没人清理", "楼上装修太吵", "消防门被堵", "充电桩坏了", "车位被占",
         "狗叫扰民", "人工湖有异味", "高空抛物", "楼道灯不亮")
# Share of tickets by status at the moment the data is generated (the rest are closed).
OPEN_SHARES = (("open", 0.006), ("acknowledged", 0.006), ("in_progress", 0.006), ("resolved", 0.01),
               ("rejected", 0.02))
HOUR = 3600.0


def _generate(conn: sqlite3.Connection, tickets: int, residents: int, buildings: int, start: float,
              end: float, seed: int, batch: int) -> None:
    rng = random.Random(seed)
    first = (conn.execute("SELECT COALESCE(MAX(id), 0) FROM people").fetchone()[0]) + 1
    people = [(first + i, f"住户{i + 1}", "zh", str(i % buildings + 1), start) for i in range(residents)]
    conn.executemany("INSERT INTO people (id, name, lang, building, created_at) VALUES (?, ?, ?, ?, ?)",
                     people)
    conn.executemany("INSERT INTO identities (platform, external_id, person_id, last_seen) "
                     "VALUES ('console', ?, ?, ?)",
                     [(f"r{i + 1}", first + i, start) for i in range(residents)])
    step = (end - start) / max(1, tickets)
    cumulative, total = [], 0.0
    for status, share in OPEN_SHARES:
        total += share
        cumulative.append((total, status))

    def status_for(created: float) -> str:
        # Tickets of the last two weeks are the ones still moving; older ones are done.
        if created < end - 14 * 86400:
            return "rejected" if rng.random() < 0.02 else "closed"
        draw = rng.random() * 0.4
        for bound, status in cumulative:
            if draw < bound * 8:
                return status
        return "closed"

    first_ticket = (conn.execute("SELECT COALESCE(MAX(id), 0) FROM tickets").fetchone()[0]) + 1
    rows, events = [], []
    for n in range(tickets):
        created = start + n * step + rng.random() * step
        reporter = first + rng.randrange(residents)
        building = (reporter - first) % buildings + 1
        category = rng.randrange(len(CATEGORIES))
        status = status_for(created)
        acked = created + rng.uniform(0.2, 6) * HOUR if status != "open" else None
        resolved = (acked + rng.uniform(1, 72) * HOUR
                    if status in ("resolved", "closed") and acked else None)
        closed = (resolved + 3 * 86400 if status == "closed" and resolved else
                  (acked if status == "rejected" else None))
        rows.append((str(building), CATEGORIES[category], f"{building}栋{TEXTS[category]}", status,
                     reporter, "console", f"b{building}", f"b{building}", created,
                     closed or resolved or acked or created, created, acked, resolved, closed,
                     created + 4 * HOUR if status == "open" else None,
                     resolved + 3 * 86400 if status == "resolved" else None))
        ticket = first_ticket + n
        events.append((ticket, created, reporter, "reported"))
        if acked:
            events.append((ticket, acked, None, "rejected" if status == "rejected" else "acknowledged"))
        if resolved:
            events.append((ticket, resolved, None, "resolved"))
        if status == "closed" and closed:
            events.append((ticket, closed, None, "confirmed" if n % 3 else "auto_closed"))
        if len(rows) >= batch:
            _insert_tickets(conn, rows, events)
            rows, events = [], []
    if rows:
        _insert_tickets(conn, rows, events)


def _insert_tickets(conn: sqlite3.Connection, rows: list[tuple], events: list[tuple]) -> None:
    conn.executemany(
        "INSERT INTO tickets (building, category, text, status, reporter_id, platform, chat_id, "
        "chat_key, created_at, updated_at, awaiting_since, acknowledged_at, resolved_at, closed_at, "
        "escalate_at, close_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    conn.executemany("INSERT INTO ticket_events (ticket_id, at, actor_id, action) VALUES (?, ?, ?, ?)",
                     events)


ROOMS_PER_FLOOR = 16  # registered units: the n-th household of a building is floor n // 16 + 1


def _households(conn: sqlite3.Connection, count: int | None) -> list[tuple[int, str]]:
    """(person id, unit) of the first ``count`` generated residents (all when None), each a unit
    ``f"{floor:02d}{room:02d}"`` in their building: the same person always gets the same unit."""
    rows = conn.execute(
        "SELECT p.id, p.building FROM people p JOIN identities i ON i.person_id = p.id "
        "WHERE i.platform = 'console' AND i.external_id GLOB 'r[0-9]*' AND p.key IS NULL "
        "ORDER BY p.id").fetchall()
    seen: dict[str, int] = {}
    out = []
    for person_id, building in rows:
        n = seen.get(building, 0)
        seen[building] = n + 1
        out.append((person_id, f"{n // ROOMS_PER_FLOOR + 1:02d}{n % ROOMS_PER_FLOOR + 1:02d}"))
    return out if count is None else out[:count]


def _register_units(conn: sqlite3.Connection, count: int) -> int:
    households = _households(conn, count)
    conn.executemany("UPDATE people SET unit = ? WHERE id = ?", [(u, p) for p, u in households])
    return len(households)


def _mention_units(conn: sqlite3.Connection, every: int) -> int:
    units = dict(_households(conn, None))
    rows = conn.execute("SELECT id, reporter_id, text FROM tickets WHERE id % ? = 0", (every,)).fetchall()
    changed = [(f"{text}，{units[reporter]}门口", ticket) for ticket, reporter, text in rows
               if reporter in units]
    conn.executemany("UPDATE tickets SET text = ? WHERE id = ?", changed)
    return len(changed)


@repository("bench")
class BenchData(Repo):
    async def generate(self, *, tickets: int, residents: int = 9000, buildings: int = 20,
                       start: float, end: float, seed: int = 1, batch: int = 50_000) -> None:
        """Add ``residents`` people and ``tickets`` tickets created between ``start`` and ``end``."""
        await self._call(_generate, tickets, residents, buildings, start, end, seed, batch)

    async def register_units(self, count: int) -> int:
        """Register a unit for the first ``count`` generated residents (``f"{floor:02d}{room:02d}"``,
        in their own building), as 登记 would; returns how many were registered."""
        return await self._call(_register_units, count)

    async def mention_units(self, every: int = 4) -> int:
        """Every ``every``-th ticket's text also names its reporter's unit (``…，1203门口``), the unit
        ``register_units`` gives them; returns how many texts changed."""
        return await self._call(_mention_units, every)

    async def group_reply_keys(self, after: int = 0) -> list[tuple[int, str]]:
        """(outbox id, catalogue key) of the group messages written after outbox id ``after``."""
        rows = await self._all("SELECT id, json_extract(body, '$.key') FROM outbox "
                               "WHERE kind = 'group' AND id > ? ORDER BY id", (after,))
        return [(r[0], r[1] or "") for r in rows]

    async def some_residents(self, count: int, seed: int = 1) -> list[int]:
        """Ids of ``count`` residents who reported something (for timing look-ups)."""
        rows = await self._all("SELECT DISTINCT reporter_id FROM tickets WHERE id % 997 = ? LIMIT ?",
                               (seed % 997, count))
        return [r[0] for r in rows]


@repository("simfacts")
class SimulationFacts(Repo):
    """What ``linli simulate`` reads back to judge a simulated month (read only)."""

    async def tickets(self) -> list[dict]:
        """Every ticket with the moments that matter: its first escalation, and when it last reached
        an outcome the reporter must hear about (resolved, rejected or auto-closed)."""
        rows = await self._all(
            "SELECT t.id, t.building, t.status, t.reporter_id, t.created_at, t.acknowledged_at, "
            "t.resolved_at, t.closed_at, t.escalation_level, t.escalate_at, t.close_at, "
            "(SELECT MIN(at) FROM ticket_events e WHERE e.ticket_id = t.id "
            " AND e.action = 'escalated') AS escalated_at, "
            "(SELECT MIN(at) FROM ticket_events e WHERE e.ticket_id = t.id AND e.actor_id IS NOT NULL"
            " AND e.action IN ('acknowledged', 'in_progress', 'resolved', 'rejected')) AS answered_at, "
            "(SELECT MAX(at) FROM ticket_events e WHERE e.ticket_id = t.id "
            " AND e.action IN ('resolved', 'rejected', 'auto_closed')) AS outcome_at "
            "FROM tickets t WHERE t.status != 'draft' ORDER BY t.id")
        return [dict(r) for r in rows]

    async def handled_after(self, ticket_id: int, since: float) -> bool:
        """True when a person moved the ticket on (受理/处理中/已解决/驳回) at or after ``since``."""
        return bool(await self._value(
            "SELECT 1 FROM ticket_events WHERE ticket_id = ? AND at >= ? AND actor_id IS NOT NULL "
            "AND action IN ('acknowledged', 'in_progress', 'resolved', 'rejected') LIMIT 1",
            (ticket_id, since)))

    async def private_about(self, since_ids: dict[int, float]) -> dict[int, list[tuple]]:
        """Private outbox rows about each ticket (``ref`` ticket:N), keyed by ticket:
        (outbox id, person id, created at, status)."""
        rows = await self._all(
            "SELECT id, person_id, created_at, status, ref FROM outbox "
            "WHERE kind = 'private' AND ref LIKE 'ticket:%' ORDER BY id")
        out: dict[int, list[tuple]] = {}
        for row in rows:
            ticket = int(row["ref"].split(":", 1)[1])
            if ticket in since_ids:
                out.setdefault(ticket, []).append((row["id"], row["person_id"], row["created_at"],
                                                   row["status"]))
        return out

    async def undelivered(self) -> int:
        return int(await self._value(
            "SELECT COUNT(*) FROM outbox WHERE status IN ('pending', 'failed')") or 0)

    async def person_of(self, platform: str, external_id: str) -> int | None:
        return await self._value(
            "SELECT person_id FROM identities WHERE platform = ? AND external_id = ?",
            (platform, external_id))

    async def rota_posts(self) -> list[tuple[int, str, str, float]]:
        """Every rota broadcast written to the outbox: (outbox id, ref, chat key, created at)."""
        rows = await self._all(
            "SELECT id, ref, chat_key, created_at FROM outbox WHERE kind = 'group' "
            "AND ref LIKE 'rota:%' ORDER BY id")
        return [(r[0], r[1], r[2], r[3]) for r in rows]
