"""Satisfaction after a repair (issue 15 §3) and anonymous reports (§4), as console scenarios in
Chinese and English, through the real core and a real SQLite file."""

from __future__ import annotations

import json
from datetime import timedelta

from bot.digest import compound_text, gather, week_before, week_bounds
from tests.harness import Compound
from tests.test_export import linli


async def fix(compound: Compound, reporter: str, text: str, chat: str = "b3",
              captain: str = "wang") -> int:
    """``reporter`` reports ``text``; the captain resolves it; the ticket's number."""
    sent = await compound.say(chat, reporter, text)
    number = next(m.values["number"] for m in sent.messages
                  if m.key in ("tickets.acknowledged", "anonymous.acknowledged"))
    await compound.say("dm", captain, f"已解决 {number} 修好了")
    return number


# --- §3 satisfaction ----------------------------------------------------------------------------
async def test_confirming_asks_once_privately_and_a_plain_reply_rates(compound: Compound):
    number = await fix(compound, "alice", "报修 3栋电梯坏了")
    sent = await compound.say("b3", "alice", f"确认 {number}")
    assert sent.keys_in("b3") == ["tickets.thanks_confirm"]
    assert sent.keys_to("alice") == ["satisfaction.ask"]  # privately, not in the group
    question = next(m for m in sent.messages if m.key == "satisfaction.ask")
    assert [b.command for b in question.buttons] == [f"评价 {number} 5", f"评价 {number} 3",
                                                     f"评价 {number} 1"]
    sent = await compound.say("dm", "alice", "基本满意")
    assert sent.keys_to("alice") == ["satisfaction.thanks"]
    assert sent.values_to("alice", "satisfaction.thanks")["rating"] == 3
    assert sent.to("zhao") == []  # 基本满意 does not bother property
    # the question was answered: the next plain message is ordinary conversation again
    sent = await compound.say("dm", "alice", "满意")
    assert "satisfaction.thanks" not in sent.keys_to("alice")
    # nothing asks again, not even the closing sweep
    sent = await compound.advance(timedelta(days=4))
    assert "satisfaction.ask" not in [m.key for m in sent.messages]
    async with compound.app.db.read() as tx:
        rated = await tx.satisfaction.get(number)
        wang = await tx.people.by_key("wang")
    assert rated.rating == 3 and rated.handler_id == wang.id


async def test_rating_again_changes_it_and_dissatisfied_tells_property(compound: Compound):
    number = await fix(compound, "alice", "报修 3栋楼道灯不亮")
    await compound.say("dm", "alice", f"确认 {number}")
    sent = await compound.say("dm", "alice", f"评价 {number} 满意")
    assert sent.keys_to("alice") == ["satisfaction.thanks"] and sent.to("zhao") == []
    sent = await compound.say("dm", "alice", f"评价 {number} 满意")
    assert sent.keys_to("alice") == ["satisfaction.same"]
    sent = await compound.say("dm", "alice", f"评价 {number} 不满意")
    assert sent.keys_to("alice") == ["satisfaction.changed"]
    assert sent.values_to("alice", "satisfaction.changed")["before"] == "满意"
    assert sent.keys_to("zhao") == ["satisfaction.unhappy"]
    unhappy = sent.values_to("zhao", "satisfaction.unhappy")
    assert unhappy["number"] == number and unhappy["handler"] == "王师傅"
    assert sent.to("wang") == []  # the captain is not told who rated what
    sent = await compound.say("dm", "alice", f"评价 {number} 2")  # still 不满意: not told twice
    assert sent.keys_to("alice") == ["satisfaction.changed"] and sent.to("zhao") == []


async def test_a_ticket_that_closes_itself_asks_too_in_english(compound: Compound):
    number = await fix(compound, "carol", "/report the fire door on floor 5 is broken")
    sent = await compound.advance(timedelta(days=3, minutes=1))
    sent = await compound.advance(timedelta(minutes=1))  # the next tick asks
    assert sent.keys_to("carol") == ["satisfaction.ask"]
    question = next(m for m in sent.messages if m.key == "satisfaction.ask")
    assert "satisfied" in question.text and f'"/rate {number} 5"' in sent.to("carol")[0]
    sent = await compound.advance(timedelta(minutes=1))
    assert sent.keys_to("carol") == []  # once
    sent = await compound.say("dm", "carol", "1")
    assert sent.keys_to("carol") == ["satisfaction.thanks"]
    assert "dissatisfied" in sent.to("carol")[0]
    assert sent.keys_to("zhao") == ["satisfaction.unhappy"]


