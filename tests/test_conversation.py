"""A private message always gets an answer; near misses get the closest command; voice gets a hint
(issue 11 §1b, §3, §6)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from bot.messages import Attachment
from tests.harness import Compound


@pytest.mark.parametrize("text", ["你好", "电梯坏了", "帮我看看", "发起投票 换消防门 选项 A、B"])
async def test_a_private_message_is_never_met_with_silence(compound: Compound, text):
    sent = await compound.say("dm", "alice", text)
    assert sent.keys_to("alice"), f"no answer to {text!r}"


async def test_the_pointer_is_in_the_sender_language(compound: Compound):
    sent = await compound.say("dm", "carol", "hello there")
    assert sent.keys_to("carol") == ["conversation.pointer"]
    assert "/report" in sent.to("carol")[0]


@pytest.mark.parametrize(("chat", "typed", "meant"), [
    ("dm", "报休 3栋电梯坏了", "报修"),
    ("dm", "抱修 3栋电梯坏了", "报修"),
    ("b3", "/reprot 3栋电梯坏了", "/report"),
    ("b3", "/报休 电梯坏了", "报修"),
    ("dm", "/hlep", "/help"),
    ("dm", "我的报休", "我的报修"),
])
async def test_a_near_miss_gets_the_closest_command(compound: Compound, chat, typed, meant):
    sent = await compound.say(chat, "alice", typed)
    keys = sent.keys_to("alice") if chat == "dm" else sent.keys_in(chat)
    assert keys == ["conversation.did_you_mean"], sent.all()
    assert f"「{meant}」" in sent.all() or f'"{meant}"' in sent.all(), sent.all()


async def test_in_a_group_a_near_miss_without_slash_or_mention_is_read_as_plain_words(compound):
    sent = await compound.say("b3", "alice", "报休 电梯坏了")  # no "did you mean" to the group …
    assert sent.keys_in("b3") == ["conversation.offer"]  # … but a report in plain words is offered
    assert len(await compound.say("b3", "alice", "大家早上好")) == 0


async def test_a_voice_message_gets_a_hint_once_a_day(compound: Compound):
    voice = (Attachment("voice", "voice-1"),)

    async def speak(chat: str, n: int):
        message = replace(compound.inbound(chat, "alice", "", attachments=voice), message_id=f"v{n}")
        return await compound.deliver(message)

    first = await speak("b3", 1)
    assert first.keys_to("alice") == ["conversation.voice"] and not first.keys_in("b3")
    assert len(await speak("b3", 2)) == 0  # once a day
    await compound.advance(timedelta(days=1))
    assert (await speak("dm", 3)).keys_to("alice") == ["conversation.voice"]
