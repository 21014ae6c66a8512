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

**Claims.**  Before it sends anything a pass claims its rows (``Outbox.claim``: who — this
dispatcher's id, ``host/pid/uuid`` — and until when, a lease of ``LEASE_SECONDS`` of wall-clock time
that is renewed while the pass runs), and sends only the rows it got, each chat's up to the first one
it did not get.  A chat whose first row another dispatcher holds waits for it.  So two dispatchers on
one database (two processes, or two apps in one) never send one row twice, and a chat keeps its order.
A gathered acknowledgement (``Outbound.merge_key``, see bot/context.py) is read again when claimed
(others of its kind may have joined it since), and while it waits for its hold the messages after it
in its chat go on: it is an updated summary, not one step of a conversation.
``mark_sent``/``retry_later``/``give_up`` end a claim; what a pass did not get to is given back at its
end.  The claim is an ``UPDATE … WHERE status = 'pending' AND <free>`` followed by reading back what
we hold, in one transaction: on a server database it maps onto ``SELECT … FOR UPDATE SKIP LOCKED``.
A crashed dispatcher's claims lapse with their lease, or at once when its process is known to be gone
(same host, no such pid): a row it had sent but not marked goes once more, never more than once.

**When the outbox cannot be written** (``sqlite3.OperationalError``: the disk is full, an I/O error,
a read-only file, a lock held too long), sending to that platform stops: one error line is logged
for the outage, nothing more is sent there, and a message the platform already took is remembered in
memory and marked sent once writing works again — not sent again.  The dispatcher tries again after
``OUTAGE_FIRST_WAIT`` seconds, doubling up to ``OUTAGE_MAX_WAIT``, and logs one line when sending
resumes.

The guarantee: every outbox message is delivered at least once; it is repeated only when its
dispatcher stopped (a crash, ``kill -9``, a power cut, an exit while the disk was full) or stalled for
longer than the lease between the platform taking it and the outbox recording it, and then once.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import random
import socket
import sqlite3
import time
import uuid
import weakref
from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from bot.adapters.base import Adapter, PermanentError, TemporaryError
from bot.ratelimit import PlatformLimiter
from bot.textsplit import split_text, utf16_length

if TYPE_CHECKING:
    from bot.core import Core
    from bot.messages import Outbound

log = logging.getLogger(__name__)
LEASE_SECONDS = 60.0  # how long a claim holds (wall clock) unless renewed
RENEW_BELOW = 45.0  # renew the claims before a send when less than this is left of the lease
OUTAGE_FIRST_WAIT = 1.0  # seconds before trying the outbox again after a write failed …
OUTAGE_MAX_WAIT = 60.0  # … doubling up to this
_LIVE: set[str] = set()  # the ids of this process's dispatchers that still exist


def new_dispatcher_id() -> str:
    """A dispatcher's name in ``outbox.claimed_by``: ``host/pid/uuid`` (unique; the host and pid
    let a dispatcher on the same host see that a holder's process is gone)."""
    return f"{socket.gethostname()}/{os.getpid()}/{uuid.uuid4().hex}"


def holder_is_gone(holder: str) -> bool:
    """True when ``holder`` is a dispatcher of a process on this host that no longer exists, or one
    of this process's pid that this process does not have (a restarted container's bot is pid 1
    again).  A pid another process reuses, another host or an odd name count as alive: their claims
    wait for the lease."""
    host, _, rest = holder.partition("/")
    pid = rest.partition("/")[0]
    if host != socket.gethostname() or not pid.isdigit() or int(pid) <= 0:
        return False
    if int(pid) == os.getpid():
        return holder not in _LIVE
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:  # it exists (another user's)
        return False
    return False


@dataclass
class _Outage:
    """The outbox could not be written for a platform: sending there waits until ``resume_at``."""

    since: float  # monotonic
    wait: float
    resume_at: float
    error: str
    ended: float | None = None


