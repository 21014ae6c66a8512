"""The dates and times residents type, read in the compound's timezone — or refused, never guessed."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.when import WhenProblem, parse_day, parse_length, parse_moment, parse_repeat, parse_until

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=TZ)  # a Tuesday morning


@pytest.mark.parametrize(("text", "expected", "rest"), [
    ("周日 9点", datetime(2026, 12, 6, 9, 0), ""),
    ("周日9点 美化家园", datetime(2026, 12, 6, 9, 0), "美化家园"),
    ("明天下午3点", datetime(2026, 12, 2, 15, 0), ""),
    ("12月6日 09:00", datetime(2026, 12, 6, 9, 0), ""),
    ("2026-12-06 09:00", datetime(2026, 12, 6, 9, 0), ""),
    ("Sunday 9am", datetime(2026, 12, 6, 9, 0), ""),
    ("下周六 上午9点半 门口", datetime(2026, 12, 12, 9, 30), "门口"),
    ("周日 上午9点 2小时 中心花园", datetime(2026, 12, 6, 9, 0), "2小时 中心花园"),
    ("周日 9点2小时", datetime(2026, 12, 6, 9, 0), "2小时"),
    ("周日 9点30分 x", datetime(2026, 12, 6, 9, 30), "x"),
    ("12月6日 09:00 30人", datetime(2026, 12, 6, 9, 0), "30人"),
    ("明天 02:00", datetime(2026, 12, 2, 2, 0), ""),  # a leading zero: the 24-hour clock
])
def test_moments_people_type(text, expected, rest):
    moment = parse_moment(text, NOW)
    assert moment.at == expected.replace(tzinfo=TZ)
    assert moment.rest == rest


@pytest.mark.parametrize(("text", "reason"), [
    ("2月30日 9点", "no_such_date"),
    ("周日 3点", "ambiguous_hour"),
    ("今天 上午8点", "past"),
    ("12月6日", "no_time"),
    ("改天吧", "not_a_time"),
])
def test_moments_that_cannot_be_used_are_refused_not_guessed(text, reason):
    with pytest.raises(WhenProblem) as problem:
        parse_moment(text, NOW)
    assert problem.value.reason == reason


def test_days_without_a_time_for_time_away():
    assert parse_day("12月3日 12月5日", NOW) == (datetime(2026, 12, 3, tzinfo=TZ), "12月5日")
    assert parse_day("明天", NOW)[0] == datetime(2026, 12, 2, tzinfo=TZ)
    assert parse_day("Dec 5", NOW)[0] == datetime(2026, 12, 5, tzinfo=TZ)
    for text, reason in (("2月30日", "no_such_date"), ("2026-11-02", "past"), ("随便", "not_a_date")):
        with pytest.raises(WhenProblem) as problem:
            parse_day(text, NOW)
        assert problem.value.reason == reason


@pytest.mark.parametrize(("text", "expected"), [
    ("-20:00 孙老师", (20, 0, "孙老师")), ("到下午5点", (17, 0, "")), ("to 5pm", (17, 0, "")),
    ("~ 11:30", (11, 30, "")), ("-3点", (15, 0, "")), ("孙老师", None),
])
def test_the_end_of_a_span(text, expected):
    assert parse_until(text) == expected


@pytest.mark.parametrize(("text", "minutes", "rest"), [
    ("2小时 中心花园", 120, "中心花园"), ("1.5h", 90, ""), ("90分钟", 90, ""), ("两个小时", 120, ""),
    ("2 hours lobby", 120, "lobby"), ("半小时", 30, ""),
])
def test_lengths_of_time(text, minutes, rest):
    assert parse_length(text) == (timedelta(minutes=minutes), rest)
    assert parse_length("30人") is None


def test_a_weekly_repeat_and_its_next_time():
    repeat = parse_repeat("每周日 9点 楼道巡查", TZ)
    assert (repeat.days, repeat.hour, repeat.minute, repeat.rest) == ((6,), 9, 0, "楼道巡查")
    assert repeat.next_after(NOW) == datetime(2026, 12, 6, 9, 0, tzinfo=TZ)
    repeat = parse_repeat("every day 8:00-12:00", TZ)
    assert repeat.days is None and parse_until(repeat.rest) == (12, 0, "")


def test_cron_day_zero_is_sunday_as_in_every_crontab():
    from zoneinfo import ZoneInfo

    tz = ZoneInfo("Asia/Shanghai")
    repeat = parse_repeat("cron 0 9 * * 0 全部 周报", tz)
    tuesday = datetime(2026, 12, 1, 10, 0, tzinfo=tz)
    assert repeat.trigger.get_next_fire_time(None, tuesday) == datetime(2026, 12, 6, 9, 0, tzinfo=tz)
    weekdays = parse_repeat("cron 30 7 * * 1-5 b3 早安", tz)
    saturday = datetime(2026, 12, 5, 8, 0, tzinfo=tz)
    assert weekdays.trigger.get_next_fire_time(None, saturday).day == 7  # Monday