async def test_only_the_reporter_rates_only_closed_tickets_and_bad_input_is_explained(
        compound: Compound):
    number = await fix(compound, "alice", "报修 3栋门禁坏了")
    sent = await compound.say("dm", "alice", f"评价 {number} 满意")  # resolved, not closed yet
    assert sent.keys_to("alice") == ["satisfaction.not_closed"]
    await compound.say("dm", "alice", f"确认 {number}")
    sent = await compound.say("dm", "bob", f"评价 {number} 5")
    assert sent.keys_to("bob") == ["satisfaction.only_reporter"]
    sent = await compound.say("dm", "alice", f"评价 {number} 很棒棒")
    assert sent.keys_to("alice") == ["satisfaction.bad_rating"]
    sent = await compound.say("dm", "alice", "评价 99 5")
    assert sent.keys_to("alice") == ["satisfaction.not_found"]
    sent = await compound.say("dm", "alice", "评价 abc")
    assert sent.keys_to("alice") == ["satisfaction.not_a_number"]
    sent = await compound.say("dm", "alice", f"/rate {number} 4")
    assert sent.keys_to("alice") == ["satisfaction.thanks"]
    # a reply to the question that is no rating is answered as any private message (a new
    # problem in plain words is offered as a report, not swallowed); the buttons still rate
    number = await fix(compound, "alice", "报修 3栋垃圾没人清")
    await compound.say("dm", "alice", f"确认 {number}")
    sent = await compound.say("dm", "alice", "3栋楼道灯又不亮了，黑漆漆的")
    assert sent.keys_to("alice") == ["conversation.offer"], sent.keys_to("alice")
    sent = await compound.say("dm", "alice", f"评价 {number} 5")
    assert sent.keys_to("alice") == ["satisfaction.thanks"]


async def test_the_digest_and_the_export_give_the_share_satisfied(compound: Compound, tmp_path):
    ratings = {"报修 3栋电梯坏了": "满意", "报修 3栋电梯又坏了": "不满意",
               "报修 3栋楼道灯不亮": "基本满意"}
    for text, rating in ratings.items():
        number = await fix(compound, "alice", text)
        await compound.say("dm", "alice", f"确认 {number}")
        await compound.say("dm", "alice", rating)
    number = await fix(compound, "erin", "报修 5栋电梯坏了", chat="b5", captain="li")
    await compound.say("dm", "erin", f"确认 {number}")
    await compound.say("dm", "erin", "5")
    await compound.advance(timedelta(days=7))
    week = week_before(compound.clock.now())
    start, end = week_bounds(week, compound.config.tz)
    async with compound.app.db.read() as tx:
        digest = await gather(compound.config, tx, start, end)
    text = compound_text(digest, "zh")
    # 4 ratings, 3 satisfied (满意 + 基本满意): 75%; elevators 2 of 3, lighting 1 of 1
    assert "满意度（本周 4 条评价" in text and "75%" in text
    assert "电梯 67%（3 条）" in text and "照明 100%（1 条）" in text
    assert "王师傅 67%（3 条）" in text and "李阿姨 100%（1 条）" in text
    english = compound_text(digest, "en")
    assert "Satisfaction (4 rating(s)" in english and "elevator 67% (3)" in english
    await compound.close()
    db = str(tmp_path / "linli.db")
    out = linli("export", "tickets", "--since", "2026-01-01", "--satisfaction", "--db", db)
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert summary["overall"] == {"rated": 4, "satisfied": 3, "percent": 75}
    assert summary["by_category"]["elevator"] == {"rated": 3, "satisfied": 2, "percent": 67}
    assert summary["by_captain"]["王师傅"] == {"rated": 3, "satisfied": 2, "percent": 67}
    out = linli("export", "tickets", "--since", "2026-01-01", "--satisfaction", "--format", "csv",
                "--db", db)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "scope,name,rated,satisfied,percent" and lines[1] == "overall,,4,3,75"
    assert "category,elevator,3,2,67" in lines and "captain,李阿姨,1,1,100" in lines
    out = linli("export", "tickets", "--since", "2026-01-01", "--db", db)
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert [r["satisfaction"] for r in rows] == ["satisfied", "dissatisfied",
                                                 "basically_satisfied", "satisfied"]
    assert rows[0]["handled_by"] == "王师傅" and rows[3]["handled_by"] == "李阿姨"


# --- §4 anonymous reports -----------------------------------------------------------------------
async def test_an_anonymous_report_hides_the_reporter_from_captain_and_group(compound: Compound):
    await compound.say("dm", "erin", "登记 3栋 1203")
    sent = await compound.say("b3", "erin", "报修 匿名 3栋楼上1203旁边天天高空抛物")
    assert sent.keys_in("b3") == ["anonymous.acknowledged"]
    receipt = next(m for m in sent.messages if m.key == "anonymous.acknowledged")
    assert receipt.mention_ids == () and "erin" not in receipt.text
    assert sent.keys_to("erin") == ["anonymous.private_receipt", "anonymous.group_hint"]
    ping = sent.values_to("wang", "tickets.ping.new")
    assert ping["reporter"] == "匿名居民" and "1203" not in ping["text"]
    assert "erin" not in sent.to("wang")[0] and "1203" not in sent.to("wang")[0]
    # the captain's 进度 and 待办 do not show the unit either
    sent = await compound.say("dm", "wang", "进度 1")
    assert "1203" not in sent.to("wang")[0] and "erin" not in sent.to("wang")[0]
    sent = await compound.say("dm", "wang", "待办")
    assert "1203" not in sent.to("wang")[0]
    # property and the admin see who it was
    sent = await compound.say("dm", "zhao", "进度 1")
    assert "1203" in sent.to("zhao")[0]
    sent = await compound.advance(timedelta(hours=4, minutes=1))  # escalates to property
    escalated = sent.values_to("zhao", "tickets.ping.escalated")
    assert escalated["reporter"].startswith("erin") and "1203" in escalated["reporter"]
    # updates still reach the reporter, privately
    sent = await compound.say("dm", "wang", "受理 1 明天去看")
    assert sent.keys_to("erin") == ["tickets.update.acknowledged"]
    async with compound.app.db.read() as tx:
        ticket = await tx.tickets.get(1)
        events = await tx.tickets.events(1)
    assert ticket.anonymous == 1 and ticket.text == "3栋楼上1203旁边天天高空抛物"
    assert events[0].action == "reported" and events[0].actor_id is None  # the board's history


