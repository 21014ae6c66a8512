"""Scenarios of announcements (通知): posted now, held by quiet hours, scheduled once or on a rule,
listed and cancelled; and a simulated week with restarts in the middle, on one SQLite file."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from bot.i18n import t
from bot.when import standard_cron
from handlers.announcements import quiet_end
from tests.harness import START, Compound, Sent


async def run_for(compound: Compound, span: timedelta, step=timedelta(minutes=30)) -> Sent:
    """Let ``span`` pass a step at a time (the sweeps run after every step)."""
    everything = Sent()
    end = compound.clock.now() + span
    while compound.clock.now() < end:
        sent = await compound.advance(min(step, end - compound.clock.now()))
        everything.messages += sent.messages
    return everything


def posts(sent: Sent, chat_key: str) -> list:
    """The messages posted to a group chat."""
    return [m for m in sent.messages if m.kind == "group" and m.address == chat_key]


async def announcement_rows(compound: Compound) -> int:
    async with compound.app.db.read() as tx:
        return len(await tx.announcements.active()) + len(
            [1 for n in range(1, 20) if await tx.announcements.get(n)])


async def test_property_posts_to_a_building_and_hears_when_it_is_delivered(compound: Compound):
    sent = await compound.say("dm", "zhao", "通知 3栋 明早8点到12点二次供水检修停水，请提前储水")
    assert sent.keys_in("b3") == ["announcements.post"]
    group = sent.to_chat("b3")
    assert "停水" in group[0] and "赵经理（物业）" in group[0]
    assert sent.to_chat("b5") == [] and sent.to_chat("all") == []
    assert sent.keys_to("zhao") == ["announcements.posted"]
    reply = sent.values_to("zhao", "announcements.posted")
    assert (reply["number"], reply["count"], reply["chats"]) == (1, 1, "3栋邻里群")
    assert reply["finish"] == t("zh", "announcements.finish_soon")


async def test_several_chats_a_building_and_all_in_each_chats_language(compound: Compound):
    sent = await compound.say("dm", "chen", "通知 b3,b5 周六上午业委会接待日")
    assert sent.to_chat("b3") and sent.to_chat("b5") and not sent.to_chat("b7")
    sent = await compound.say("dm", "chen", "通知 3栋 7栋 电梯年检")
    assert sent.to_chat("b3") and sent.to_chat("b7") and not sent.to_chat("b5")
    sent = await compound.say("dm", "admin", "/announce all fire drill on Saturday 10:00")
    assert {m.address for m in sent.messages if m.kind == "group"} == {"all", "b3", "b5", "b7"}
    for chat in ("all", "b3", "b5", "b7"):
        assert sent.keys_in(chat) == ["announcements.post"]
    (b7,), (b3,) = posts(sent, "b7"), posts(sent, "b3")
    assert b7.text == t("en", b7.key, **b7.values)  # b7 is an English group
    assert b3.text == t("zh", b3.key, **b3.values)
    assert sent.keys_to("admin") == ["announcements.posted"]
    assert sent.values_to("admin", "announcements.posted")["count"] == 4


async def test_residents_and_captains_may_not_announce(compound: Compound):
    sent = await compound.say("b3", "alice", "通知 全部 我家猫丢了")
    assert sent.keys_in("b3") == ["core.not_allowed"]
    assert "物业" in sent.to_chat("b3")[0]  # who may: property among them
    sent = await compound.say("dm", "wang", "通知 3栋 今晚开会")
    assert sent.keys_to("wang") == ["core.not_allowed"]
    assert len(sent) == 1
    assert await announcement_rows(compound) == 0


@pytest.mark.parametrize(("text", "key", "values"), [
    ("通知", "announcements.usage.announce", {}),
    ("通知 3栋", "announcements.usage.announce", {}),
    ("通知 火星 明天停水", "announcements.which_chats", {"word": "火星"}),
    ("通知 9栋 明天停水", "announcements.no_group", {"building": "9栋"}),
    ("通知 3栋 有事请打 13812345678", "announcements.private_detail", {}),
    ("通知 3栋 3栋1203的快递在门卫", "announcements.private_detail", {}),
    ("通知 全部 " + "很长" * 2001, "announcements.too_long", {"length": 4002}),
    ("/announce mars water off", "announcements.which_chats", {"word": "mars"}),
    ("定时通知", "announcements.usage.schedule", {}),
    ("定时通知 2月30日 9点 b3 检修", "announcements.when.no_such_date", {"text": "2月30日"}),
    ("定时通知 明天3点 b3 检修", "announcements.when.ambiguous_hour", {}),
    ("定时通知 今天8点 b3 检修", "announcements.when.past", {}),
    ("定时通知 明天 b3 检修", "announcements.when.no_time", {}),
    ("定时通知 cron 0 9 * * b3 检修", "announcements.when.bad_cron", {}),
    ("定时通知 随便哪天 b3 检修", "announcements.when.not_a_time", {}),
    ("定时通知 明天8点 b3", "announcements.usage.schedule", {}),
    ("/schedule every weekday 7:30 nowhere hello", "announcements.which_chats", {"word": "nowhere"}),
    ("取消通知 99", "announcements.not_found", {"number": 99}),
])
async def test_bad_input_is_explained_and_changes_nothing(compound: Compound, text, key, values):
    sent = await compound.say("dm", "zhao", text)
    assert sent.keys_to("zhao") == [key] and len(sent) == 1, sent.texts()
    told = sent.values_to("zhao", key)
    assert {name: told.get(name) for name in values} == values
    lang = "en" if text.startswith("/") else "zh"  # answered in the command's language
    assert sent.to("zhao")[0] == t(lang, key, **told)
    assert await announcement_rows(compound) == 0


async def test_quiet_hours_hold_a_broadcast_until_morning_unless_urgent(compound: Compound):
    compound.clock.set(datetime(2026, 12, 1, 23, 0))
    sent = await compound.say("dm", "zhao", "通知 全部 明天小区绿化修剪，请挪车")
    assert sent.to_chat("b3") == [] and sent.keys_to("zhao") == ["announcements.held_quiet"]
    held = sent.values_to("zhao", "announcements.held_quiet")
    assert held["quiet"] == "22:00–07:00" and held["when"] == "12月2日 07:00"
    sent = await compound.say("dm", "zhao", "通知 紧急 3栋 3栋消防门报警，请勿惊慌，物业正在处理")
    assert sent.keys_in("b3") == ["announcements.post_urgent"]
    sent = await run_for(compound, timedelta(hours=7, minutes=59), step=timedelta(minutes=10))
    assert sent.to_chat("b3") == []
    sent = await compound.advance(timedelta(minutes=1))  # 07:00
    assert sent.keys_in("b3") == ["announcements.post"] and "绿化修剪" in sent.to_chat("b3")[0]
    assert sent.keys_in("all") == ["announcements.post"]
    sent = await run_for(compound, timedelta(days=1))
    assert len(sent) == 0


async def test_a_one_off_goes_out_once_at_its_moment_and_leaves_the_list(compound: Compound):
    sent = await compound.say("dm", "chen", "定时通知 明天8点 b3 今晚7点业主大会，请准时参加")
    assert sent.keys_to("chen") == ["announcements.scheduled_once"]
    scheduled = sent.values_to("chen", "announcements.scheduled_once")
    assert scheduled["number"] == 1 and scheduled["when"] == "12月2日 08:00"
    sent = await compound.say("dm", "chen", "通知列表")
    assert sent.keys_to("chen") == ["announcements.list_header"]
    assert "#1" in sent.to("chen")[0] and "12月2日 08:00" in sent.to("chen")[0]
    sent = await run_for(compound, timedelta(hours=22, minutes=59), step=timedelta(minutes=1))
    assert sent.to_chat("b3") == []
    sent = await compound.advance(timedelta(minutes=1))
    assert sent.keys_in("b3") == ["announcements.post"] and "业主大会" in sent.to_chat("b3")[0]
    sent = await run_for(compound, timedelta(days=2))
    assert sent.to_chat("b3") == []
    sent = await compound.say("dm", "chen", "通知列表")
    assert sent.keys_to("chen") == ["announcements.none_scheduled"]


async def test_repeating_rules_and_cron_expressions(compound: Compound):
    sent = await compound.say("dm", "zhao", "定时通知 每天 8:00 b5 垃圾分类：请按时投放")
    assert sent.keys_to("zhao") == ["announcements.scheduled_repeat"]
    assert sent.values_to("zhao", "announcements.scheduled_repeat")["when"] == "12月2日 08:00"
    sent = await compound.say("dm", "zhao", "定时通知 cron 0 9 * * 0 b3 周日大扫除")  # 0 = Sunday
    assert sent.keys_to("zhao") == ["announcements.scheduled_repeat"]
    assert sent.values_to("zhao", "announcements.scheduled_repeat")["when"] == "12月6日 09:00"
    sent = await compound.say("dm", "zhao", "/schedule every weekday 7:30 b7 gym opens at 8")
    assert sent.keys_to("zhao") == ["announcements.scheduled_repeat"]
    assert sent.values_to("zhao", "announcements.scheduled_repeat")["when"] == "Dec 2 07:30"
    sent = await run_for(compound, timedelta(days=7))
    assert len(sent.to_chat("b5")) == 7
    assert len(sent.to_chat("b3")) == 1 and "大扫除" in sent.to_chat("b3")[0]
    assert len(sent.to_chat("b7")) == 5
    assert "垃圾分类：请按时投放" in sent.to_chat("b5")[0]  # the author's full-width colon kept


async def test_cancelling_stops_it_and_only_the_author_or_admin_may(compound: Compound):
    await compound.say("dm", "zhao", "定时通知 每天 8:00 b3 早上好")
    sent = await compound.say("dm", "chen", "取消通知 1")
    assert sent.keys_to("chen") == ["announcements.only_author"]
    sent = await compound.say("dm", "zhao", "取消通知 1")
    assert sent.keys_to("zhao") == ["announcements.cancelled"]
    assert sent.values_to("zhao", "announcements.cancelled")["number"] == 1
    sent = await compound.say("dm", "zhao", "取消通知 1")
    assert sent.keys_to("zhao") == ["announcements.not_active"]
    assert sent.values_to("zhao", "announcements.not_active")["status"] == t(
        "zh", "announcements.status.cancelled")
    sent = await run_for(compound, timedelta(days=2))
    assert sent.to_chat("b3") == []
    await compound.say("dm", "zhao", "定时通知 每天 9:00 b3 第二条")
    sent = await compound.say("dm", "admin", "取消通知 2")
    assert sent.keys_to("admin") == ["announcements.cancelled"]
    assert sent.values_to("admin", "announcements.cancelled")["number"] == 2


async def test_a_week_of_broadcasts_with_quiet_hours_and_restarts(tmp_path):
    compound = await Compound.open(tmp_path)
    await compound.say("dm", "zhao", "定时通知 每天 8:00 b3 早安，今日保洁8:30开始")           # #1
    await compound.say("dm", "zhao", "定时通知 每天 早上6:30 b5 晨练的邻居请小声")              # #2
    await compound.say("dm", "chen", "定时通知 每周日 9点 全部 本周业委会工作简报")             # #3
    sent = await run_for(compound, timedelta(days=2, hours=3))  # to Thursday 12:00
    assert len(sent.to_chat("b3")) == 2 and len(sent.to_chat("b5")) == 2
    async with compound.app.db.read() as tx:
        quiet_runs = await tx.announcements.runs(2)
    assert [datetime.fromtimestamp(r[1], compound.config.tz).strftime("%H:%M") for r in quiet_runs] \
        == ["07:00", "07:00"]  # 06:30 falls in quiet hours: held until they end
    await compound.close()

    # down from Thursday 12:00 to Friday 09:30: #1's 08:00 run is 1.5 h late (inside the 2 h
    # grace window) and goes out once, late; #2's 07:00 run is 2.5 h late: skipped, reported
    friday = datetime(2026, 12, 4, 9, 30)
    compound = await Compound.open(tmp_path, start=friday)
    sent = await compound.advance(timedelta(0))
    assert len(sent.to_chat("b3")) == 1 and sent.to_chat("b5") == []
    assert sent.keys_to("admin") == ["announcements.skipped_report"]
    report = sent.values_to("admin", "announcements.skipped_report")
    assert report["number"] == 2 and report["moments"] == "12月4日 06:30"
    assert sent.keys_to("zhao") == ["announcements.skipped_report"]  # the author hears it too
    assert sent.values_to("zhao", "announcements.skipped_report")["number"] == 2
    await compound.close()

    compound = await Compound.open(tmp_path, start=friday)  # restarted again straight away
    sent = await compound.advance(timedelta(0))
    assert len(sent) == 0
    sent = await run_for(compound, timedelta(days=4, hours=-1))  # to Tuesday 08:30
    await compound.close()
    assert len(sent.to_chat("b3")) == 4 + 1  # Sat Sun Mon Tue, and Sunday's briefing
    assert len(sent.to_chat("all")) == 1 and "工作简报" in sent.to_chat("all")[0]

    compound = await Compound.open(tmp_path, start=datetime(2026, 12, 8, 8, 30))
    async with compound.app.db.read() as tx:
        first = await tx.announcements.runs(1)
        second = await tx.announcements.runs(2)
        outbox = await tx.outbox.all_messages("sent")
    await compound.close()
    assert [r[2] for r in first] == ["sent", "sent", "late", "sent", "sent", "sent", "sent"]
    assert [r[2] for r in second].count("skipped") == 1
    morning = [m for m in outbox if m.address == "b3" and "早安" in m.text]
    assert len(morning) == 7  # Wednesday to Tuesday, once each, whatever the restarts


async def test_a_long_outage_skips_what_is_too_old_and_reports_it_privately(tmp_path):
    compound = await Compound.open(tmp_path)
    await compound.say("dm", "zhao", "定时通知 每天 8:00 b3 早安")
    await compound.say("dm", "zhao", "定时通知 明天 10:00 b5 电梯维保")
    await compound.close()
    compound = await Compound.open(tmp_path, start=START + timedelta(days=3, hours=2, minutes=30))
    sent = await compound.advance(timedelta(0))
    await compound.close()
    assert sent.to_chat("b3") == [] and sent.to_chat("b5") == []  # 3 mornings and #2 are too old
    assert sent.keys_to("admin") == ["announcements.skipped_report"] * 2
    reports = [m.values for m in sent.messages if m.address == "admin"]
    assert {r["number"]: r["count"] for r in reports} == {1: 3, 2: 1}
    assert all(m.kind == "private" for m in sent.messages)


def test_quiet_hours_across_midnight_and_within_a_day():
    tz = START.tzinfo
    night = (datetime(2026, 1, 1, 22).time(), datetime(2026, 1, 1, 7).time())
    assert quiet_end(datetime(2026, 12, 1, 23, 30, tzinfo=tz), night) == datetime(2026, 12, 2, 7,
                                                                                 tzinfo=tz)
    assert quiet_end(datetime(2026, 12, 2, 6, 59, tzinfo=tz), night) == datetime(2026, 12, 2, 7,
                                                                                tzinfo=tz)
    assert quiet_end(datetime(2026, 12, 2, 7, 0, tzinfo=tz), night) is None
    assert quiet_end(datetime(2026, 12, 2, 21, 59, tzinfo=tz), night) is None
    siesta = (datetime(2026, 1, 1, 12).time(), datetime(2026, 1, 1, 14).time())
    assert quiet_end(datetime(2026, 12, 2, 13, 0, tzinfo=tz), siesta).hour == 14


def test_cron_weekdays_are_read_as_every_crontab_reads_them():
    assert standard_cron("cron 0 9 * * 0 b3 hi") == "cron 0 9 * * sun b3 hi"
    assert standard_cron("cron 30 7 * * 1-5 b3 hi") == "cron 30 7 * * mon-fri b3 hi"
    assert standard_cron("cron 0 9 * * SUN b3") == "cron 0 9 * * SUN b3"
    assert standard_cron("每天 8:00 b3") == "每天 8:00 b3"


async def test_a_building_right_after_all_stays_in_the_text(compound):
    sent = await compound.say("dm", "zhao", "通知 全部 3栋 电梯检修，请走楼梯")
    posted = [m.text for m in sent.messages if m.kind == "group"]
    assert posted and all("3栋 电梯检修" in text for text in posted)
