"""A resident calling himself by a staff member's name (issue "Someone calling himself by a staff
member's name"): a resident whose display name is 李阿姨 signs up next to the coordinator 李阿姨
(config person ``li``).  Wherever names are shown the resident is marked (李阿姨（居民）), and a name
that picks a person asks which one is meant; the marked form picks the resident, ``li`` the
coordinator."""

from __future__ import annotations

from datetime import datetime

from bot.messages import Inbound
from tests.harness import Compound, Sent

SUNDAY = "新活动 美化家园 周日 上午9点 2小时 中心花园 10人"  # Sunday 2026-12-06 09:00


async def impostor_says(compound: Compound, chat: str, text: str) -> Sent:
    """The resident with platform id ``fake-li`` and display name 李阿姨 says ``text``."""
    private = chat == "dm"
    return await compound.deliver(Inbound(
        platform="console", chat_id="fake-li" if private else chat,
        chat_kind="private" if private else "group", sender_id="fake-li", sender_name="李阿姨",
        text=text, message_id=f"fake-{next(compound._ids)}"))


async def both_sign_up(compound: Compound) -> Sent:
    await compound.say("dm", "sun", SUNDAY)
    await compound.say("all", "li", "报名 1")
    await compound.advance(compound.config.quiet.window)  # (sooner, the two are told as one)
    return await impostor_says(compound, "all", "报名 1")


async def attendance(compound: Compound) -> dict[str, bool]:
    """Who was recorded as having come to event 1: config key (or name) → attended."""
    async with compound.app.db.read() as tx:
        came = {}
        for signup in await tx.volunteers.signups(1, "going"):
            person = await tx.people.get(signup.person_id)
            came[person.key or f"resident:{person.name}"] = signup.attended
        return came


def after_the_event(compound: Compound) -> None:
    compound.clock.set(datetime(2026, 12, 6, 12, 0, tzinfo=compound.config.tz))


async def test_the_sign_up_and_the_list_mark_the_resident(compound: Compound):
    sent = await both_sign_up(compound)
    assert "李阿姨（居民） 报名成功" in sent.to_chat("all")[0]
    shown = (await compound.say("dm", "sun", "活动 1")).to("sun")[0]
    assert "已报名：李阿姨、李阿姨（居民）" in shown


async def test_a_name_two_people_go_by_is_asked_about(compound: Compound):
    await both_sign_up(compound)
    after_the_event(compound)
    sent = await compound.say("dm", "sun", "签到 1 李阿姨")
    assert [m.key for m in sent.messages] == ["core.same_name.ambiguous"]
    text = sent.to("sun")[0]
    assert "「李阿姨」有 2 位：李阿姨、李阿姨（居民）" in text
    assert "「李阿姨（居民）」" in text and "「li」" in text
    assert set((await attendance(compound)).values()) == {None}  # nothing was recorded


async def test_the_marked_name_credits_the_resident_only(compound: Compound):
    await both_sign_up(compound)
    after_the_event(compound)
    sent = await compound.say("dm", "sun", "签到 1 李阿姨（居民）")
    assert [m.key for m in sent.messages] == ["volunteers.attendance"]
    assert "未到：李阿姨" in sent.to("sun")[0] and "李阿姨（居民）" not in sent.to("sun")[0]
    came = await attendance(compound)
    assert came["resident:李阿姨"] and not came["li"]


async def test_the_config_key_credits_the_coordinator_only(compound: Compound):
    await both_sign_up(compound)
    after_the_event(compound)
    sent = await compound.say("dm", "sun", "签到 1 li")
    assert "未到：李阿姨（居民）" in sent.to("sun")[0]
    came = await attendance(compound)
    assert came["li"] and not came["resident:李阿姨"]


async def test_both_forms_together_and_the_half_width_mark(compound: Compound):
    await both_sign_up(compound)
    after_the_event(compound)
    sent = await compound.say("dm", "sun", "签到 1 li，李阿姨(居民)")
    assert "到场 2 人" in sent.to("sun")[0]
    assert set((await attendance(compound)).values()) == {True}


async def test_the_same_in_english(compound: Compound):
    await both_sign_up(compound)
    after_the_event(compound)
    # "/attended 1 李阿姨" reads as Chinese (the parser goes by the script of the words), so the
    # question in English is asked the way the office board asks it: in a language given
    answers = await compound.core.perform("sun", "attended", "1 李阿姨", lang="en")
    assert [m.key for m in answers] == ["core.same_name.ambiguous"]
    text = answers[0].text
    assert '2 people go by "李阿姨": 李阿姨, 李阿姨 (resident)' in text
    assert '"李阿姨 (resident)"' in text and '"li" (李阿姨)' in text
    assert set((await attendance(compound)).values()) == {None}
    sent = await compound.say("dm", "sun", "/attended 1 李阿姨 (resident)")
    assert [m.key for m in sent.messages] == ["volunteers.attendance"]
    assert "Did not come: 李阿姨." in sent.to("sun")[0]
    came = await attendance(compound)
    assert came["resident:李阿姨"] and not came["li"]
    shown = (await compound.say("dm", "sun", "/events 1")).to("sun")[0]  # sun writes English now
    assert "李阿姨, 李阿姨 (resident)" in shown
    sent = await compound.say("dm", "sun", "/attended 1 li")
    assert [m.key for m in sent.messages] == ["volunteers.attendance"]
    assert (await attendance(compound))["li"]


