""""Me too" the way people say it, photos with a caption that reads as a report, and a duplicate hint
that compares what reports say (issue 13 §1, §4): quote-replying to a receipt with "+1", "同问",
"我家也是", "一样" follows that ticket (Telegram's reply-to, through the Bot API emulator; WeChat's quoted
text); a bare "同问" right after a report in the same group follows the latest one."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import timedelta

import pytest

from bot.adapters.wechat import quoted_reply
from bot.config import load_config
from bot.messages import Attachment
from tests.harness import EXAMPLE_CONFIG, Compound
from tests.telegram_compat import TelegramPeer
from tests.test_telegram_e2e import (  # noqa: F401  (pytest fixtures)
    ALICE,
    B3,
    BOB,
    Linli,
    in_chat,
    linli,
    node_available,
    peer,
)


async def group_receipts(tmp_path) -> Compound:
    """Receipts posted in the group (``[quiet] receipts = "group"``, or where the reporter cannot
    be reached privately): a neighbour may quote the bot's receipt."""
    config = load_config(EXAMPLE_CONFIG)
    config = config.model_copy(update={"quiet": config.quiet.model_copy(update={"receipts": "group"})})
    return await Compound.open(tmp_path, config=config)


async def _followers(compound: Compound, number: int) -> list[int]:
    async with compound.app.db.read() as tx:
        return list(await tx.tickets.followers(number))


async def test_a_bare_me_too_right_after_a_report_follows_it(compound: Compound):
    await compound.say("b3", "alice", "报修 3栋电梯坏了")
    sent = await compound.say("b3", "bob", "同问")
    assert sent.keys_in("b3") == ["tickets.following"] and "#1" in sent.to_chat("b3")[0]
    sent = await compound.say("b3", "carol", "我家也是")
    assert sent.keys_in("b3") == []  # follows at once; the group hears it gathered (issue 13 §7)
    assert len(await _followers(compound, 1)) == 2
    sent = await compound.advance(compound.config.quiet.hold)
    assert sent.keys_in("b3") == ["quiet.following_many"] and "#1" in sent.to_chat("b3")[0]
    assert len(await compound.say("b3", "alice", "+1")) == 0  # her own report: chatter, not a refusal


async def test_a_quote_is_matched_by_the_receipts_words_after_the_mention(tmp_path):
    compound = await group_receipts(tmp_path)
    try:
        sent = await compound.say("b3", "alice", "报修 3栋电梯坏了")
        receipt = sent.to_chat("b3")[0]
        await compound.say("b3", "bob", "报修 3栋楼道灯不亮")  # the latest report is #2
        words = receipt[receipt.index("#1") + 2:][:25]  # no number quoted: the words decide
        message = replace(compound.inbound("b3", "carol", "一样"),
                          reply_to=f"text:@alice\u2005{words}")
        sent = await compound.deliver(message)
        assert sent.keys_in("b3") == ["tickets.following"] and "#1" in sent.to_chat("b3")[0]
    finally:
        await compound.close()


async def test_quoting_the_residents_own_words_of_a_report_follows_it_too(compound: Compound):
    await compound.say("b3", "alice", "3栋电梯又坏了 有没有人管")
    await compound.say("b3", "alice", "是")
    message = replace(compound.inbound("b3", "bob", "+1"), reply_to="m1")  # alice's message, not ours
    sent = await compound.deliver(message)
    assert sent.keys_in("b3") == ["tickets.following"] and "#1" in sent.to_chat("b3")[0]


async def test_a_bare_me_too_long_after_or_elsewhere_is_chatter(compound: Compound):
    await compound.say("b3", "alice", "报修 3栋电梯坏了")
    assert len(await compound.say("b5", "bob", "一样")) == 0  # another group
    await compound.advance(timedelta(minutes=15))
    assert len(await compound.say("b3", "bob", "同问")) == 0  # too long after: just a word
    assert await _followers(compound, 1) == []


