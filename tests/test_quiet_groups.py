"""A quieter bot in the groups (issue 13 §7): acknowledgements of one kind in one group gather into
one updated message, and a personal list asked for in a group is answered privately."""

from __future__ import annotations

import re
import time
from dataclasses import replace
from datetime import date, timedelta

import pytest

from bot.adapters.base import PermanentError
from bot.config import load_config
from tests.harness import EXAMPLE_CONFIG, Compound
from tests.telegram_compat import TgUser, node_available


async def create_event(compound: Compound, places: int = 40) -> None:
    sent = await compound.say("dm", "sun", f"新活动 插花 周六 上午10点 1小时 会所 {places}人")
    assert sent.keys_to("sun")[0] == "volunteers.created"


def group(sent, chat: str = "all") -> list:
    return [m for m in sent.messages if m.kind == "group" and m.address == chat]


async def with_group_receipts(tmp_path) -> Compound:
    """The compound with ``[quiet] receipts = "group"``: a report's receipt is posted in the group."""
    config = load_config(EXAMPLE_CONFIG)
    quiet = config.quiet.model_copy(update={"receipts": "group"})
    return await Compound.open(tmp_path, config=config.model_copy(update={"quiet": quiet}))


# --- a report's receipt is its reporter's ---------------------------------------------------------
async def test_a_receipt_goes_to_the_reporter_privately_and_the_group_hears_nothing(compound):
    sent = await compound.say("b3", "alice", "报修 3栋电梯坏了")
    assert sent.keys_to("alice") == ["tickets.acknowledged"]
    assert "#1" in sent.to("alice")[0] and sent.keys_in("b3") == []
    assert sent.keys_to("wang") == ["tickets.ping.new"]  # the captain is told as before


async def test_a_reporter_who_cannot_be_told_privately_gets_the_receipt_in_the_group(compound):
    original = compound.adapter.send

    async def refuses_alice_privately(message):
        if message.kind == "private" and message.address == "alice":
            raise PermanentError("Forbidden: bot can't initiate conversation with a user",
                                 reason="not_started")
        return await original(message)

    compound.adapter.send = refuses_alice_privately
    await compound.say("dm", "bob", "帮助")  # others are reached privately as ever
    sent = await compound.say("b3", "alice", "报修 3栋 1203 门口漏水")
    [receipt] = group(sent, "b3")  # posted once, in the group she reported in
    assert receipt.key == "tickets.acknowledged" and "#1" in receipt.text
    assert receipt.mention_ids == ("alice",) and "1203" not in receipt.plain_text()
    assert sent.keys_to("alice") == [] and sent.keys_to("wang") == ["tickets.ping.new"]
    async with compound.app.db.read() as tx:
        rows = [m for m in await tx.outbox.all_messages() if m.key == "tickets.acknowledged"]
    assert [(m.kind, m.address) for m in rows] == [("group", "b3")]  # the same row, moved
    later = await compound.advance(timedelta(hours=1))
    assert "tickets.acknowledged" not in [m.key for m in later.messages]  # once, not again


async def test_me_too_quoting_the_reporters_own_message_follows_that_ticket(compound):
    await compound.say("b3", "alice", "报修 3栋电梯坏了", message_id="report-1")
    await compound.advance(timedelta(minutes=30))  # long after: only the quote says which
    await compound.say("b3", "carol", "报修 3栋楼道灯不亮")  # and the latest report is another
    quoting = replace(compound.inbound("b3", "bob", "同问"), reply_to="report-1")
    sent = await compound.deliver(quoting)
    assert sent.keys_in("b3") == ["tickets.following"] and "#1" in sent.to_chat("b3")[0]
    async with compound.app.db.read() as tx:
        assert len(await tx.tickets.followers(1)) == 1 and await tx.tickets.followers(2) == []


