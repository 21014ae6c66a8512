"""Replies that confused residents, each as they tried it (the demo compound of config.example.toml,
starting on Tuesday 2026-12-01 09:00): what the bot says now."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from bot.i18n import t
from tests.harness import Compound


async def patrol(compound: Compound) -> None:
    """楼道巡查 on Saturdays 19:00-20:00: shift #1 on 12-05 (alice), #2 on 12-12 (bob)."""
    for name in ("alice", "bob"):
        await compound.say("b3", name, "大家好")
    await compound.say("dm", "li", "排班 楼道巡查 每周六 19:00-20:00 alice bob")


def numbers(sent, person: str) -> list[int]:
    """The shift numbers in what ``person`` was told (``#3``)."""
    return [int(n) for text in sent.to(person) for n in re.findall(r"#(\d+)", text)]


# --- 1. 值班 -------------------------------------------------------------------------------------
async def test_a_rota_named_alone_shows_its_next_shifts_whenever_they_are(compound: Compound):
    await patrol(compound)
    sent = await compound.say("dm", "carol", "值班 楼道巡查")  # nothing today or tomorrow
    assert sent.keys_to("carol") == ["rota.header"]
    assert numbers(sent, "carol") == [1, 2]
    assert "12月5日 周六" in sent.to("carol")[0] and "12月12日 周六" in sent.to("carol")[0]


async def test_a_time_word_after_the_rota_name_is_understood(compound: Compound):
    await patrol(compound)
    for text in ("值班 楼道巡查 本周", "值班 本周 楼道巡查", "值班 楼道巡查 周六", "/rota b3patrol this week",
                 "/rota b3patrol saturday"):
        sent = await compound.say("dm", "carol", text)
        assert [m.key for m in sent.messages] == ["rota.header"], text
        assert numbers(sent, "carol") == [1], text
    sent = await compound.say("dm", "carol", "值班 楼道巡查 下周")
    assert numbers(sent, "carol") == [2]
    sent = await compound.say("dm", "carol", "值班 楼道巡查 明天")  # none tomorrow: the next ones
    assert sent.keys_to("carol") == ["rota.none"] and numbers(sent, "carol") == [1, 2]


async def test_who_is_on_duty_now(compound: Compound):
    for name in ("alice", "bob"):
        await compound.say("all", name, "大家好")
    await compound.say("dm", "sun", "排班 门岗值守 每天 8:00-12:00 alice bob")
    sent = await compound.say("dm", "carol", "值班 现在")  # 09:00, the first shift is tomorrow
    assert sent.keys_to("carol") == ["rota.none_now"] and numbers(sent, "carol")[0] == 1
    await compound.advance(timedelta(hours=24))  # Wednesday 09:00: alice is on duty
    for text in ("值班 现在", "/rota now", "值班 门岗值守 现在"):
        sent = await compound.say("dm", "carol", text)
        assert sent.keys_to("carol") == ["rota.header"], text
        assert numbers(sent, "carol") == [1] and "alice" in sent.to("carol")[0], text


# --- 2. 请假 -------------------------------------------------------------------------------------
async def test_time_away_with_no_shifts_says_there_is_nothing_to_cover(compound: Compound):
    await patrol(compound)
    sent = await compound.say("dm", "alice", "请假 明天")
    assert sent.keys_to("alice") == ["rota.away_done_none"]
    assert sent.keys_to("bob") == []  # nobody is asked to cover anything
    sent = await compound.say("dm", "alice", "请假 12月5日")
    assert sent.keys_to("alice")[-1] == "rota.away_done"


# --- 3. 排班 -------------------------------------------------------------------------------------
async def test_people_in_the_config_can_be_put_on_a_rota_before_they_ever_wrote(compound: Compound):
    sent = await compound.say("dm", "sun", "排班 门岗值守 每天 8:00-12:00 王师傅 zhao 和 Chen 4 周")
    assert sent.keys_to("sun") == ["rota.set_done"]
    assert "王师傅、赵经理、陈主任" in sent.to("sun")[0] and "4周" in sent.to("sun")[0]


async def test_only_the_unknown_names_are_named(compound: Compound):
    sent = await compound.say("dm", "sun", "排班 门岗值守 每天 8:00-12:00 王师傅 carol 李阿姨 @dave 2 weeks")
    assert sent.keys_to("sun") == ["rota.unknown_members"]
    assert sent.values_to("sun", "rota.unknown_members")["names"] == "carol、dave"


# --- 4. 新活动 ------------------------------------------------------------------------------------
async def test_a_negative_number_of_people_is_said_to_be_wrong_and_not_taken_as_the_place(
        compound: Compound):
    sent = await compound.say("dm", "sun", "新活动 插花 周六 上午10点 1小时 会所 -5人")
    assert sent.keys_to("sun") == ["volunteers.bad.capacity", "volunteers.ask.capacity"]
    assert sent.values_to("sun", "volunteers.bad.capacity")["given"] == "-5人"
    sent = await compound.say("dm", "sun", "5")
    assert sent.values_to("sun", "volunteers.created")["place"] == "会所"


