"""Read-only queries for reports: the weekly digest, the ticket export, delivery counts.

Nothing here changes anything; every function answers one question about a span of time.
"""

from __future__ import annotations

from storage.db import Repo, repository


@repository("reports")
class Reports(Repo):
    async def sent_since(self, platform: str, since: float) -> int:
        """How many outbox messages went out on ``platform`` since ``since`` (a daily cap's count)."""
        return int(await self._value(
            "SELECT COUNT(*) FROM outbox WHERE platform = ? AND status = 'sent' AND sent_at >= ?",
            (platform, since)) or 0)
