"""One clock for everything time-based, so tests and simulations can run a month in seconds.

Production uses :class:`SystemClock`; tests and ``linli simulate`` use :class:`ManualClock` and move
it forward; the console adapter uses :class:`OffsetClock` so a script can say ``:clock +5h``.
All clocks return timezone-aware datetimes in the compound's timezone.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo


class Clock:
    """The system time, seen in the compound's timezone."""

    def __init__(self, tz: ZoneInfo) -> None:
        self.tz = tz

    def now(self) -> datetime:
        return datetime.now(self.tz)

    def timestamp(self) -> float:
        return self.now().timestamp()


SystemClock = Clock


class ManualClock(Clock):
    """A clock that stands still until moved: ``set(dt)`` or ``advance(timedelta)``."""

    def __init__(self, tz: ZoneInfo, start: datetime) -> None:
        super().__init__(tz)
        self._now = start.astimezone(tz) if start.tzinfo else start.replace(tzinfo=tz)

    def now(self) -> datetime:
        return self._now

    def set(self, moment: datetime) -> None:
        self._now = moment.astimezone(self.tz) if moment.tzinfo else moment.replace(tzinfo=self.tz)

    def advance(self, delta: timedelta) -> None:
        self._now = self._now + delta


class OffsetClock(Clock):
    """The system time shifted by an offset that can be changed (the console's ``:clock``)."""

    def __init__(self, tz: ZoneInfo) -> None:
        super().__init__(tz)
        self.offset = timedelta()

    def now(self) -> datetime:
        return datetime.now(self.tz) + self.offset

    def set(self, moment: datetime) -> None:
        moment = moment if moment.tzinfo else moment.replace(tzinfo=self.tz)
        self.offset = moment - datetime.now(self.tz)

    def advance(self, delta: timedelta) -> None:
        self.offset += delta
