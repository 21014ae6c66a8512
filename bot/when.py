"""Reading the dates and times people type, in the compound's timezone.

One-off moments (``parse_moment``)::

    周日 9点 · 明天下午3点 · 后天 8:30 · 下周三 19:00 · 12月6日 09:00 · 2026-12-06 09:00
    today 6pm · tomorrow 9am · Sunday 9am · next Monday 7:30pm · Dec 6 09:00 · 6 Dec 9:00

Repeating ones (``parse_repeat``), as APScheduler ``CronTrigger`` s::

    每天 8:00 · 每周日 9点 · 每周一三五 7:30 · 工作日 7:30 · 每月1日 9点
    every day 8am · every Sunday 9am · every weekday 7:30 · cron 0 9 * * SUN

Both return what they understood *and* the text after it (``定时通知 明天8点 b3 停水通知``), and
refuse rather than guess: a date that does not exist (2月30日) or a moment in the past is a
``WhenProblem``; an hour from 1 to 6 with no 上午/下午/am/pm (and no leading zero: 02:00 is clear) is
ambiguous and also a problem, so the bot can ask.  General-purpose parsers (dateparser) guess
silently on exactly these inputs, and do not know 礼拜天 or 后天下午, so this small grammar is ours.

For rotas and time away there are also ``parse_day`` (a date alone), ``parse_until`` (the end of a
span: ``-20:00``, ``到下午5点``) and ``parse_length`` (``2小时``, ``90分钟``, ``1.5h``).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

from apscheduler.triggers.cron import CronTrigger

WEEKDAYS_ZH = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6, "七": 6}
WEEKDAYS_EN = {name: i for i, names in enumerate(
    (("monday", "mon"), ("tuesday", "tue", "tues"), ("wednesday", "wed"),
     ("thursday", "thu", "thur", "thurs"), ("friday", "fri"), ("saturday", "sat"),
     ("sunday", "sun"))) for name in names}
MONTHS_EN = {name: i + 1 for i, names in enumerate(
    (("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"), ("may",),
     ("june", "jun"), ("july", "jul"), ("august", "aug"), ("september", "sep", "sept"),
     ("october", "oct"), ("november", "nov"), ("december", "dec"))) for name in names}
CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6,
             "七": 7, "八": 8, "九": 9, "十": 10}
CRON_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class WhenProblem(ValueError):
    """The text names a time that cannot be used; ``reason`` is a catalogue key suffix."""

    def __init__(self, reason: str, **values: object) -> None:
        super().__init__(reason)
        # "no_such_date", "past", "ambiguous_hour", "no_time", "not_a_time", "not_a_date",
        # "not_a_repeat", "bad_cron"
        self.reason = reason
        self.values = values


@dataclass(frozen=True)
class Moment:
    at: datetime
    rest: str  # the text after the date and time


@dataclass(frozen=True)
class Repeat:
    trigger: CronTrigger
    hour: int
    minute: int
    days: tuple[int, ...] | None  # weekdays 0=Mon…6=Sun, or None for every day / by month day
    month_day: int | None
    rest: str

    def next_after(self, moment: datetime) -> datetime | None:
        return self.trigger.get_next_fire_time(None, moment)


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def _cn_number(text: str) -> int:
    """'12', '十二', '二十', '三' → int."""
    if text.isdigit():
        return int(text)
    if "十" in text:
        tens, _, ones = text.partition("十")
        return (CN_DIGITS.get(tens, 1) if tens else 1) * 10 + (CN_DIGITS.get(ones, 0) if ones else 0)
    return CN_DIGITS[text]


_NUM = r"[0-9]{1,2}|[零〇一二两三四五六七八九十]{1,3}"
_ZH_PART = r"(?P<part>凌晨|早上|早晨|上午|中午|下午|傍晚|晚上|今晚|夜里)?"
_ZH_TIME = re.compile(
    _ZH_PART + r"\s*(?:(?P<h>" + _NUM + r")\s*(?:点|时|:|：)(?:(?P<half>半)|(?P<m>[0-9]{1,2})"
    r"(?![0-9]|\s*(?:小时|个|人|名|钟头|h))\s*分?)?)")  # "9点 2小时": 9:00, then a length
_EN_TIME = re.compile(
    r"(?:at\s+)?(?P<h>[0-9]{1,2})(?:[:.](?P<m>[0-9]{2}))?\s*(?P<ampm>am|pm|a\.m\.|p\.m\.)?(?![0-9])",
    re.IGNORECASE)
_ISO = re.compile(r"(?P<y>20[0-9]{2})[-/.](?P<mo>[0-9]{1,2})[-/.](?P<d>[0-9]{1,2})")
_ZH_DATE = re.compile(r"(?:(?P<y>20[0-9]{2})年)?(?P<mo>" + _NUM + r")月(?P<d>" + _NUM + r")[日号]")
_ZH_REL = re.compile(r"(?P<rel>今天|今日|今晚|明天|明日|明早|明晚|后天|大后天)")
_ZH_WEEK = re.compile(r"(?P<which>下下|下个?|这个?|本)?(?:周|星期|礼拜)(?P<d>[一二三四五六日天七])")
_EN_REL = re.compile(r"(?P<rel>today|tonight|tomorrow|day after tomorrow)\b", re.IGNORECASE)
_EN_WEEK = re.compile(r"(?P<next>next\s+|this\s+)?(?P<d>" + "|".join(
    sorted(WEEKDAYS_EN, key=len, reverse=True)) + r")\b\.?", re.IGNORECASE)
_EN_DATE = re.compile(
    r"(?:(?P<mon1>[a-z]{3,9})\.?\s+(?P<d1>[0-9]{1,2})(?:st|nd|rd|th)?|(?P<d2>[0-9]{1,2})(?:st|nd|rd|th)?"
    r"\s+(?P<mon2>[a-z]{3,9})\.?)(?:,?\s+(?P<y>20[0-9]{2}))?", re.IGNORECASE)


def _hour_of(h: int, part: str | None, ampm: str | None) -> int:
    """Apply 上午/下午/am/pm; refuse 1–6 o'clock with nothing said (3点: 3:00 or 15:00?)."""
    if h > 24:
        raise WhenProblem("not_a_time")
    afternoon = (part in ("下午", "傍晚", "晚上", "今晚", "夜里")) or (ampm or "").lower().startswith("p")
    morning = part in ("凌晨", "早上", "早晨", "上午") or (ampm or "").lower().startswith("a")
    if part == "中午":
        return h + 12 if h < 11 else h
    if afternoon and h < 12:
        return h + 12
    if morning and h == 12:
        return 0
    if not (afternoon or morning) and 1 <= h <= 6:
        raise WhenProblem("ambiguous_hour", hour=h)
    return 0 if h == 24 else h


