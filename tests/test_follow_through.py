"""Follow-through on volunteers and rotas: a shift still uncovered shortly before it starts goes to
the coordinators and then to the admin (once each, across restarts); a cancelled event is announced
where it was posted; a coordinator gets an event's sign-up list privately, with a CSV file."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta

from tests.harness import EXAMPLE_CONFIG, Compound, load_config

# The demo starts on Tuesday 2026-12-01 09:00; the one-off shift below starts Thursday 12-03 18:00,
# 57 hours later: 12 hours before it is Thursday 06:00, 2 hours before is Thursday 16:00.
GATE = "排班 门岗值守 每天 8:00-12:00 alice bob"
ONE_OFF = "排班 门岗值守 12月3日 18:00-22:00"


async def know(compound: Compound, *names: str) -> None:
    for name in names:
        await compound.say("all", name, "大家好")  # residents become known by writing


async def uncovered_shift(compound: Compound, command: str = ONE_OFF) -> int:
    await know(compound, "alice", "bob")
    await compound.say("dm", "admin", "帮助")
    await compound.say("dm", "li", "帮助")
    await compound.say("dm", "sun", GATE)
    sent = await compound.say("dm", "sun", command)
    key = "rota.one_off_open"
    return sent.values_to("sun", key)["number"]


def escalations(sent, person: str) -> list[str]:
    return [k for k in sent.keys_to(person) if k.startswith("rota.escalate_")]


# --- 1. uncovered shifts -------------------------------------------------------------------------
async def test_an_uncovered_shift_goes_to_the_coordinators_then_to_the_admin_once_each(compound):
    number = await uncovered_shift(compound)
    sent = await compound.advance(timedelta(hours=44, minutes=59))  # Thu 05:59: 12h01m before
    assert [escalations(sent, p) for p in ("sun", "li", "admin")] == [[], [], []]
    sent = await compound.advance(timedelta(minutes=2))  # Thu 06:01
    assert escalations(sent, "sun") == ["rota.escalate_coordinators"]
    assert escalations(sent, "li") == ["rota.escalate_coordinators"]
    assert escalations(sent, "admin") == [] and escalations(sent, "alice") == []
    told = sent.values_to("sun", "rota.escalate_coordinators")
    assert (told["number"], told["rota"], told["when"], told["left"], told["members"]) == (
        number, "门岗值守", "12月3日 周四 18:00–22:00", "11小时59分钟", "alice、bob")
    assert f"接班 {number}" in sent.to("sun")[-1]
    sent = await compound.advance(timedelta(hours=9, minutes=58))  # Thu 15:59: nothing new
    assert [escalations(sent, p) for p in ("sun", "li", "admin")] == [[], [], []]
    sent = await compound.advance(timedelta(minutes=2))  # Thu 16:01: 1h59m before
    assert escalations(sent, "admin") == ["rota.escalate_admin"]
    assert escalations(sent, "sun") == [] and escalations(sent, "li") == []
    told = sent.values_to("admin", "rota.escalate_admin")
    assert (told["number"], told["rota"], told["left"]) == (number, "门岗值守", "1小时59分钟")
    sent = await compound.advance(timedelta(hours=1))
    assert [escalations(sent, p) for p in ("sun", "li", "admin")] == [[], [], []]


async def test_the_escalations_are_remembered_across_a_restart(tmp_path):
    compound = await Compound.open(tmp_path)
    try:
        await uncovered_shift(compound)
        sent = await compound.advance(timedelta(hours=45, minutes=1))  # Thu 06:01
        assert escalations(sent, "sun") == ["rota.escalate_coordinators"]
    finally:
        await compound.close()
    compound = await Compound.open(tmp_path, start=datetime(2026, 12, 3, 6, 30))
    try:
        sent = await compound.advance(timedelta(minutes=1))
        assert escalations(sent, "sun") == [] and escalations(sent, "li") == []
        sent = await compound.advance(timedelta(hours=9, minutes=31))  # Thu 16:02
        assert escalations(sent, "admin") == ["rota.escalate_admin"]
        assert escalations(sent, "sun") == []
    finally:
        await compound.close()
    compound = await Compound.open(tmp_path, start=datetime(2026, 12, 3, 16, 30))
    try:
        sent = await compound.advance(timedelta(minutes=1))
        assert [escalations(sent, p) for p in ("sun", "li", "admin")] == [[], [], []]
    finally:
        await compound.close()


async def test_a_shift_taken_in_time_is_not_escalated(compound):
    number = await uncovered_shift(compound)
    sent = await compound.say("dm", "alice", f"接班 {number}")
    assert sent.keys_to("alice") == ["rota.took"]
    sent = await compound.advance(timedelta(hours=56))  # Thu 17:00
    assert [escalations(sent, p) for p in ("sun", "li", "admin")] == [[], [], []]


async def test_a_shift_uncovered_late_goes_to_both_at_once_in_english(compound):
    await know(compound, "alice", "bob")
    await compound.say("dm", "admin", "/help")
    await compound.say("dm", "li", "/help")
    await compound.say("dm", "sun", "/rotaset gate every day 8:00-12:00 alice bob")
    sent = await compound.advance(timedelta(hours=22))  # Wed 07:00: #1 (alice, 08:00) is an hour off
    sent = await compound.say("dm", "alice", "/away today")
    assert sent.keys_to("alice") == ["rota.away_done"]  # the sweeps run after each message
    assert sent.keys_to("bob") == ["rota.uncovered"]
    assert escalations(sent, "sun") == ["rota.escalate_coordinators"]
    assert escalations(sent, "admin") == ["rota.escalate_admin"]
    told = sent.values_to("admin", "rota.escalate_admin")
    assert (told["number"], told["rota"], told["left"], told["members"]) == (
        1, "门岗值守", "1h", "alice, bob")
    assert "/take 1" in sent.to("admin")[-1]


# --- 2. a cancelled event ------------------------------------------------------------------------
async def test_a_cancelled_event_is_announced_where_it_was_posted_and_told_to_everyone_on_it(
        compound):
    sent = await compound.say("dm", "sun", "新活动 美化家园 周日 上午9点 2小时 花园 1人 3栋")
    assert sent.keys_in("b3") == ["volunteers.post_new"] and sent.keys_in("all") == []
    await compound.say("b3", "alice", "报名 1")
    await compound.say("b3", "bob", "报名 1")  # waiting
    sent = await compound.say("dm", "sun", "取消活动 1 预报有大雨")
    assert sent.keys_to("sun") == ["volunteers.cancelled_event"]
    assert sent.values_to("sun", "volunteers.cancelled_event")["count"] == 2
    assert sent.keys_to("alice") == ["volunteers.event_cancelled"]
    assert sent.keys_to("bob") == ["volunteers.event_cancelled"]
    assert sent.keys_in("b3") == ["volunteers.event_cancelled_post"]
    assert sent.keys_in("all") == [] and sent.keys_in("b5") == []
    post = next(m for m in sent.messages if m.key == "volunteers.event_cancelled_post")
    assert (post.values["number"], post.values["title"], post.values["when"],
            post.values["reason"]) == (1, "美化家园", "12月6日 周日 09:00–11:00", "预报有大雨")


async def test_a_cancelled_event_is_announced_in_english_groups_in_english(compound):
    sent = await compound.say("dm", "sun", "/newevent Clean-up Sunday 9am 2h garden 5 people 7栋")
    assert sent.keys_in("b7") == ["volunteers.post_new"]
    await compound.say("b7", "alice", "/join 1")
    sent = await compound.say("dm", "sun", "/cancelevent 1 rain")
    assert sent.keys_in("b7") == ["volunteers.event_cancelled_post"]
    assert "is cancelled" in sent.to_chat("b7")[0] and "Sun Dec 6 09:00–11:00" in sent.to_chat("b7")[0]
    assert sent.keys_to("alice") == ["volunteers.event_cancelled"]


# --- 3. the sign-up list -------------------------------------------------------------------------
async def signed_up(compound: Compound) -> None:
    await compound.say("dm", "sun", "新活动 美化家园 周日 上午9点 2小时 花园 2人")
    await compound.say("dm", "alice", "登记 3栋 1203")
    await compound.say("all", "alice", "报名 1")
    await compound.say("all", "=cmd|' /C calc'!A0", "报名 1")
    await compound.say("all", "卡罗 13812345678", "报名 1")  # waiting; a phone number in the name


def csv_rows(message) -> list[list[str]]:
    (attachment,) = message.attachments
    assert (attachment.kind, attachment.filename) == ("document", "event-1-signups.csv")
    return list(csv.reader(io.StringIO(attachment.content)))


async def test_a_coordinator_gets_the_sign_up_list_privately_with_a_csv(compound):
    await signed_up(compound)
    sent = await compound.say("dm", "sun", "报名名单 1")
    assert sent.keys_to("sun") == ["volunteers.signups_header"]
    (message,) = sent.messages
    assert "alice" in message.text and "=cmd" in message.text
    assert "1203" not in message.text and "13812345678" not in message.text
    rows = csv_rows(message)
    assert rows[0] == ["number", "name", "status", "signed up at"]
    assert [row[0] for row in rows[1:]] == ["1", "2", "3"]
    assert [row[2] for row in rows[1:]] == ["going", "going", "waiting"]
    assert rows[1][1] == "alice" and rows[2][1].startswith("'=cmd")
    assert "13812345678" not in rows[3][1] and rows[3][1].startswith("卡罗")
    assert rows[1][3] == "2026-12-01 09:00"
    assert "1203" not in message.attachments[0].content


async def test_asked_in_a_group_the_list_goes_privately_with_a_pointer_in_english(compound):
    await signed_up(compound)
    sent = await compound.say("all", "li", "/signups 1")
    assert sent.keys_in("all") == ["volunteers.signups_in_private"]
    assert sent.keys_to("li") == ["volunteers.signups_header"]
    private = next(m for m in sent.messages if m.kind == "private")
    assert "Sign-ups for #1" in private.text and "alice" in private.text
    assert csv_rows(private)[0] == ["number", "name", "status", "signed up at"]
    assert "alice" not in sent.to_chat("all")[0]


async def test_only_coordinators_get_the_sign_up_list(compound):
    await signed_up(compound)
    sent = await compound.say("dm", "alice", "报名名单 1")
    assert sent.keys_to("alice") != ["volunteers.signups_header"]
    assert all(not m.attachments for m in sent.messages)
    sent = await compound.say("dm", "admin", "报名名单 9")
    assert sent.keys_to("admin") == ["volunteers.not_found"]


async def test_the_lead_times_come_from_the_rota_settings(tmp_path):
    config = load_config(EXAMPLE_CONFIG)
    gate = config.rota["gate"].model_copy(update={"escalate_uncovered": timedelta(hours=3),
                                                  "escalate_admin": timedelta(0)})
    config = config.model_copy(update={"rota": {**config.rota, "gate": gate}})
    compound = await Compound.open(tmp_path, config=config)
    try:
        await uncovered_shift(compound)
        sent = await compound.advance(timedelta(hours=53, minutes=59))  # Thu 14:59: 3h01m before
        assert [escalations(sent, p) for p in ("sun", "li", "admin")] == [[], [], []]
        sent = await compound.advance(timedelta(minutes=2))
        assert escalations(sent, "sun") == ["rota.escalate_coordinators"]
        sent = await compound.advance(timedelta(hours=2, minutes=50))  # 0 for the admin: never
        assert [escalations(sent, p) for p in ("sun", "li", "admin")] == [[], [], []]
    finally:
        await compound.close()
