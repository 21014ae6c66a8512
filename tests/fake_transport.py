"""A stand-in for Telegram that enforces Telegram's send limits, for delivery tests and benchmarks.

The Bot API answers a send over its limits with ``429 Too Many Requests: retry after N``.  This fake
does the same: it keeps its own sliding windows (independent of :mod:`bot.ratelimit`) and, when a
send would exceed one, counts a *violation* and raises ``TemporaryError(retry_after=N)`` (exactly
what the real adapter raises on ``RetryAfter``).  A text longer than ``max_text_length`` is refused
with ``PermanentError`` ("message is too long"), as Telegram refuses it, so the dispatcher must split.

Time can run faster than the wall clock, so that a minute of Telegram's limits takes a second of a
test, while the real dispatcher and limiter code runs unchanged::

    time = FastTime(speed=20)                      # 20 virtual seconds per real second
    transport = FakeTelegram(time)                 # Telegram's limits, in virtual seconds
    dispatcher = Dispatcher(core, {"telegram": transport},
                            limiters={"telegram": transport.limiter()})
    await dispatcher.drain()
    assert transport.violations == 0
    assert transport.span() <= 1.1 * transport.lower_bound()

Interface (stable; ``bench/`` imports it):

* ``FastTime(speed)`` — ``monotonic()`` (virtual seconds) and ``async sleep(virtual_seconds)``;
  ``SimTime()`` — the same interface, but virtual time passes only while waiters sleep (a
  discrete-event clock: deterministic spans, whatever the machine's load);
* ``FakeTelegram(time, *, limits=TELEGRAM, tolerance=0.002, latency=0.0)`` — an adapter
  (``platform``, ``limits``, ``start``, ``stop``, ``send``); ``limiter()`` a real
  ``PlatformLimiter`` on the same virtual time;
* ``deliveries`` — every platform message accepted, as :class:`Delivery` (virtual time, kind,
  address, text, outbox id); ``violations`` — sends refused with 429; ``too_long`` — refused texts;
* ``span()`` — virtual seconds from the first accepted send to the last;
  ``lower_bound()`` — the least time the limits allow for the accepted messages (see
  :func:`lower_bound`).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
import time as _time
from collections import Counter, defaultdict, deque
from dataclasses import dataclass

from bot.adapters.base import PermanentError, SendLimits, TemporaryError
from bot.messages import Outbound
from bot.ratelimit import PlatformLimiter
from bot.textsplit import utf16_length

TELEGRAM = SendLimits(overall_per_second=30, group_per_minute=20, private_per_second=1,
                      max_text_length=4096)


class FastTime:
    """Virtual seconds running ``speed`` times faster than the wall clock."""

    def __init__(self, speed: float = 1.0) -> None:
        self.speed = speed
        self._origin = _time.monotonic()

    def monotonic(self) -> float:
        return (_time.monotonic() - self._origin) * self.speed

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds) / self.speed)


class SimTime:
    """Virtual seconds that pass only while the waiters sleep: a discrete-event clock.

    ``sleep(d)`` waits until the virtual clock reaches now + d; the clock moves to the earliest
    sleeper's target once that sleeper has let everything else that can run go first (database round
    trips included).  Work between sleeps takes no virtual time, so a span measured on it is exactly
    what the limiter's waits add up to, however loaded the machine running the test is.
    """

    def __init__(self, yields: int = 4) -> None:
        self.now = 0.0
        self._yields = yields
        self._sleepers: list[tuple[float, int]] = []
        self._seq = itertools.count()

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        entry = (self.now + seconds, next(self._seq))
        if entry[0] <= self.now:
            await asyncio.sleep(0)
            return
        heapq.heappush(self._sleepers, entry)
        try:
            while self.now < entry[0]:
                for _ in range(self._yields):
                    await asyncio.sleep(0.0002)  # let ready work (and thread round trips) finish
                if self._sleepers[0] == entry:
                    self.now = max(self.now, entry[0])
        finally:
            self._sleepers.remove(entry)
            heapq.heapify(self._sleepers)


@dataclass(frozen=True, slots=True)
class Delivery:
    """One platform message the fake accepted."""

    at: float  # virtual seconds
    kind: str
    address: str
    text: str
    outbox_id: int


def lower_bound(sends: list[tuple[str, str]], limits: SendLimits) -> float:
    """The least time from first to last send that ``limits`` allow for ``sends`` (kind, address).

    With at most N sends in any window of W seconds, M sends need at least ⌊(M−1)/N⌋·W seconds
    between the first and the last; the bound is the largest such figure over the platform-wide
    window and every chat's own window.
    """
    if not sends:
        return 0.0

    def need(count: int, limit: float, window: float) -> float:
        return math.floor((count - 1) / max(1, int(limit))) * window

    bound = need(len(sends), limits.overall_per_second, 1.0)
    for (kind, _address), count in Counter(sends).items():
        if kind == "group":
            bound = max(bound, need(count, limits.group_per_minute, 60.0))
        else:
            bound = max(bound, need(count, limits.private_per_second, 1.0))
    if limits.min_interval > 0:
        bound = max(bound, (len(sends) - 1) * limits.min_interval)
    return bound


class FakeTelegram:
    """Telegram's send side, with its limits enforced (see module docstring)."""

    platform = "telegram"

    def __init__(self, time: FastTime | SimTime | None = None, *, limits: SendLimits = TELEGRAM,
                 tolerance: float = 0.002, latency: float = 0.0) -> None:
        self.time = time or FastTime()
        self.limits = limits
        self.tolerance = tolerance  # virtual seconds of clock noise forgiven at a window's edge
        self.latency = latency  # virtual seconds each accepted send takes (a network round trip)
        self.deliveries: list[Delivery] = []
        self.violations = 0
        self.too_long = 0
        self._overall: deque[float] = deque()
        self._chats: dict[str, deque[float]] = defaultdict(deque)

    def limiter(self) -> PlatformLimiter:
        """The real limiter, keeping these limits on the same virtual time."""
        return PlatformLimiter(self.limits, monotonic=self.time.monotonic, sleep=self.time.sleep)

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def _retry_after(self, times: deque[float], limit: float, window: float, now: float,
                     cost: int) -> float | None:
        """None when ``cost`` more sends fit in the window ending now; else the wait Telegram names."""
        while times and times[0] <= now - window + self.tolerance:
            times.popleft()
        excess = len(times) + cost - max(1, int(limit))
        if excess <= 0:
            return None
        return max(1.0, math.ceil(times[excess - 1] + window - now))

    async def send(self, message: Outbound) -> str:
        """Take one platform message (and its attachments), or answer like the Bot API would."""
        now = self.time.monotonic()
        if self.limits.max_text_length and utf16_length(message.plain_text()) > \
                self.limits.max_text_length:
            self.too_long += 1
            raise PermanentError("Bad Request: message is too long")
        cost = 1 + len(message.attachments)
        if message.kind == "group":
            chat = (self._chats[message.address], self.limits.group_per_minute, 60.0)
        else:
            chat = (self._chats[message.address], self.limits.private_per_second, 1.0)
        for times, limit, window in ((self._overall, self.limits.overall_per_second, 1.0), chat):
            wait = self._retry_after(times, limit, window, now, cost)
            if wait is not None:
                self.violations += 1
                raise TemporaryError(f"Flood control exceeded. Retry in {wait} seconds",
                                     retry_after=wait)
        for times in (self._overall, chat[0]):
            times.extend([now] * cost)
        for index in range(cost):
            text = message.plain_text() if index == 0 else message.attachments[index - 1].filename
            self.deliveries.append(Delivery(now, message.kind, message.address, text,
                                            message.outbox_id))
        if self.latency:
            await self.time.sleep(self.latency)
        return str(len(self.deliveries))

    # --- what happened -------------------------------------------------------------------------
    def span(self) -> float:
        """Virtual seconds from the first accepted send to the last."""
        if not self.deliveries:
            return 0.0
        return self.deliveries[-1].at - self.deliveries[0].at

    def lower_bound(self) -> float:
        """The least time the limits allow for everything accepted (see :func:`lower_bound`)."""
        return lower_bound([(d.kind, d.address) for d in self.deliveries], self.limits)

    def texts_to(self, address: str) -> list[str]:
        return [d.text for d in self.deliveries if d.address == address]
