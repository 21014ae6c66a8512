"""Trust at the compound's size: who sees a resident's unit and phone, and names that carry
numbers into groups (issue 9).  The rule, as README's privacy section states it: the building's own
captains, property and the community office see unit and phone; other staff see the building only."""

from __future__ import annotations

import pytest

from bot.messages import Inbound
from tests.harness import Compound


async def report_with_private_details(compound: Compound) -> None:
    await compound.say("dm", "alice", "登记 3栋 1203")
    await compound.say("b3", "alice", "报修 3栋电梯坏了 电话13812345678")


@pytest.mark.parametrize(("viewer", "sees"), [
    ("wang", True),    # building 3's captain
    ("zhao", True),    # property
    ("admin", True),   # the community office
    ("li", False),     # building 5's captain (and a coordinator)
    ("chen", False),   # the owners' committee
    ("sun", False),    # a volunteer coordinator
])
async def test_who_sees_the_unit_and_phone_of_a_report(compound: Compound, viewer, sees):
    await report_with_private_details(compound)
    shown = (await compound.say("dm", viewer, "进度 1")).all()
    assert ("1203" in shown) is sees, shown
    assert ("13812345678" in shown) is sees, shown
    if viewer in ("li", "chen", "zhao", "admin"):
        listed = (await compound.say("dm", viewer, "待办 3栋")).all()
        assert ("13812345678" in listed) is sees, listed


async def test_an_escalation_to_the_committee_does_not_carry_the_unit(compound: Compound):
    from datetime import timedelta

    await report_with_private_details(compound)
    messages = []
    for _ in range(12):  # three days, a sweep every six hours: property first, then the committee
        messages += (await compound.advance(timedelta(hours=6))).messages
    to_chen = [m.text for m in messages if m.address == "chen"]
    to_zhao = [m.text for m in messages if m.address == "zhao"]
    assert to_chen and to_zhao
    assert not any("1203" in text or "13812345678" in text for text in to_chen), to_chen
    assert any("1203" in text for text in to_zhao), to_zhao


async def test_the_registration_reply_says_who_sees_the_unit(compound: Compound):
    reply = (await compound.say("dm", "alice", "登记 3栋 1203")).all()
    assert "本楼楼长、物业和社区办公室" in reply


@pytest.mark.parametrize("name", ["13812345678", "3栋1203张", "＋８６１３８１２３４５６７８"])
async def test_a_display_name_with_numbers_does_not_reach_the_group(compound: Compound, name):
    await compound.say("dm", "alice", "登记 3栋 1203")
    await compound.say("dm", "sun", "新活动 美化家园 周日 上午9点 2小时 中心花园 20人")
    sent = await compound.deliver(Inbound(platform="console", chat_id="b3", chat_kind="group",
                                          sender_id="mallory", sender_name=name, text="报名 1",
                                          message_id="m-name"))
    group = [m.text for m in sent.messages if m.kind == "group"]
    assert group, sent.all()
    for text in group:
        digits = "".join(ch for ch in text if ch.isdigit() or "０" <= ch <= "９")
        assert "13812345678" not in digits and "1203" not in text, text