def _time_at_start(text: str, lang_hint: str | None = None) -> tuple[int, int, str] | None:
    """(hour, minute, rest) for a time of day at the start of ``text``."""
    stripped = text.lstrip()
    match = _ZH_TIME.match(stripped)
    if match and (match.group("part") or re.match(r"\s*\S+?\s*(点|时)", stripped)
                  or ":" in match.group(0) or "：" in match.group(0)):
        raw = match.group("h")
        if len(raw) == 2 and raw.startswith("0") and not match.group("part"):
            hour = int(raw)  # "02:00" is the 24-hour clock: not ambiguous
        else:
            hour = _hour_of(_cn_number(raw), match.group("part"), None)
        minute = 30 if match.group("half") else int(match.group("m") or 0)
        rest = stripped[match.end():]
        if minute > 59:
            raise WhenProblem("not_a_time")
        return hour, minute, rest
    match = _EN_TIME.match(stripped)
    if match and (match.group("m") or match.group("ampm")):
        hour = _hour_of(int(match.group("h")), None, match.group("ampm"))
        minute = int(match.group("m") or 0)
        if minute > 59 or hour > 23:
            raise WhenProblem("not_a_time")
        return hour, minute, stripped[match.end():]
    return None


def _day_at_start(text: str, now: datetime) -> tuple[datetime, str, str | None] | None:
    """(day at midnight, rest, part of day implied by the word e.g. 今晚) at the start of text."""
    stripped = text.lstrip()
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    for pattern in (_ISO, _ZH_DATE):
        match = pattern.match(stripped)
        if match:
            year = int(match.group("y")) if match.group("y") else now.year
            month, day = _cn_number(match.group("mo")), _cn_number(match.group("d"))
            try:
                moment = today.replace(year=year, month=month, day=day)
            except ValueError as exc:
                raise WhenProblem("no_such_date", text=match.group(0)) from exc
            if not match.group("y") and moment < today:
                moment = moment.replace(year=year + 1)
            return moment, stripped[match.end():], None
    match = _ZH_REL.match(stripped)
    if match:
        rel = match.group("rel")
        days = {"今天": 0, "今日": 0, "今晚": 0, "明天": 1, "明日": 1, "明早": 1, "明晚": 1,
                "后天": 2, "大后天": 3}[rel]
        part = {"今晚": "晚上", "明晚": "晚上", "明早": "早上"}.get(rel)
        return today + timedelta(days=days), stripped[match.end():], part
    match = _ZH_WEEK.match(stripped)
    if match:
        target = WEEKDAYS_ZH[match.group("d")]
        which = match.group("which") or ""
        if which.startswith("下下"):
            start = today - timedelta(days=today.weekday()) + timedelta(days=14)
            day = start + timedelta(days=target)
        elif which.startswith("下"):
            start = today - timedelta(days=today.weekday()) + timedelta(days=7)
            day = start + timedelta(days=target)
        elif which:
            day = today - timedelta(days=today.weekday()) + timedelta(days=target)
        else:
            day = today + timedelta(days=(target - today.weekday()) % 7)
        return day, stripped[match.end():], None
    match = _EN_REL.match(stripped)
    if match:
        rel = match.group("rel").lower()
        days = {"today": 0, "tonight": 0, "tomorrow": 1, "day after tomorrow": 2}[rel]
        return today + timedelta(days=days), stripped[match.end():], "晚上" if rel == "tonight" else None
    match = _EN_WEEK.match(stripped)
    if match:
        target = WEEKDAYS_EN[match.group("d").lower()]
        if (match.group("next") or "").lower().startswith("next"):
            day = today - timedelta(days=today.weekday()) + timedelta(days=7 + target)
        else:
            day = today + timedelta(days=(target - today.weekday()) % 7)
        return day, stripped[match.end():], None
    match = _EN_DATE.match(stripped)
    if match:
        name = (match.group("mon1") or match.group("mon2")).lower()
        if name in MONTHS_EN:
            day_number = int(match.group("d1") or match.group("d2"))
            year = int(match.group("y")) if match.group("y") else now.year
            try:
                moment = today.replace(year=year, month=MONTHS_EN[name], day=day_number)
            except ValueError as exc:
                raise WhenProblem("no_such_date", text=match.group(0)) from exc
            if not match.group("y") and moment < today:
                moment = moment.replace(year=year + 1)
            return moment, stripped[match.end():], None
    return None


