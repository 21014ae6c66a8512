"""Send limits as sliding windows: never more than N sends in any window of W seconds.

Telegram states its limits that way (about 30 messages a second overall, 20 a minute in one group,
about one a second in one private chat), so a sliding window is the exact rule rather than an
approximation of it: a leaky bucket that allows a burst of 20 would let a 21st message into the same
minute.  WeChat adds a minimum gap with random jitter and a daily cap (see ``SendLimits``).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import deque
from collections.abc import Callable

from bot.adapters.base import SendLimits


class SlidingWindow:
    """At most ``limit`` acquisitions in any ``window`` seconds."""

    def __init__(self, limit: float, window: float, monotonic: Callable[[], float]) -> None:
        self.limit = max(1, int(limit))
        self.window = window
        self._times: deque[float] = deque()
        self._monotonic = monotonic

    def wait_time(self) -> float:
        """Seconds until one more acquisition would be allowed (0 when it is now)."""
        now = self._monotonic()
        while self._times and self._times[0] <= now - self.window:
            self._times.popleft()
        if len(self._times) < self.limit:
            return 0.0
        return self._times[0] + self.window - now

    def take(self) -> None:
        self._times.append(self._monotonic())


class PlatformLimiter:
    """All of one platform's limits; ``await acquire(kind, address)`` before every send."""

    def __init__(self, limits: SendLimits, *, monotonic: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], object] = asyncio.sleep) -> None:
        self.limits = limits
        self._monotonic = monotonic
        self._sleep = sleep
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

    def daily_capped(self, day: int) -> bool:
        cap = self.limits.daily_cap
        return cap is not None and self._day[0] == day and self._day[1] >= cap

    async def acquire(self, kind: str, address: str, day: int = 0) -> None:
        """Wait until a send to ``address`` keeps every limit, then count it.

        Sends to one chat come one after another (the dispatcher keeps each chat's order), so the
        chat's own window is waited on outside the lock; the platform-wide limits inside it.
        """
        chat = self._chat_window(kind, address)
        while (wait := chat.wait_time()) > 0:
            await self._sleep(wait)
        async with self._lock:
            if self.limits.min_interval > 0 and self.limits.jitter > 0:
                extra = random.uniform(0, self.limits.jitter)
            else:
                extra = 0.0
            while True:
                gap = self.limits.min_interval + extra - (self._monotonic() - self._last_send)
                wait = max(self._overall.wait_time(), gap, 0.0)
                if wait <= 0:
                    break
                await self._sleep(wait)
            chat.take()
            self._overall.take()
            self._last_send = self._monotonic()
            self._day = (day, self._day[1] + 1) if self._day[0] == day else (day, 1)