class Dispatcher:
    """Moves messages from the outbox to the adapters (see module docstring)."""

    def __init__(self, core: Core, adapters: dict[str, Adapter], *,
                 limiters: dict[str, PlatformLimiter] | None = None,
                 monotonic=time.monotonic, wall=time.time) -> None:
        self.core = core
        self.adapters = adapters
        self.limiters = limiters or {
            name: PlatformLimiter(adapter.limits) for name, adapter in adapters.items()
        }
        self._monotonic = monotonic
        self._wall = wall  # leases are wall-clock time: other processes read them
        self._stopping = asyncio.Event()
        self.sent = 0
        self.failed = 0
        self.retried = 0
        self._pieces_done: dict[int, int] = {}  # outbox id → pieces of a split text already sent
        self._day_counted: set[tuple[str, int]] = set()
        self._counting = asyncio.Lock()
        self.id = new_dispatcher_id()
        _LIVE.add(self.id)
        weakref.finalize(self, _LIVE.discard, self.id)
        self._pass = asyncio.Lock()  # one pass at a time: a pass's claims are this dispatcher's
        self._held: set[int] = set()  # rows this pass holds and has not settled yet
        self._lease_until = 0.0
        self._renewing = asyncio.Lock()
        self._gone: set[str] = set()  # holders whose process is gone (see holder_is_gone)
        self._alive: set[str] = set()  # holders seen alive in this pass
        # sent, but the outbox could not record it: outbox id → (platform, sent at, platform id)
        self._unrecorded: dict[int, tuple[str, float, str | None]] = {}
        self._outages: dict[str, _Outage] = {}

    @property
    def settings(self):
        return self.core.config.delivery

    async def drain_once(self) -> int:
        """Deliver every message that is due now; return how many were sent."""
        async with self._pass:
            return await self._pass_once()

    async def _pass_once(self) -> int:
        await self._record_unrecorded()
        platforms = [p for p in self.adapters if not self._paused(p)]
        if not platforms:
            return 0
        now = self.core.clock.now().timestamp()
        wall = self._wall()
        try:
            async with self.core.db.read() as tx:
                pending = await tx.outbox.waiting(platforms, wall)
        except sqlite3.OperationalError as exc:
            self._outage_begins(platforms, exc)
            return 0
        self._alive.clear()
        chats: OrderedDict[tuple[str, str], list[Outbound]] = OrderedDict()
        blocked: set[tuple[str, str]] = set()
        for message, due_at, holder in pending:
            chat = (message.platform, message.address)
            if chat in blocked:
                continue
            if message.merge_key and due_at > now and not self._held_by_other(holder):
                continue  # gathered acknowledgements on hold: what comes after them may go first
            if due_at > now or message.outbox_id in self._unrecorded or self._held_by_other(holder):
                blocked.add(chat)  # an earlier message of this chat waits: keep the order
                continue
            chats.setdefault(chat, []).append(message)
        if not chats:
            return 0
        ids = [m.outbox_id for messages in chats.values() for m in messages]
        until = wall + LEASE_SECONDS
        try:
            async with self.core.db.transaction() as tx:
                got = await tx.outbox.claim(ids, self.id, until, wall, sorted(self._gone))
                # a gathered row may have grown since it was read: send it as it is now (once
                # claimed, nothing joins it any more — the next one follows it)
                fresh = await tx.outbox.fresh(
                    [m.outbox_id for ms in chats.values() for m in ms
                     if m.merge_key and m.outbox_id in got])
        except sqlite3.OperationalError as exc:
            self._outage_begins(sorted({p for p, _ in chats}), exc)
            return 0
        self._outage_ends({p for p, _ in chats})  # the claim was a write, and it went through
        self._lease_until = until
        # each chat's rows up to the first one another dispatcher got in between: in order
        served = [[fresh.get(m.outbox_id, m)
                   for m in itertools.takewhile(lambda m: m.outbox_id in got, messages)]
                  for messages in chats.values()]
        served = [messages for messages in served if messages]
        self._held = got
        try:
            # every chat's task is awaited to its end, even when another fails: a task left running
            # would still be sending when the next pass picks the same messages up again
            results = await asyncio.gather(*(self._serve_chat(msgs) for msgs in served),
                                           return_exceptions=True)
        finally:
            await self._give_back()
        for result in results:
            if isinstance(result, BaseException):
                log.error("delivering failed: %r", result)
        return sum(r for r in results if isinstance(r, int))

    def _held_by_other(self, holder: str | None) -> bool:
        """Does another dispatcher (whose process is not known to be gone) hold this row?"""
        if holder is None or holder == self.id or holder in self._gone:
            return False
        if holder not in self._alive:
            if holder_is_gone(holder):
                self._gone.add(holder)
                return False
            self._alive.add(holder)
        return True

    async def _give_back(self) -> None:
        """Release the claims of this pass on what was not sent, retried or given up."""
        left = sorted(self._held - set(self._unrecorded))  # a sent, unrecorded row stays claimed
        self._held = set()
        if not left:
            return
        try:
            async with self.core.db.transaction() as tx:
                await tx.outbox.unclaim(left, self.id)
        except sqlite3.OperationalError:
            pass  # the outbox cannot be written (logged once): the lease runs out instead

    async def _serve_chat(self, messages: list[Outbound]) -> int:
        sent = 0
        for message in messages:
            if self._stopping.is_set():
                break  # shutting down: what is left goes after the restart, not half-sent now
            if self._paused(message.platform):
                break  # the outbox cannot be written: send nothing it could not record
            try:
                delivered = await self.deliver(message)
            except sqlite3.OperationalError as exc:  # reading the outbox failed (before a send)
                self._outage_begins([message.platform], exc)
                break
            if not delivered:
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
                        edit_of=message.edit_of if i == 0 else None,
                        replaces=message.replaces if i == 0 else None)
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
        """Send one message this pass holds (in pieces, if it is long); True when the platform took
        all of it and the outbox recorded that."""
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
            if not await self._still_held(message):
                return False  # our lease ran out and another dispatcher took it, or no write works
            platform_id = await self._send_piece(adapter, message, piece)
            if platform_id is False:
                return False
            self._pieces_done[message.outbox_id] = index + 1
        self._pieces_done.pop(message.outbox_id, None)
        now = self.core.clock.now().timestamp()
        self.sent += 1
        if not await self._write(message, lambda tx: tx.outbox.mark_sent(message.outbox_id, now,
                                                                           platform_id)):
            # taken by the platform, not recorded: never send it again, record it when we can
            self._unrecorded[message.outbox_id] = (message.platform, now, platform_id)
            return False
        return True

    async def _still_held(self, message: Outbound) -> bool:
        """Is ``message`` still ours to send?  Renews the lease of all we hold when it runs low."""
        if self._paused(message.platform):
            return False  # another chat's write just failed: send nothing the outbox cannot record
        if self._wall() > self._lease_until - RENEW_BELOW:
            async with self._renewing:
                if self._wall() > self._lease_until - RENEW_BELOW:
                    until = self._wall() + LEASE_SECONDS
                    try:
                        async with self.core.db.transaction() as tx:
                            kept = await tx.outbox.renew(self.id, until)
                    except sqlite3.OperationalError as exc:
                        self._outage_begins([message.platform], exc)
                        return False
                    self._lease_until = until
                    lost = self._held - kept
                    if lost:
                        log.warning("the claims on outbox %s ran out and another dispatcher took "
                                    "them: it sends them", sorted(lost)[:10])
                    self._held &= kept
        return message.outbox_id in self._held

    async def _write(self, message: Outbound, change) -> bool:
        """Run ``change(tx)`` in a transaction and end this pass's claim on ``message``; False
        (and sending to its platform stops for a while) when the outbox cannot be written."""
        try:
            async with self.core.db.transaction() as tx:
                await change(tx)
        except sqlite3.OperationalError as exc:
            self._outage_begins([message.platform], exc)
            return False
        self._held.discard(message.outbox_id)
        return True

    # --- when the outbox cannot be written ------------------------------------------------------
    def _paused(self, platform: str) -> bool:
        outage = self._outages.get(platform)
        return outage is not None and outage.ended is None and self._monotonic() < outage.resume_at

    def _outage_begins(self, platforms, exc: BaseException) -> None:
        """A write to the outbox failed: stop sending to ``platforms`` for a while (growing, capped).
        One error line when an outage begins; an outage lasts until a write succeeds again."""
        now = self._monotonic()
        fresh, waits = [], []
        for platform in platforms:
            outage = self._outages.get(platform)
            if outage is not None and outage.ended is None:
                if now >= outage.resume_at:  # the try after the wait failed: wait longer
                    outage.wait = min(outage.wait * 2, OUTAGE_MAX_WAIT)
                    outage.resume_at, outage.error = now + outage.wait, str(exc)
                continue  # (or another chat's write of the same moment failed too)
            wait = OUTAGE_FIRST_WAIT
            if outage is not None and now - outage.ended < OUTAGE_MAX_WAIT:
                wait = min(outage.wait * 2, OUTAGE_MAX_WAIT)  # it came back at once: no faster
            self._outages[platform] = _Outage(now, wait, now + wait, str(exc))
            fresh.append(platform)
            waits.append(wait)
        if fresh:
            log.error("cannot write the outbox in %s (%s): sending to %s stops until it can (what "
                      "the platform already took is recorded then, not sent again); trying again "
                      "in %.0f s, then less and less often", self.core.db.path, exc,
                      ", ".join(fresh), max(waits))
        else:
            log.debug("the outbox still cannot be written (%s)", exc)

    def _outage_ends(self, platforms) -> None:
        now = self._monotonic()
        ended = []
        for platform in sorted(platforms):
            outage = self._outages.get(platform)
            if outage is not None and outage.ended is None:
                outage.ended = now
                ended.append((platform, now - outage.since))
        if ended:
            log.warning("the outbox can be written again: sending to %s resumes (stopped for %.0f s)",
                        ", ".join(p for p, _ in ended), max(s for _, s in ended))

    async def _record_unrecorded(self) -> None:
        """Once a platform's wait is over: record what it took during the outage.  This write is
        the test whether the outbox works again; without one, the next pass's claim is."""
        now = self._monotonic()
        for platform, outage in list(self._outages.items()):
            if outage.ended is not None or now < outage.resume_at:
                continue
            waiting = {i: r for i, r in self._unrecorded.items() if r[0] == platform}
            if not waiting:
                continue
            try:
                async with self.core.db.transaction() as tx:
                    for outbox_id, (_, sent_at, platform_id) in waiting.items():
                        await tx.outbox.mark_sent(outbox_id, sent_at, platform_id)
            except sqlite3.OperationalError as exc:
                self._outage_begins([platform], exc)
                continue
            for outbox_id in waiting:
                del self._unrecorded[outbox_id]
            self._outage_ends([platform])

    def _outage_wait(self) -> float | None:
        """Seconds until the first stopped platform may be tried again (None: none is stopped)."""
        now = self._monotonic()
        waits = [o.resume_at - now for o in self._outages.values() if o.ended is None]
        return max(0.0, min(waits)) if waits else None

    def located(self, piece: Outbound) -> Outbound:
        """Stored photos (``Attachment.media``) with the path of their file in the media folder, for
        the adapter to send; one whose file is gone is left out."""
        media = self.core.media
        attachments = []
        for attachment in piece.attachments:
            if attachment.media:
                path = media.path(attachment.media) if media is not None else None
                if path is None:
                    log.warning("outbox #%s: stored photo %s is missing", piece.outbox_id,
                                attachment.media)
                    if not attachment.file_id:
                        continue
                else:
                    attachment = replace(attachment, path=str(path))
            attachments.append(attachment)
        return replace(piece, attachments=tuple(attachments))

    async def _send_piece(self, adapter: Adapter, message: Outbound, piece: Outbound):
        """Hand one piece to the adapter: its platform id, or False when it was not taken."""
        if any(a.media for a in piece.attachments):
            piece = self.located(piece)
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
        if count:
            await self._write(message, lambda tx: tx.outbox.retry_later(message.outbox_id, at, error))
            return

        async def postpone(tx) -> None:
            await tx.outbox.postpone(message.outbox_id, at)
            await tx.outbox.unclaim([message.outbox_id], self.id)

        await self._write(message, postpone)

    async def _permanent(self, adapter: Adapter, message: Outbound, exc: PermanentError) -> None:
        try:
            if await self.core.delivery_failed(message, exc):
                return  # the core arranged another way (and updated the outbox)
        except sqlite3.OperationalError as error:  # it could not write: decide again afterwards
            self._outage_begins([message.platform], error)
            return
        except Exception:
            log.exception("handling the failure of outbox #%s failed", message.outbox_id)
        await self._give_up(message, str(exc) or type(exc).__name__)

    async def _give_up(self, message: Outbound, error: str) -> None:
        log.error("outbox #%s to %s:%s failed for good: %s", message.outbox_id, message.platform,
                  message.address, error)
        now = self.core.clock.now().timestamp()

        async def give_up(tx) -> None:
            await tx.outbox.give_up(message.outbox_id, error)
            await tx.audit.record(now, None, message.platform, "delivery_failed",
                                  f"outbox:{message.outbox_id}", error[:300])

        if await self._write(message, give_up):
            self.failed += 1

    async def drain(self, timeout: float = 30.0) -> None:  # noqa: ASYNC109 - a total budget
        """Deliver until nothing is due (used by the console and tests)."""
        deadline = self._monotonic() + timeout
        while self._monotonic() < deadline:
            if await self.drain_once() == 0:
                next_due = await self._next_due()
                if next_due is None or next_due > self.core.clock.now().timestamp():
                    return  # or what is left waits for another dispatcher, or for the disk

    async def _next_due(self) -> float | None:
        """When the next message this dispatcher may send is due (stopped platforms and chats
        another dispatcher holds left out)."""
        platforms = [p for p in self.adapters if not self._paused(p)]
        if not platforms:
            return None
        async with self.core.db.read() as tx:
            return await tx.outbox.next_due(platforms, claimer=self.id, now=self._wall(),
                                            gone=sorted(self._gone))

    async def run(self) -> None:
        """Deliver forever: wake on new outbox rows, or when the next retry is due."""
        while not self._stopping.is_set():
            self.core.outbox_changed.clear()
            failed = False
            try:
                await self.drain_once()
                next_due = await self._next_due()
            except Exception:
                log.exception("dispatcher pass failed")
                failed, next_due = True, None
            wait = 5.0
            if next_due is not None:
                wait = min(wait, max(0.0, next_due - self.core.clock.now().timestamp()))
            outage = self._outage_wait()
            if outage is not None:
                wait = min(wait, max(outage, 0.05))  # try the outbox again when the wait is over
            if failed:
                wait = 2.0  # e.g. the database is locked by another process: do not spin
            if wait > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.core.outbox_changed.wait(), wait)

    def stop(self) -> None:
        self._stopping.set()
        self.core.outbox_changed.set()
