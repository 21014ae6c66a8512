"""Notices that must be confirmed (通知确认): the notices, each household's confirmation, and the
coalesced acknowledgements per chat (see handlers/notices.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from storage.db import Repo, repository


@dataclass(frozen=True, slots=True)
class Notice:
    id: int
    author_id: int
    text: str
    buildings: tuple[str, ...]  # () = the whole compound
    chats: tuple[str, ...]
    created_at: float
    remind_at: float | None


def _notice(row) -> Notice | None:
    if row is None:
        return None
    return Notice(row["id"], row["author_id"], row["text"], tuple(json.loads(row["buildings"])),
                  tuple(json.loads(row["chats"])), row["created_at"], row["remind_at"])


@repository("notices")
class Notices(Repo):
    async def create(self, *, author_id: int, text: str, buildings: list[str], chats: list[str],
                     now: float, remind_at: float | None) -> Notice:
        cursor = await self._run(
            "INSERT INTO notices (author_id, text, buildings, chats, created_at, remind_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (author_id, text, json.dumps(buildings), json.dumps(chats), now, remind_at))
        for chat_key in chats:
            await self._run("INSERT OR IGNORE INTO notice_chats (notice_id, chat_key) VALUES (?, ?)",
                            (cursor.lastrowid, chat_key))
        return await self.get(cursor.lastrowid)

    async def get(self, notice_id: int) -> Notice | None:
        return _notice(await self._one("SELECT * FROM notices WHERE id = ?", (notice_id,)))

    async def latest(self, since: float, chat_key: str | None = None) -> list[Notice]:
        """Notices since ``since``, newest first (of one chat, if given)."""
        if chat_key is None:
            rows = await self._all("SELECT * FROM notices WHERE created_at >= ? ORDER BY id DESC",
                                   (since,))
        else:
            rows = await self._all(
                "SELECT n.* FROM notices n JOIN notice_chats c ON c.notice_id = n.id "
                "WHERE c.chat_key = ? AND n.created_at >= ? ORDER BY n.id DESC", (chat_key, since))
        return [_notice(r) for r in rows]

    async def confirm(self, notice_id: int, household: str, *, building: str | None,
                      unit: str | None, person_id: int, now: float) -> bool:
        """Record a household's confirmation; False when it had confirmed already."""
        cursor = await self._run(
            "INSERT OR IGNORE INTO notice_confirmations (notice_id, household, building, unit, "
            "person_id, at) VALUES (?, ?, ?, ?, ?, ?)",
            (notice_id, household, building, unit, person_id, now))
        return cursor.rowcount == 1

    async def confirmed_by(self, notice_id: int, household: str) -> int | None:
        return await self._value("SELECT person_id FROM notice_confirmations WHERE notice_id = ? "
                                 "AND household = ?", (notice_id, household))

    async def count(self, notice_id: int) -> int:
        return await self._value("SELECT COUNT(*) FROM notice_confirmations WHERE notice_id = ?",
                                 (notice_id,))

    async def by_building(self, notice_id: int) -> dict[str | None, int]:
        """Confirmed households per building (None: people not registered)."""
        rows = await self._all(
            "SELECT building, COUNT(*) FROM notice_confirmations WHERE notice_id = ? AND "
            "unit IS NOT NULL GROUP BY building", (notice_id,))
        out: dict[str | None, int] = {r[0]: r[1] for r in rows}
        out[None] = await self._value(
            "SELECT COUNT(*) FROM notice_confirmations WHERE notice_id = ? AND unit IS NULL",
            (notice_id,))
        return out

    async def confirmed_units(self, notice_id: int, building: str) -> set[str]:
        rows = await self._all("SELECT unit FROM notice_confirmations WHERE notice_id = ? AND "
                               "building = ? AND unit IS NOT NULL", (notice_id, building))
        return {r[0] for r in rows}

    # --- reminders and coalesced acknowledgements ----------------------------------------------
    async def due_reminders(self, before: float) -> list[Notice]:
        rows = await self._all("SELECT * FROM notices WHERE remind_at IS NOT NULL AND remind_at <= ? "
                               "ORDER BY remind_at, id", (before,))
        return [_notice(r) for r in rows]

    async def reminded(self, notice_id: int) -> bool:
        cursor = await self._run("UPDATE notices SET remind_at = NULL WHERE id = ? AND "
                                 "remind_at IS NOT NULL", (notice_id,))
        return cursor.rowcount == 1

    async def ack_later(self, notice_id: int, chat_key: str, due: float) -> None:
        """An acknowledgement is due in this chat by ``due`` (an earlier one due stays)."""
        await self._run("UPDATE notice_chats SET ack_due = COALESCE(ack_due, ?) WHERE notice_id = ? "
                        "AND chat_key = ?", (due, notice_id, chat_key))

    async def due_acks(self, before: float) -> list[tuple[int, str, int]]:
        """(notice, chat, confirmations last said) of the acknowledgements due."""
        rows = await self._all("SELECT notice_id, chat_key, acked FROM notice_chats WHERE "
                               "ack_due IS NOT NULL AND ack_due <= ? ORDER BY ack_due", (before,))
        return [(r[0], r[1], r[2]) for r in rows]

    async def acked(self, notice_id: int, chat_key: str, count: int) -> bool:
        cursor = await self._run("UPDATE notice_chats SET ack_due = NULL, acked = ? WHERE "
                                 "notice_id = ? AND chat_key = ? AND ack_due IS NOT NULL",
                                 (count, notice_id, chat_key))
        return cursor.rowcount == 1

    async def upcoming_moments(self) -> list[float]:
        rows = await self._all("SELECT remind_at FROM notices WHERE remind_at IS NOT NULL UNION "
                               "SELECT ack_due FROM notice_chats WHERE ack_due IS NOT NULL")
        return [r[0] for r in rows]
