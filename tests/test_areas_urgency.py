"""Common areas ([areas]: 东门, 地下车库 …) and urgent reports (困人, 漏水, 着火 …)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.config import ConfigError, load_config
from handlers.tickets import is_urgent
from tests.harness import EXAMPLE_CONFIG, Compound


async def ticket(compound: Compound, number: int):
    async with compound.app.db.read() as tx:
        return await tx.tickets.get(number)


async def test_a_report_naming_an_area_goes_to_property_and_names_the_area(compound: Compound):
    sent = await compound.say("all", "carol", "报修 小区东门路灯坏了")
    assert sent.keys_to("carol") == ["tickets.acknowledged"]  # no "which building?"
    assert sent.keys_in("all") == []
    receipt = next(m for m in sent.messages if m.key == "tickets.acknowledged")
    assert receipt.values["building"] == "东门" and "东门" in sent.to("carol")[0]
    assert "物业" in receipt.values["told"]
    assert sent.keys_to("zhao") == ["tickets.ping.new"]
    assert sent.values_to("zhao", "tickets.ping.new")["building"] == "东门"
    assert sent.keys_to("wang") == []
    filed = await ticket(compound, 1)
    assert filed.area == "east_gate" and filed.building is None and not filed.urgent
    # shown by the area's name in 进度, 我的报修 and property's 待办 (and 待办 东门)
    assert "东门" in (await compound.say("all", "bob", "进度 1")).to_chat("all")[0]
    assert "东门" in (await compound.say("dm", "carol", "我的报修")).to("carol")[0]
    assert "东门" in (await compound.say("dm", "zhao", "待办")).to("zhao")[0]
    assert "#1" in (await compound.say("dm", "zhao", "待办 东门")).to("zhao")[0]
    # nobody asks carol for a building an hour later; property acknowledges it
    later = await compound.advance(timedelta(hours=1, minutes=5))
    assert "tickets.which_building_again" not in later.keys_to("carol")
    sent = await compound.say("dm", "zhao", "受理 1 马上去")
    assert sent.keys_to("carol") == ["tickets.update.acknowledged"]


async def test_an_area_report_escalates_past_property(compound: Compound):
    await compound.say("all", "carol", "报修 垃圾站好几天没清了")
    sent = await compound.advance(timedelta(hours=4, minutes=1))
    assert sent.keys_to("chen") == ["tickets.ping.escalated"]  # property was told first
    assert sent.keys_to("admin") == ["tickets.ping.escalated"]
    assert sent.keys_to("carol") == ["tickets.update.escalated"]


async def test_an_alias_names_the_area_and_answers_may_name_people(compound: Compound):
    sent = await compound.say("all", "carol", "/report the east gate barrier is stuck open")
    assert sent.keys_to("carol") == ["tickets.acknowledged"] and sent.keys_in("all") == []
    assert (await ticket(compound, 1)).area == "east_gate"
    sent = await compound.say("all", "dave", "报修 游乐场滑梯松了")
    assert (await ticket(compound, 2)).area == "playground"
    assert sent.keys_to("li") == sent.keys_to("zhao") == ["tickets.ping.new"]
    assert "李阿姨" in next(m for m in sent.messages if m.key == "tickets.acknowledged").values["told"]
    sent = await compound.say("dm", "li", "受理 2")  # who answers for an area may move it along
    assert sent.keys_to("li") == ["tickets.moved"]
    sent = await compound.say("dm", "li", "受理 1")  # … but not another area's
    assert sent.keys_to("li") == ["tickets.not_your_building"]
    assert "#2" in (await compound.say("dm", "li", "待办")).to("li")[0]


async def test_a_building_named_as_one_wins_over_an_area(compound: Compound):
    sent = await compound.say("all", "carol", "报修 3栋旁边的地下车库入口灯坏了")
    assert sent.keys_to("wang") == ["tickets.ping.new"]
    filed = await ticket(compound, 1)
    assert filed.building == "3" and filed.area is None
    await compound.say("all", "dave", "报修 B5 门口会所的门坏了")
    assert (await ticket(compound, 2)).building == "5"


async def test_a_car_park_level_is_no_building(compound: Compound):
    """地下车库B1 and B2层 name a level below ground, not building 1 or 2: the car park has it."""
    await compound.say("all", "carol", "报修 地下车库B1漏水了")
    await compound.say("all", "dave", "报修 地库b2的灯全灭了")
    await compound.say("all", "erin", "报修 地下车库 B2层有积水")
    for number in (1, 2, 3):
        filed = await ticket(compound, number)
        assert (filed.building, filed.area) == (None, "garage"), filed
    await compound.say("all", "dave", "报修 B5 门口会所的门坏了")  # B5 alone is still building 5
    assert (await ticket(compound, 4)).building == "5"


async def test_an_area_wins_over_the_group_or_the_reporters_building(compound: Compound):
    await compound.say("dm", "erin", "登记 3栋 1203")
    sent = await compound.say("all", "erin", "报修 北门道闸抬不起来")
    assert (await ticket(compound, 1)).area == "north_gate"
    assert sent.keys_to("wang") == [] and sent.keys_to("zhao") == ["tickets.ping.new"]


async def test_a_bare_number_is_no_building(compound: Compound):
    sent = await compound.say("all", "carol", "报修 1号门坏了")
    assert sent.keys_in("all") == ["tickets.which_building"]
    assert (await ticket(compound, 1)).building is None
    sent = await compound.say("all", "dave", "报修 南门3路公交站牌倒了")
    assert sent.keys_to("dave") == ["tickets.acknowledged"] and sent.keys_in("all") == []
    filed = await ticket(compound, 2)
    assert filed.area == "south_gate" and filed.building is None


async def test_an_urgent_report_at_night_goes_to_captain_and_property_at_once(compound: Compound):
    compound.clock.advance(timedelta(hours=14))  # 23:00
    sent = await compound.say("b3", "alice", "报修 3栋电梯困人了，快来")
    assert sent.keys_to("wang") == ["tickets.ping.new"]
    assert sent.keys_to("zhao") == ["tickets.ping.new"]
    assert "🚨" in sent.to("wang")[0] and "🚨" in sent.to("zhao")[0]
    receipt = next(m for m in sent.messages if m.key == "tickets.acknowledged")
    assert "119" in receipt.plain_text() and "120" in receipt.plain_text()
    assert "王师傅" in receipt.values["told"] and "赵经理" in receipt.values["told"]
    assert (await ticket(compound, 1)).urgent
    sent = await compound.advance(timedelta(minutes=29))
    assert sent.keys_to("chen") == [] and sent.keys_to("admin") == []
    sent = await compound.advance(timedelta(minutes=2))
    assert sent.keys_to("chen") == ["tickets.ping.escalated"]
    assert sent.keys_to("admin") == ["tickets.ping.escalated"]
    assert sent.keys_to("alice") == ["tickets.update.escalated"]
    listed = (await compound.say("dm", "zhao", "待办")).to("zhao")[0]
    assert "🚨" in listed


async def test_the_urgent_receipt_in_english_mentions_119(compound: Compound):
    sent = await compound.say("b7", "carol", "/report smoke coming out of the bin room")
    assert sent.to_chat("b7") == []
    receipt = sent.to("carol")[0]
    assert "119" in receipt and "120" in receipt
    assert (await ticket(compound, 1)).area == "bins"


async def test_an_urgent_report_without_a_building_reaches_property_at_once(compound: Compound):
    sent = await compound.say("all", "carol", "报修 楼道里有燃气味")
    assert sent.keys_in("all") == ["tickets.which_building", "tickets.urgent_call"]
    assert sent.keys_to("zhao") == ["tickets.ping.new"]
    sent = await compound.say("all", "carol", "3栋")
    assert sent.keys_to("wang") == ["tickets.ping.new"]
    assert sent.keys_to("zhao") == []  # told already


async def test_a_report_that_is_not_urgent_is_unchanged(compound: Compound):
    sent = await compound.say("b3", "alice", "报修 3栋楼道灯不亮")
    assert sent.keys_to("wang") == ["tickets.ping.new"] and sent.keys_to("zhao") == []
    assert "119" not in sent.to("alice")[0] and "🚨" not in sent.to("wang")[0]
    sent = await compound.advance(timedelta(hours=3, minutes=59))
    assert sent.keys_to("zhao") == []
    sent = await compound.advance(timedelta(minutes=2))
    assert sent.keys_to("zhao") == ["tickets.ping.escalated"]


@pytest.mark.parametrize("text, urgent", [
    ("电梯困人了", True), ("家里漏水了", True), ("地下车库淹了", True), ("配电箱冒烟", True),
    ("楼道有煤气味", True), ("电线冒火花", True), ("有人晕倒了", True), ("someone is trapped", True),
    ("the fire door is broken", False), ("电梯坏了", False), ("没有漏水，只是有点潮", False),
    ("没人受伤", False), ("垃圾站爆满", False),
])
def test_what_makes_a_report_urgent(text, urgent):
    assert is_urgent(text) is urgent


def test_areas_answers_are_checked(tmp_path):
    text = EXAMPLE_CONFIG.read_text(encoding="utf-8")
    bad = tmp_path / "bad.toml"
    bad.write_text(text + '\n[areas.pond]\nname = "鱼池"\nanswers = ["nobody"]\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"areas\.pond.*nobody"):
        load_config(bad)
    good = tmp_path / "good.toml"
    good.write_text(text.replace('urgent_ack_within = "30m"', 'urgent_ack_within = "10m"'),
                    encoding="utf-8")
    assert load_config(good).tickets.urgent_ack_within == timedelta(minutes=10)


async def test_an_english_report_names_its_building_between_words(compound: Compound):
    """"the lift in B3 is broken" names building 3 (with the spaces folded away it read "inb3is")."""
    await compound.say("dm", "frank", "/report the lift in B3 is broken")
    await compound.say("dm", "frank", "/report the door of building 5 won't lock")
    assert (await ticket(compound, 1)).building == "3"
    assert (await ticket(compound, 2)).building == "5"
