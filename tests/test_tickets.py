"""Scenarios of the repair-report lifecycle, through the real core and a real SQLite file."""

from __future__ import annotations

import re
from datetime import timedelta

from tests.harness import Compound


async def test_a_report_in_a_building_group_reaches_its_captain(compound: Compound):
    sent = await compound.say("b3", "alice", "报修 电梯坏了，困人了")
    assert sent.keys_to("alice") == ["tickets.acknowledged"]  # the receipt is the reporter's
    ack = sent.values_to("alice", "tickets.acknowledged")
    assert ack["number"] == 1 and ack["building"] == "3栋"
    assert ack["category"] == "电梯" and "王师傅" in ack["told"]
    assert sent.keys_in("b3") == []  # the group hears nothing
    assert sent.keys_to("wang") == ["tickets.ping.new"]
    ping = sent.values_to("wang", "tickets.ping.new")
    assert ping["text"] == "电梯坏了，困人了" and ping["reporter"] == "alice"
    assert "受理 1" in sent.to("wang")[0]  # what to reply, for platforms without buttons


async def test_the_full_lifecycle_tells_the_reporter_every_step(compound: Compound):
    await compound.say("b3", "alice", "报修 3栋电梯坏了")
    for command, status in (("受理 1 马上到", "acknowledged"), ("处理中 1 已联系电梯公司", "in_progress"),
                            ("已解决 1 换了门机", "resolved")):
        sent = await compound.say("dm", "wang", command)
        assert sent.keys_to("alice") == [f"tickets.update.{status}"]
        assert sent.keys_to("wang") == ["tickets.moved"]
        assert sent.values_to("wang", "tickets.moved")["number"] == 1
    assert "确认 1" in sent.to("alice")[0] and "未解决 1" in sent.to("alice")[0]  # typed fallback
    sent = await compound.say("dm", "alice", "确认 1")
    assert sent.keys_to("alice") == ["tickets.thanks_confirm", "satisfaction.ask"], sent.all()
    async with compound.app.db.read() as tx:
        ticket = await tx.tickets.get(1)
        events = [e.action for e in await tx.tickets.events(1)]
        audit = await tx.audit.about("ticket:1")
    assert ticket.status == "closed"
    assert events == ["reported", "acknowledged", "in_progress", "resolved", "confirmed"]
    assert [a["action"] for a in audit] == ["ticket.report", "ticket.ack", "ticket.progress",
                                            "ticket.resolve", "ticket.confirm"]
    assert all(a["platform"] == "console" for a in audit)


async def test_followers_hear_every_update_and_may_reopen(compound: Compound):
    await compound.say("b3", "alice", "报修 3栋消防门关不上")
    sent = await compound.say("b3", "bob", "同问 1")
    assert len(sent.keys_in("b3")) == 1 and "#1" in sent.to_chat("b3")[0]
    sent = await compound.say("dm", "wang", "已解决 1 修好了")
    assert sent.keys_to("bob") == sent.keys_to("alice") == ["tickets.update.resolved"]
    sent = await compound.say("dm", "bob", "未解决 1 还是关不上")
    assert sent.keys_to("wang") == ["tickets.ping.reopened"]
    assert sent.values_to("wang", "tickets.ping.reopened")["why"] == "还是关不上"
    assert sent.values_to("alice", "tickets.update.reopened")["note"] == "还是关不上"


async def test_english_commands_get_english_answers(compound: Compound):
    sent = await compound.say("b3", "carol", "/report the fire door on floor 5 is broken")
    assert "Got it: report #1" in sent.to("carol")[0]
    assert "fire door" in sent.to("carol")[0]
    assert sent.to_chat("b3") == []
    await compound.say("dm", "wang", "受理 1")
    sent = await compound.say("dm", "wang", "已解决 1")
    assert "Report #1 is resolved" in sent.to("carol")[0]
    assert '"/confirm 1"' in sent.to("carol")[0]