async def test_a_neighbours_similar_report_and_following_reveal_nobody(compound: Compound):
    sent = await compound.say("dm", "alice", "报修 匿名 3栋晚上狗一直叫")
    assert sent.keys_to("alice") == ["tickets.acknowledged", "anonymous.private_receipt"]
    sent = await compound.say("b3", "bob", "报修 3栋晚上狗一直叫个不停")
    assert sent.keys_to("bob") == ["tickets.acknowledged"] and sent.keys_in("b3") == []
    assert "同问 1" in sent.to("bob")[0]  # the hint, in bob's private receipt
    assert all("alice" not in text for text in sent.texts())
    sent = await compound.say("b3", "bob", "同问 1")
    assert all("alice" not in text for text in sent.texts())
    sent = await compound.say("dm", "wang", "驳回 2 与 #1 重复")
    assert sent.keys_to("bob") == ["tickets.update.rejected"]
    # an anonymous reporter in a group who has a similar report gets the hint privately
    sent = await compound.say("b3", "carol", "/report --anonymous 3栋晚上狗一直叫 (dogs barking all night)")
    assert sent.keys_in("b3") == ["anonymous.acknowledged"]
    assert sent.keys_to("carol") == ["anonymous.private_receipt", "anonymous.group_hint",
                                     "tickets.similar"]
    assert "anonymous" in sent.to_chat("b3")[0] and "carol" not in sent.to_chat("b3")[0]
    assert sent.values_to("wang", "tickets.ping.new")["reporter"] == "匿名居民"
    sent = await compound.say("dm", "wang", "已解决 1 已和狗主人沟通")
    assert sorted(sent.keys_to("alice") + sent.keys_to("bob")) == ["tickets.update.resolved"] * 2
    assert all("alice" not in text for text in sent.to("bob"))


async def test_anonymous_words_that_are_not_the_flag_are_kept(compound: Compound):
    sent = await compound.say("b3", "alice", "报修 匿名信塞满了3栋信箱")
    assert sent.keys_to("alice") == ["tickets.acknowledged"]  # 匿名信 is no flag
    assert sent.keys_in("b3") == []
    sent = await compound.say("b3", "alice", "报修 匿名")
    assert sent.keys_in("b3") == ["tickets.usage.report"]
    sent = await compound.say("b3", "alice", "报修 【匿名】3栋有人在楼道抽烟")
    assert sent.keys_in("b3") == ["anonymous.acknowledged"]


async def test_the_anonymous_reporter_is_answered_privately_where_a_group_would_learn_who(
        compound: Compound):
    await compound.say("dm", "erin", "报修 匿名 3栋楼道里有人晚上大声唱歌")
    sent = await compound.say("b3", "erin", "我的报修")
    assert sent.keys_in("b3") == [] and sent.keys_to("erin") == ["tickets.mine_header"]
    sent = await compound.say("b3", "erin", "同问 1")
    assert sent.keys_in("b3") == [] and sent.keys_to("erin") == ["tickets.follow_own"]
    await compound.say("dm", "wang", "已解决 1 已提醒")
    sent = await compound.say("b3", "erin", "确认 1")
    assert sent.keys_in("b3") == []
    assert sent.keys_to("erin") == ["tickets.thanks_confirm", "satisfaction.ask"]
    sent = await compound.say("b3", "erin", "未解决 1 又开始唱了")
    assert sent.keys_in("b3") == [] and sent.keys_to("erin") == ["tickets.reopened"]
    assert sent.values_to("wang", "tickets.ping.reopened")["reporter"] == "匿名居民"
    # anyone's 我的报修 in a group goes privately, with a one-line pointer in the group (§7 of
    # issue 13); for an anonymous reporter not even the pointer
    await compound.say("b3", "alice", "报修 3栋门口垃圾没人清")
    sent = await compound.say("b3", "alice", "我的报修")
    assert sent.keys_in("b3") == ["quiet.answered_privately"]
    assert sent.keys_to("alice") == ["tickets.mine_header"]