_BARE_HOUR = re.compile(r"(?P<h>[0-9]{1,2})(?![0-9:：.])(?!\s*(?:人|名|个|位|小时|钟头|分钟|h|hours?|hrs?|"
                        r"m|mins?|minutes?|people|persons?|places?|spots?|volunteers?)(?![a-z]))",
                        re.IGNORECASE)


def _bare_hour_at_start(text: str) -> tuple[int, int, str] | None:
    """A lone number right after a day (``明天 3``, ``tomorrow 9``) is the hour: 1–6 is asked
    about (3 am or 3 pm?) as ``3点`` is; a number of people or hours (``3人``, ``3h``) is not one."""
    stripped = text.lstrip()
    match = _BARE_HOUR.match(stripped)
    if match is None:
        return None
    raw = match.group("h")
    if int(raw) > 23:
        raise WhenProblem("not_a_time")
    hour = int(raw) if raw.startswith("0") and len(raw) == 2 else _hour_of(int(raw), None, None)
    return hour, 0, stripped[match.end():]


def parse_moment(text: str, now: datetime, *, allow_past: bool = False) -> Moment:
    """A one-off date and time at the start of ``text`` (see module docstring)."""
    folded = _fold(text)
    day = _day_at_start(folded, now)
    if day is None:
        timed = _time_at_start(folded)
        if timed is None:
            raise WhenProblem("not_a_time")
        hour, minute, rest = timed
        moment = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
        if moment <= now and not allow_past:
            moment += timedelta(days=1)  # "8:00" said at 20:00 means tomorrow morning
        return Moment(moment, rest.strip())
    base, rest, part = day
    rest = rest.lstrip(" ,，")
    if part and not re.match(r"\s*(凌晨|早上|早晨|上午|中午|下午|傍晚|晚上)", rest):
        rest = part + rest
    timed = _time_at_start(rest) or _bare_hour_at_start(rest)
    if timed is None:
        raise WhenProblem("no_time")
    hour, minute, rest = timed
    moment = base.replace(hour=hour, minute=minute)
    if moment <= now and not allow_past:
        raise WhenProblem("past", when=moment)
    return Moment(moment, rest.strip())


