"""Send limits as sliding windows: never more than N sends in any window of W seconds.

Telegram states its limits that way (about 30 messages a second overall, 20 a minute in one group,
about one a second in one private chat), so a sliding window is the exact rule rather than an
approximation of it: a leaky bucket that allows a burst of 20 would let a 21st message into the same
minute.  WeChat adds a minimum gap between any two sends with a random ``jitter`` on top (bursts get
accounts restricted) and a ``daily_cap`` per account (see ``SendLimits``): once the day's sends reach
it, :meth:`PlatformLimiter.daily_capped` says so and the dispatcher postpones the rest to tomorrow.

One outbox message may cost several platform messages (a text split in pieces, a photo after the
text): ``acquire(..., cost=n)`` waits until ``n`` more fit in every window and counts them together.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections import Counter, deque
from collections.abc import Callable

from bot.adapters.base import SendLimits


class SlidingWindow:
    """At most ``limit`` acquisitions in any ``window`` seconds."""

    def __init__(self, limit: float, window: float, monotonic: Callable[[], float]) -> None:
        self.limit = max(1, int(limit))
        self.window = window
        self._times: deque[float] = deque()
        self._monotonic = monotonic

    def wait_time(self, cost: int = 1) -> float:
        """Seconds until ``cost`` more acquisitions would be allowed (0 when it is now)."""
        now = self._monotonic()
        while self._times and self._times[0] <= now - self.window:
            self._times.popleft()
        cost = min(cost, self.limit)
        excess = len(self._times) + cost - self.limit
        if excess <= 0:
            return 0.0
        return self._times[excess - 1] + self.window - now

    def take(self, cost: int = 1) -> None:
        at = self._monotonic()
        self._times.extend([at] * cost)


class PlatformLimiter:
    """All of one platform's limits; ``await acquire(kind, address)`` before every send."""

    def __init__(self, limits: SendLimits, *, monotonic: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], object] = asyncio.sleep,
                 rng: random.Random | None = None) -> None:
        self.limits = limits
        self._monotonic = monotonic
        self._sleep = sleep
        self._random = rng or random.Random()
        self._overall = SlidingWindow(limits.overall_per_second, 1.0, monotonic)
        self._chats: dict[str, SlidingWindow] = {}
        self._lock = asyncio.Lock()
        self._last_send = -1e18
        self._day: tuple[int, int] = (0, 0)  # (day number, sends that day)

    def _chat_window(self, kind: str, address: str) -> SlidingWindow:
        window = self._chats.get(address)
        if window is None:
            if kind == "group":
                window = SlidingWindow(self.limits.group_per_minute, 60.0, self._monotonic)
            else:
                window = SlidingWindow(self.limits.private_per_second, 1.0, self._monotonic)
            self._chats[address] = window
        return window

    def sent_today(self, day: int) -> int:
        return self._day[1] if self._day[0] == day else 0

    def count_earlier(self, day: int, sends: int) -> None:
        """Count sends made earlier today (before a restart) towards the daily cap."""
        if self._day[0] != day or self._day[1] < sends:
            self._day = (day, sends)

    def daily_capped(self, day: int, cost: int = 1) -> bool:
        """True when ``cost`` more sends today would go over the daily cap."""
        cap = self.limits.daily_cap
        return cap is not None and self.sent_today(day) + cost > cap and self.sent_today(day) > 0

    async def acquire(self, kind: str, address: str, day: int = 0, cost: int = 1) -> bool:
        """Wait until ``cost`` sends to ``address`` keep every limit, then count them; False (and
        nothing counted) when they would go over the daily cap.

        Sends to one chat come one after another (the dispatcher keeps each chat's order), so the
        chat's own window is waited on outside the lock; the platform-wide limits inside it.
        """
        chat = self._chat_window(kind, address)
        while (wait := chat.wait_time(cost)) > 1e-9:
            await self._sleep(wait)
        async with self._lock:
            if self.daily_capped(day, cost):
                return False
            extra = self._random.uniform(0, self.limits.jitter) if self.limits.jitter > 0 else 0.0
            while True:
                gap = self.limits.min_interval + extra - (self._monotonic() - self._last_send)
                wait = max(self._overall.wait_time(cost), gap, 0.0)
                if wait <= 1e-9:  # float dust from the subtraction above is no reason to wait
                    break
                await self._sleep(wait)
            chat.take(cost)
            self._overall.take(cost)
            self._last_send = self._monotonic()
            self._day = (day, self.sent_today(day) + cost)
            return True


def estimate_seconds(limits: SendLimits, sends: Counter[tuple[str, str]], queued: int = 0) -> float:
    """About how long ``sends`` (platform messages per (kind, address)) take to go out behind
    ``queued`` others, keeping ``limits``: the slowest of the platform-wide window, each chat's own
    window and the minimum gap with its average jitter."""
    total = queued + sum(sends.values())
    if total == 0:
        return 0.0
    seconds = math.floor((total - 1) / max(1, int(limits.overall_per_second)))
    for (kind, _address), count in sends.items():
        if kind == "group":
            need = math.floor((count - 1) / max(1, int(limits.group_per_minute))) * 60.0
        else:
            need = math.floor((count - 1) / max(1, int(limits.private_per_second)))
        seconds = max(seconds, need)
    gap = limits.min_interval + limits.jitter / 2
    return max(seconds, (total - 1) * gap)