async def test_an_at_mention_picks_the_one_mentioned(compound: Compound):
    await both_sign_up(compound)
    after_the_event(compound)
    sent = await compound.deliver(Inbound(
        platform="console", chat_id="all", chat_kind="group", sender_id="sun", sender_name="孙老师",
        text="签到 1 @李阿姨", message_id="mention-1", mentions=("fake-li",)))
    assert [m.key for m in sent.messages] == ["volunteers.attendance"]
    came = await attendance(compound)
    assert came["resident:李阿姨"] and not came["li"]


async def test_hours_by_name_ask_too(compound: Compound):
    await both_sign_up(compound)
    after_the_event(compound)
    await compound.say("dm", "sun", "签到 1 李阿姨（居民）")
    sent = await compound.say("dm", "sun", "志愿时长 李阿姨")
    assert [m.key for m in sent.messages] == ["core.same_name.ambiguous"]
    sent = await compound.say("dm", "sun", "志愿时长 李阿姨（居民）")
    assert "李阿姨（居民） 的志愿时长：12月 2 小时" in sent.to("sun")[0]
    sent = await compound.say("dm", "sun", "志愿时长 li")
    assert "李阿姨 的志愿时长：12月 0 小时" in sent.to("sun")[0]


async def test_a_name_only_one_of_those_going_has_needs_no_mark(compound: Compound):
    await compound.say("dm", "sun", SUNDAY)
    await impostor_says(compound, "all", "报名 1")
    await compound.say("all", "li", "大家好")  # the coordinator is known, but not going
    after_the_event(compound)
    sent = await compound.say("dm", "sun", "签到 1 李阿姨")
    assert [m.key for m in sent.messages] == ["volunteers.attendance"]
    assert (await attendance(compound))["resident:李阿姨"]


async def test_rota_members_tables_and_swaps_tell_the_two_apart(compound: Compound):
    await impostor_says(compound, "all", "大家好")
    sent = await compound.say("dm", "sun", "排班 门岗值守 每天 8:00-12:00 孙老师 李阿姨 alice")
    assert [m.key for m in sent.messages] == ["core.same_name.ambiguous"]
    sent = await compound.say("dm", "sun", "排班 门岗值守 每天 8:00-12:00 孙老师 li 李阿姨（居民）")
    assert "孙老师、李阿姨、李阿姨（居民）" in sent.to("sun")[0]
    table = (await compound.say("dm", "alice", "值班 本周")).to("alice")[0]
    assert "李阿姨（#" in table and "李阿姨（居民）（#" in table
    async with compound.app.db.read() as tx:
        impostor = await tx.people.by_identity("console", "fake-li")
        number = (await tx.rota.shifts_of(impostor.id, compound.clock.now().timestamp()))[0].id
    sent = await impostor_says(compound, "dm", f"换班 {number} 李阿姨")
    assert [m.key for m in sent.messages] == ["core.same_name.ambiguous"]
    sent = await impostor_says(compound, "dm", f"换班 {number} li")
    assert "李阿姨（居民） 想请你替 Ta 值" in sent.to("li")[0]
    assert "已向 李阿姨 发出换班请求" in sent.to("fake-li")[0]
    sent = await compound.say("dm", "li", "接受换班 1")
    assert "李阿姨 同意了" in sent.to("fake-li")[0]


async def test_a_one_off_shift_by_the_marked_name_goes_to_the_resident(compound: Compound):
    await impostor_says(compound, "all", "大家好")
    sent = await compound.say("dm", "sun", "排班 门岗值守 12月24日 18:00-22:00 李阿姨")
    assert [m.key for m in sent.messages] == ["core.same_name.ambiguous"]
    sent = await compound.say("dm", "sun", "排班 门岗值守 12月24日 18:00-22:00 李阿姨 (居民)")
    assert "由 李阿姨（居民） 值班" in sent.to("sun")[0]
    assert [m.key for m in sent.messages if m.address == "fake-li"] == ["rota.assigned_to_you"]


async def test_the_captains_ping_marks_a_reporter_going_by_her_name(compound: Compound):
    """The resident 李阿姨 reports in building 5, whose captain is the real 李阿姨: the captain's task
    ping says who reported it with the mark, not her own name."""
    sent = await impostor_says(compound, "b5", "报修 5栋楼道灯坏了")
    assert sent.keys_to("li") == ["tickets.ping.new"]
    assert sent.values_to("li", "tickets.ping.new")["reporter"] == "李阿姨（居民）"
    assert "报修人：李阿姨（居民）" in sent.to("li")[0]
