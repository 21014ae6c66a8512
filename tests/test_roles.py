"""Role abuse: every command that needs a role, tried by every person who does not hold one of its
roles, in both languages → refused with a clear answer, nothing changed, a "denied" audit row.  And
the ticket commands tried on someone else's ticket (a captain of another building, a neighbour who
is not the reporter) → the same.

Generated from the ``COMMANDS`` registry when the tests are collected, so a command added later is
covered without touching this file.  The people are the example config's, plus a resident.
"""

from __future__ import annotations

import re
import string

import pytest

from bot.commands import Command
from bot.core import Core
from bot.i18n import catalogue, t
from bot.parser import guess_language, has_cjk
from tests.harness import COMMANDS, EXAMPLE_CONFIG, Compound, load_config
from tests.snapshot import changes, denied_rows, state

CONFIG = load_config(EXAMPLE_CONFIG)
PEOPLE = {key: frozenset(p.roles) for key, p in CONFIG.people.items()} | {"mallory": frozenset()}
RESTRICTED = [c for c in COMMANDS.values() if c.roles]
# Ticket commands anyone may use on any ticket: looking at it, and following it (同问).
ANYONE = {"ticket", "metoo"}
TICKET_COMMANDS = [c for c in COMMANDS.values() if c.needs_number and c.handler is not None
                   and c.handler.__module__ == "handlers.tickets" and c.name not in ANYONE]


def allowed(roles: frozenset[str], command: Command) -> bool:
    return any(Core.has_role(roles, r) for r in command.roles)


def example(command: Command, lang: str) -> tuple[str, str]:
    """What a person would type for the command in ``lang`` (the help example), and its word."""
    text = catalogue(lang).get(f"help.example.{command.name}", "").split(" — ")[0].strip()
    words = command.zh if lang == "zh" else command.en
    if not words:
        pytest.skip(f"{command.name} has no {lang} word")
    word = next((w for w in words if text.lstrip("/").lower().startswith(w.lower())), None)
    if word is None:
        word, text = words[0], ("" if lang == "zh" else "/") + f"{words[0]} 1"
    return text, word.lower()


def template(lang: str, key: str) -> re.Pattern:
    """A catalogue text as a pattern, any value in place of each placeholder."""
    parts = [re.escape(literal) + (".*?" if field is not None else "")
             for literal, field, _, _ in string.Formatter().parse(catalogue(lang)[key])]
    return re.compile("".join(parts) + r"\Z", re.S)


async def world(compound: Compound) -> None:
    """#1 open in 3栋 (alice), #2 open in 5栋 (carol), #3 resolved in 5栋 (dave),
    #4 resolved in 3栋 (erin)."""
    await compound.say("b3", "alice", "报修 3栋电梯坏了")
    await compound.say("b5", "carol", "报修 5栋垃圾满了")
    await compound.say("b5", "dave", "报修 5栋路灯不亮")
    await compound.say("dm", "li", "已解决 3 换了灯泡")
    await compound.say("b3", "erin", "报修 3栋门禁坏了")
    await compound.say("dm", "wang", "已解决 4 修好了")
    await compound.say("dm", "mallory", "帮助")  # a resident the bot already knows


async def send(compound: Compound, user: str, text: str) -> list:
    """Send privately, without running the sweeps (so only the message can change anything)."""
    before = len(compound.adapter.sent)
    await compound.core.handle(compound.inbound("dm", user, text))
    await compound.app.dispatcher.drain()
    return compound.adapter.sent[before:]


async def language_of(compound: Compound, user: str, text: str) -> str:
    """The language the answer must be in: the command's, else the arguments', else the one the
    person last wrote in, else English for a /command."""
    args = text.lstrip("/").split(maxsplit=1)[1:]
    if has_cjk(text.split()[0]):
        return "zh"
    if args and guess_language(args[0]):
        return guess_language(args[0])
    async with compound.app.db.read() as tx:
        person = await tx.people.by_identity("console", user)
    return person.lang if person and person.lang else "en"


