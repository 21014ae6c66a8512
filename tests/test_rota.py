"""Scenarios of the duty rota: rotation, swaps, time away, uncovered shifts, reminders, the iCal
file and the rota broadcasts — through the real core and a real SQLite file."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from icalendar import Calendar

from bot.config import ConfigError, load_config
from bot.i18n import t
from tests.harness import EXAMPLE_CONFIG, Compound

# The demo starts on Tuesday 2026-12-01 09:00, so the first 08:00 shift is Wednesday 12-02.
GATE = "排班 门岗值守 每天 8:00-12:00 孙老师 李阿姨 alice bob"


async def gate(compound: Compound, command: str = GATE):
    for name in ("alice", "bob", "carol"):
        await compound.say("all", name, "大家好")  # residents become known by writing
    return await compound.say("dm", "sun", command)


async def holder(compound: Compound, shift_id: int) -> str | None:
    async with compound.app.db.read() as tx:
        shift = await tx.rota.shift(shift_id)
        person = await tx.people.get(shift.person_id) if shift.person_id else None
    return person.name if person else None


async def test_a_coordinator_sets_a_rotation_and_anyone_can_ask_who_is_on_duty(compound):
    sent = await gate(compound)
    assert sent.keys_to("sun") == ["rota.set_done"]
    text = sent.to("sun")[0]
    assert "已排 14 个班次" in text and "孙老师、李阿姨、alice、bob" in text
    assert [await holder(compound, n) for n in range(1, 6)] == [
        "孙老师", "李阿姨", "alice", "bob", "孙老师"]
    sent = await compound.say("all", "carol", "值班 明天")
    assert sent.keys_in("all") == ["rota.header"]
    shown = sent.to_chat("all")[0]
    assert "12月2日 周三" in shown and "08:00–12:00" in shown and "孙老师（#1）" in shown
    sent = await compound.say("dm", "alice", "我的值班")
    assert sent.keys_to("alice") == ["rota.mine_header"]
    assert "#3 门岗值守 12月4日 周五 08:00–12:00" in sent.to("alice")[0]
    sent = await compound.say("dm", "carol", "/rota tomorrow gate")
    assert sent.keys_to("carol") == ["rota.header"]
    assert sent.to("carol")[0].startswith(  # answered in English
        t("en", "rota.header", span=t("en", "rota.span.tomorrow")))


async def test_a_resident_cannot_set_a_rota_and_bad_input_changes_nothing(compound: Compound):
    await gate(compound)
    sent = await compound.say("dm", "alice", "排班 门岗值守 每天 8:00-12:00 alice")
    assert sent.keys_to("alice") == ["core.not_allowed"]
    sent = await compound.say("dm", "sun", "排班 门岗值守 每天 8:00-12:00 孙老师 nobody")
    assert sent.keys_to("sun") == ["rota.unknown_members"]
    assert sent.values_to("sun", "rota.unknown_members")["names"] == "nobody"
    sent = await compound.say("dm", "sun", "排班 门岗值守 每天 8点 孙老师")
    assert sent.keys_to("sun") == ["rota.need_hours"]
    sent = await compound.say("dm", "alice", "换班 99 bob")
    assert sent.keys_to("alice") == ["rota.no_such_shift"]
    assert sent.values_to("alice", "rota.no_such_shift")["number"] == 99
    sent = await compound.say("dm", "alice", "换班 1 bob")  # #1 is 孙老师's
    assert sent.keys_to("alice") == ["rota.not_your_shift"]
    assert sent.values_to("alice", "rota.not_your_shift")["number"] == 1
    sent = await compound.say("dm", "alice", "换班 3 carol")
    assert sent.keys_to("alice") == ["rota.not_in_rota"]
    refused = sent.values_to("alice", "rota.not_in_rota")
    assert refused["name"] == "carol" and refused["rota"] == "门岗值守"
    sent = await compound.say("dm", "alice", "请假 2月30日")
    assert sent.keys_to("alice") == ["volunteers.when.no_such_date"]
    assert sent.values_to("alice", "volunteers.when.no_such_date")["text"] == "2月30日"
    sent = await compound.say("dm", "alice", "值班 巡逻队")
    assert sent.keys_to("alice") == ["rota.no_such_rota"]
    assert sent.values_to("alice", "rota.no_such_rota")["name"] == "巡逻队"
    assert [await holder(compound, n) for n in range(1, 5)] == ["孙老师", "李阿姨", "alice", "bob"]
    async with compound.app.db.read() as tx:
        assert await tx.audit.count("denied") == 1


async def test_a_swap_accepted_hands_the_shift_over(compound: Compound):
    await gate(compound)
    sent = await compound.say("dm", "alice", "换班 3 bob")
    assert sent.keys_to("bob") == ["rota.swap_asked"]
    asked = sent.values_to("bob", "rota.swap_asked")
    assert asked["name"] == "alice" and asked["rota"] == "门岗值守" and asked["swap"] == 1
    assert "「接受换班 1」" in sent.to("bob")[0]  # what to reply, for platforms without buttons
    assert sent.keys_to("alice") == ["rota.swap_sent"]
    assert sent.values_to("alice", "rota.swap_sent")["name"] == "bob"
    sent = await compound.say("dm", "carol", "接受换班 1")
    assert sent.keys_to("carol") == ["rota.not_your_swap"]
    sent = await compound.say("dm", "bob", "接受换班 1")
    assert sent.keys_to("alice") == ["rota.swap_done_asker"]
    assert sent.values_to("alice", "rota.swap_done_asker")["name"] == "bob"
    assert sent.keys_to("bob") == ["rota.swap_done"]
    assert await holder(compound, 3) == "bob"
    sent = await compound.say("dm", "bob", "接受换班 1")
    assert sent.keys_to("bob") == ["rota.swap_decided"]


async def test_a_trade_swaps_both_shifts(compound: Compound):
    await gate(compound)
    sent = await compound.say("dm", "alice", "换班 3 bob 4")
    assert sent.keys_to("bob") == ["rota.swap_asked_trade"]
    trade = sent.values_to("bob", "rota.swap_asked_trade")
    assert trade["when"] == "12月4日 周五 08:00–12:00" and trade["other"] == "12月5日 周六 08:00–12:00"
    await compound.say("dm", "bob", "接受换班 1")
    assert (await holder(compound, 3), await holder(compound, 4)) == ("bob", "alice")


async def test_a_declined_swap_leaves_the_shift_uncovered_and_the_first_to_reply_takes_it(
        compound: Compound):
    await gate(compound)
    await compound.say("dm", "alice", "换班 3 bob")
    sent = await compound.say("dm", "bob", "拒绝换班 1")
    assert sent.keys_to("alice") == ["rota.swap_declined"]
    assert sent.values_to("alice", "rota.swap_declined")["number"] == 3
    for name in ("sun", "li"):
        assert sent.keys_to(name) == ["rota.uncovered"]
        assert sent.values_to(name, "rota.uncovered")["number"] == 3
        assert "「接班 3」" in sent.to(name)[0]  # what to reply, for platforms without buttons
    assert sent.keys_to("bob") == ["rota.declined"]  # the decliner is not asked again
    assert sent.values_to("bob", "rota.declined")["number"] == 3
    assert await holder(compound, 3) is None
    sent = await compound.say("dm", "carol", "接班 3")
    assert sent.keys_to("carol") == ["rota.members_only"]
    assert sent.values_to("carol", "rota.members_only")["rota"] == "门岗值守"
    sent = await compound.say("dm", "li", "接班 3")
    assert sent.keys_to("li") == ["rota.took"]
    took = sent.values_to("li", "rota.took")
    assert took["name"] == "李阿姨" and took["number"] == 3
    assert sent.keys_to("alice") == ["rota.taken_by"]
    assert sent.values_to("alice", "rota.taken_by")["name"] == "李阿姨"
    sent = await compound.say("dm", "sun", "接班 3")
    assert sent.keys_to("sun") == ["rota.already_taken"]
    assert sent.values_to("sun", "rota.already_taken")["name"] == "李阿姨"
    assert await holder(compound, 3) == "李阿姨"


async def test_away_offers_the_shifts_in_that_range_and_later_rotations_skip_the_person(
        compound: Compound):
    await gate(compound)
    sent = await compound.say("dm", "bob", "请假 12月5日 12月9日")
    assert sent.keys_to("bob") == ["rota.away_done"]
    away = sent.values_to("bob", "rota.away_done")
    assert away["count"] == 2 and away["numbers"] == "#4、#8"
    assert sent.keys_to("alice") == ["rota.uncovered", "rota.uncovered"]
    sent = await compound.say("dm", "alice", "接班 4")
    assert await holder(compound, 4) == "alice" and await holder(compound, 8) is None
    sent = await compound.say("all", "carol", "值班 下周")
    assert sent.keys_in("all") == ["rota.header"]
    assert "【空缺】回复「接班 8」" in sent.to_chat("all")[0]
    # A new rotation made while bob is away passes over him on those days.
    await compound.say("dm", "sun", "排班 门岗值守 每天 8:00-12:00 bob alice")
    async with compound.app.db.read() as tx:
        start = datetime(2026, 12, 5, tzinfo=compound.config.tz).timestamp()
        shifts = await tx.rota.shifts_between(start, start + 5 * 86400)
        names = [(await tx.people.get(s.person_id)).name for s in shifts]
    assert names == ["alice"] * 5


async def test_swaps_on_a_rota_with_approval_wait_for_a_coordinator(compound: Compound):
    for name in ("alice", "bob"):
        await compound.say("b3", name, "大家好")
    await compound.say("dm", "li", "排班 楼道巡查 每周六 19:00-20:00 alice bob")
    await compound.say("dm", "alice", "换班 1 bob")
    sent = await compound.say("dm", "bob", "同意换班 1")
    assert sent.keys_to("bob") == ["rota.accepted_waiting"]
    assert sent.keys_to("alice") == ["rota.swap_waits_approval"]
    assert sent.keys_to("sun") == ["rota.approval_needed"]
    assert sent.values_to("sun", "rota.approval_needed")["swap"] == 1
    assert "「批准换班 1」" in sent.to("sun")[0]  # what to reply, for platforms without buttons
    assert await holder(compound, 1) == "alice"
    sent = await compound.say("dm", "bob", "批准换班 1")
    assert sent.keys_to("bob") == ["core.not_allowed"]
    sent = await compound.say("dm", "sun", "批准换班 1")
    assert sent.keys_to("sun") == ["rota.approved"]
    assert sent.keys_to("alice") == sent.keys_to("bob") == ["rota.swap_approved"]
    assert await holder(compound, 1) == "bob"


async def test_shift_reminders_come_once_before_each_shift(compound: Compound):
    await gate(compound)
    sent = await compound.advance(timedelta(hours=21, minutes=58))  # Wed 06:58
    assert sent.to("sun") == []
    sent = await compound.advance(timedelta(minutes=3))  # Wed 07:01 (1h before)
    assert sent.keys_to("sun") == ["rota.reminder"]
    assert sent.values_to("sun", "rota.reminder")["number"] == 1
    sent = await compound.advance(timedelta(hours=2))
    assert sent.to("sun") == []


async def test_my_shifts_as_an_ical_file_parse_back(compound: Compound):
    await gate(compound)
    await compound.say("dm", "alice", "换班 3 bob")
    await compound.say("dm", "bob", "接受换班 1")
    sent = await compound.say("b3", "bob", "我的值班 日历")
    assert sent.keys_in("b3") == ["rota.ical_in_private"]
    assert sent.keys_to("bob") == ["rota.ical_sent"]
    message = next(m for m in sent.messages if m.kind == "private" and m.address == "bob")
    (attachment,) = message.attachments
    assert attachment.kind == "document" and attachment.filename.endswith(".ics")
    calendar = Calendar.from_ical(attachment.content)
    assert str(calendar["VERSION"]) == "2.0" and calendar["PRODID"]
    events = calendar.walk("VEVENT")
    tz = compound.config.tz
    starts = [e.decoded("DTSTART").astimezone(tz) for e in events]
    assert starts == [datetime(2026, 12, 4, 8, 0, tzinfo=tz), datetime(2026, 12, 5, 8, 0, tzinfo=tz),
                      datetime(2026, 12, 9, 8, 0, tzinfo=tz), datetime(2026, 12, 13, 8, 0, tzinfo=tz)]
    assert all(e.decoded("DTEND") - e.decoded("DTSTART") == timedelta(hours=4) for e in events)
    assert len({str(e["UID"]) for e in events}) == 4 and all("DTSTAMP" in e for e in events)
    assert "门岗值守" in str(events[0]["SUMMARY"])
    assert "\r\n" in attachment.content  # RFC 5545 line endings
    sent = await compound.say("dm", "carol", "/myshifts ical")
    carol = next(m for m in sent.messages if m.address == "carol")
    assert Calendar.from_ical(carol.attachments[0].content).walk("VEVENT") == []


async def test_rota_broadcasts_are_posted_once_each_even_across_a_restart(tmp_path):
    compound = await Compound.open(tmp_path)
    try:
        await gate(compound)
        sent = await compound.advance(timedelta(hours=10, minutes=59))  # Tue 19:59
        assert sent.to_chat("all") == []
        sent = await compound.advance(timedelta(minutes=2))  # Tue 20:01: tomorrow's list
        assert sent.keys_in("all") == ["rota.broadcast.evening"]
        (post,) = sent.to_chat("all")
        assert "门岗值守" in post and "12月2日 周三" in post and "孙老师（#1）" in post
        sent = await compound.advance(timedelta(minutes=30))
        assert sent.to_chat("all") == []
    finally:
        await compound.close()
    compound = await Compound.open(tmp_path, start=datetime(2026, 12, 1, 20, 40))
    try:
        sent = await compound.advance(timedelta(minutes=1))
        assert sent.to_chat("all") == []  # remembered in the database, not in memory
        sent = await compound.advance(timedelta(hours=10, minutes=20))  # Wed 07:01
        assert sent.keys_in("all") == ["rota.broadcast.morning"]
        (post,) = sent.to_chat("all")
        assert "门岗值守" in post and "12月2日 周三" in post
        sent = await compound.advance(timedelta(days=3, hours=13))  # Sat 20:01
        assert sent.keys_in("all") == ["rota.broadcast.evening", "rota.broadcast.weekly"]
        weekly = next(m.text for m in sent.messages if m.key == "rota.broadcast.weekly")
        assert "12月7日 周一 — 12月13日 周日" in weekly and weekly.count("08:00–12:00") == 7
    finally:
        await compound.close()


async def test_a_broadcast_missed_by_more_than_the_grace_is_skipped(compound: Compound):
    await gate(compound)
    compound.clock.set(datetime(2026, 12, 1, 23, 0, tzinfo=compound.config.tz))
    sent = await compound.advance(timedelta(minutes=1))
    assert sent.to_chat("all") == []  # 20:00 was three hours ago, beyond the 2h grace


async def test_shifts_covered_between_counts_for_the_digest(compound: Compound):
    await gate(compound)
    await compound.say("dm", "bob", "请假 12月5日")
    tz = compound.config.tz
    week = (datetime(2026, 11, 30, tzinfo=tz).timestamp(), datetime(2026, 12, 7, tzinfo=tz).timestamp())
    async with compound.app.db.read() as tx:
        assert await tx.rota.shifts_covered_between(*week) == (4, 5)
        assert await tx.rota.shifts_covered_between(*week, building="3") == (0, 0)


async def test_a_rota_given_in_the_config_rotates_weekly_and_posts_to_its_building(tmp_path):
    text = EXAMPLE_CONFIG.read_text(encoding="utf-8").replace(
        "[rota.b3patrol]\n",
        '[rota.b3patrol]\nmembers = ["wang", "li"]\nshifts = "每周六日 19:00-20:00"\n'
        'rotation = "weekly"\n')
    (tmp_path / "config.toml").write_text(text, encoding="utf-8")
    compound = await Compound.open(tmp_path, config=load_config(tmp_path / "config.toml"))
    try:
        sent = await compound.say("b3", "alice", "值班 本周 楼道巡查")
        assert sent.keys_in("b3") == ["rota.header"]
        shown = sent.to_chat("b3")[0]
        assert "12月5日 周六" in shown and "12月6日 周日" in shown and shown.count("王师傅") == 2
        sent = await compound.say("b3", "alice", "值班 下周 楼道巡查")
        assert sent.to_chat("b3")[0].count("李阿姨") == 2
        sent = await compound.advance(timedelta(days=3, hours=11, minutes=31))  # Fri 20:31
        assert sent.keys_in("b3") == ["rota.broadcast.evening"]
        (post,) = sent.to_chat("b3")
        assert "楼道巡查" in post and "12月5日 周六" in post and "19:00–20:00 王师傅" in post
        assert sent.to_chat("all") == []
    finally:
        await compound.close()


@pytest.mark.parametrize(("text", "expected"), [
    ("[rota.g]\nname = 'x'\nshifts = 'sometimes'\n", "rota.g.shifts: not days and hours"),
    ("[rota.g]\nname = 'x'\n[rota.g.broadcasts]\nweekly = 'someday 20:00'\n",
     "rota.g.broadcasts.weekly: not a day and time"),
    ("[rota.g]\nname = 'x'\n[rota.g.broadcasts]\nevening = '25:00'\n", "not a time of day"),
    ("[rota.g]\nname = 'x'\nmembers = ['nobody']\n", "[rota.g] members: 'nobody': no such person"),
    ("[rota.g]\nname = 'x'\nchats = ['zz']\n", "[rota.g] chats: 'zz': no such chat"),
    ("[rota.g]\nshifts = '每天 8:00-9:00'\n", "rota.g.name: Field required"),
    ("[volunteers]\nremind_before = 'soon'\n", "volunteers.remind_before: not a duration"),
    ("[volunteers]\nremind_evening = '8pm'\n", "volunteers.remind_evening: not a time of day"),
])
def test_bad_rota_and_volunteer_settings_are_named(tmp_path, text, expected):
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert expected in str(error.value)


async def test_one_off_shifts_are_assigned_or_offered_to_the_members(compound: Compound):
    await gate(compound)
    sent = await compound.say("dm", "sun", "排班 门岗值守 12月24日 18:00-22:00 bob")
    assert sent.keys_to("sun") == ["rota.one_off_added"]
    added = sent.values_to("sun", "rota.one_off_added")
    assert added["name"] == "bob"
    assert sent.keys_to("bob") == ["rota.assigned_to_you"]
    assigned = sent.values_to("bob", "rota.assigned_to_you")
    assert (assigned["who"], assigned["rota"], assigned["when"]) == (
        "孙老师", "门岗值守", "12月24日 周四 18:00–22:00")
    number = added["number"]
    assert assigned["number"] == number and await holder(compound, number) == "bob"
    sent = await compound.say("dm", "sun", "排班 门岗值守 12月31日 20:00-02:00")
    assert sent.keys_to("sun") == ["rota.uncovered", "rota.one_off_open"]
    assert sent.values_to("sun", "rota.one_off_open")["count"] == 4
    assert sent.keys_to("alice") == ["rota.uncovered"]
    assert sent.values_to("alice", "rota.uncovered")["when"] == "12月31日 周四 20:00–02:00"
    sent = await compound.say("dm", "sun", "排班 门岗值守 12月24日 18:00-22:00 alice")
    assert sent.keys_to("sun") == ["rota.shift_exists"]
    sent = await compound.say("dm", "sun", "排班 门岗值守 12月24日 3点-5点 alice")
    assert sent.keys_to("sun") == ["volunteers.when.ambiguous_hour"]
    assert str(sent.values_to("sun", "volunteers.when.ambiguous_hour")["hour"]) == "3"


async def test_a_plain_reply_answers_a_swap_request_or_takes_an_uncovered_shift(compound):
    await gate(compound)
    await compound.say("dm", "alice", "换班 3 bob")
    sent = await compound.say("dm", "bob", "好的！")
    assert sent.keys_to("bob") == ["rota.swap_done"]
    assert sent.keys_to("alice") == ["rota.swap_done_asker"]
    assert sent.values_to("alice", "rota.swap_done_asker")["name"] == "bob"
    assert await holder(compound, 3) == "bob"
    await compound.say("dm", "alice", "换班 7 li")
    sent = await compound.say("dm", "li", "不行")
    assert sent.keys_to("li") == ["rota.declined"] and sent.keys_to("bob") == ["rota.uncovered"]
    sent = await compound.say("dm", "sun", "明天再说吧")  # neither yes nor no: told how to answer
    assert sent.keys_to("sun") == ["rota.answer_shift"]
    assert sent.values_to("sun", "rota.answer_shift")["number"] == 7
    sent = await compound.say("dm", "bob", "我来")
    assert sent.keys_to("bob") == ["rota.took"]
    took = sent.values_to("bob", "rota.took")
    assert took["name"] == "bob" and took["number"] == 7
    assert await holder(compound, 7) == "bob"
    sent = await compound.say("dm", "sun", "我来")  # the prompt was cleared above: nothing taken,
    assert sent.keys_to("sun") == ["conversation.pointer"]  # but a private message gets an answer
    assert await holder(compound, 7) == "bob"
    sent = await compound.say("dm", "li", "我的值班")  # a command is still a command
    assert sent.keys_to("li") == ["rota.mine_header"]


async def test_an_uncovered_shift_nobody_else_on_the_rota_can_take_goes_to_the_coordinators(
        compound: Compound):
    await gate(compound, "排班 门岗值守 每天 8:00-12:00 alice bob")
    await compound.say("dm", "alice", "换班 1 bob")
    sent = await compound.say("dm", "bob", "no")
    assert sent.keys_to("bob") == ["rota.declined"]
    assert sent.to("bob") == [t("en", "rota.declined", number=1)]  # answered in the reply's language
    assert sent.keys_to("sun") == ["rota.uncovered_nobody"]
    assert sent.values_to("sun", "rota.uncovered_nobody")["number"] == 1


async def test_a_shift_to_swap_can_be_named_by_its_day(compound: Compound):
    await gate(compound)
    sent = await compound.say("dm", "alice", "换班 12月4日 bob")  # alice's #3
    assert sent.keys_to("alice") == ["rota.swap_sent"]
    assert sent.values_to("alice", "rota.swap_sent")["number"] == 3
    assert sent.keys_to("bob") == ["rota.swap_asked"]
    assert sent.values_to("bob", "rota.swap_asked")["name"] == "alice"
    sent = await compound.say("dm", "alice", "换班 明天 bob")
    assert sent.keys_to("alice") == ["rota.no_shift_that_day"]
    assert sent.values_to("alice", "rota.no_shift_that_day")["day"] == "12月2日 周三"


async def test_setting_a_rota_again_keeps_one_off_and_swapped_shifts_and_tells_who_lost_one(
        compound: Compound):
    await gate(compound, "排班 门岗值守 每天 8:00-12:00 alice bob")
    sent = await compound.say("dm", "sun", "排班 门岗值守 12月24日 18:00-22:00 bob")
    assert sent.keys_to("sun") == ["rota.one_off_added"]
    assert sent.values_to("sun", "rota.one_off_added")["when"].startswith("12月24日")
    async with compound.app.db.read() as tx:
        bob_id = (await tx.people.by_name("bob"))[0].id
        before = {(s.id, s.starts_at) for s in await tx.rota.shifts_of(bob_id, 0, limit=100)}
    sent = await compound.say("dm", "sun", "排班 门岗值守 每天 8:00-12:00 alice")
    assert sent.keys_to("bob") == ["rota.shifts_remade"]  # bob lost his rotation shifts, and is told
    async with compound.app.db.read() as tx:
        after = {(s.id, s.starts_at) for s in await tx.rota.shifts_of(bob_id, 0, limit=100)}
    assert len(after) == 1 and after < before  # the one-off on 12月24日 is still his
    (_, starts_at), = after
    assert datetime.fromtimestamp(starts_at, compound.app.config.tz).strftime("%m-%d %H") == "12-24 18"


async def test_a_rota_named_with_a_phone_number_is_refused(compound: Compound):
    sent = await compound.say("b3", "sun", "排班 13812345678 每天 8:00-12:00 孙老师")
    assert sent.keys_in("b3") == ["rota.private_detail"]
    async with compound.app.db.read() as tx:
        assert await tx.rota.by_key("13812345678") is None


async def test_a_shift_left_uncovered_by_a_declined_swap_is_refilled_by_a_new_rotation(
        compound: Compound):
    await gate(compound, "排班 门岗值守 每天 8:00-12:00 alice bob")
    await compound.say("dm", "alice", "换班 1 bob")
    await compound.say("dm", "bob", "拒绝换班 1")
    assert await holder(compound, 1) is None  # declined: uncovered, with its swap on record
    await compound.say("dm", "sun", "排班 门岗值守 每天 8:00-12:00 bob alice")
    async with compound.app.db.read() as tx:
        start = datetime(2026, 12, 2, 8, tzinfo=compound.config.tz).timestamp()
        first = (await tx.rota.shifts_between(start, start + 3600))[0]
    assert first.person_id is not None  # the new rotation covers it


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_duty_line_filled_from_its_template_reads_as_t_would_write_it(lang: str):
    """值班 looks its line's text up once per table (bot.i18n.template) and fills it per shift:
    the same words as ``t`` (its fallbacks too: a key missing in English, or everywhere)."""
    from bot.i18n import template

    values = dict(time="08:00–12:00", who="孙老师", rota="门岗值守 ", number=12)
    assert template(lang, "rota.line").format(**values) == t(lang, "rota.line", **values)
    assert template(lang, "rota.no.such.key") == t(lang, "rota.no.such.key")


def test_rows_read_again_give_back_the_shift_made_the_first_time():
    """storage.interned: 值班's rows become objects once; an equal row finds the same (immutable)
    object, another row makes its own, and a full set of objects is forgotten, not grown."""
    from storage.interned import interned
    from storage.rota import Shift

    known = interned(Shift, limit=2)
    row = (1, 2, 1796086800.0, 1796090400.0, 5, "assigned", None, None)
    first = known(row)
    assert first == Shift(*row) and known(list(row)) is first
    other = known((2, *row[1:]))
    assert other.id == 2 and other is not first
    assert known((3, *row[1:])).id == 3  # the limit reached: the set starts afresh
    assert known(row) == first and known(row) is not first
