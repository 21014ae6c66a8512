"""The command parser: what is a command, which one, with what arguments, in which language."""

from __future__ import annotations

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from bot.parser import Parser, clean, leading_number
from tests.harness import COMMANDS


@pytest.fixture(scope="module")
def parser() -> Parser:
    return Parser(list(COMMANDS.values()), ["邻里", "Linli"], ["LinliBot"])


@pytest.mark.parametrize("text", [
    "报修 电梯坏了", "/报修 电梯坏了", "#报修 电梯坏了", "／报修 电梯坏了", "＃报修 电梯坏了",
    "@邻里 报修 电梯坏了", "@Linli 报修 电梯坏了", "报修电梯坏了", "/report 电梯坏了",
    "/report@LinliBot 电梯坏了", "@LinliBot /report 电梯坏了", "/REPORT 电梯坏了",
])
def test_every_way_of_saying_report(parser, text):
    parsed = parser.parse(text)
    assert parsed is not None and parsed.command.name == "report"
    assert "电梯坏了" in parsed.args


@pytest.mark.parametrize("text", [
    "今天电梯又坏了", "report the elevator", "/report@OtherBot 电梯", "确认一下明天开会吗",
    "受理的事情怎么样了", "open the door please", "@bob 报修", "", "   ", "#电梯 很吵",
    "#reports",
])
def test_chatter_is_left_alone(parser, text):
    assert parser.parse(text) is None


def test_numbers_in_any_width(parser):
    parsed = parser.parse("受理 ＃１２ 明天来")
    assert parsed.command.name == "ack" and leading_number(parsed.args) == 12
    assert parser.parse("确认12").command.name == "confirm"


def test_bare_english_words_work_in_private_chats(parser):
    assert parser.parse("help", private=True).command.name == "help"
    assert parser.parse("help") is None


def test_unknown_word_after_slash_is_answered(parser):
    assert parser.parse("/reports").command is None  # not /report: an unknown word
    parsed = parser.parse("/frobnicate now")
    assert parsed is not None and parsed.command is None and parsed.word == "frobnicate"
    assert parser.parse("/frobnicate@OtherBot") is None


def test_language_follows_the_command_word(parser):
    assert parser.parse("报修 x").lang == "zh"
    assert parser.parse("/report elevator broken").lang == "en"
    assert parser.parse("/report 三栋电梯坏了").lang == "zh"
    assert parser.parse("/ticket 12").lang is None  # says nothing: use the person's language


def test_invisible_and_control_characters_are_dropped():
    assert clean("报\u202e修\x00 电\u200b梯\x07") == "报修 电梯"


def test_longest_word_wins(parser):
    assert parser.parse("我的报修").command.name == "mine"
    assert parser.parse("报修我的门坏了").command.name == "report"


words = st.sampled_from([w for c in COMMANDS.values() for w in c.words])
prefixes = st.sampled_from(["", "/", "#", "／", "＃", "@邻里 ", "@LinliBot "])


@settings(max_examples=400, deadline=None)
@given(text=st.text(max_size=300))
def test_parse_never_raises_on_any_text(text):
    parser = Parser(list(COMMANDS.values()), ["邻里"], ["LinliBot"])
    for private in (False, True):
        result = parser.parse(text, private=private)
        assert result is None or result.text == clean(text)


@settings(max_examples=300, deadline=None)
@given(prefix=prefixes, word=words, rest=st.text(max_size=80))
def test_a_prefixed_command_word_is_always_found(prefix, word, rest):
    parser = Parser(list(COMMANDS.values()), ["邻里"], ["LinliBot"])
    if not prefix:
        prefix = "/"
    rest = clean(rest)
    assume(not rest.startswith(("@", "＠")))  # "/cmd@name" names a bot: tested above
    separator = " " if rest and (rest[0].isalnum() or rest[0] == "_") else ""
    parsed = parser.parse(f"{prefix}{word}{separator}{rest}", private=True)
    assert parsed is not None
    assert parsed.command is not None
    assert word.lower() in [w.lower() for w in parsed.command.words] or \
        len(parsed.word) >= len(word)  # a longer word that starts the same may win
