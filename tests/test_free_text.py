"""Residents talk, Linli understands (issue 11 §1, §2): a report in plain words is offered and filed
on 是; said to the bot it is filed at once; questions in plain words are answered; chatter is not."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.harness import Compound


async def test_a_report_in_plain_words_is_offered_and_filed_on_yes(compound: Compound):
    sent = await compound.say("b3", "alice", "3栋电梯又坏了 有没有人管")
    assert sent.keys_in("b3") == ["conversation.offer"]
    assert "3栋" in sent.to_chat("b3")[0] and "电梯" in sent.to_chat("b3")[0]
    assert sent.keys_to("wang") == []  # nothing filed yet
    sent = await compound.say("b3", "alice", "是")
    assert sent.keys_to("alice") == ["tickets.acknowledged"] and sent.keys_in("b3") == []
    assert sent.keys_to("wang") == ["tickets.ping.new"]
    assert sent.values_to("wang", "tickets.ping.new")["text"] == "3栋电梯又坏了 有没有人管"


async def test_no_confirmation_files_nothing_and_says_nothing_more(compound: Compound):
    await compound.say("b3", "alice", "楼道灯不亮好几天了😡")
    later = await compound.advance(timedelta(minutes=15))
    assert len(later) == 0
    sent = await compound.say("b3", "alice", "是")  # too late: just a word in the group now
    assert len(sent) == 0
    async with compound.app.db.read() as tx:
        assert await tx.tickets.count() == 0


async def test_said_to_the_bot_a_report_is_filed_directly(compound: Compound):
    sent = await compound.say("b3", "alice", "@邻里 地下车库漏水了")
    assert sent.keys_to("alice") == ["tickets.acknowledged"] and sent.keys_in("b3") == []


async def test_an_urgent_report_says_to_call_the_emergency_number(compound: Compound):
    sent = await compound.say("b3", "alice", "电梯里有人被困了！快来人")
    assert sent.keys_in("b3") == ["conversation.offer_urgent"]
    assert "119" in sent.to_chat("b3")[0]


@pytest.mark.parametrize("chatter", [
    "电梯修好了谢谢物业", "听说隔壁小区停电了", "明天停水通知：8:00-12:00 全小区停水", "有人知道哪里修手机吗",
    "我的心坏了", "#接龙 团购草莓\n1. 张三 2份\n2. 李四 1份", "今天天气不错", "谢谢王师傅！",
])
async def test_chatter_is_never_answered(compound: Compound, chatter):
    sent = await compound.say("b3", "alice", chatter)
    assert len(sent) == 0, sent.all()


async def test_questions_in_plain_words_are_answered(compound: Compound):
    await compound.say("b3", "alice", "报修 3栋电梯坏了")
    sent = await compound.say("b3", "bob", "1号报修怎么样了")
    assert sent.keys_in("b3") == ["tickets.show_header"]
    sent = await compound.say("dm", "alice", "我报的电梯修好了吗")
    assert sent.keys_to("alice") == ["tickets.mine_header"]
    sent = await compound.say("b3", "bob", "物业电话多少")
    assert sent.keys_in("b3") == ["conversation.faq"]
    assert "0757-88886666" in sent.to_chat("b3")[0]  # the front desk's public number, as configured
    sent = await compound.say("b3", "bob", "今天谁值班")
    assert sent.keys_in("b3") and sent.keys_in("b3")[0].startswith("rota."), sent.all()


async def test_a_private_report_in_plain_words_is_offered_too(compound: Compound):
    await compound.say("dm", "alice", "登记 3栋 1203")
    sent = await compound.say("dm", "alice", "电梯坏了")
    assert sent.keys_to("alice") == ["conversation.offer"]
    sent = await compound.say("dm", "alice", "好的")
    assert "tickets.acknowledged" in sent.keys_to("alice")
    assert sent.keys_to("wang") == ["tickets.ping.new"]


async def test_an_offer_names_the_common_area_the_report_will_go_to(compound: Compound):
    sent = await compound.say("b3", "alice", "地下车库漏水了 好大一滩")
    assert sent.keys_in("b3") and sent.keys_in("b3")[0].startswith("conversation.offer")
    assert "地下车库" in sent.to_chat("b3")[0] and "3栋" not in sent.to_chat("b3")[0]


@pytest.mark.parametrize(("chat", "user", "text", "lang"), [
    ("b3", "alice", "大家好，3栋电梯坏了", "zh"),
    ("b3", "bob", "早上好，3栋电梯又坏了", "zh"),
    ("dm", "olga", "hello, my lift is broken in building 3", "en"),
])
async def test_a_greeting_before_a_report_does_not_hide_it(compound: Compound, chat, user, text, lang):
    """A resident greets, then says what is broken: that is a report, in a group as in private (a
    greeting alone, or after the fault, is still chatter: test_chatter_is_never_answered)."""
    sent = await compound.say(chat, user, text)
    where = sent.keys_in("b3") if chat == "b3" else sent.keys_to(user)
    assert where == ["conversation.offer"]
    offer = sent.to_chat("b3")[0] if chat == "b3" else sent.to(user)[0]
    assert "电梯" in offer if lang == "zh" else "elevator" in offer