async def test_thirty_sign_ups_make_a_few_group_messages_with_the_right_count(compound: Compound):
    await create_event(compound)
    names = [f"r{i:02d}" for i in range(1, 31)]
    before = len(compound.adapter.sent)
    for name in names:  # one every 20 seconds: ten minutes of sign-ups after the post
        await compound.say("all", name, "报名 1")
        await compound.advance(timedelta(seconds=20))
    await compound.advance(compound.config.quiet.hold)
    messages = [m for m in compound.adapter.sent[before:] if m.kind == "group"]
    # the first at once, then one update per hold (2 minutes) at most: not thirty
    assert 2 <= len(messages) <= 6, [m.key for m in messages]
    assert messages[0].key == "volunteers.joined" and messages[0].values["name"] == "r01"
    last = messages[-1]
    assert last.key == "quiet.joined_many"
    assert (last.values["people"], last.values["going"], last.values["capacity"]) == (30, 30, 40)
    assert last.values["names"] == "、".join(names[:5])
    assert "等 30 人报名了 #1 插花" in last.text
    # every update names the message before it (the recording platform's id: its place in the
    # list, counted from 1): Telegram edits that one in place, and returns the same id again
    sent_ids = [str(compound.adapter.sent.index(m) + 1) for m in messages]
    assert [m.replaces for m in messages[1:]] == sent_ids[:-1]
    async with compound.app.db.read() as tx:
        assert (await tx.volunteers.counts(1)).going == 30

    # later, outside the window: a sign-up is answered at once, on its own, as before
    await compound.advance(compound.config.quiet.window)
    sent = await compound.say("all", "r99", "报名 1")
    assert [m.key for m in group(sent)] == ["volunteers.joined"]
    assert group(sent)[0].values["going"] == 31 and group(sent)[0].replaces is None


async def test_a_gathered_message_waits_in_the_outbox_and_survives_a_restart(tmp_path):
    compound = await Compound.open(tmp_path)
    await create_event(compound)
    await compound.say("all", "alice", "报名 1")
    for name in ("bob", "carol", "dave"):
        sent = await compound.say("all", name, "报名 1")
        assert group(sent) == []  # gathered, on hold
    await compound.close()  # the bot stops (a crash leaves the same rows: they are committed)

    compound = await Compound.open(tmp_path)
    try:
        sent = await compound.advance(compound.config.quiet.hold)
        [update] = group(sent)
        assert update.key == "quiet.joined_many"
        assert (update.values["people"], update.values["going"]) == (4, 4)
        assert update.values["names"] == "alice、bob、carol、dave"
    finally:
        await compound.close()


async def test_other_messages_do_not_wait_behind_a_gathered_one(tmp_path):
    compound = await with_group_receipts(tmp_path)
    try:
        await create_event(compound)
        await compound.say("all", "alice", "报名 1")
        assert group(await compound.say("all", "bob", "报名 1")) == []  # on hold for two minutes
        sent = await compound.say("all", "carol", "报修 3栋电梯坏了")
        assert [m.key for m in group(sent)][:1] == ["tickets.acknowledged"]  # at once
        sent = await compound.advance(compound.config.quiet.hold)
        assert [m.key for m in group(sent)] == ["quiet.joined_many"]
    finally:
        await compound.close()


async def test_a_receipt_in_the_group_carries_its_similar_hint_in_one_message(tmp_path):
    compound = await with_group_receipts(tmp_path)
    try:
        await compound.say("b3", "alice", "报修 3栋电梯坏了")
        sent = await compound.say("b3", "bob", "报修 电梯又不动了")
        assert sent.keys_in("b3") == ["tickets.acknowledged", "tickets.similar"]
        [message] = group(sent, "b3")  # one group message: the receipt, the hint joined to it
        assert "#2" in message.text and "同问 1" in message.text
        assert sent.keys_to("bob") == []
    finally:
        await compound.close()