async def test_a_quoted_receipt_on_wechat_is_matched_by_its_text(tmp_path):
    compound = await group_receipts(tmp_path)
    try:
        sent = await compound.say("b3", "alice", "报修 3栋电梯坏了")
        receipt = sent.to_chat("b3")[0]
        await compound.advance(timedelta(minutes=30))  # long after: only the quote says which
        await compound.say("b3", "bob", "报修 3栋楼道灯不亮")  # the latest report is another one
        text, quoted = quoted_reply(f"「邻里：{receipt[:30]}」\n- - - - - - - - - - - - - - -\n一样")
        message = replace(compound.inbound("b3", "carol", text), reply_to=quoted)
        sent = await compound.deliver(message)
        assert sent.keys_in("b3") == ["tickets.following"] and "#1" in sent.to_chat("b3")[0]
    finally:
        await compound.close()


async def test_a_quoted_report_on_wechat_is_matched_by_the_residents_words(compound: Compound):
    """The receipt went to alice privately: a neighbour quotes her own words of the report."""
    sent = await compound.say("b3", "alice", "报修 3栋电梯坏了")
    assert sent.keys_to("alice") == ["tickets.acknowledged"] and sent.keys_in("b3") == []
    await compound.advance(timedelta(minutes=30))  # long after: only the quote says which ticket
    await compound.say("b3", "bob", "报修 3栋楼道灯不亮")  # the latest report is another one
    text, quoted = quoted_reply("「alice：报修 3栋电梯坏了」\n- - - - - - - - - - - - - - -\n一样")
    message = replace(compound.inbound("b3", "carol", text), reply_to=quoted)
    sent = await compound.deliver(message)
    assert sent.keys_in("b3") == ["tickets.following"] and "#1" in sent.to_chat("b3")[0]


async def test_the_duplicate_hint_never_names_ones_own_ticket_and_reads_the_words(compound: Compound):
    await compound.say("b3", "alice", "报修 3栋电梯坏了")
    sent = await compound.say("b3", "alice", "报修 3栋电梯又坏了 有没有人管")
    assert "同问" not in sent.to("alice")[0]  # today it told alice to 同问 her own #1
    sent = await compound.say("b3", "bob", "报修 3栋电梯外面的灯不亮")  # another thing near the lift
    assert "同问" not in sent.to("bob")[0]
    sent = await compound.say("b3", "carol", "报修 电梯又坏了 不动了")
    assert sent.keys_to("carol") == ["tickets.acknowledged"]  # the hint is in the private receipt
    assert "同问 1" in sent.to("carol")[0] or "同问 2" in sent.to("carol")[0]
    assert sent.keys_in("b3") == []


async def test_a_photo_whose_caption_reads_as_a_report_starts_one(compound: Compound):
    photo = (Attachment("photo", "photo-17"),)
    sent = await compound.say("b3", "alice", "3栋电梯又坏了 有没有人管", attachments=photo)
    assert sent.keys_in("b3") == ["conversation.offer"]
    sent = await compound.say("b3", "alice", "是")
    assert sent.keys_to("alice") == ["tickets.acknowledged"] and sent.keys_in("b3") == []
    async with compound.app.db.read() as tx:
        assert await tx.tickets.attachments(1) == [("console", "photo", "photo-17", "")]
    sent = await compound.say("b3", "bob", "今天的晚霞 好美", attachments=(Attachment("photo", "p2"),))
    assert len(sent) == 0  # a photo of the sunset is no report


