"""Time arithmetic in the compound's terms: waking hours (showing moments and spans: bot.format)."""

from __future__ import annotations

from datetime import datetime, time, timedelta


def add_waking_time(start: datetime, duration: timedelta, waking: tuple[time, time]) -> datetime:
    """The moment ``duration`` of waking hours after ``start`` (nights do not count).

    With waking hours 07:00–22:00, four hours after 20:00 is 09:00 the next morning.
    """
    begin, end = waking
    remaining = duration
    moment = start
    for _ in range(3660):  # at most ten years of days: a guard, never reached in practice
        day_start = moment.replace(hour=begin.hour, minute=begin.minute, second=0, microsecond=0)
        day_end = moment.replace(hour=end.hour, minute=end.minute, second=end.second, microsecond=0)
        if moment < day_start:
            moment = day_start
        if moment >= day_end:
            moment = (day_start + timedelta(days=1))
            continue
        available = day_end - moment
        if remaining <= available:
            return moment + remaining
        remaining -= available
        moment = day_start + timedelta(days=1)
    return moment