async def test_sign_ups_and_waitlist_places_are_gathered_apart(compound: Compound):
    await create_event(compound, places=2)
    for name in ("r1", "r2", "r3", "r4", "r5"):
        await compound.say("all", name, "报名 1")
    sent = await compound.advance(compound.config.quiet.hold)
    keys = [m.key for m in group(sent)]
    assert keys == ["quiet.joined_many", "quiet.waitlisted_many"] or \
        keys == ["quiet.waitlisted_many", "quiet.joined_many"]
    waiting = next(m for m in group(sent) if m.key == "quiet.waitlisted_many")
    assert waiting.values["people"] == 3 and waiting.values["names"] == "r3、r4、r5"


async def test_me_too_on_one_report_gathers(compound: Compound):
    await compound.say("b3", "alice", "报修 3栋电梯坏了")
    first = await compound.say("b3", "bob", "同问 1")
    assert [m.key for m in group(first, "b3")] == ["tickets.following"]
    for name in ("carol", "dave", "erin"):
        assert group(await compound.say("b3", name, "同问 1"), "b3") == []
    sent = await compound.advance(compound.config.quiet.hold)
    [update] = group(sent, "b3")
    assert update.key == "quiet.following_many"
    assert update.values["people"] == 4 and update.values["count"] == 5  # 4 followers + alice
    assert update.values["names"] == "bob、carol、dave、erin"
    # each of them follows the ticket: they hear the updates privately
    sent = await compound.say("dm", "wang", "受理 1 马上来")
    assert {"bob", "carol", "dave", "erin", "alice"} <= {m.address for m in sent.messages
                                                         if m.kind == "private"}


async def test_my_reports_asked_in_a_group_is_answered_privately(compound: Compound):
    await compound.say("b3", "alice", "报修 3栋电梯坏了")
    sent = await compound.say("b3", "alice", "我的报修")
    assert sent.keys_to("alice") == ["tickets.mine_header"]
    assert "#1" in sent.to("alice")[0]
    assert [m.key for m in group(sent, "b3")] == ["quiet.answered_privately"]
    assert "#1" not in sent.to_chat("b3")[0]  # one line: the list itself is not in the group
    # my sign-ups, my shifts: the same; and a second asker soon after joins the pointer
    sent = await compound.say("b3", "bob", "我的活动")
    assert sent.keys_to("bob") == ["volunteers.mine_none"] and group(sent, "b3") == []
    sent = await compound.advance(compound.config.quiet.hold)
    [pointer] = group(sent, "b3")
    assert pointer.key == "quiet.answered_privately_many" and pointer.values["names"] == "alice、bob"
    # in a private chat nothing changes
    sent = await compound.say("dm", "alice", "我的报修")
    assert sent.keys_to("alice") == ["tickets.mine_header"] and group(sent, "b3") == []


async def test_my_shifts_in_a_group_goes_privately(compound: Compound):
    sent = await compound.say("b3", "li", "我的值班")
    assert [m.key for m in sent.messages if m.kind == "private"] in (["rota.mine_header"],
                                                                     ["rota.mine_none"])
    assert [m.key for m in group(sent, "b3")] == ["quiet.answered_privately"]


# --- on Telegram: the gathered acknowledgement edits the sent one in place ------------------------
@pytest.mark.slow
@pytest.mark.skipif(not node_available(),
                    reason="node and tests/peers/node_modules are needed (npm ci in tests/peers)")
