"""Shared formatting, so that no handler borrows another handler's helpers: lists in the reader's
language, moments and spans of time, weekly repeats, ranges of buildings, short quotes and hours.

Every function takes the reader's language (``"zh"`` or ``"en"``) where the result depends on it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta, tzinfo

from bot.i18n import t


def join(lang: str, items: Iterable[object]) -> str:
    """A list the way the reader's language writes one: ``王师傅、李阿姨`` / ``Wang, Li``."""
    return t(lang, "core.list_separator").join(str(item) for item in items)


def clock(moment: datetime) -> str:
    """``09:05``: what ``f"{moment:%H:%M}"`` gives, without strftime (several times the cost, and
    every receipt and ticket shows a few)."""
    return f"{moment.hour:02d}:{moment.minute:02d}"


def format_moment(moment: datetime, lang: str) -> str:
    """A short local date and time: ``12月6日 09:00`` / ``Dec 6 09:00``."""
    if lang == "zh":
        return f"{moment.month}月{moment.day}日 {clock(moment)}"
    return f"{moment:%b} {moment.day} {clock(moment)}"


def moment_with_weekday(ts: float, tz: tzinfo, lang: str) -> str:
    """``12月6日 周日 09:00`` / ``Sun Dec 6 09:00``."""
    moment = datetime.fromtimestamp(ts, tz)
    weekday = t(lang, f"core.weekday.{moment.weekday()}")
    if lang == "zh":
        return f"{moment.month}月{moment.day}日 {weekday} {clock(moment)}"
    return f"{weekday} {moment:%b} {moment.day} {clock(moment)}"


def span_with_weekday(start: float, end: float, tz: tzinfo, lang: str) -> str:
    """``12月6日 周日 09:00–11:00``."""
    return f"{moment_with_weekday(start, tz, lang)}–{clock(datetime.fromtimestamp(end, tz))}"


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


def repeat_line(repeat) -> str:
    """A weekly repeat (``bot.when.Repeat``), as the cron line ``parse_repeat`` reads back."""
    days = "*" if repeat.days is None else ",".join(
        ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[d] for d in repeat.days)
    month_day = "*" if repeat.month_day is None else str(repeat.month_day)
    return f"cron {repeat.minute} {repeat.hour} {month_day} * {days}"


def name_range(names: list[str], lang: str) -> str:
    """Up to four names listed, more as a range: ``1栋、2栋、3栋`` or ``1栋…20栋``."""
    return join(lang, names) if len(names) <= 4 else f"{names[0]}…{names[-1]}"


def quote(text: str, limit: int = 30) -> str:
    """``text`` cut to ``limit`` characters, with ``…`` where it was cut."""
    return text if len(text) <= limit else text[:limit - 1] + "…"


def hours(value: float) -> str:
    """Volunteer hours: ``1.5``, ``2``."""
    return f"{round(value, 1):g}"


def when_values(problem, tz: tzinfo, lang: str) -> dict:
    """The values a refusal about a typed date (``bot.when.WhenProblem``) fills its text with."""
    values = dict(problem.values)
    if isinstance(values.get("when"), datetime):
        values["when"] = moment_with_weekday(values["when"].timestamp(), tz, lang)
    values.setdefault("text", "")
    values.setdefault("hour", "")
    values.setdefault("when", "")
    return values
