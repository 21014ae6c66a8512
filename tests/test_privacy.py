"""The suite-wide privacy check (tests/conftest.py) really looks at every group send.

It wraps the dispatcher, so it sees group messages no matter how a test drives the bot: through the
harness, straight through ``core.handle`` and ``dispatcher.drain``, or a background dispatcher; and
it reads the outbox of every database a test leaves in its tmp_path (bots in subprocesses).
"""

from __future__ import annotations

import pytest

from bot.commands import Registry, Router
from bot.messages import Outbound
from tests.conftest import _leaks_in_databases
from tests.harness import Compound


@pytest.mark.parametrize(("leak", "registered"), [
    ("住在 1203", "1203"),          # a registered unit, written bare
    ("电话 13912345678", None),      # a mobile number
    ("3栋 1502 室漏水", None),       # a unit written the usual way
])
async def test_a_group_message_with_a_private_detail_is_caught(
        compound: Compound, monkeypatch, every_group_message_is_checked_for_private_details,
        leak, registered, tmp_path):
    leaks = every_group_message_is_checked_for_private_details
    if registered:
        await compound.say("dm", "alice", f"登记 3栋 {registered}")

    async def leaky(ctx):
        await ctx.post("b3", "core.hidden")  # harmless …
        # … and a leak, written past the privacy gate (no handler can: the gate would hide it)
        await ctx.tx.outbox.add(Outbound("console", "b3", "group", f"alice {leak}", chat_key="b3"),
                                ctx.ts)

    monkeypatch.setattr(compound.core.registry.commands["mine"], "handler", leaky)
    # Not through compound.say (which has its own check): straight to the core and the dispatcher.
    await compound.core.handle(compound.inbound("dm", "alice", "我的报修"))
    await compound.app.dispatcher.drain()
    assert leaks == [f"alice {leak}"]
    assert [text.split(": ", 1)[1] for text in _leaks_in_databases(tmp_path)] == [f"alice {leak}"]
    leaks.clear()  # caught twice, as it should be: let the test pass
    async with compound.app.db.transaction() as tx:
        await tx.outbox._run("DELETE FROM outbox WHERE body LIKE ?", (f"%alice {leak}%",))


async def test_private_details_in_private_messages_are_not_flagged(
        compound: Compound, every_group_message_is_checked_for_private_details):
    await compound.say("dm", "alice", "登记 3栋 1203")
    sent = await compound.say("b3", "alice", "报修 3栋 1203 门口漏水 13912345678")
    assert any("1203" in text for text in sent.to("wang"))  # the captain sees it privately
    assert not any("1203" in text for text in sent.to_chat("b3"))
    assert sent.keys_to("alice") == ["tickets.acknowledged"]  # her receipt, privately
    assert every_group_message_is_checked_for_private_details == []


def test_a_bot_in_a_subprocess_is_checked_through_its_database(tmp_path):
    """`linli console` in a subprocess: its group messages are in its database's outbox (receipts
    posted in the group, ``[quiet] receipts = "group"``, so that there is a group message with the
    reporter's details around it)."""
    import os
    import subprocess
    import sys

    from tests.harness import EXAMPLE_CONFIG, ROOT

    config = tmp_path / "config.toml"
    example = EXAMPLE_CONFIG.read_text(encoding="utf-8")
    assert 'receipts = "private"' in example
    config.write_text(example.replace('receipts = "private"', 'receipts = "group"'), encoding="utf-8")
    script = "dm alice: 登记 3栋 1203\nb3 alice: 报修 3栋1203 漏水 电话13912345678\n"
    result = subprocess.run([sys.executable, "-m", "bot", "console", "--db", str(tmp_path / "c.db"),
                             "--config", str(config)], input=script, text=True,
                            capture_output=True, timeout=120, cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr
    assert "[b3] ✅" in result.stdout
    assert _leaks_in_databases(tmp_path) == []  # the real bot keeps the group clean …
    import sqlite3

    with sqlite3.connect(tmp_path / "c.db") as conn:  # … and a leak would be seen
        conn.execute("UPDATE outbox SET body = json_set(body, '$.text', '住 1203 的 alice') "
                     "WHERE kind = 'group'")
    found = _leaks_in_databases(tmp_path)
    assert found and all("1203" in text for text in found)
    with sqlite3.connect(tmp_path / "c.db") as conn:
        conn.execute("DELETE FROM outbox WHERE kind = 'group'")


@pytest.mark.parametrize("text", [
    "/ticket 13912345678",          # a refusal repeating what was typed
    "/进度 房0908室",                # the same, in Chinese, with a unit
    "/13912345678",                 # an unknown command
    "帮助 13912345678",              # an unknown help topic
])
async def test_what_a_resident_typed_is_not_repeated_to_the_group_with_numbers(compound, text):
    """Found by tests/test_fuzz.py: answers in a group repeated phone and unit numbers."""
    sent = await compound.say("b3", "alice", text)
    replies = sent.to_chat("b3")
    assert replies, text
    assert not any("13912345678" in r or "0908" in r for r in replies), replies
    assert any("[已隐藏]" in r or "[hidden]" in r for r in replies), replies
    private = await compound.say("dm", "alice", text)
    assert any("13912345678" in r or "0908" in r for r in private.to("alice")), (
        "in private the bot may repeat it")


# A throw-away capability that tries every way a handler has to put text into a group.
echo_router = Router("echo")
echo = echo_router.command("echo", zh=["回声"], en=["echo"])


@echo.handle
async def echo_into_the_group(ctx) -> None:
    """Repeats what was typed: as a value, as ready text, as a post, and in a post's values."""
    await ctx.reply("core.unknown_command", word=ctx.args)
    await ctx.post("all", "core.unknown_command", word=ctx.args)
    if "#" not in ctx.args:  # in ready text, "#N" is the bot's own reference (a ticket's number)
        await ctx.reply_text(f"你说：{ctx.args}", key="echo.said")
        await ctx.post_text("b3", ctx.args, key="echo.posted")


@pytest.mark.parametrize("typed", [
    "我家 1203 的电话是 13912345678",
    "住在#1203，打１３９１２３４５６７８",
    "3栋1203 找 139-1234-5678",
])
async def test_a_new_command_cannot_leak_a_unit_or_a_phone_into_a_group(tmp_path, typed):
    """The privacy gate stands between every handler and the outbox: a command that forgets about
    privacy still cannot put a registered unit or a phone number into a group."""
    import handlers

    registry = Registry([*(Registry.from_modules(handlers.MODULES).routers), echo_router])
    compound = await Compound.open(tmp_path, registry=registry)
    try:
        await compound.say("dm", "alice", "登记 3栋 1203")
        sent = await compound.say("b3", "alice", f"回声 {typed}")
        group = [m for m in sent.messages if m.kind == "group"]
        keys = {key for m in group  # (a command's second reply to a group joins its first)
                for key in (m.key, *(part["key"] for part in m.gathered.get("parts", ())))}
        assert keys == ({"core.unknown_command"} if "#" in typed else
                                          {"core.unknown_command", "echo.said", "echo.posted"})
        for message in group:
            assert "1203" not in message.text and "13912345678" not in message.text.replace(
                "-", ""), message.text
            assert "１３９" not in message.text, message.text
        private = await compound.say("dm", "alice", f"回声 {typed}")
        assert any("1203" in m.text for m in private.messages if m.kind == "private"), (
            "in private the sender's own words come back as typed")
    finally:
        await compound.close()