_ZH_EVERY = re.compile(r"(?:每天|每日)|(?:每个?)?工作日"
                       r"|每(?:个)?(?:周|星期|礼拜)(?P<days>[一二三四五六日天七、,，和及]+)"
                       r"|每月(?P<md>" + _NUM + r")[日号]")
_EN_EVERY = re.compile(r"every\s+(?:(?P<day>day)|(?P<weekday>weekday)|(?P<names>(?:(?:"
                       + "|".join(sorted(WEEKDAYS_EN, key=len, reverse=True))
                       + r")(?:\s*(?:,|and)\s*)?)+))", re.IGNORECASE)
_CRON = re.compile(r"cron\s+(?P<expr>(?:\S+\s+){4}\S+)", re.IGNORECASE)
_CRON_DOW = re.compile(r"^(?P<head>cron\s+(?:\S+\s+){4})(?P<dow>\S+)", re.IGNORECASE)
_CRON_DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")


def standard_cron(text: str) -> str:
    """``cron … 0`` means Sunday, as in every crontab (APScheduler 3 would read Monday): use names."""
    match = _CRON_DOW.match(text.strip())
    if not match or not re.search(r"[0-9]", match.group("dow")):
        return text
    dow = re.sub(r"(?<![/0-9])[0-7](?![0-9])", lambda m: _CRON_DAY_NAMES[int(m.group(0))],
                 match.group("dow"))
    if dow in ("sun-sat", "sun-sun", "mon-sun"):
        dow = "*"
    return match.group("head") + dow + text.strip()[match.end():]


