"""Inbound de-duplication, the audit trail, and a small key-value store for adapters' state."""

from __future__ import annotations

from storage.db import Repo, repository


@repository("inbound")
class InboundLog(Repo):
    async def claim(self, platform: str, chat_id: str, message_id: str, now: float,
                    text: str, person_id: int | None = None) -> bool:
        """Record a platform message (and who sent it); False when it was recorded before (a
        redelivery)."""
        cursor = await self._run(
            "INSERT OR IGNORE INTO inbound (platform, chat_id, message_id, received_at, text, "
            "person_id) VALUES (?, ?, ?, ?, ?, ?)",
            (platform, chat_id, message_id, now, text, person_id))
        return cursor.rowcount == 1

    async def message_quoted(self, platform: str, chat_id: str, quoted: str,
                             since: float) -> str | None:
        """The id of the latest message received in a chat since ``since`` whose text holds
        ``quoted`` (a WeChat quote carries only the text it quotes)."""
        row = await self._one(
            "SELECT message_id FROM inbound WHERE platform = ? AND chat_id = ? AND received_at >= ? "
            "AND instr(text, ?) > 0 ORDER BY received_at DESC LIMIT 1",
            (platform, chat_id, since, quoted))
        return row["message_id"] if row else None


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