async def test_unacknowledged_report_escalates_to_property_then_committee(compound: Compound):
    await compound.say("b3", "alice", "报修 3栋门口垃圾没人清")
    sent = await compound.advance(timedelta(hours=3, minutes=59))
    assert sent.to("zhao") == []
    sent = await compound.advance(timedelta(minutes=2))
    assert sent.keys_to("zhao") == ["tickets.ping.escalated"]
    assert sent.keys_to("alice") == ["tickets.update.escalated"]
    sent = await compound.advance(timedelta(hours=4, minutes=1))
    assert sent.to("chen") and sent.to("admin")
    sent = await compound.advance(timedelta(days=2))
    assert len(sent) == 0  # no third level, no repeats


async def test_nights_do_not_count_towards_the_acknowledgement_window(compound: Compound):
    compound.clock.advance(timedelta(hours=11))  # 20:00
    await compound.say("b3", "alice", "报修 3栋电梯异响")
    sent = await compound.advance(timedelta(hours=12))  # 08:00 next day: 3 waking hours so far
    assert sent.to("zhao") == []
    sent = await compound.advance(timedelta(hours=1, minutes=1))
    assert sent.to("zhao")


async def test_resolved_but_unconfirmed_closes_itself_and_says_so(compound: Compound):
    await compound.say("b3", "alice", "报修 3栋 充电桩坏了")
    await compound.say("dm", "wang", "已解决 1")
    sent = await compound.advance(timedelta(days=3, minutes=1))
    assert sent.keys_to("alice") == ["tickets.update.auto_closed"]
    async with compound.app.db.read() as tx:
        assert (await tx.tickets.get(1)).status == "closed"


async def test_a_redelivered_message_creates_one_ticket(compound: Compound):
    first = await compound.say("b3", "alice", "报修 3栋电梯坏了", message_id="tg-42")
    again = await compound.say("b3", "alice", "报修 3栋电梯坏了", message_id="tg-42")
    assert len(first) == 2 and len(again) == 0
    async with compound.app.db.read() as tx:
        assert await tx.tickets.count() == 1


async def test_building_comes_from_text_then_group_then_registration_else_asked(compound):
    sent = await compound.say("all", "alice", "报修 5栋 楼道灯坏了")
    assert "5栋" in sent.to("alice")[0] and sent.to("li")
    sent = await compound.say("all", "dave", "报修 楼道灯坏了")
    assert sent.keys_in("all") == ["tickets.which_building"]
    sent = await compound.say("all", "dave", "今天天气不错")  # chatter: stays quiet
    assert len(sent) == 0
    sent = await compound.say("all", "dave", "3栋")
    assert sent.to("wang") and "#2" in sent.to("dave")[0]
    await compound.say("dm", "erin", "登记 3栋 1203")
    sent = await compound.say("all", "erin", "报修 楼下噪音太大")
    assert sent.to("wang") and "1203" in sent.to("wang")[0]
    assert sent.keys_to("erin") == ["tickets.acknowledged"] and sent.to_chat("all") == []


async def test_a_similar_open_ticket_is_offered(compound: Compound):
    await compound.say("b3", "alice", "报修 3栋电梯坏了")
    sent = await compound.say("b3", "bob", "报修 电梯又不动了")
    assert sent.keys_to("bob") == ["tickets.acknowledged"]  # one message: receipt and hint
    assert "#2" in sent.to("bob")[0] and "同问 1" in sent.to("bob")[0]
    assert sent.keys_in("b3") == []


async def test_reject_as_duplicate_links_and_moves_the_reporter(compound: Compound):
    await compound.say("b3", "alice", "报修 3栋电梯坏了")
    await compound.say("b3", "bob", "报修 电梯坏了")
    sent = await compound.say("dm", "wang", "驳回 2 与 #1 重复")
    assert sent.keys_to("bob") == ["tickets.update.rejected"]
    sent = await compound.say("dm", "wang", "已解决 1")
    assert sent.to("bob"), "bob now follows #1"
    async with compound.app.db.read() as tx:
        assert (await tx.tickets.get(2)).duplicate_of == 1