async def test_an_event_too_long_is_refused_and_one_ending_another_day_shows_that_day(
        compound: Compound):
    sent = await compound.say("dm", "sun", "新活动 插花 周六 上午10点 99999小时 会所 5人")
    assert sent.keys_to("sun") == ["volunteers.too_long", "volunteers.ask.length"]
    sent = await compound.say("dm", "sun", "48小时")  # in the dialogue too
    assert sent.keys_to("sun") == ["volunteers.too_long", "volunteers.ask.length"]
    sent = await compound.say("dm", "sun", "1小时")
    assert sent.values_to("sun", "volunteers.created")["when"] == "12月5日 周六 10:00–11:00"
    sent = await compound.say("dm", "sun", "新活动 夜巡 周六 晚上10点 3小时 会所 5人")
    assert sent.values_to("sun", "volunteers.created")["when"] == (
        "12月5日 周六 22:00 – 12月6日 周日 01:00")


async def test_a_missing_title_is_asked_for_instead_of_taking_the_day_as_the_title(
        compound: Compound):
    sent = await compound.say("dm", "sun", "新活动 周六 上午10点 1小时 会所 5人")
    assert sent.keys_to("sun") == ["volunteers.need_title", "volunteers.ask.title"]
    assert sent.values_to("sun", "volunteers.need_title")["word"] == "周六"
    sent = await compound.say("dm", "sun", "插花")
    values = sent.values_to("sun", "volunteers.created")
    assert (values["title"], values["when"], values["place"], values["capacity"]) == (
        "插花", "12月5日 周六 10:00–11:00", "会所", 5)


async def test_a_date_that_has_passed_this_year_shows_the_year_and_says_it_is_next_year(
        compound: Compound):
    compound.clock.advance(datetime(2027, 6, 1, 9, 0, tzinfo=compound.config.tz) - compound.clock.now())
    sent = await compound.say("dm", "sun", "新活动 插花 5月1日 上午10点 1小时 会所 5人")
    assert sent.keys_to("sun") == ["volunteers.created", "volunteers.next_year"]
    assert sent.values_to("sun", "volunteers.created")["when"].startswith("2028年5月1日")
    assert "2028年5月1日" in sent.to_chat("all")[0]
    sent = await compound.say("dm", "sun", "新活动 浇花 周六 上午10点 1小时 会所 5人")
    assert sent.keys_to("sun") == ["volunteers.created"]  # this year: no year, no note
    assert sent.values_to("sun", "volunteers.created")["when"] == "6月5日 周六 10:00–11:00"


async def test_a_phone_number_in_a_title_is_refused_at_the_title_step_and_the_dialogue_goes_on(
        compound: Compound):
    await compound.say("dm", "sun", "新活动")
    sent = await compound.say("dm", "sun", "插花13812345678")
    assert sent.keys_to("sun") == ["volunteers.private_title", "volunteers.ask.title"]
    for answer, asked in (("插花", "when"), ("周六 上午10点", "length"), ("1小时", "place"),
                          ("会所", "capacity")):
        sent = await compound.say("dm", "sun", answer)
        assert sent.keys_to("sun") == [f"volunteers.ask.{asked}"], answer
    sent = await compound.say("dm", "sun", "5")
    assert sent.values_to("sun", "volunteers.created")["title"] == "插花"


# --- 5. English ----------------------------------------------------------------------------------
async def test_an_hour_alone_is_asked_about_in_english_as_in_chinese(compound: Compound):
    await compound.say("dm", "sun", "/newevent")
    await compound.say("dm", "sun", "Flowers")
    sent = await compound.say("dm", "sun", "tomorrow 3")
    assert sent.keys_to("sun") == ["volunteers.when.ambiguous_hour", "volunteers.ask.when"]
    assert "3 am or 3 pm?" in sent.to("sun")[0]
    await compound.say("dm", "sun", "取消")
    await compound.say("dm", "sun", "新活动")
    await compound.say("dm", "sun", "插花")
    sent = await compound.say("dm", "sun", "明天 3")
    assert sent.keys_to("sun") == ["volunteers.when.ambiguous_hour", "volunteers.ask.when"]


async def test_role_names_are_joined_with_or(compound: Compound):
    describe = compound.core.describe_roles
    assert describe(["coordinator"], "en") == "volunteer coordinators or the community office"
    assert describe(["coordinator"], "zh") == "志愿者协调人或社区管理员"
    assert describe(["captain", "property"], "en") == (
        "building captains, property management or the community office")
    assert describe(["captain", "property"], "zh") == "楼长、物业或社区管理员"
    assert describe(["admin"], "en") == "the community office"
    sent = await compound.say("dm", "alice", "/newevent")
    assert sent.to("alice") == [t("en", "core.not_allowed", word="newevent",
                                  who="volunteer coordinators or the community office")]


def test_a_lone_number_after_a_day_is_its_hour_but_not_a_count_of_people():
    from zoneinfo import ZoneInfo

    from bot.when import WhenProblem, parse_moment
    from tests.harness import START

    now = START.replace(tzinfo=ZoneInfo("Asia/Shanghai"))
    assert parse_moment("tomorrow 9 2h", now).at.hour == 9
    for text, reason in (("tomorrow 3", "ambiguous_hour"), ("明天 3", "ambiguous_hour"),
                         ("明天 3人", "no_time"), ("tomorrow 30", "not_a_time")):
        try:
            parse_moment(text, now)
        except WhenProblem as problem:
            assert problem.reason == reason, text
        else:
            raise AssertionError(text)
