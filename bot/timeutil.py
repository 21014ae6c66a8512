"""Time arithmetic in the compound's terms: waking hours, and how to show a moment or a span."""

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


def format_moment(moment: datetime, lang: str) -> str:
    """A short local date and time: ``12月6日 09:00`` / ``Dec 6 09:00``."""
    if lang == "zh":
        return f"{moment.month}月{moment.day}日 {moment:%H:%M}"
    return f"{moment:%b} {moment.day} {moment:%H:%M}"


def format_span(span: timedelta, lang: str) -> str:
    """A rough length of time: ``3天``/``5小时``/``12分钟`` or ``3d``/``5h``/``12m``."""
    seconds = max(0, int(span.total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if lang == "zh":
        if days:
            return f"{days}天{hours}小时" if hours else f"{days}天"
        if hours:
            return f"{hours}小时{minutes}分钟" if minutes else f"{hours}小时"
        return f"{minutes}分钟"
    if days:
        return f"{days}d {hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    return f"{minutes}m"
