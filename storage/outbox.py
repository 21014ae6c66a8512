"""The durable outbox: messages written in the same transaction as the change that caused them,
delivered later by the dispatcher, marked sent once the platform took them.

A dispatcher claims the rows it is about to send (``claim``): it writes who it is (``claimed_by``)
and until when the claim holds (``claimed_until``, a lease in wall-clock Unix seconds) on the rows
that are still pending and unclaimed (or whose lease ran out, or whose holder is known to be gone),
then reads back which of them it holds.  Both run in one write transaction, and SQLite lets one
writer in at a time, so two dispatchers on one database never hold, and never send, the same row.
This is the SQLite form of ``SELECT … FOR UPDATE SKIP LOCKED``: on a server database the claim
becomes that select (the rows another transaction locked are skipped) followed by the same
``UPDATE … SET claimed_by, claimed_until`` in one transaction.  ``mark_sent``, ``retry_later``,
``give_up`` and ``hold`` end the claim; ``unclaim`` gives back rows the dispatcher did not get to;
``renew`` extends the lease of what it still holds.  A dispatcher that crashed leaves its claims until
their lease runs out: a row it had sent but not yet marked goes once more then, and only once.
"""

from __future__ import annotations

from dataclasses import fields

import orjson

from bot.messages import Attachment, Button, Outbound
from storage.db import Repo, repository

_BUTTON = tuple(f.name for f in fields(Button))
# what an outbox row keeps of an attachment: not the adapter's download, not the file's local path
_ATTACHMENT = tuple(f for f in Attachment.__slots__ if f not in ("fetch", "path"))


def _plain(item, names: tuple[str, ...]) -> dict:
    """A flat dataclass as a dict (``asdict`` deep-copies, at several times the cost)."""
    return {name: getattr(item, name) for name in names}


def _encode(message: Outbound) -> str:
    """The row's body: JSON (orjson: every command writes a row or two, and the standard
    library's encoder took five times as long; P1 in docs/bench-results.md)."""
    return orjson.dumps({
        "text": message.text,
        "buttons": [_plain(b, _BUTTON) for b in message.buttons],
        "buttons_hint": message.buttons_hint,
        "attachments": [_plain(a, _ATTACHMENT) for a in message.attachments],
        "mention_ids": list(message.mention_ids),
        "mention_name": message.mention_name,
        "edit_of": message.edit_of,
        "key": message.key,
        "values": message.values,
        **({"replaces": message.replaces} if message.replaces else {}),
        **({"gathered": message.gathered} if message.gathered else {}),
        **({"fallback": message.fallback} if message.fallback else {}),
    }, option=orjson.OPT_NON_STR_KEYS).decode()


def _decode(row) -> Outbound:
    body = orjson.loads(row["body"])
    return Outbound(
        platform=row["platform"], address=row["address"], kind=row["kind"], text=body["text"],
        buttons=tuple(Button(**b) for b in body.get("buttons", ())),
        buttons_hint=body.get("buttons_hint", ""),
        attachments=tuple(Attachment(**a) for a in body.get("attachments", ())),
        outbox_id=row["id"], person_id=row["person_id"], chat_key=row["chat_key"],
        mention_ids=tuple(body.get("mention_ids", ())), mention_name=body.get("mention_name", ""),
        edit_of=body.get("edit_of"), key=body.get("key", ""), values=body.get("values") or {},
        merge_key=row["merge_key"] or "", replaces=body.get("replaces"),
        gathered=body.get("gathered") or {}, fallback=body.get("fallback") or {},
    )


