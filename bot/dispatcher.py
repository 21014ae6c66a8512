"""The dispatcher: delivers the outbox through the adapters, within each platform's limits.

Each pass reads the pending messages of the running platforms, oldest first, and groups them by
chat.  Chats are served side by side; inside a chat messages go strictly in order, and a message
waiting for a retry holds back the ones after it, so a chat never sees its messages out of order.
A message is marked sent only after its platform took it: a crash in between sends it again after
restart (at least once; the outbox id travels with it for transports that de-duplicate).
``TemporaryError`` retries with exponential backoff (or exactly the ``retry_after`` the platform
asked for); ``PermanentError`` goes to ``Core.delivery_failed``, which decides (e.g. Telegram's
"open a private chat with me" fallback), else the message is marked failed and audited.

A text longer than the platform's ``SendLimits.max_text_length`` is sent as several pieces (split by
``bot.textsplit`` between words and graphemes, buttons and attachments on the last piece), each
counted by the limiter as the platform message it is; a piece already taken is not sent again when a
later piece has to wait for a retry.  A platform with a ``daily_cap`` counts what was already sent
today from the outbox, so a restart does not reset the day's count.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import OrderedDict
from dataclasses import replace
from typing import TYPE_CHECKING

from bot.adapters.base import Adapter, PermanentError, TemporaryError
from bot.ratelimit import PlatformLimiter
from bot.textsplit import split_text, utf16_length

if TYPE_CHECKING:
    from bot.core import Core
    from bot.messages import Outbound

log = logging.getLogger(__name__)


class Dispatcher:
    """Moves messages from the outbox to the adapters (see module docstring)."""

    def __init__(self, core: Core, adapters: dict[str, Adapter], *,
                 limiters: dict[str, PlatformLimiter] | None = None,
                 monotonic=time.monotonic) -> None:
        self.core = core
        self.adapters = adapters
        self.limiters = limiters or {
            name: PlatformLimiter(adapter.limits) for name, adapter in adapters.items()
        }
        self._monotonic = monotonic
        self._stopping = asyncio.Event()
        self.sent = 0
        self.failed = 0
        self.retried = 0
        self._pieces_done: dict[int, int] = {}  # outbox id → pieces of a split text already sent
        self._day_counted: set[tuple[str, int]] = set()
        self._counting = asyncio.Lock()

    @property
    def settings(self):
        return self.core.config.delivery

    async def drain_once(self) -> int:
        """Deliver every message that is due now; return how many were sent."""
        now = self.core.clock.now().timestamp()
        async with self.core.db.read() as tx:
            pending = await tx.outbox.pending(list(self.adapters))
        chats: OrderedDict[tuple[str, str], list[Outbound]] = OrderedDict()
        blocked: set[tuple[str, str]] = set()
        for message, due_at, _attempts in pending:
            chat = (message.platform, message.address)
            if chat in blocked:
                continue
            if due_at > now:
                blocked.add(chat)  # an earlier message of this chat waits: keep the order
                continue
            chats.setdefault(chat, []).append(message)
        if not chats:
            return 0
        # every chat's task is awaited to its end, even when another fails: a task left running
        # would still be sending when the next pass picks the same messages up again
        results = await asyncio.gather(*(self._serve_chat(msgs) for msgs in chats.values()),
                                       return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                log.error("delivering failed: %r", result)
        return sum(r for r in results if isinstance(r, int))

    async def _serve_chat(self, messages: list[Outbound]) -> int:
        sent = 0
        for message in messages:
            if self._stopping.is_set():
                break  # shutting down: what is left goes after the restart, not half-sent now
            if not await self.deliver(message):
                break
            sent += 1
        return sent

    def pieces(self, message: Outbound) -> list[Outbound]:
        """The platform messages one outbox message becomes (a long text split at the limit)."""
        limit = self.adapters[message.platform].limits.max_text_length
        if not limit or utf16_length(message.plain_text()) <= limit:
            return [message]
        hint = message.buttons_hint if message.buttons else ""
        texts = split_text(message.text, limit - (utf16_length(hint) + 1 if hint else 0))
        last = len(texts) - 1
        return [replace(message, text=text, buttons=message.buttons if i == last else (),
                        buttons_hint=message.buttons_hint if i == last else "",
                        attachments=message.attachments if i == last else (),
                        mention_ids=message.mention_ids if i == 0 else (),
                        mention_name=message.mention_name if i == 0 else "",
                        edit_of=message.edit_of if i == 0 else None)
                for i, text in enumerate(texts)]

    async def _count_today(self, platform: str, limiter: PlatformLimiter, today: int) -> None:
        """Before the first capped send of a day: count what the outbox already sent that day."""
        if limiter.limits.daily_cap is None or (platform, today) in self._day_counted:
            return
        async with self._counting:  # the other chats' sends wait until the count is in
            if (platform, today) in self._day_counted:
                return
            midnight = self.core.clock.now().replace(hour=0, minute=0, second=0, microsecond=0)
            async with self.core.db.read() as tx:
                earlier = await tx.reports.sent_since(platform, midnight.timestamp())
            limiter.count_earlier(today, earlier)
            self._day_counted.add((platform, today))

    async def deliver(self, message: Outbound) -> bool:
        """Send one message (in pieces, if it is long); True when the platform took all of it."""
        adapter = self.adapters[message.platform]
        limiter = self.limiters[message.platform]
        pieces = self.pieces(message)
        done = self._pieces_done.get(message.outbox_id, 0)
        platform_id = None
        for index in range(done, len(pieces)):
            piece = pieces[index]
            today = self.core.clock.now().toordinal()
            await self._count_today(message.platform, limiter, today)
            cost = 1 + len(piece.attachments)
            if not await limiter.acquire(message.kind, message.address, today, cost):
                tomorrow = self.core.clock.now().replace(hour=0, minute=0, second=0, microsecond=0)
                await self._retry(message, tomorrow.timestamp() + 86400, "daily cap reached",
                                  count=False)
                return False
            platform_id = await self._send_piece(adapter, message, piece)
            if platform_id is False:
                return False
            self._pieces_done[message.outbox_id] = index + 1
        self._pieces_done.pop(message.outbox_id, None)
        now = self.core.clock.now().timestamp()
        async with self.core.db.transaction() as tx:
            await tx.outbox.mark_sent(message.outbox_id, now, platform_id)
        self.sent += 1
        return True

    async def _send_piece(self, adapter: Adapter, message: Outbound, piece: Outbound):
        """Hand one piece to the adapter: its platform id, or False when it was not taken."""
        try:
            return await adapter.send(piece)
        except TemporaryError as exc:
            if not getattr(exc, "count", True):  # offline, not tried: wait without counting
                at = self.core.clock.now().timestamp() + (exc.retry_after or 5.0)
                await self._retry(message, at, str(exc), count=False)
                return False
            await self._temporary(message, exc.retry_after, str(exc) or type(exc).__name__)
            return False
        except PermanentError as exc:
            self._pieces_done.pop(message.outbox_id, None)
            await self._permanent(adapter, message, exc)
            return False
        except Exception as exc:  # an adapter bug or a network error it did not classify
            log.warning("sending outbox #%s failed: %r", message.outbox_id, exc)
            await self._temporary(message, None, repr(exc))
            return False

    async def _attempts(self, message: Outbound) -> int:
        async with self.core.db.read() as tx:
            return await tx.outbox.attempts(message.outbox_id)

    async def _temporary(self, message: Outbound, retry_after: float | None, error: str) -> None:
        attempts = await self._attempts(message) + 1
        if attempts >= self.settings.max_attempts:
            await self._give_up(message, f"gave up after {attempts} attempts: {error}")
            return
        if retry_after is not None:
            delay = retry_after
        else:
            delay = min(self.settings.retry_max_seconds,
                        self.settings.retry_base_seconds * 2 ** (attempts - 1))
            delay *= random.uniform(0.8, 1.2)
        self.retried += 1
        await self._retry(message, self.core.clock.now().timestamp() + delay, error)

    async def _retry(self, message: Outbound, at: float, error: str, count: bool = True) -> None:
        async with self.core.db.transaction() as tx:
            if count:
                await tx.outbox.retry_later(message.outbox_id, at, error)
            else:
                await tx.outbox.postpone(message.outbox_id, at)

    async def _permanent(self, adapter: Adapter, message: Outbound, exc: PermanentError) -> None:
        try:
            if await self.core.delivery_failed(message, exc):
                return  # the core arranged another way (and updated the outbox)
        except Exception:
            log.exception("handling the failure of outbox #%s failed", message.outbox_id)
        await self._give_up(message, str(exc) or type(exc).__name__)

    async def _give_up(self, message: Outbound, error: str) -> None:
        log.error("outbox #%s to %s:%s failed for good: %s", message.outbox_id, message.platform,
                  message.address, error)
        now = self.core.clock.now().timestamp()
        async with self.core.db.transaction() as tx:
            await tx.outbox.give_up(message.outbox_id, error)
            await tx.audit.record(now, None, message.platform, "delivery_failed",
                                  f"outbox:{message.outbox_id}", error[:300])
        self.failed += 1

    async def drain(self, timeout: float = 30.0) -> None:  # noqa: ASYNC109 - a total budget
        """Deliver until nothing is due (used by the console and tests)."""
        deadline = self._monotonic() + timeout
        while self._monotonic() < deadline:
            if await self.drain_once() == 0:
                async with self.core.db.read() as tx:
                    next_due = await tx.outbox.next_due(list(self.adapters))
                if next_due is None or next_due > self.core.clock.now().timestamp():
                    return

    async def run(self) -> None:
        """Deliver forever: wake on new outbox rows, or when the next retry is due."""
        while not self._stopping.is_set():
            self.core.outbox_changed.clear()
            failed = False
            try:
                await self.drain_once()
                async with self.core.db.read() as tx:
                    next_due = await tx.outbox.next_due(list(self.adapters))
            except Exception:
                log.exception("dispatcher pass failed")
                failed, next_due = True, None
            wait = 5.0
            if next_due is not None:
                wait = min(wait, max(0.0, next_due - self.core.clock.now().timestamp()))
            if failed:
                wait = 2.0  # e.g. the database is locked by another process: do not spin
            if wait > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.core.outbox_changed.wait(), wait)

    def stop(self) -> None:
        self._stopping.set()
        self.core.outbox_changed.set()
