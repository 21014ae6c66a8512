"""Notices that must be confirmed (通知确认): scenarios in Chinese and English."""

from __future__ import annotations

import sqlite3
from datetime import timedelta


async def test_a_notice_is_confirmed_once_per_household_zh(compound):
    for user, where in (("alice", "3栋 1203"), ("bob", "3栋 1203"), ("dave", "3栋 1505"),
                        ("carol", "5栋 501")):
        await compound.say("dm", user, f"登记 {where}")
    sent = await compound.say("dm", "zhao", "通知确认 3栋 提醒 12小时 明天9点到12点停水，请提前储水")
    assert sent.keys_to("zhao") == ["notices.posted"]
    assert sent.keys_in("b3") == ["notices.post"] and sent.keys_in("b5") == []
    post = next(m for m in sent.messages if m.address == "b3")
    assert [b.command for b in post.buttons] == ["收到 1"]
    assert post.values["text"] == "明天9点到12点停水，请提前储水"  # as typed, full-width comma kept

    # 收到 in the group: no answer each; one coalesced answer a few minutes later
    sent = await compound.say("b3", "alice", "收到")
    assert len(sent) == 0
    sent = await compound.say("b3", "bob", "收到！")  # same household: counted once
    assert len(sent) == 0
    sent = await compound.say("b3", "erin", "收到快递了")  # chatter, not a confirmation
    assert len(sent) == 0
    sent = await compound.advance(timedelta(minutes=6))
    assert sent.keys_in("b3") == ["notices.acknowledged"]
    assert "1 户" in sent.to_chat("b3")[0]
    assert (await compound.advance(timedelta(minutes=6))).keys_in("b3") == []
    # privately, it is answered
    sent = await compound.say("dm", "bob", "收到 1")
    assert sent.keys_to("bob") == ["notices.household_confirmed"]
    sent = await compound.say("dm", "carol", "收到 1")
    assert sent.keys_to("carol") == ["notices.not_in_scope"]

    sent = await compound.say("dm", "wang", "通知进度 1")
    assert sent.keys_to("wang") == ["notices.progress_header"]
    assert "3栋：1/2 户（50%）" in sent.to("wang")[0]
    sent = await compound.say("dm", "alice", "通知进度 1")
    assert sent.keys_to("alice") == ["core.not_allowed"]

    # after the reminder time the captain gets the units that have not confirmed
    sent = await compound.advance(timedelta(hours=12))
    assert sent.keys_to("wang") == ["notices.not_confirmed"]
    assert sent.values_to("wang", "notices.not_confirmed")["units"] == "1505"
    assert (await compound.advance(timedelta(hours=12))).keys_to("wang") == []


async def test_a_notice_in_english(compound):
    await compound.say("dm", "frank", "/register B7 701")
    sent = await compound.say("dm", "chen", "/notice B7 lift maintenance on Friday")
    assert sent.keys_to("chen") == ["notices.posted"]
    assert sent.keys_in("b7") == ["notices.post"]
    post = next(m for m in sent.messages if m.address == "b7")
    assert [b.command for b in post.buttons] == ["/received 1"]
    sent = await compound.say("dm", "frank", "/received")
    assert sent.keys_to("frank") == ["notices.confirmed"]
    sent = await compound.say("dm", "frank", "/received 1")
    assert sent.keys_to("frank") == ["notices.already_confirmed"]
    sent = await compound.say("dm", "chen", "/noticestatus 1")
    assert "1/1 households confirmed (100%)" in sent.to("chen")[0]
    # everyone in 7 confirmed: the captain list is not sent (there is no captain of 7 either)
    assert (await compound.advance(timedelta(days=2))).keys_in("b7") == []


def confirmations(compound) -> list[tuple]:
    conn = sqlite3.connect(compound.app.db.path)
    try:
        return conn.execute("SELECT notice_id, household FROM notice_confirmations "
                            "ORDER BY notice_id, household").fetchall()
    finally:
        conn.close()


async def test_plain_words_confirm_only_under_a_pending_notice(compound):
    for user, where in (("alice", "3栋 1203"), ("dave", "3栋 1505"), ("carol", "5栋 501")):
        await compound.say("dm", user, f"登记 {where}")
    # no notice yet: 好的 in a group is chatter — no answer, nothing stored
    sent = await compound.say("b3", "alice", "好的")
    assert len(sent) == 0 and confirmations(compound) == []

    await compound.say("dm", "zhao", "通知确认 3栋 周六上午电梯保养")
    # more than the word, or a word that is not a confirmation: left alone
    for chatter in ("好的 明天见", "ok let's go", "好", "👍 楼下见"):
        sent = await compound.say("b3", "alice", chatter)
        assert len(sent) == 0, chatter
    assert confirmations(compound) == []
    # the word alone, with punctuation or repeated emoji, confirms quietly
    sent = await compound.say("b3", "alice", "好的！")
    assert len(sent) == 0
    sent = await compound.say("b3", "dave", "👍👍")
    assert len(sent) == 0
    assert confirmations(compound) == [(1, "h:3/1203"), (1, "h:3/1505")]
    # one coalesced answer in the group, as for 收到
    sent = await compound.advance(timedelta(minutes=6))
    assert sent.keys_in("b3") == ["notices.acknowledged"]
    ack = next(m for m in sent.messages if m.address == "b3")
    assert ack.values["count"] == 2 and ack.values["new"] == 2
    # a household that confirmed already: the next "ok" is chatter again, nothing changes
    sent = await compound.say("b3", "alice", "OK.")
    assert len(sent) == 0 and len(confirmations(compound)) == 2
    # carol (5栋) says 好的 in 5栋's group: the notice was not posted there
    sent = await compound.say("b5", "carol", "好的")
    assert len(sent) == 0 and len(confirmations(compound)) == 2


async def test_plain_words_expire_after_three_days_and_yield_to_a_question(compound):
    await compound.say("dm", "alice", "登记 3栋 1203")
    await compound.say("dm", "zhao", "通知确认 3栋 提醒 12小时 下周一消防演练")
    await compound.advance(timedelta(days=3, hours=1))
    sent = await compound.say("b3", "alice", "ok")
    assert len(sent) == 0 and confirmations(compound) == []
    # a fresh notice; but alice was just offered to file a report: her 好的 answers that offer
    await compound.say("dm", "zhao", "通知确认 3栋 明天停电")
    sent = await compound.say("b3", "alice", "3栋电梯又坏了，有没有人管")
    assert sent.keys_in("b3")[0].startswith("conversation.offer")
    sent = await compound.say("b3", "alice", "好的")
    assert confirmations(compound) == []
    assert sent.keys_to("alice") == ["tickets.acknowledged"]  # the offer was answered: filed
    sent = await compound.say("b3", "alice", "好的")
    assert confirmations(compound) == [(2, "h:3/1203")]