@pytest.mark.parametrize("command", RESTRICTED, ids=lambda c: c.name)
async def test_every_restricted_command_is_refused_to_everyone_without_its_role(compound, command):
    await world(compound)
    intruders = [key for key, roles in PEOPLE.items() if not allowed(roles, command)]
    assert intruders, f"everyone may use {command.name}?"
    assert "mallory" in intruders
    tried = 0
    for user in intruders:
        for lang in ("en", "zh"):
            text, word = example(command, lang)
            expected_lang = await language_of(compound, user, text)
            before, denied = await state(compound), await denied_rows(compound)
            sent = await send(compound, user, text)
            assert [(m.kind, m.address) for m in sent] == [("private", user)], (user, text)
            assert sent[0].text == t(expected_lang, "core.not_allowed", word=word,
                                     who=compound.core.describe_roles(command.roles,
                                                                      expected_lang)), (user, text)
            after = await state(compound)
            assert after == before, (user, text, changes(before, after))
            new = (await denied_rows(compound))[len(denied):]
            async with compound.app.db.read() as tx:
                person = await tx.people.by_identity("console", user)
            assert [(r["actor_id"], r["target"], r["detail"]) for r in new] == [
                (person.id, f"command:{command.name}", "core.not_allowed")], (user, text)
            tried += 1
    assert tried == 2 * len(intruders)


def outsiders_and_target(command: Command) -> tuple[list[str], int, str]:
    """Who must not move which ticket with this command, and who may (the control)."""
    if command.roles:  # staff: the captains of other buildings may not touch 5栋's open #2
        return [k for k, r in PEOPLE.items() if allowed(r, command)
                and not Core.has_role(r, "captain", "5") and "property" not in r], 2, "li"
    # the reporter's own: neighbours, and staff too, may not confirm or reopen dave's #3
    return ["mallory", "carol", "wang", "li", "zhao"], 3, "dave"


@pytest.mark.parametrize("with_note", [False, True], ids=["bare", "with-note"])
@pytest.mark.parametrize("command", TICKET_COMMANDS, ids=lambda c: c.name)
async def test_nobody_moves_someone_elses_ticket(compound, command, with_note):
    await world(compound)
    outsiders, number, owner = outsiders_and_target(command)
    assert outsiders
    for user in outsiders:
        for lang in ("zh", "en"):
            word = command.zh[0] if lang == "zh" else "/" + command.en[0]
            text = f"{word} {number}" + ((" 测试说明" if lang == "zh" else " a note") if with_note
                                         else "")
            before, denied = await state(compound), await denied_rows(compound)
            sent = await send(compound, user, text)
            assert len(sent) == 1 and sent[0].address == user, (user, text, sent)
            after = await state(compound)
            assert after == before, (user, text, changes(before, after))
            new = (await denied_rows(compound))[len(denied):]
            assert [r["target"] for r in new] == [f"ticket:{number}"], (user, text, sent[0].text)
            expected_lang = await language_of(compound, user, text)
            assert template(expected_lang, new[0]["detail"]).match(sent[0].text), (
                user, text, sent[0].text)
    # the control: the one who may, may (so the refusals above were about who, not about what)
    text = f"{command.zh[0]} {number}" + (" 测试说明" if with_note else "")
    before, denied = await state(compound), await denied_rows(compound)
    sent = await send(compound, owner, text)
    assert await state(compound) != before, (owner, text, [m.text for m in sent])
    assert await denied_rows(compound) == denied


def test_the_registry_has_what_these_tests_walk():
    """The generated cases are not empty: the staff moves and the reporter's moves are there."""
    assert {"ack", "progress", "resolve", "reject", "open"} <= {c.name for c in RESTRICTED}
    assert {"ack", "resolve", "reject", "confirm", "reopen"} <= {c.name for c in TICKET_COMMANDS}
