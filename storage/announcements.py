"""Announcements (通知) and the runs of each: what is scheduled, and what was sent or skipped."""

from __future__ import annotations

import json
from dataclasses import dataclass

from storage.db import Repo, repository


@dataclass(frozen=True, slots=True)
class Announcement:
    id: int
    author_id: int
    chats: tuple[str, ...]
    text: str
    urgent: bool
    kind: str  # "once" or "repeat"
    rule: dict  # for "repeat": CronTrigger fields
    rule_text: str
    created_at: float
    next_run: float | None
    status: str  # "active", "done", "cancelled"


def _announcement(row) -> Announcement | None:
    if row is None:
        return None
    return Announcement(row["id"], row["author_id"], tuple(json.loads(row["chats"])), row["text"],
                        bool(row["urgent"]), row["kind"], json.loads(row["rule"] or "{}"),
                        row["rule_text"], row["created_at"], row["next_run"], row["status"])


@repository("announcements")
class Announcements(Repo):
    async def create(self, *, author_id: int, chats: list[str], text: str, urgent: bool, kind: str,
                     rule: dict | None, rule_text: str, now: float, next_run: float) -> Announcement:
        cursor = await self._run(
            "INSERT INTO announcements (author_id, chats, text, urgent, kind, rule, rule_text, "
            "created_at, next_run) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (author_id, json.dumps(chats, ensure_ascii=False), text, int(urgent), kind,
             json.dumps(rule or {}), rule_text, now, next_run))
        return await self.get(cursor.lastrowid)

    async def get(self, announcement_id: int) -> Announcement | None:
        return _announcement(await self._one("SELECT * FROM announcements WHERE id = ?",
                                             (announcement_id,)))

    async def active(self) -> list[Announcement]:
        """Every announcement still to run, soonest first."""
        rows = await self._all("SELECT * FROM announcements WHERE status = 'active' "
                               "ORDER BY next_run, id")
        return [_announcement(r) for r in rows]

    async def due(self, before: float) -> list[Announcement]:
        """Active announcements whose next scheduled moment is at or before ``before``."""
        rows = await self._all(
            "SELECT * FROM announcements WHERE status = 'active' AND next_run <= ? "
            "ORDER BY next_run, id", (before,))
        return [_announcement(r) for r in rows]

    async def record_run(self, announcement_id: int, due_at: float, now: float, outcome: str,
                         messages: int) -> bool:
        """Note one scheduled moment as handled; False if it already was (never twice)."""
        cursor = await self._run(
            "INSERT OR IGNORE INTO announcement_runs (announcement_id, due_at, handled_at, outcome, "
            "messages) VALUES (?, ?, ?, ?, ?)", (announcement_id, due_at, now, outcome, messages))
        return cursor.rowcount == 1

    async def set_messages(self, announcement_id: int, due_at: float, messages: int) -> None:
        await self._run("UPDATE announcement_runs SET messages = ? WHERE announcement_id = ? "
                        "AND due_at = ?", (messages, announcement_id, due_at))

    async def move_on(self, announcement_id: int, next_run: float | None) -> None:
        """Set the next scheduled moment; None finishes the announcement."""
        if next_run is None:
            await self._run("UPDATE announcements SET next_run = NULL, status = 'done' "
                            "WHERE id = ?", (announcement_id,))
        else:
            await self._run("UPDATE announcements SET next_run = ? WHERE id = ?",
                            (next_run, announcement_id))

    async def cancel(self, announcement_id: int, person_id: int, now: float) -> bool:
        cursor = await self._run(
            "UPDATE announcements SET status = 'cancelled', cancelled_at = ?, cancelled_by = ?, "
            "next_run = NULL WHERE id = ? AND status = 'active'", (now, person_id, announcement_id))
        return cursor.rowcount == 1

    async def runs(self, announcement_id: int) -> list[tuple[float, float, str, int]]:
        """(due at, handled at, outcome, messages) of every handled moment, in order."""
        rows = await self._all(
            "SELECT due_at, handled_at, outcome, messages FROM announcement_runs "
            "WHERE announcement_id = ? ORDER BY due_at", (announcement_id,))
        return [(r[0], r[1], r[2], r[3]) for r in rows]
