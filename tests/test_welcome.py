"""Newcomers joining a building's group are greeted with three commands to try."""

from dataclasses import replace

from tests.harness import Compound


async def test_a_newcomer_is_welcomed_without_the_phone_number_in_their_name(compound: Compound):
    joined = replace(compound.inbound("b3", "newbie", ""), joined=("张三13812345678", "李四"))
    sent = await compound.deliver(joined)  # the harness checks every group message for numbers
    welcome = sent.to_chat("b3")[0]
    assert welcome.startswith("张三") and "李四" in welcome and "报修" in welcome
    assert "13812345678" not in welcome
