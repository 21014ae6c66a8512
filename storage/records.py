"""Inbound de-duplication, the audit trail, and a small key-value store for adapters' state."""

from __future__ import annotations

from storage.db import Repo, repository


@repository("inbound")
class InboundLog(Repo):
    async def claim(self, platform: str, chat_id: str, message_id: str, now: float,
                    text: str) -> bool:
        """Record a platform message; False when it was recorded before (a redelivery)."""
        cursor = await self._run(
            "INSERT OR IGNORE INTO inbound (platform, chat_id, message_id, received_at, text) "
            "VALUES (?, ?, ?, ?, ?)", (platform, chat_id, message_id, now, text))
        return cursor.rowcount == 1

    async def set_person(self, platform: str, chat_id: str, message_id: str, person_id: int) -> None:
        await self._run(
            "UPDATE inbound SET person_id = ? WHERE platform = ? AND chat_id = ? AND message_id = ?",
            (person_id, platform, chat_id, message_id))


@repository("audit")
class Audit(Repo):
    async def record(self, now: float, actor_id: int | None, platform: str | None, action: str,
                     target: str = "", detail: str = "") -> None:
        await self._run(
            "INSERT INTO audit (at, actor_id, platform, action, target, detail) "
            "VALUES (?, ?, ?, ?, ?, ?)", (now, actor_id, platform, action, target, detail))

    async def about(self, target: str) -> list[dict]:
        rows = await self._all("SELECT * FROM audit WHERE target = ? ORDER BY id", (target,))
        return [dict(r) for r in rows]

    async def recent(self, actor_id: int | None = None, action: str | None = None,
                     limit: int = 200) -> list[dict]:
        """The newest entries first, of one actor and/or one action (the office board's log)."""
        clauses, params = ["1"], []
        if actor_id is not None:
            clauses.append("actor_id = ?")
            params.append(actor_id)
        if action is not None:
            clauses.append("action = ?")
            params.append(action)
        rows = await self._all(f"SELECT * FROM audit WHERE {' AND '.join(clauses)} "
                               "ORDER BY id DESC LIMIT ?", (*params, limit))
        return [dict(r) for r in rows]

    async def actions(self) -> list[str]:
        return [r[0] for r in await self._all("SELECT DISTINCT action FROM audit ORDER BY action")]

    async def count(self, action: str | None = None) -> int:
        if action is None:
            return await self._value("SELECT COUNT(*) FROM audit")
        return await self._value("SELECT COUNT(*) FROM audit WHERE action = ?", (action,))


@repository("kv")
class KeyValue(Repo):
    async def get(self, key: str) -> str | None:
        return await self._value("SELECT value FROM kv WHERE key = ?", (key,))

    async def put(self, key: str, value: str) -> None:
        await self._run("INSERT OR REPLACE INTO kv VALUES (?, ?)", (key, value))