def parse_repeat(text: str, tz) -> Repeat:
    """A repeating time at the start of ``text`` (see module docstring)."""
    folded = standard_cron(_fold(text).lstrip())
    match = _CRON.match(folded)
    if match:
        try:
            trigger = CronTrigger.from_crontab(match.group("expr"), timezone=tz)
        except ValueError as exc:
            raise WhenProblem("bad_cron", text=match.group("expr")) from exc
        return Repeat(trigger, -1, -1, None, None, folded[match.end():].strip())
    days: tuple[int, ...] | None = None
    month_day = None
    match = _ZH_EVERY.match(folded)
    if match:
        word = match.group(0)
        if match.group("days"):
            days = tuple(sorted({WEEKDAYS_ZH[c] for c in match.group("days") if c in WEEKDAYS_ZH}))
        elif match.group("md"):
            month_day = _cn_number(match.group("md"))
            if not 1 <= month_day <= 31:
                raise WhenProblem("no_such_date", text=word)
        elif "工作日" in word:
            days = (0, 1, 2, 3, 4)
    else:
        match = _EN_EVERY.match(folded)
        if not match:
            raise WhenProblem("not_a_repeat")
        if match.group("weekday"):
            days = (0, 1, 2, 3, 4)
        elif match.group("names"):
            names = re.findall("|".join(sorted(WEEKDAYS_EN, key=len, reverse=True)),
                               match.group("names"), re.IGNORECASE)
            days = tuple(sorted({WEEKDAYS_EN[n.lower()] for n in names}))
    timed = _time_at_start(folded[match.end():])
    if timed is None:
        raise WhenProblem("no_time")
    hour, minute, rest = timed
    fields: dict[str, object] = {"hour": hour, "minute": minute, "timezone": tz}
    if days is not None:
        fields["day_of_week"] = ",".join(CRON_DAYS[d] for d in days)
    if month_day is not None:
        fields["day"] = month_day
    return Repeat(CronTrigger(**fields), hour, minute, days, month_day, rest.strip())


def parse_day(text: str, now: datetime, *, allow_past: bool = False) -> tuple[datetime, str]:
    """A date with no time of day at the start of ``text`` (``请假 12月3日 12月5日``, ``tomorrow``):
    that day at midnight, and the text after it.  A day before today is a ``WhenProblem``."""
    day = _day_at_start(_fold(text), now)
    if day is None:
        raise WhenProblem("not_a_date")
    moment, rest, _ = day
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if moment < today and not allow_past:
        raise WhenProblem("past", when=moment)
    return moment, rest.strip()


_UNTIL = re.compile(r"\s*(?:-|–|—|~|～|到|至|until|till|to)\s*", re.IGNORECASE)


def parse_until(text: str) -> tuple[int, int, str] | None:
    """The end of a span of time at the start of ``text`` (``-20:00``, ``到下午5点``, ``to 5pm``):
    (hour, minute, rest), or None when there is none.  An hour from 1 to 6 with nothing said
    ends a span in the afternoon (``9点-3点`` is 09:00–15:00)."""
    folded = _fold(text)
    match = _UNTIL.match(folded)
    if not match:
        return None
    rest = folded[match.end():]
    try:
        timed = _time_at_start(rest)
    except WhenProblem as problem:
        if problem.reason != "ambiguous_hour":
            raise
        timed = _time_at_start("下午" + rest.lstrip())
    if timed is None:
        raw = re.match(r"\s*([0-9]{1,2})(?![0-9:])", rest)
        if raw is None:
            raise WhenProblem("not_a_time")
        hour = int(raw.group(1))
        if hour > 24:
            raise WhenProblem("not_a_time")
        return hour % 24, 0, rest[raw.end():].strip()
    return timed[0], timed[1], timed[2].strip()


_LENGTH = re.compile(
    r"\s*(?P<n>[0-9]+(?:\.[0-9]+)?|半|[一二两三四五六七八九十]{1,2})\s*(?:个)?\s*"
    r"(?P<unit>小时|钟头|分钟|hours?|hrs?|h|minutes?|mins?|m)(?![a-z])", re.IGNORECASE)


def parse_length(text: str) -> tuple[timedelta, str] | None:
    """A length of time at the start of ``text`` (``2小时``, ``1.5h``, ``90分钟``, ``两个小时``,
    ``2 hours``): (length, rest), or None when there is none."""
    match = _LENGTH.match(_fold(text))
    if not match:
        return None
    raw = match.group("n")
    number = 0.5 if raw == "半" else (float(raw) if raw[0].isdigit() else _cn_number(raw))
    unit = match.group("unit").lower()
    minutes = number * (1 if unit.startswith("m") or unit == "分钟" else 60)
    if minutes <= 0:
        return None
    return timedelta(minutes=round(minutes)), _fold(text)[match.end():].strip()
