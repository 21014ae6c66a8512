"""Scenarios of volunteer events: places, the waitlist, reminders, attendance and hours — through the
real core and a real SQLite file."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime, timedelta

from bot.i18n import t
from tests.harness import START, Compound, Sent

# The demo starts on Tuesday 2026-12-01 09:00; "周日 上午9点" is Sunday 2026-12-06 09:00.
SUNDAY = "新活动 美化家园 周日 上午9点 2小时 中心花园 {places}人"


async def create(compound: Compound, places: int = 3) -> Sent:
    return await compound.say("dm", "sun", SUNDAY.format(places=places))


def values_in(sent: Sent, chat_key: str, key: str) -> dict:
    """The values of the first message with ``key`` posted to the group chat ``chat_key``."""
    return next(m.values for m in sent.messages
                if m.kind == "group" and m.address == chat_key and m.key == key)


def told_in(sent: Sent, person: str, lang: str) -> bool:
    """Whether everything ``person`` was told privately is the ``lang`` text of its key."""
    told = [m for m in sent.messages if m.kind == "private" and m.address == person]
    return bool(told) and all(m.text == t(lang, m.key, **m.values) for m in told)


async def count_events(compound: Compound) -> int:
    async with compound.app.db.read() as tx:
        return len(await tx.volunteers.upcoming(0))


async def test_a_coordinator_creates_an_event_and_it_is_posted_with_buttons(compound: Compound):
    sent = await create(compound, 30)
    assert sent.keys_to("sun") == ["volunteers.created"]
    created = sent.values_to("sun", "volunteers.created")
    assert (created["number"], created["title"]) == (1, "美化家园")
    assert created["when"] == "12月6日 周日 09:00–11:00"
    assert sent.keys_in("all") == ["volunteers.post_new"]
    post = next(m for m in sent.messages if m.kind == "group" and m.address == "all")
    assert post.values["place"] == "中心花园" and post.values["capacity"] == 30
    assert [(b.label, b.command) for b in post.buttons] == [("报名", "报名 1"),
                                                            ("取消报名", "取消报名 1")]
    assert "「报名 1」" in post.plain_text()  # the typed fallback for platforms without buttons
    sent = await compound.say("all", "alice", "活动")
    assert sent.keys_in("all") == ["volunteers.upcoming_header"]
    assert t("zh", "volunteers.line", number=1, title="美化家园", when="12月6日 周日 09:00–11:00",
             place="中心花园", going=0, capacity=30, free=30) in sent.to_chat("all")[0]


async def test_a_full_event_waitlists_and_a_cancel_promotes_the_first_waiting(compound: Compound):
    await create(compound, 2)
    assert (await compound.say("all", "alice", "报名 1")).keys_in("all") == ["volunteers.joined"]
    await compound.say("all", "bob", "报名 1")
    sent = await compound.say("all", "carol", "报名 1")
    assert sent.keys_in("all") == ["volunteers.waitlisted"]
    waitlisted = values_in(sent, "all", "volunteers.waitlisted")
    assert (waitlisted["going"], waitlisted["capacity"], waitlisted["position"]) == (2, 2, 1)
    await compound.advance(compound.config.quiet.window)  # (sooner, it gathers with carol's)
    sent = await compound.say("all", "dave", "报名 1")
    assert sent.keys_in("all") == ["volunteers.waitlisted"]
    assert values_in(sent, "all", "volunteers.waitlisted")["position"] == 2
    sent = await compound.say("dm", "dave", "我的活动")
    assert sent.keys_to("dave") == ["volunteers.mine_header"]
    assert t("zh", "volunteers.mine_waiting", number=1, title="美化家园",
             when="12月6日 周日 09:00–11:00", position=2) in sent.to("dave")[0]
    sent = await compound.say("dm", "alice", "取消报名 1")
    assert sent.keys_to("alice") == ["volunteers.left"]
    assert sent.values_to("alice", "volunteers.left")["number"] == 1
    assert sent.keys_to("carol") == ["volunteers.promoted"]  # privately, to the first waiting
    assert sent.values_to("carol", "volunteers.promoted")["number"] == 1
    assert sent.to("dave") == [] and sent.to_chat("all") == []
    sent = await compound.say("dm", "dave", "我的活动")
    assert sent.keys_to("dave") == ["volunteers.mine_header"]
    assert t("zh", "volunteers.mine_waiting", number=1, title="美化家园",
             when="12月6日 周日 09:00–11:00", position=1) in sent.to("dave")[0]
    async with compound.app.db.read() as tx:
        going = [s.person_id for s in await tx.volunteers.signups(1, "going")]
        carol = (await tx.people.by_name("carol"))[0]
    assert carol.id in going and len(going) == 2


async def test_fifty_residents_pressing_join_for_the_last_ten_places(compound: Compound):
    await create(compound, 12)
    await compound.say("all", "alice", "报名 1")
    await compound.say("all", "bob", "报名 1")
    names = [f"r{i:02d}" for i in range(1, 51)]
    before = len(compound.adapter.sent)
    await asyncio.gather(*(compound.core.handle(compound.inbound("all", n, "报名 1"))
                           for n in names))
    await compound.app.dispatcher.drain()
    replies = Sent(compound.adapter.sent[before:])
    await compound.check_privacy(replies)
    async with compound.app.db.read() as tx:
        counts = await tx.volunteers.counts(1)
        going = [(await tx.people.get(s.person_id)).name
                 for s in await tx.volunteers.signups(1, "going")]
        waiting = [(await tx.people.get(s.person_id)).name
                   for s in await tx.volunteers.signups(1, "waiting")]
    assert (counts.going, counts.waiting) == (12, 40)
    assert going == ["alice", "bob", *names[:10]]  # in arrival order
    assert waiting == names[10:]
    # the group hears it gathered (tests/test_quiet_groups.py): one message for the ten who got a
    # place, after bob's and alice's, and one for the forty on the waitlist
    replies.messages += (await compound.advance(compound.config.quiet.hold)).messages
    assert sorted(replies.keys_in("all")) == ["quiet.joined_many", "quiet.waitlisted_many"]
    joined = values_in(replies, "all", "quiet.joined_many")
    assert (joined["people"], joined["going"], joined["capacity"]) == (12, 12, 12)
    waitlisted = values_in(replies, "all", "quiet.waitlisted_many")
    assert waitlisted["people"] == 40
    assert waitlisted["names"] == "、".join(names[10:15])  # the first five, in arrival order


async def test_bad_input_gets_a_clear_reply_and_changes_nothing(compound: Compound):
    await create(compound, 2)
    sent = await compound.say("all", "alice", "报名 99")
    assert sent.keys_in("all") == ["volunteers.not_found"]
    assert values_in(sent, "all", "volunteers.not_found")["number"] == 99
    sent = await compound.say("all", "alice", "/join abc")
    assert sent.keys_in("all") == ["volunteers.not_a_number"]
    not_a_number = values_in(sent, "all", "volunteers.not_a_number")
    assert not_a_number["given"] == "abc" and not_a_number["usage"] == t("en", "volunteers.usage.join")
    await compound.say("all", "alice", "报名 1")
    sent = await compound.say("all", "alice", "报名 1")
    assert sent.keys_in("all") == ["volunteers.already_going"]
    sent = await compound.say("dm", "bob", "取消报名 1")
    assert sent.keys_to("bob") == ["volunteers.not_signed_up"]
    assert sent.values_to("bob", "volunteers.not_signed_up")["number"] == 1
    sent = await compound.say("dm", "alice", "新活动 测试 周日 9点 1小时 门口 5人")
    assert sent.keys_to("alice") == ["core.not_allowed"]
    assert sent.values_to("alice", "core.not_allowed")["target"] == "command:newevent"
    sent = await compound.say("dm", "sun", "新活动 测试 2月30日 9点 1小时 门口 5人")
    assert sent.keys_to("sun") == ["volunteers.when.no_such_date"]
    assert sent.values_to("sun", "volunteers.when.no_such_date")["text"] == "2月30日"
    sent = await compound.say("dm", "sun", "签到 1 alice")
    assert sent.keys_to("sun") == ["volunteers.not_started"]
    sent = await compound.say("dm", "bob", "签到 1 alice")
    assert sent.keys_to("bob") == ["core.not_allowed"]
    assert sent.values_to("bob", "core.not_allowed")["target"] == "command:attended"
    assert await count_events(compound) == 1
    async with compound.app.db.read() as tx:
        assert (await tx.volunteers.counts(1)).going == 1
        assert await tx.audit.count("denied") == 2


async def test_a_time_that_is_ambiguous_or_past_is_answered_with_a_question(compound: Compound):
    sent = await compound.say("dm", "sun", "新活动 美化家园 周日 3点 2小时 中心花园 30人")
    assert sent.keys_to("sun") == ["volunteers.when.ambiguous_hour", "volunteers.ask.when"]
    assert sent.values_to("sun", "volunteers.when.ambiguous_hour")["hour"] == 3
    sent = await compound.say("dm", "sun", "今天 上午8点")
    assert sent.keys_to("sun") == ["volunteers.when.past", "volunteers.ask.when"]
    sent = await compound.say("dm", "sun", "周日 下午3点")
    assert sent.keys_to("sun") == ["volunteers.ask.length"]
    await compound.say("dm", "sun", "2小时")
    await compound.say("dm", "sun", "中心花园")
    sent = await compound.say("dm", "sun", "30")
    assert sent.keys_to("sun") == ["volunteers.created"]
    assert sent.values_to("sun", "volunteers.created")["when"] == "12月6日 周日 15:00–17:00"
    assert await count_events(compound) == 1


async def test_the_guided_dialogue_asks_for_what_is_missing(compound: Compound):
    sent = await compound.say("dm", "sun", "新活动")
    assert sent.keys_to("sun") == ["volunteers.ask.title"]
    await compound.say("dm", "sun", "楼道巡查")
    sent = await compound.say("dm", "sun", "明天下午3点")
    assert sent.keys_to("sun") == ["volunteers.ask.length"]
    sent = await compound.say("dm", "sun", "很久")
    assert sent.keys_to("sun") == ["volunteers.bad.length", "volunteers.ask.length"]
    assert sent.values_to("sun", "volunteers.bad.length")["given"] == "很久"
    await compound.say("dm", "sun", "90分钟")
    await compound.say("dm", "sun", "3栋大堂")
    sent = await compound.say("dm", "sun", "十个人")
    assert sent.keys_to("sun") == ["volunteers.bad.capacity", "volunteers.ask.capacity"]
    assert sent.values_to("sun", "volunteers.bad.capacity")["given"] == "十个人"
    assert await count_events(compound) == 0
    sent = await compound.say("dm", "sun", "10")
    assert sent.keys_to("sun") == ["volunteers.created"]
    created = sent.values_to("sun", "volunteers.created")
    assert (created["number"], created["title"]) == (1, "楼道巡查")
    assert created["when"] == "12月2日 周三 15:00–16:30" and created["place"] == "3栋大堂"
    sent = await compound.say("dm", "sun", "新活动 巡查")  # the title given, the rest asked
    assert sent.keys_to("sun") == ["volunteers.ask.when"]
    assert sent.values_to("sun", "volunteers.ask.when")["title"] == "巡查"
    sent = await compound.say("dm", "sun", "取消")
    assert sent.keys_to("sun") == ["volunteers.dialogue_cancelled"]
    assert await count_events(compound) == 1


async def test_english_natural_dates_work_too(compound: Compound):
    sent = await compound.say("dm", "sun", "/newevent Clean-up Sunday 9am 2h garden 20 places")
    assert sent.keys_to("sun") == ["volunteers.created"] and told_in(sent, "sun", "en")
    created = sent.values_to("sun", "volunteers.created")
    assert created["when"] == "Sun Dec 6 09:00–11:00" and created["capacity"] == 20
    sent = await compound.say("dm", "sun", "/newevent Patrol 2026-12-06 14:00 1h lobby 5 people")
    assert sent.keys_to("sun") == ["volunteers.created"]
    created = sent.values_to("sun", "volunteers.created")
    assert (created["number"], created["title"]) == (2, "Patrol")
    sent = await compound.say("dm", "sun", "新活动 探访 12月6日 16:00 1小时 会所 4人")
    assert sent.keys_to("sun") == ["volunteers.created"]
    created = sent.values_to("sun", "volunteers.created")
    assert (created["number"], created["title"]) == (3, "探访")


async def test_reminders_the_evening_before_and_an_hour_before(compound: Compound):
    await create(compound, 5)
    await compound.say("all", "alice", "报名 1")
    await compound.say("all", "bob", "报名 1")
    await compound.say("dm", "bob", "取消报名 1")
    sent = await compound.advance(timedelta(days=4, hours=10, minutes=59))  # Sat 19:59
    assert sent.to("alice") == []
    sent = await compound.advance(timedelta(minutes=2))  # Sat 20:01
    assert sent.keys_to("alice") == ["volunteers.remind_eve"] and sent.to("bob") == []
    sent = await compound.advance(timedelta(hours=11, minutes=58))  # Sun 07:59
    assert sent.to("alice") == []
    sent = await compound.advance(timedelta(minutes=2))  # Sun 08:01
    assert sent.keys_to("alice") == ["volunteers.remind_soon"]
    sent = await compound.advance(timedelta(days=1))
    assert sent.to("alice") == []  # each reminder once


async def test_attendance_records_no_shows_and_adds_up_hours(compound: Compound):
    await create(compound, 5)
    for name in ("alice", "bob", "carol"):
        await compound.say("all", name, "报名 1")
    compound.clock.set(datetime(2026, 12, 6, 12, 0, tzinfo=compound.config.tz))
    sent = await compound.say("dm", "sun", "签到 1 alice mallory")
    assert sent.keys_to("sun") == ["volunteers.not_going_names"]
    assert sent.values_to("sun", "volunteers.not_going_names")["names"] == "mallory"
    sent = await compound.say("dm", "sun", "签到 1 alice bob")
    assert sent.keys_to("sun") == ["volunteers.attendance"]
    attendance = sent.values_to("sun", "volunteers.attendance")
    assert attendance["came"] == 2 and attendance["missing"] == "carol"
    sent = await compound.say("dm", "alice", "志愿时长")
    assert sent.keys_to("alice") == ["volunteers.hours"]
    hours = sent.values_to("alice", "volunteers.hours")
    assert (hours["month_number"], hours["month"], hours["year_number"], hours["year"]) == (
        12, "2", 2026, "2")
    sent = await compound.say("dm", "sun", "志愿时长 carol")
    assert sent.keys_to("sun") == ["volunteers.hours"]
    hours = sent.values_to("sun", "volunteers.hours")
    assert (hours["name"], hours["month"], hours["year"], hours["no_shows"]) == ("carol", "0", "0", 1)
    sent = await compound.say("dm", "alice", "志愿时长 bob")
    assert sent.keys_to("alice") == ["volunteers.hours_only_own"]
    async with compound.app.db.read() as tx:
        start = datetime(2026, 12, 1, tzinfo=compound.config.tz).timestamp()
        end = datetime(2026, 12, 8, tzinfo=compound.config.tz).timestamp()
        assert await tx.volunteers.hours_between(start, end) == 4.0
        assert await tx.volunteers.hours_between(start, end, building="3") == 0.0
        assert await tx.volunteers.hours_between(end, end + 86400 * 7) == 0.0


async def test_hours_by_building_count_building_events_and_registered_residents(compound):
    await compound.say("dm", "erin", "登记 3栋 1203")
    await compound.say("dm", "sun", "新活动 巡查 周日 上午9点 1小时 大堂 5人 3栋")  # building 3
    await compound.say("dm", "sun", "新活动 花园 周日 下午2点 3小时 花园 5人")  # compound-wide
    for number in (1, 2):
        await compound.say("all", "erin", f"报名 {number}")
        await compound.say("all", "frank", f"报名 {number}")
    compound.clock.set(datetime(2026, 12, 6, 18, 0, tzinfo=compound.config.tz))
    await compound.say("dm", "sun", "签到 1 全部")
    await compound.say("dm", "sun", "签到 2 全部")
    async with compound.app.db.read() as tx:
        week = (START.replace(tzinfo=compound.config.tz).timestamp(),
                datetime(2026, 12, 7, tzinfo=compound.config.tz).timestamp())
        assert await tx.volunteers.hours_between(*week) == 8.0
        assert await tx.volunteers.hours_between(*week, building="3") == 2.0 + 3.0
        assert await tx.volunteers.hours_between(*week, building="5") == 0.0


async def test_free_places_are_posted_two_days_before_once_even_across_a_restart(tmp_path):
    compound = await Compound.open(tmp_path)
    try:
        await create(compound, 5)
        await compound.say("all", "alice", "报名 1")
        sent = await compound.advance(timedelta(days=2, hours=23, minutes=59))  # Fri 08:59
        assert sent.to_chat("all") == []
        sent = await compound.advance(timedelta(minutes=2))  # Fri 09:01
        assert sent.keys_in("all") == ["volunteers.post_free"]
        assert values_in(sent, "all", "volunteers.post_free")["free"] == 4
        assert "「报名 1」" in sent.to_chat("all")[0]  # the typed fallback for the buttons
    finally:
        await compound.close()
    compound = await Compound.open(tmp_path, start=datetime(2026, 12, 4, 9, 5))
    try:
        sent = await compound.advance(timedelta(minutes=1))
        assert sent.to_chat("all") == []
    finally:
        await compound.close()


async def test_a_full_event_is_not_advertised(compound: Compound):
    await create(compound, 1)
    await compound.say("all", "alice", "报名 1")
    sent = await compound.advance(timedelta(days=3, minutes=1))
    assert sent.to_chat("all") == []


async def test_clashing_signups_are_refused_and_late_cancels_tell_the_coordinator(compound):
    await compound.say("dm", "sun", "新活动 美化家园 周日 上午9点 2小时 花园 5人 截止 周六 晚上8点")
    await compound.say("dm", "sun", "新活动 探访 周日 上午10点 1小时 会所 5人")
    await compound.say("all", "alice", "报名 1")
    sent = await compound.say("all", "alice", "报名 2")
    assert sent.keys_in("all") == ["volunteers.clash"]
    clash = values_in(sent, "all", "volunteers.clash")
    assert (clash["number"], clash["other"], clash["title"]) == (2, 1, "美化家园")
    compound.clock.set(datetime(2026, 12, 5, 21, 0, tzinfo=compound.config.tz))
    sent = await compound.say("all", "bob", "报名 1")
    # the sweeps catch up too: #2's free places are posted after the answer
    assert sent.keys_in("all") == ["volunteers.deadline_passed", "volunteers.post_free"]
    assert values_in(sent, "all", "volunteers.deadline_passed")["when"] == "12月5日 周六 20:00"
    sent = await compound.say("dm", "alice", "取消报名 1")
    assert sent.keys_to("sun") == ["volunteers.late_cancel"]
    assert sent.values_to("sun", "volunteers.late_cancel")["name"] == "alice"


async def test_cancelling_an_event_tells_everyone_signed_up_or_waiting(compound: Compound):
    await create(compound, 1)
    await compound.say("all", "alice", "报名 1")
    await compound.say("all", "bob", "报名 1")
    sent = await compound.say("dm", "sun", "取消活动 1 预报有大雨")
    assert sent.keys_to("sun") == ["volunteers.cancelled_event"]
    assert sent.values_to("sun", "volunteers.cancelled_event")["count"] == 2
    assert sent.keys_to("alice") == sent.keys_to("bob") == ["volunteers.event_cancelled"]
    assert sent.values_to("bob", "volunteers.event_cancelled")["reason"] == "预报有大雨"
    sent = await compound.say("all", "carol", "报名 1")
    assert sent.keys_in("all") == ["volunteers.event_cancelled_already"]
    sent = await compound.advance(timedelta(days=5))
    assert len(sent) == 0  # no reminders for a cancelled event


async def test_a_weekly_template_keeps_events_made_two_weeks_ahead(compound: Compound):
    sent = await compound.say("dm", "sun", "新活动 楼道巡查 每周六 上午9点 1小时 大堂 5人 3栋")
    assert sent.keys_to("sun") == ["volunteers.created_weekly"]
    assert sent.values_to("sun", "volunteers.created_weekly")["count"] == 2
    assert sent.keys_in("b3") == ["volunteers.post_new"]
    post = values_in(sent, "b3", "volunteers.post_new")
    assert (post["number"], post["title"]) == (1, "楼道巡查")
    await compound.advance(timedelta(days=7))
    async with compound.app.db.read() as tx:
        starts = [datetime.fromtimestamp(e.starts_at, compound.config.tz).date().isoformat()
                  for e in await tx.volunteers.upcoming(compound.clock.now().timestamp())]
    assert starts == ["2026-12-12", "2026-12-19"]


async def test_a_button_pressed_under_a_group_post_is_answered_privately(compound: Compound):
    await create(compound, 5)
    press = replace(compound.inbound("all", "alice", "报名 1"), callback=True,
                    button_message_id="1")
    sent = await compound.deliver(press)
    assert sent.to_chat("all") == []  # the post stays as it is for everyone else
    assert sent.keys_to("alice") == ["volunteers.joined"]
    assert sent.values_to("alice", "volunteers.joined")["name"] == "alice"


async def test_the_dialogue_goes_on_in_the_language_it_began_in(compound: Compound):
    sent = await compound.say("dm", "sun", "/newevent")
    assert sent.keys_to("sun") == ["volunteers.ask.title"] and told_in(sent, "sun", "en")
    sent = await compound.say("dm", "sun", "Clean-up")
    assert sent.keys_to("sun") == ["volunteers.ask.when"] and told_in(sent, "sun", "en")
    assert sent.values_to("sun", "volunteers.ask.when")["title"] == "Clean-up"
    sent = await compound.say("dm", "sun", "Sunday 3")  # asked as 周日 3点 is: 3 am or 3 pm?
    assert sent.keys_to("sun") == ["volunteers.when.ambiguous_hour", "volunteers.ask.when"]
    assert sent.values_to("sun", "volunteers.when.ambiguous_hour")["hour"] == 3
    assert told_in(sent, "sun", "en")


async def test_someone_who_joins_in_english_is_promoted_in_english(compound: Compound):
    await create(compound, 1)
    await compound.say("all", "alice", "报名 1")
    await compound.say("all", "erin", "/join 1")  # nothing in "1" says which language
    sent = await compound.say("dm", "alice", "取消报名 1")
    assert sent.keys_to("erin") == ["volunteers.promoted"], sent.to("erin")
    assert sent.values_to("erin", "volunteers.promoted")["when"] == "Sun Dec 6 09:00–11:00"
    assert told_in(sent, "erin", "en"), sent.to("erin")


async def test_a_phone_number_typed_as_a_title_is_not_repeated_in_the_group(compound: Compound):
    sent = await compound.say("b3", "sun", "新活动 13912345678")  # the harness checks every group message
    # refused as a title at once, and asked for again (the dialogue goes on)
    assert sent.keys_in("b3") == ["volunteers.private_title", "volunteers.ask.title"]
    assert "13912345678" not in sent.all()


async def test_an_event_whose_place_carries_a_phone_number_is_refused_not_posted(compound: Compound):
    await compound.say("dm", "alice", "登记 3栋 1201")
    sent = await compound.say("dm", "sun", "新活动 清洁 周日 上午9点 2小时 3栋1201门口 30人")
    # refused as a place (the rest is kept), and asked for again
    assert sent.keys_to("sun") == ["volunteers.private_place", "volunteers.ask.place"]
    assert not [m for m in sent.messages if m.kind == "group"]
    assert await count_events(compound) == 0


async def test_a_coordinator_asking_for_someones_hours_in_a_group_is_answered_privately(
        compound: Compound):
    await compound.say("all", "dave", "大家好")
    sent = await compound.say("all", "sun", "志愿时长 dave")
    assert sent.to_chat("all") == [] and sent.keys_to("sun") == ["volunteers.hours"]
    assert sent.values_to("sun", "volunteers.hours")["name"] == "dave"