async def test_reject_without_reason_asks_for_one(compound: Compound):
    await compound.say("b3", "alice", "报修 3栋电梯坏了")
    sent = await compound.say("dm", "wang", "驳回 1")
    assert "原因" in sent.to("wang")[0]
    sent = await compound.say("dm", "wang", "不是电梯的问题，是停电")
    assert "停电" in sent.to("alice")[0]


async def test_staff_see_open_tickets_oldest_first(compound: Compound):
    await compound.say("b3", "alice", "报修 3栋电梯坏了")
    await compound.say("b5", "bob", "报修 垃圾满了")
    await compound.say("b3", "carol", "报修 噪音")
    sent = await compound.say("dm", "wang", "待办")
    text = sent.to("wang")[0]
    assert "#1" in text and "#3" in text and "#2" not in text
    assert text.index("#1") < text.index("#3")
    sent = await compound.say("dm", "zhao", "待办")
    assert all(f"#{n}" in sent.to("zhao")[0] for n in (1, 2, 3))
    sent = await compound.say("dm", "zhao", "待办 5栋")
    assert "#2" in sent.to("zhao")[0] and "#1" not in sent.to("zhao")[0]


async def test_a_report_in_a_building_without_captain_goes_to_property(compound: Compound):
    sent = await compound.say("all", "alice", "报修 9栋 狗一直叫")
    assert sent.to("zhao") and "物业" in sent.to("alice")[0]
    assert "犬只" in sent.to("alice")[0] and sent.to_chat("all") == []


async def test_mine_and_ticket_show_status(compound: Compound):
    await compound.say("b3", "alice", "报修 3栋电梯坏了 电话13812345678")
    await compound.say("dm", "wang", "受理 1 下午到")
    sent = await compound.say("dm", "alice", "我的报修")
    assert "#1" in sent.to("alice")[0] and "已受理" in sent.to("alice")[0]
    sent = await compound.say("b3", "bob", "进度 1")
    shown = sent.to_chat("b3")[0]
    assert "13812345678" not in shown and "已隐藏" in shown and "下午到" in shown
    sent = await compound.say("dm", "alice", "进度 1")
    assert "13812345678" in sent.to("alice")[0]


async def test_linking_two_accounts_makes_one_resident(compound: Compound):
    await compound.say("b3", "alice", "报修 3栋电梯坏了")
    sent = await compound.say("dm", "alice", "绑定码")
    code = re.search(r"[0-9]{8,}", sent.to("alice")[0]).group(0)
    await compound.say("dm", "alice-on-wechat", f"绑定 {code}")
    sent = await compound.say("dm", "alice", "确认绑定")  # the code's own account confirms
    assert "绑定成功" in sent.to("alice-on-wechat")[0]
    sent = await compound.say("dm", "alice-on-wechat", "我的报修")
    assert "#1" in sent.to("alice-on-wechat")[0]
    sent = await compound.say("dm", "mallory", f"绑定 {code}")
    assert "无效或已过期" in sent.to("mallory")[0]


async def test_a_report_whose_building_nobody_gives_stays_accountable(compound):
    """Issue 10 §3: 'all carol: 报修 大门坏了' and no answer to 哪一栋 used to vanish."""
    from datetime import timedelta

    sent = await compound.say("all", "carol", "报修 大门坏了")
    assert [m.key for m in sent.messages] == ["tickets.which_building"]
    for staff in ("zhao", "admin"):  # in property's and the office's 待办 from the start
        listed = (await compound.say("dm", staff, "待办")).all()
        assert "#1" in listed and "楼栋未知" in listed, listed
    assert "#1" in (await compound.say("dm", "carol", "我的报修")).all()
    later = await compound.advance(timedelta(hours=1, minutes=5))
    assert [m.key for m in later.messages if m.address == "carol"] == [
        "tickets.which_building_again"]
    again = await compound.advance(timedelta(hours=1))
    assert not [m for m in again.messages if m.address == "carol"]  # reminded once, not more
    routed = []
    for _ in range(8):
        routed += (await compound.advance(timedelta(hours=3))).messages
    assert "tickets.ping.escalated" in [m.key for m in routed if m.address == "zhao"]
    assert "tickets.update.escalated" in [m.key for m in routed if m.address == "carol"]