def test_on_telegram_sign_ups_edit_one_message_in_place(tmp_path, monkeypatch):
    from tests.telegram_compat import start_telegram_peer
    from tests.test_telegram_e2e import ALICE, ALL, BOB, ROOT, SUN, Linli, in_chat, wait_edit, write_config

    monkeypatch.setenv("PYTHONPATH", str(ROOT))  # the bot of this checkout, installed or not

    peer = start_telegram_peer()
    bot = Linli(write_config(tmp_path, peer, '\n[quiet]\nhold = "2s"\nwindow = "1m"\n'),
                tmp_path / "linli.db")
    bot.start()
    try:
        peer.send(SUN, None, "/start")
        peer.wait_for(in_chat(SUN), what="answering /start")
        day = (date.today() + timedelta(days=10)).isoformat()
        mark = peer.last_id()
        peer.send(SUN, None, f"新活动 美化家园 {day} 9点 2小时 中心花园 30人")
        created = peer.wait_for(in_chat(SUN, "美化家园"), after=mark, what="the new event")
        number = re.search(r"#(\d+)", created.text).group(1)
        peer.wait_for(lambda m: m.chat_id == ALL.id and "美化家园" in m.text and m.buttons,
                      after=mark, what="the event's post")

        mark = peer.last_id()
        peer.send(ALICE, ALL, f"报名 {number}")
        first = peer.wait_for(in_chat(ALL, f"#{number}", "1/30"), after=mark,
                              what="the first sign-up acknowledged at once")
        people = [BOB, TgUser(204, "Dave"), TgUser(205, "Erin")]
        for person in people:
            peer.send(person, ALL, f"报名 {number}")
        edited = wait_edit(peer, first, "4/30", timeout=20)
        assert "Bob" in edited.text and "4 人" in edited.text
        time.sleep(1.0)
        acks = [m for m in peer.bot_messages(ALL.id)
                if m.message_id > mark and f"#{number}" in m.text]
        assert [m.message_id for m in acks] == [first.message_id], \
            "four sign-ups made more than one message in the group"
    finally:
        code = bot.stop()
        peer.close()
    assert not [line for line in bot.lines if "Traceback" in line], bot.log()
    assert code == 0, bot.log()


async def test_an_acknowledgement_being_sent_is_not_changed_under_the_sender(compound: Compound):
    """A gathered row another dispatcher is sending right now is left alone: the next sign-up gets
    a row of its own, after the hold; nobody's acknowledgement is lost."""
    await create_event(compound)
    await compound.say("all", "alice", "报名 1")
    await compound.say("all", "bob", "报名 1")  # gathered, on hold
    async with compound.app.db.transaction() as tx:
        [(held, _, _)] = [row for row in await tx.outbox.waiting(["console"], time.time())
                          if row[0].merge_key]
        assert await tx.outbox.claim([held.outbox_id], "elsewhere/1/x", time.time() + 60,
                                     time.time()) == {held.outbox_id}
    await compound.say("all", "carol", "报名 1")
    async with compound.app.db.read() as tx:
        rows = [m for m, _, _ in await tx.outbox.waiting(["console"], time.time()) if m.merge_key]
    # the held one unchanged; carol's waits the hold on its own
    assert [m.values.get("names", m.values.get("name")) for m in rows] == ["alice、bob", "carol"]
    async with compound.app.db.transaction() as tx:  # the other dispatcher gives it back
        await tx.outbox.unclaim([held.outbox_id], "elsewhere/1/x")
    sent = await compound.advance(compound.config.quiet.hold)
    assert [m.values.get("names", m.values.get("name")) for m in group(sent)] == ["alice、bob",
                                                                                 "carol"]


async def test_a_long_stream_of_sign_ups_starts_a_new_message_after_the_window(compound: Compound):
    """One message gathers what comes within [quiet] window (10 minutes) of its first: on Telegram
    nobody's sign-up shows up as an edit of a message from long ago."""
    await create_event(compound)
    before = len(compound.adapter.sent)
    for i in range(8):  # one every 3 minutes
        await compound.say("all", f"r{i}", "报名 1")
        await compound.advance(timedelta(minutes=3))
    messages = [m for m in compound.adapter.sent[before:] if m.kind == "group"]
    assert [m.values["name"] for m in messages if m.replaces is None] == ["r0", "r4"]
    assert messages[-1].key == "quiet.joined_many"
    assert (messages[-1].values["names"], messages[-1].values["going"]) == ("r4、r5、r6、r7", 8)
