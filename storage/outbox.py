"""The durable outbox: messages written in the same transaction as the change that caused them,
delivered later by the dispatcher, marked sent once the platform took them."""

from __future__ import annotations

import json
from dataclasses import asdict

from bot.messages import Attachment, Button, Outbound
from storage.db import Repo, repository


def _encode(message: Outbound) -> str:
    return json.dumps({
        "text": message.text,
        "buttons": [asdict(b) for b in message.buttons],
        "buttons_hint": message.buttons_hint,
        "attachments": [asdict(a) for a in message.attachments],
        "mention_ids": list(message.mention_ids),
        "mention_name": message.mention_name,
        "edit_of": message.edit_of,
        "key": message.key,
        "values": message.values,
    }, ensure_ascii=False)


def _decode(row) -> Outbound:
    body = json.loads(row["body"])
    return Outbound(
        platform=row["platform"], address=row["address"], kind=row["kind"], text=body["text"],
        buttons=tuple(Button(**b) for b in body.get("buttons", ())),
        buttons_hint=body.get("buttons_hint", ""),
        attachments=tuple(Attachment(**a) for a in body.get("attachments", ())),
        outbox_id=row["id"], person_id=row["person_id"], chat_key=row["chat_key"],
        mention_ids=tuple(body.get("mention_ids", ())), mention_name=body.get("mention_name", ""),
        edit_of=body.get("edit_of"), key=body.get("key", ""), values=body.get("values") or {},
    )


@repository("outbox")
class Outbox(Repo):
    async def add(self, message: Outbound, now: float, ref: str = "",
                  not_before: float | None = None) -> int:
        cursor = await self._run(
            "INSERT INTO outbox (created_at, platform, address, kind, person_id, chat_key, body, "
            "ref, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (now, message.platform, message.address, message.kind, message.person_id,
             message.chat_key, _encode(message), ref, now if not_before is None else not_before))
        return cursor.lastrowid

    async def pending(self, platforms: list[str], limit: int = 1000) -> list[tuple[Outbound, float, int]]:
        """Pending messages of these platforms, oldest first: (message, due at, attempts)."""
        if not platforms:
            return []
        marks = ",".join("?" * len(platforms))
        rows = await self._all(
            f"SELECT * FROM outbox WHERE status = 'pending' AND platform IN ({marks}) "
            "ORDER BY id LIMIT ?", (*platforms, limit))
        return [(_decode(r), r["next_attempt_at"], r["attempts"]) for r in rows]

    async def mark_sent(self, outbox_id: int, now: float, platform_message_id: str | None) -> None:
        await self._run(
            "UPDATE outbox SET status = 'sent', sent_at = ?, platform_message_id = ?, "
            "attempts = attempts + 1 WHERE id = ?", (now, platform_message_id, outbox_id))

    async def retry_later(self, outbox_id: int, at: float, error: str) -> None:
        await self._run(
            "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?, last_error = ? "
            "WHERE id = ?", (at, error[:500], outbox_id))

    async def attempts(self, outbox_id: int) -> int:
        return int(await self._value("SELECT attempts FROM outbox WHERE id = ?", (outbox_id,)) or 0)

    async def postpone(self, outbox_id: int, at: float) -> None:
        """Move a message's next attempt without counting an attempt (e.g. a daily cap)."""
        await self._run("UPDATE outbox SET next_attempt_at = ? WHERE id = ?", (at, outbox_id))

    async def hold(self, outbox_id: int, reason: str) -> None:
        """Keep a message until its recipient can be reached (see ``release``)."""
        await self._run("UPDATE outbox SET status = 'held', last_error = ? WHERE id = ?",
                        (reason[:500], outbox_id))

    async def release(self, platform: str, address: str, now: float) -> int:
        """Send the held messages of one recipient now; return how many."""
        cursor = await self._run(
            "UPDATE outbox SET status = 'pending', next_attempt_at = ? "
            "WHERE status = 'held' AND platform = ? AND address = ?", (now, platform, address))
        return cursor.rowcount

    async def give_up(self, outbox_id: int, error: str) -> None:
        await self._run(
            "UPDATE outbox SET status = 'failed', attempts = attempts + 1, last_error = ? "
            "WHERE id = ?", (error[:500], outbox_id))

    async def reroute(self, outbox_id: int, platform: str, address: str, kind: str) -> None:
        await self._run("UPDATE outbox SET platform = ?, address = ?, kind = ? WHERE id = ?",
                        (platform, address, kind, outbox_id))

    async def counts(self) -> dict[str, int]:
        rows = await self._all("SELECT status, COUNT(*) FROM outbox GROUP BY status")
        return {r[0]: r[1] for r in rows}

    async def count_pending(self, platforms: list[str] | None = None) -> int:
        if platforms is None:
            return await self._value("SELECT COUNT(*) FROM outbox WHERE status = 'pending'")
        marks = ",".join("?" * len(platforms))
        return await self._value(
            f"SELECT COUNT(*) FROM outbox WHERE status = 'pending' AND platform IN ({marks})",
            platforms)

    async def next_due(self, platforms: list[str]) -> float | None:
        """When the next message can go: the earliest due time of each chat's *first* pending
        message (a later one waits behind it, whatever its own due time, to keep the order)."""
        if not platforms:
            return None
        marks = ",".join("?" * len(platforms))
        return await self._value(
            f"SELECT MIN(due) FROM (SELECT next_attempt_at AS due, MIN(id) FROM outbox "
            f"WHERE status = 'pending' AND platform IN ({marks}) GROUP BY platform, address)",
            platforms)

    async def sent_to(self, platform: str, address: str) -> list[Outbound]:
        rows = await self._all(
            "SELECT * FROM outbox WHERE platform = ? AND address = ? AND status = 'sent' "
            "ORDER BY id", (platform, address))
        return [_decode(r) for r in rows]

    async def all_messages(self, status: str | None = None) -> list[Outbound]:
        if status is None:
            rows = await self._all("SELECT * FROM outbox ORDER BY id")
        else:
            rows = await self._all("SELECT * FROM outbox WHERE status = ? ORDER BY id", (status,))
        return [_decode(r) for r in rows]
