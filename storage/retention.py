"""Retention: deleting rows of the tables that only grow, by age, one small batch per statement.

Each method deletes at most ``limit`` rows older than ``before`` (Unix seconds) and returns how many it
deleted; the caller (handlers/housekeeping.py) runs each batch in its own short transaction, so the
write lock is never held for long.  Only these go: inbound records (the de-duplication of redelivered
messages), outbox rows that are finished (sent or failed — never pending or held), audit rows, and
the office board's one-time sign-in links a day after they expired (used or not).
Tickets, their history and everything else are never deleted here.  Each batch finds its rows through
an index (migration 0009), so its cost does not grow with the table.
"""

from __future__ import annotations

from storage.db import Repo, repository

SIGN_IN_LINKS = "web:link:"  # kv keys of the board's one-time links (handlers/board.py, bot/web/auth.py)

_FINISHED = "status IN ('sent', 'failed')"  # the condition of the partial index outbox_done_created


@repository("retention")
class Retention(Repo):
    async def prune_inbound(self, before: float, limit: int) -> int:
        """Forget up to ``limit`` inbound message ids received before ``before``."""
        ran = await self._run(
            "DELETE FROM inbound WHERE (platform, chat_id, message_id) IN (SELECT platform, chat_id, "
            "message_id FROM inbound WHERE received_at < ? ORDER BY received_at LIMIT ?)",
            (before, limit))
        return ran.rowcount

    async def prune_outbox(self, before: float, limit: int) -> int:
        """Delete up to ``limit`` sent or failed outbox rows written (and sent) before ``before``."""
        ran = await self._run(
            f"DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE {_FINISHED} AND created_at < ? "
            f"AND (sent_at IS NULL OR sent_at < ?) ORDER BY created_at LIMIT ?) AND {_FINISHED}",
            (before, before, limit))
        return ran.rowcount

    async def prune_audit(self, before: float, limit: int) -> int:
        """Delete up to ``limit`` audit rows recorded before ``before``."""
        ran = await self._run(
            "DELETE FROM audit WHERE id IN (SELECT id FROM audit WHERE at < ? ORDER BY at LIMIT ?)",
            (before, limit))
        return ran.rowcount

    async def prune_links(self, before: float, limit: int) -> int:
        """Delete up to ``limit`` one-time sign-in links that expired before ``before`` (their kv keys
        are found by prefix, through the primary key)."""
        ran = await self._run(
            "DELETE FROM kv WHERE key IN (SELECT key FROM kv WHERE key >= ? AND key < ? "
            "AND json_extract(value, '$.expires') < ? LIMIT ?)",
            (SIGN_IN_LINKS, SIGN_IN_LINKS[:-1] + chr(ord(SIGN_IN_LINKS[-1]) + 1), before, limit))
        return ran.rowcount

    async def counts(self) -> dict[str, int]:
        """Rows in each table this prunes (for status lines and tests)."""
        row = await self._one(
            "SELECT (SELECT COUNT(*) FROM inbound), (SELECT COUNT(*) FROM outbox), "
            "(SELECT COUNT(*) FROM audit)")
        return {"inbound": row[0], "outbox": row[1], "audit": row[2]}