@pytest.mark.slow
@pytest.mark.skipif(not node_available(), reason="node and tests/peers/node_modules are needed")
def test_quote_replying_to_a_receipt_on_telegram_follows_that_ticket(peer: TelegramPeer,  # noqa: F811
                                                                      linli: Linli) -> None:  # noqa: F811
    # Alice never started the bot: her receipts are refused privately and posted in the group
    peer.send(BOB, None, "/start")
    peer.wait_for(in_chat(BOB), what="answering /start")
    mark = peer.last_id()
    peer.send(ALICE, B3, "/report 3栋电梯坏了")
    first = peer.wait_for(in_chat(B3, "#1"), after=mark, what="acknowledging #1")
    mark = peer.last_id()
    peer.send(ALICE, B3, "/report 3栋楼道灯不亮")
    peer.wait_for(in_chat(B3, "#2"), after=mark, what="acknowledging #2")
    mark = peer.last_id()
    peer.send(BOB, B3, "+1", reply_to=first)  # quoting #1's receipt, though #2 is the latest
    following = peer.wait_for(lambda m: m.chat_id == B3.id and "#1" in m.text, after=mark,
                              what="Bob following #1 ")
    assert "#2" not in following.text
    with sqlite3.connect(linli.db) as conn:
        rows = conn.execute("SELECT ticket_id FROM ticket_followers").fetchall()
    assert rows == [(1,)]


@pytest.mark.slow
@pytest.mark.skipif(not node_available(), reason="node and tests/peers/node_modules are needed")
def test_a_captioned_photo_on_telegram_is_offered_and_filed_with_it(peer: TelegramPeer,  # noqa: F811
                                                                    linli: Linli) -> None:  # noqa: F811
    peer.send(ALICE, None, "/start")
    peer.wait_for(in_chat(ALICE), what="answering /start")
    mark = peer.last_id()
    peer.send(ALICE, B3, "3栋电梯又坏了 有没有人管", photo="AgACAgQAAxk-photo-lift")
    offer = peer.wait_for(in_chat(B3, "电梯"), after=mark, what="offering to file the captioned photo")
    assert "是" in offer.text
    mark = peer.last_id()
    peer.send(ALICE, B3, "是")
    peer.wait_for(in_chat(ALICE, "#1"), after=mark, what="acknowledging #1 privately")
    with sqlite3.connect(linli.db) as conn:
        assert conn.execute("SELECT ticket_id, kind, file_id FROM ticket_attachments").fetchall() == [
            (1, "photo", "AgACAgQAAxk-photo-lift")]


@pytest.mark.slow
def test_quoting_a_receipt_on_wechat_follows_that_ticket(tmp_path) -> None:
    """A real Wechaty puppet service: the puppet gives a quote-reply as text, 「name：quoted」, a dashed
    line, the reply; the receipt went to the reporter privately, so the neighbour quotes her own words
of the report, and they say which ticket, though another report came since."""
    from tests.wechat_peer import ROOM3, LinliProcess, WechatPeer, peer_problem, write_config

    if peer_problem() is not None:
        pytest.skip(str(peer_problem()))
    wechat = WechatPeer(tmp_path).start()
    bot = LinliProcess(write_config(tmp_path, wechat), tmp_path / "linli.db")
    try:
        bot.start()
        mark = wechat.mark()
        wechat.say("alice", "报修 3栋电梯坏了", room=ROOM3)
        assert "#1" in wechat.wait_sent(mark, 1, where="wx-alice")[0]["text"]  # privately
        mark = wechat.mark()
        wechat.say("wang", "报修 3栋楼道灯不亮", room=ROOM3)  # the latest report is now #2
        wechat.wait_sent(mark, 1, where="wx-wang")
        mark = wechat.mark()
        # the receipt went to Alice alone: Bob quotes her own words of the report
        wechat.say("bob", "「Alice：报修 3栋电梯坏了」\n- - - - - - - - - - - - - - -\n我家也是", room=ROOM3)
        following = next(m["text"] for m in wechat.wait_sent(mark, 1, where=ROOM3))
        assert "#1" in following and "#2" not in following, following
    finally:
        code = bot.stop()
        wechat.stop()
    assert code == 0 and "Traceback" not in bot.text(), bot.text()[-3000:]