async def test_the_building_given_privately_after_the_reminder_files_it(compound):
    from datetime import timedelta

    await compound.say("all", "carol", "报修 大门坏了")
    await compound.advance(timedelta(hours=1, minutes=5))
    sent = await compound.say("dm", "carol", "3栋")
    assert [m.key for m in sent.messages if m.address == "wang"] == ["tickets.ping.new"]


async def test_a_ticket_history_names_roles_in_words(compound):
    from datetime import timedelta

    await compound.say("b3", "alice", "报修 3栋门口垃圾没人清")
    for _ in range(4):
        await compound.advance(timedelta(hours=3))
    shown = (await compound.say("dm", "zhao", "进度 1")).all()
    assert "property" not in shown and "committee" not in shown and "admin" not in shown, shown
    assert "物业" in shown


async def test_a_captain_of_another_building_is_told_who_can(compound):
    await compound.say("b3", "alice", "报修 3栋电梯坏了")
    sent = await compound.say("dm", "li", "受理 1")
    assert sent.keys_to("li") == ["tickets.not_your_building"]
    assert "王师傅" in sent.to("li")[0] and "赵经理" in sent.to("li")[0]


async def test_confirm_without_a_number_acts_on_the_one_waiting(compound):
    await compound.say("b3", "alice", "报修 3栋电梯坏了")
    await compound.say("dm", "wang", "已解决 1")
    sent = await compound.say("dm", "alice", "确认")
    assert sent.keys_to("alice") == ["tickets.thanks_confirm", "satisfaction.ask"]
    await compound.say("b3", "alice", "报修 3栋楼道灯坏了")
    await compound.say("b3", "alice", "报修 3栋门禁坏了")
    await compound.say("dm", "wang", "已解决 2")
    await compound.say("dm", "wang", "已解决 3")
    sent = await compound.say("dm", "alice", "确认")  # two wait: which one?
    assert sent.keys_to("alice") == ["tickets.usage.confirm"]


async def test_an_empty_answer_to_which_building_asks_again_plainly(compound: Compound):
    """A report with no building asks "哪一栋？"; an empty message back asks again, not about a
    building called 「」."""
    sent = await compound.say("dm", "alice", "报修 楼上半夜拖椅子")
    assert sent.keys_to("alice") == ["tickets.which_building"]
    sent = await compound.say("dm", "alice", "   ")
    assert sent.keys_to("alice") == ["tickets.which_building_again"]
    sent = await compound.say("dm", "alice", "3栋")
    assert sent.keys_to("alice") == ["tickets.acknowledged"]


async def test_a_ticket_row_is_read_in_the_order_of_its_fields(compound: Compound):
    """storage/tickets.py builds a Ticket from ``SELECT *`` by position: the table's columns, as the
    migrations leave them, must be Ticket's fields in order (a migration that adds a column adds a
    field at the end of Ticket too)."""
    from storage.tickets import Ticket

    async with compound.core.db.read() as tx:
        columns = [row[1] for row in await tx.tickets._all("PRAGMA table_info(tickets)")]
    assert columns == list(Ticket.__slots__)
    await compound.say("b3", "alice", "报修 3栋电梯坏了")
    async with compound.core.db.read() as tx:
        ticket = await tx.tickets.get(1)
    assert (ticket.building, ticket.text, ticket.status) == ("3", "3栋电梯坏了", "open")