@repository("outbox")
class Outbox(Repo):
    async def add(self, message: Outbound, now: float, ref: str = "",
                  not_before: float | None = None) -> int:
        cursor = await self._run(
            "INSERT INTO outbox (created_at, platform, address, kind, person_id, chat_key, body, "
            "ref, next_attempt_at, merge_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (now, message.platform, message.address, message.kind, message.person_id,
             message.chat_key, _encode(message), ref, now if not_before is None else not_before,
             message.merge_key or None))
        return cursor.lastrowid

    # --- gathered acknowledgements (bot/quiet.py) ------------------------------------------------
    async def last_gathered(self, platform: str, address: str, merge_key: str):
        """The latest row of this kind of acknowledgement in this chat, or None: (message, status,
        created at, sent at, platform message id, claimed until)."""
        row = await self._one(
            "SELECT * FROM outbox WHERE platform = ? AND address = ? AND merge_key = ? "
            "ORDER BY id DESC LIMIT 1", (platform, address, merge_key))
        if row is None:
            return None
        return (_decode(row), row["status"], row["created_at"], row["sent_at"],
                row["platform_message_id"], row["claimed_until"] if row["claimed_by"] else None)

    async def regather(self, outbox_id: int, message: Outbound, wall_now: float) -> bool:
        """Put ``message`` in place of a pending row no dispatcher holds; False when it is no longer
        such a row (sent, or being sent): then the caller writes a new one."""
        cursor = await self._run(
            "UPDATE outbox SET body = ? WHERE id = ? AND status = 'pending' AND platform = ? "
            "AND address = ? AND kind = ? "
            "AND (claimed_by IS NULL OR claimed_until IS NULL OR claimed_until < ?)",
            (_encode(message), outbox_id, message.platform, message.address, message.kind,
             wall_now))
        return cursor.rowcount == 1

    async def fresh(self, ids: list[int]) -> dict[int, Outbound]:
        """The rows as they are now (a gathered row may have grown since a dispatcher read it)."""
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = await self._all(f"SELECT * FROM outbox WHERE id IN ({marks})", ids)
        return {r["id"]: _decode(r) for r in rows}

    async def pending(self, platforms: list[str], limit: int = 1000) -> list[tuple[Outbound, float, int]]:
        """Pending messages of these platforms, oldest first: (message, due at, attempts)."""
        if not platforms:
            return []
        marks = ",".join("?" * len(platforms))
        rows = await self._all(
            f"SELECT * FROM outbox WHERE status = 'pending' AND platform IN ({marks}) "
            "ORDER BY id LIMIT ?", (*platforms, limit))
        return [(_decode(r), r["next_attempt_at"], r["attempts"]) for r in rows]

    async def waiting(self, platforms: list[str], now: float,
                      limit: int = 1000) -> list[tuple[Outbound, float, str | None]]:
        """Pending messages of these platforms, oldest first: (message, due at, holder), where
        holder is the dispatcher whose claim on it still holds at ``now`` (wall clock), else None."""
        if not platforms:
            return []
        marks = ",".join("?" * len(platforms))
        rows = await self._all(
            f"SELECT *, CASE WHEN claimed_until >= ? THEN claimed_by END AS holder FROM outbox "
            f"WHERE status = 'pending' AND platform IN ({marks}) ORDER BY id LIMIT ?",
            (now, *platforms, limit))
        return [(_decode(r), r["next_attempt_at"], r["holder"]) for r in rows]

    async def claim(self, ids: list[int], claimer: str, until: float, now: float,
                    gone: list[str] | tuple[str, ...] = ()) -> set[int]:
        """Claim the rows among ``ids`` that are pending and free (unclaimed, their lease over at
        ``now``, already ``claimer``'s, or held by a dispatcher in ``gone``) for ``claimer`` until
        ``until``; return the ids ``claimer`` holds now.  Run it in a write transaction (see the
        module docstring)."""
        if not ids:
            return set()
        marks = ",".join("?" * len(ids))
        gone_marks = ",".join("?" * len(gone))
        gone_clause = f" OR claimed_by IN ({gone_marks})" if gone else ""
        await self._run(
            f"UPDATE outbox SET claimed_by = ?, claimed_until = ? WHERE id IN ({marks}) "
            f"AND status = 'pending' AND (claimed_by IS NULL OR claimed_until IS NULL "
            f"OR claimed_until < ? OR claimed_by = ?{gone_clause})",
            (claimer, until, *ids, now, claimer, *gone))
        rows = await self._all(
            f"SELECT id FROM outbox WHERE id IN ({marks}) AND status = 'pending' AND claimed_by = ?",
            (*ids, claimer))
        return {r[0] for r in rows}

    async def renew(self, claimer: str, until: float) -> set[int]:
        """Extend the lease of every pending row ``claimer`` still holds; return their ids (a row
        whose lease ran out and that another dispatcher claimed since is not among them)."""
        await self._run(
            "UPDATE outbox SET claimed_until = ? WHERE claimed_by = ? AND status = 'pending'",
            (until, claimer))
        rows = await self._all(
            "SELECT id FROM outbox WHERE claimed_by = ? AND status = 'pending'", (claimer,))
        return {r[0] for r in rows}

    async def unclaim(self, ids: list[int], claimer: str) -> None:
        """Give back ``claimer``'s claims on these rows (it did not get to send them)."""
        if not ids:
            return
        marks = ",".join("?" * len(ids))
        await self._run(
            f"UPDATE outbox SET claimed_by = NULL, claimed_until = NULL "
            f"WHERE id IN ({marks}) AND claimed_by = ?", (*ids, claimer))

    async def mark_sent(self, outbox_id: int, now: float, platform_message_id: str | None) -> None:
        await self._run(
            "UPDATE outbox SET status = 'sent', sent_at = ?, platform_message_id = ?, "
            "attempts = attempts + 1, claimed_by = NULL, claimed_until = NULL WHERE id = ?",
            (now, platform_message_id, outbox_id))

    async def retry_later(self, outbox_id: int, at: float, error: str) -> None:
        await self._run(
            "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?, last_error = ?, "
            "claimed_by = NULL, claimed_until = NULL WHERE id = ?", (at, error[:500], outbox_id))

    async def attempts(self, outbox_id: int) -> int:
        return int(await self._value("SELECT attempts FROM outbox WHERE id = ?", (outbox_id,)) or 0)

    async def postpone(self, outbox_id: int, at: float) -> None:
        """Move a message's next attempt without counting an attempt (e.g. a daily cap)."""
        await self._run("UPDATE outbox SET next_attempt_at = ? WHERE id = ?", (at, outbox_id))

    async def hold(self, outbox_id: int, reason: str) -> None:
        """Keep a message until its recipient can be reached (see ``release``)."""
        await self._run("UPDATE outbox SET status = 'held', last_error = ?, claimed_by = NULL, "
                        "claimed_until = NULL WHERE id = ?", (reason[:500], outbox_id))

    async def release(self, platform: str, address: str, now: float) -> int:
        """Send the held messages of one recipient now; return how many."""
        cursor = await self._run(
            "UPDATE outbox SET status = 'pending', next_attempt_at = ? "
            "WHERE status = 'held' AND platform = ? AND address = ?", (now, platform, address))
        return cursor.rowcount

    async def give_up(self, outbox_id: int, error: str) -> None:
        await self._run(
            "UPDATE outbox SET status = 'failed', attempts = attempts + 1, last_error = ?, "
            "claimed_by = NULL, claimed_until = NULL WHERE id = ?", (error[:500], outbox_id))

    async def instead(self, outbox_id: int, message: Outbound, now: float) -> None:
        """Send ``message`` (the group's copy of a refused private answer) in this row's place."""
        await self._run(
            "UPDATE outbox SET platform = ?, address = ?, kind = ?, person_id = NULL, chat_key = ?, "
            "body = ?, status = 'pending', next_attempt_at = ?, claimed_by = NULL, "
            "claimed_until = NULL, last_error = 'refused privately: posted in the group' "
            "WHERE id = ?",
            (message.platform, message.address, message.kind, message.chat_key, _encode(message),
             now, outbox_id))

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

    async def next_due(self, platforms: list[str], *, claimer: str | None = None,
                       now: float | None = None, gone: list[str] | tuple[str, ...] = ()) -> float | None:
        """When the next message can go: the earliest due time of each chat's *first* pending
        message (a later one waits behind it, whatever its own due time, to keep the order).

        With ``claimer`` (and ``now``, wall clock), a chat whose first message another dispatcher
        holds is left out: that one sends it (or its lease runs out)."""
        if not platforms:
            return None
        marks = ",".join("?" * len(platforms))
        if claimer is None:
            return await self._value(
                f"SELECT MIN(due) FROM (SELECT next_attempt_at AS due, MIN(id) FROM outbox "
                f"WHERE status = 'pending' AND platform IN ({marks}) GROUP BY platform, address)",
                platforms)
        gone_clause = f" OR holder IN ({','.join('?' * len(gone))})" if gone else ""
        return await self._value(
            f"SELECT MIN(due) FROM (SELECT next_attempt_at AS due, MIN(id), claimed_by AS holder, "
            f"claimed_until AS until FROM outbox WHERE status = 'pending' AND platform IN ({marks}) "
            f"GROUP BY platform, address) WHERE holder IS NULL OR until IS NULL OR until < ? "
            f"OR holder = ?{gone_clause}",
            (*platforms, now, claimer, *gone))

    async def ref_of_sent(self, platform: str, address: str, platform_message_id: str) -> str | None:
        """What the message the platform knows as ``platform_message_id`` in this chat was about (its
        ``ref``, e.g. 'ticket:12'), or None if the bot sent no such message there."""
        row = await self._one(
            "SELECT ref FROM outbox WHERE platform = ? AND address = ? AND platform_message_id = ? "
            "ORDER BY id DESC LIMIT 1", (platform, address, platform_message_id))
        return row["ref"] if row and row["ref"] else None

    async def refs_sent_recently(self, platform: str, address: str, prefix: str,
                                 limit: int = 50) -> list[tuple[str, str]]:
        """(ref, text) of the latest messages sent to this chat whose ref starts with ``prefix``, newest
        first: a quote that carries only the quoted text is matched against these."""
        rows = await self._all(
            "SELECT ref, body FROM outbox WHERE platform = ? AND address = ? AND status = 'sent' "
            "AND ref LIKE ? ORDER BY id DESC LIMIT ?", (platform, address, prefix + "%", limit))
        return [(r["ref"], orjson.loads(r["body"]).get("text", "")) for r in rows]

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
