"""The suite-wide privacy check (tests/conftest.py) really looks at every group send.

It wraps the dispatcher, so it sees group messages no matter how a test drives the bot: through the
harness, straight through ``core.handle`` and ``dispatcher.drain``, or a background dispatcher.
"""

from __future__ import annotations

import pytest

from bot.commands import COMMANDS
from tests.harness import Compound


@pytest.mark.parametrize(("leak", "registered"), [
    ("住在 1203", "1203"),          # a registered unit, written bare
    ("电话 13912345678", None),      # a mobile number
    ("3栋 1502 室漏水", None),       # a unit written the usual way
])
async def test_a_group_message_with_a_private_detail_is_caught(
        compound: Compound, monkeypatch, every_group_message_is_checked_for_private_details,
        leak, registered):
    leaks = every_group_message_is_checked_for_private_details
    if registered:
        await compound.say("dm", "alice", f"登记 3栋 {registered}")

    async def leaky(ctx):
        await ctx.post("b3", "core.hidden")  # harmless …
        await ctx.post_text("b3", f"alice {leak}")  # … and a leak

    monkeypatch.setattr(COMMANDS["mine"], "handler", leaky)
    # Not through compound.say (which has its own check): straight to the core and the dispatcher.
    await compound.core.handle(compound.inbound("dm", "alice", "我的报修"))
    await compound.app.dispatcher.drain()
    assert leaks == [f"alice {leak}"]
    leaks.clear()  # caught, as it should be: let the test pass


async def test_private_details_in_private_messages_are_not_flagged(
        compound: Compound, every_group_message_is_checked_for_private_details):
    await compound.say("dm", "alice", "登记 3栋 1203")
    sent = await compound.say("b3", "alice", "报修 3栋 1203 门口漏水 13912345678")
    assert any("1203" in text for text in sent.to("wang"))  # the captain sees it privately
    assert not any("1203" in text for text in sent.to_chat("b3"))
    assert every_group_message_is_checked_for_private_details == []
