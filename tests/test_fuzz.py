"""Fuzzing every command shape through the real core (hypothesis).

Thousands of generated messages — every command word of the ``COMMANDS`` registry in both languages
(so commands added later are covered), with ``/``, ``#``, ``＃``, ``／`` and @bot prefixes or none, in
groups and in private, from residents and from staff, with arguments made of numbers, building
names, ticket numbers with notes, SQL-looking text, CJK, emoji, right-to-left text and direction
overrides, control characters and texts up to 100 KB — each checked for:

* no exception reaches a user: nobody is ever sent ``core.oops`` (a handler bug);
* a rejected message changes nothing: after a refusal, an unknown command, or a message that is not
  a command, every table is as it was (minus the traces of tests/snapshot.py);
* every answer to the sender is in the sender's language: the command word's (报修 → zh), else the
  language the arguments are written in, else the one the person last wrote in (English for a
  /command from someone who never did).

CI runs a fixed (derandomized) set; ``LINLI_FUZZ_RANDOM=1`` explores new examples each run and
``LINLI_FUZZ_EXAMPLES=2000`` hunts longer.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import re
import shutil
import string
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.context import Refusal
from bot.i18n import LANGUAGES, catalogue, t
from bot.parser import clean, guess_language, has_cjk
from tests.harness import COMMANDS, Compound
from tests.snapshot import changes, state

EXAMPLES = int(os.environ.get("LINLI_FUZZ_EXAMPLES", "200"))  # more: a longer hunt
PER_EXAMPLE = (10, 12)  # messages per example: at least 2,000 in all
PERSONAS = ("alice", "mallory", "carol", "wang", "li", "zhao", "chen", "sun", "admin")
CHATS = ("dm", "b3", "b5", "b7", "all")
PREFIXES = ("", "", "/", "#", "＃", "／", "@邻里 ", "@Linli ", "＠邻里 ")
SQLISH = ("'; DROP TABLE tickets; --", "1 OR 1=1", "\" OR \"\"=\"", "1; DELETE FROM people",
          "%' --", "Robert'); DROP TABLE outbox;--", "1 UNION SELECT * FROM people", "NULL",
          "\\x00", "${jndi:ldap://x}", "{number}", "{0}", "%s%s%n")
BUILDINGS = ("3栋", "5栋", "B3", "building 7", "３座", "7号楼", "20幢", "99栋", "building 0",
             "B21", "会所", "0栋", "-1栋", "3栋1203", "3-2-1203")
WORDS = [(command.name, word) for command in COMMANDS.values() for word in command.words]


# --- what people type ---------------------------------------------------------------------------
def chars(lo: int, hi: int) -> st.SearchStrategy[str]:
    return st.characters(min_codepoint=lo, max_codepoint=hi)


UNICODE = st.one_of(
    st.characters(),  # anything, surrogates excepted
    chars(0x4E00, 0x9FFF),  # CJK
    chars(0x1F300, 0x1FAFF),  # emoji
    chars(0x0590, 0x06FF),  # Hebrew, Arabic (right to left)
    st.sampled_from("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200b\u200d\ufeff"),
    chars(0x00, 0x1F), chars(0x7F, 0x9F),  # control characters
    chars(0xFF01, 0xFF5E),  # full-width forms
    st.sampled_from("0123456789#＃@＠/／:：,，.。!！?？ \u3000\n\t"),
)


@st.composite
def huge(draw) -> str:
    """Up to 100 KB of one repeated fragment."""
    fragment = draw(st.sampled_from(("电梯坏了", "a", "🛗", "\u202e", "x'; --", "3栋1203 ",
                                     "13912345678 ", "\x00", "ب")))
    length = draw(st.integers(1000, 100_000))
    return (fragment * (length // len(fragment) + 1))[:length]


NUMBER = st.one_of(
    st.integers(-10, 10**13).map(str),
    st.integers(0, 30).map(lambda n: f"#{n}"),
    st.integers(0, 30).map(lambda n: f"＃{n}"),
    st.integers(0, 99).map(lambda n: str(n).translate(str.maketrans("0123456789",
                                                                   "０１２３４５６７８９"))),
    st.integers(1, 6).map(str),  # the tickets that exist
)
FRAGMENT = st.one_of(
    NUMBER, st.sampled_from(BUILDINGS), st.sampled_from(SQLISH),
    st.text(UNICODE, max_size=40),
    st.text(chars(0x4E00, 0x9FFF), min_size=1, max_size=12),
    st.text(st.sampled_from(string.ascii_letters + " "), min_size=1, max_size=20),
    st.sampled_from(("电梯坏了", "垃圾满了", "elevator broken", "明天 9点", "tomorrow 9am",
                     "重复 #1", "duplicate of #2", "#电梯", "#elevator", "周六 9:00-11:00 10人")),
)
ARGS = st.one_of(
    st.just(""),
    st.lists(FRAGMENT, min_size=1, max_size=4).map(" ".join),
    st.tuples(NUMBER, FRAGMENT).map(" ".join),
    huge(),
)


@st.composite
def message(draw) -> tuple[str, str, str, str, str]:
    """(persona, chat, whole text, command word, arguments)."""
    _, word = draw(st.sampled_from(WORDS))
    if draw(st.booleans()) and word != word.upper():
        word = word.upper() if word.isascii() else word
    args = draw(ARGS)
    cjk_word = has_cjk(word)
    separators = ("", " ", "：", "\n") if cjk_word else (" ", "  ", "\u3000", ": ", " ，")
    sep = draw(st.sampled_from(separators)) if args else ""
    text = draw(st.sampled_from(PREFIXES)) + word + sep + args
    return draw(st.sampled_from(PERSONAS)), draw(st.sampled_from(CHATS)), text, word, args


# --- what the answers must be -------------------------------------------------------------------
def _pattern(template: str) -> re.Pattern | None:
    pieces = list(string.Formatter().parse(template))
    literal = "".join(p[0] for p in pieces)
    if sum(ch.isalpha() for ch in literal) < 3:
        return None  # too little fixed text to tell a language by
    return re.compile("".join(re.escape(lit) + (".*?" if field is not None else "")
                              for lit, field, _, _ in pieces), re.S)


def _templates() -> dict[str, list[tuple[str, re.Pattern]]]:
    zh, en = catalogue("zh"), catalogue("en")
    out: dict[str, list[tuple[str, re.Pattern]]] = {}
    for lang, texts in (("zh", zh), ("en", en)):
        other = en if lang == "zh" else zh
        out[lang] = [(key, p) for key, text in texts.items()
                     if text != other.get(key) and (p := _pattern(text)) is not None]
    return out


TEMPLATES = _templates()
OOPS = {t(lang, "core.oops") for lang in LANGUAGES}


def language_of_answer(text: str) -> set[str]:
    """The languages whose catalogue texts the answer starts with."""
    return {lang for lang, patterns in TEMPLATES.items()
            if any(p.match(text) for _, p in patterns)}


class Fuzz:
    """One example: a fresh compound (a copy of a prepared one) and the checks after each message."""

    def __init__(self, compound: Compound, stats: dict[str, int]) -> None:
        self.compound = compound
        self.stats = stats
        self.refusals: list[str] = []
        self.ran = False
        self.language: dict[str, str | None] = {}
        self.ids = itertools.count(1)
        original = compound.core._command

        async def watched(ctx, command):
            self.ran = True
            try:
                await original(ctx, command)
            except Refusal as refusal:
                self.refusals.append(refusal.key)
                raise

        compound.core._command = watched

    async def remember_languages(self) -> None:
        async with self.compound.app.db.read() as tx:
            for user in PERSONAS:
                person = await tx.people.by_identity("console", user)
                self.language[user] = person.lang if person else None

    def expected_language(self, user: str, word: str, args: str) -> str | None:
        """See the module docstring; None when the arguments mix languages too evenly to say."""
        if has_cjk(word):
            return "zh"
        said = guess_language(clean(args))
        if said:
            return said
        return self.language[user] or "en"

    async def send(self, user: str, chat: str, text: str, word: str, args: str) -> None:
        compound = self.compound
        inbound = compound.inbound(chat, user, text, message_id=f"fz{next(self.ids)}")
        parsed = compound.core.parser.parse(text, private=chat == "dm")
        expected = self.expected_language(user, word, args)
        async with compound.app.db.read() as tx:
            person = await tx.people.by_identity("console", user)
            waiting = await tx.prompts.pending(person.id, "console", inbound.chat_id,
                                               compound.clock.now().timestamp())
        before = await state(compound)
        self.refusals.clear()
        self.ran = False
        start = len(compound.adapter.sent)
        await compound.core.handle(inbound)
        await compound.app.dispatcher.drain()
        sent = compound.adapter.sent[start:]
        self.stats["messages"] += 1
        if parsed is not None and parsed.command is not None:
            self.stats.setdefault("commands", set()).add(parsed.command.name)

        for m in sent:
            assert m.text not in OOPS, f"a handler failed on {text[:300]!r} (see the log)"
        # plain words the bot did not answer are chatter and change nothing; plain words it did
        # answer (an offer to file a report, a report said to it, a question) may
        understood = any(m.key.startswith(("conversation.", "tickets.", "rota.", "volunteers."))
                         for m in sent)
        rejected = bool(self.refusals) or (parsed is not None and not self.ran) or (
            parsed is None and waiting is None and not understood)
        if rejected:
            after = await state(compound)
            assert after == before, (f"{text[:200]!r} was refused ({self.refusals}) "
                                     f"but changed {changes(before, after)}")
            self.stats["rejected"] += 1
        if parsed is None:
            return
        if parsed.lang is not None:
            self.language[user] = parsed.lang
        answers = [m for m in sent if (m.kind == "private" and m.address == user)
                   or (m.kind == "group" and m.address == chat and user in m.mention_ids)]
        for m in answers:
            found = language_of_answer(m.text)
            self.stats["answers"] += 1
            if not found:
                continue
            self.stats["checked"] += 1
            assert expected in found, (
                f"{text[:200]!r} from {user} was answered in {found}, not {expected}: {m.text!r}")


# --- the test -----------------------------------------------------------------------------------
def test_thousands_of_generated_messages_never_crash_change_nothing_when_refused_and_answer_in_kind(
        tmp_path, caplog):
    stats: dict = {"messages": 0, "rejected": 0, "answers": 0, "checked": 0}
    runner = asyncio.Runner()
    prepared = tmp_path / "prepared"
    prepared.mkdir()
    runner.run(prepare(prepared))
    caplog.set_level(logging.ERROR, logger="bot.core")

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              derandomize=not os.environ.get("LINLI_FUZZ_RANDOM"),
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                     HealthCheck.large_base_example])
    @given(st.lists(message(), min_size=PER_EXAMPLE[0], max_size=PER_EXAMPLE[1]))
    def run(messages):
        runner.run(one_example(prepared, messages, stats))

    try:
        run()
        # and every command at least once, with the same checks, whatever the draw reached
        sweep = [(user, "dm", f"{command.zh[0]} 1", command.zh[0], "1")
                 for command in COMMANDS.values() for user in ("mallory", "admin")]
        runner.run(one_example(prepared, sweep, stats))
    finally:
        runner.close()
    failures = [r for r in caplog.records if r.name == "bot.core" and r.levelno >= logging.ERROR]
    assert not failures, failures[0].getMessage()
    reached = stats.pop("commands", set())
    print(f"fuzz: {stats}; commands reached: {len(reached)} of {len(COMMANDS)}")
    assert stats["messages"] >= 2000, stats
    assert reached == set(COMMANDS), f"not reached: {set(COMMANDS) - reached}"
    assert stats["rejected"] >= 300, stats  # the refusal path is well exercised …
    assert stats["checked"] >= 0.6 * stats["answers"] >= 600, stats  # … and so is the language


async def prepare(folder: Path) -> None:
    """A compound where every persona has spoken, with tickets in every state to refer to."""
    compound = await Compound.open(folder)
    try:
        for user in PERSONAS:
            await compound.say("dm", user, "帮助" if user in ("alice", "wang", "li") else "/help")
        await compound.say("b3", "alice", "报修 3栋电梯坏了")  # 1 open
        await compound.say("b5", "carol", "报修 5栋垃圾满了")  # 2 open
        await compound.say("dm", "li", "已解决 2 清理了")  # 2 resolved
        await compound.say("b3", "mallory", "报修 3栋门禁坏了")  # 3 open
        await compound.say("dm", "wang", "受理 3 明天来")  # 3 acknowledged
        await compound.say("b7", "carol", "/report lift in building 7 is broken")  # 4 open
        await compound.say("dm", "alice", "登记 3栋 1203")
    finally:
        await compound.close()


async def one_example(prepared: Path, messages, stats: dict[str, int]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        shutil.copy(prepared / "linli.db", Path(folder) / "linli.db")
        compound = await Compound.open(Path(folder))
        try:
            fuzz = Fuzz(compound, stats)
            await fuzz.remember_languages()
            for user, chat, text, word, args in messages:
                await fuzz.send(user, chat, text, word, args)
        finally:
            await compound.close()
