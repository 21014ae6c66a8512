"""Polls (投票): scenarios in Chinese and English, and what a secret poll's storage can tell."""

from __future__ import annotations

import sqlite3
from datetime import timedelta

from tests.harness import Compound


async def residents(compound: Compound) -> None:
    """alice and bob share 3栋 1203; dave lives in 3栋 1505; carol in 5栋 501; erin is unregistered."""
    for user, where in (("alice", "3栋 1203"), ("bob", "3栋 1203"), ("dave", "3栋 1505"),
                        ("carol", "5栋 501")):
        await compound.say("dm", user, f"登记 {where}")


def rows(compound: Compound, sql: str, params: tuple = ()) -> list[tuple]:
    conn = sqlite3.connect(compound.app.db.path)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


async def test_a_poll_in_one_building_from_start_to_result_zh(compound):
    await residents(compound)
    sent = await compound.say("dm", "chen", "发起投票 是否更换消防门？ 选项 同意、不同意、弃权 "
                                            "截止 12月5日 20:00 范围 3栋")
    assert sent.keys_to("chen") == ["polls.created"]
    assert sent.keys_in("b3") == ["polls.post_header"]
    assert sent.keys_in("b5") == [] and sent.keys_in("all") == []
    post = next(m for m in sent.messages if m.address == "b3")
    assert [b.command for b in post.buttons] == ["投票 1 A", "投票 1 B", "投票 1 C"]
    assert "不是业主大会" in post.text

    # alice votes in the group: answered privately, the group hears nothing
    sent = await compound.say("b3", "alice", "投票 1 A")
    assert sent.keys_to("alice") == ["polls.voted"]
    assert sent.values_to("alice", "polls.voted")["option"] == "同意"
    assert sent.keys_in("b3") == []
    # alice changes her mind
    sent = await compound.say("dm", "alice", "投票 1 弃权")
    assert sent.keys_to("alice") == ["polls.changed"]
    # bob of the same unit: his vote replaces hers, and both are told
    sent = await compound.say("dm", "bob", "投票 1 2")
    assert sent.keys_to("bob") == ["polls.voted_replacing"]
    assert sent.values_to("bob", "polls.voted_replacing")["other"] == "alice"
    assert sent.keys_to("alice") == ["polls.replaced_by"]
    assert sent.values_to("alice", "polls.replaced_by")["option"] == "不同意"
    # 5栋 is not in scope; an unregistered resident is asked to register
    sent = await compound.say("dm", "carol", "投票 1 A")
    assert sent.keys_to("carol") == ["polls.not_in_scope"]
    sent = await compound.say("b3", "erin", "投票 1 A")
    assert sent.keys_in("b3") == ["polls.register_first"]
    sent = await compound.say("dm", "dave", "投票 1 X")
    assert sent.keys_to("dave") == ["polls.no_such_option"]

    # results so far: one household of two voted, for B
    sent = await compound.say("dm", "alice", "投票结果 1")
    assert sent.keys_to("alice") == ["polls.progress_header"]
    text = sent.to("alice")[0]
    assert "B. 不同意：1 票（100%）" in text and "1/2 户" in text
    sent = await compound.say("dm", "chen", "投票结果 1")
    assert sent.keys_to("chen") == ["polls.by_building_header"]
    assert "3栋：1/2 户（50%）" in sent.to("chen")[0]
    sent = await compound.say("dm", "carol", "投票结果 1")
    assert sent.keys_to("carol") == ["polls.not_in_scope"]

    # a day before the deadline the captain gets the units that have not voted, privately
    sent = await compound.advance(timedelta(days=3, hours=11))  # Fri Dec 4 20:00
    assert sent.keys_to("wang") == ["polls.not_voted"]
    values = sent.values_to("wang", "polls.not_voted")
    assert values["units"] == "1505" and values["count"] == 1 and values["total"] == 2
    assert sent.keys_in("b3") == []
    sent = await compound.advance(timedelta(hours=1))
    assert sent.keys_to("wang") == []

    # at the deadline the result is posted where the poll was, once
    sent = await compound.advance(timedelta(days=1))
    assert sent.keys_in("b3") == ["polls.result_header"]
    result = sent.to_chat("b3")[0]
    assert "B. 不同意：1 票（100%）" in result and "A. 同意：0 票（0%）" in result
    assert "参与：1/2 户" in result
    assert (await compound.advance(timedelta(hours=1))).keys_in("b3") == []
    sent = await compound.say("dm", "dave", "投票 1 A")
    assert sent.keys_to("dave") == ["polls.closed"]


async def test_the_result_is_posted_once_across_a_restart(tmp_path):
    compound = await Compound.open(tmp_path)
    await residents(compound)
    await compound.say("dm", "chen", "发起投票 装充电桩吗 选项 装、不装 截止 12月2日 18:00 范围 3栋")
    await compound.say("dm", "dave", "投票 1 装")
    await compound.close()
    compound = await Compound.open(tmp_path, start=compound.clock.now() + timedelta(days=2))
    try:
        sent = await compound.advance(timedelta(minutes=1))
        assert sent.keys_in("b3") == ["polls.result_header"]
        await compound.close()
        compound = await Compound.open(tmp_path, start=compound.clock.now() + timedelta(hours=1))
        sent = await compound.advance(timedelta(minutes=1))
        assert sent.keys_in("b3") == []
    finally:
        await compound.close()


async def test_a_poll_in_english_for_building_7(compound):
    for user, where in (("frank", "B7 701"), ("grace", "B7 702"),
                        ("carol", "B5 501")):
        await compound.say("dm", user, f"/register {where}")
    sent = await compound.say("dm", "chen", "/poll Paint the lobby green? options yes, no "
                                            "until Dec 5 8pm scope 7 per person")
    assert sent.keys_to("chen") == ["polls.created"]
    assert sent.keys_in("b7") == ["polls.post_header"]
    post = next(m for m in sent.messages if m.address == "b7")
    assert "Poll #1" in post.text and [b.command for b in post.buttons] == ["/vote 1 A", "/vote 1 B"]
    sent = await compound.say("dm", "frank", "/vote 1 yes")
    assert sent.keys_to("frank") == ["polls.voted"]
    sent = await compound.say("dm", "carol", "/vote 1 A")
    assert sent.keys_to("carol") == ["polls.not_in_scope"]
    sent = await compound.say("dm", "frank", "/pollresult 1")
    assert "A. yes: 1 vote(s) (100%)" in sent.to("frank")[0]
    assert "1 people voted, from 1/2 registered households (50%)" in sent.to("frank")[0]
    sent = await compound.say("dm", "zhao", "/closepoll 1")
    assert sent.keys_to("zhao") == ["polls.only_author"]
    sent = await compound.say("dm", "chen", "/closepoll 1")
    assert sent.keys_to("chen") == ["polls.closed_early"]
    assert sent.keys_in("b7") == ["polls.result_header"]
    assert "Result of poll #1" in sent.to_chat("b7")[0]
    assert (await compound.advance(timedelta(days=5))).keys_in("b7") == []


async def test_an_incomplete_poll_is_asked_for_step_by_step(compound):
    sent = await compound.say("dm", "chen", "发起投票")
    assert sent.keys_to("chen") == ["polls.ask.question"]
    sent = await compound.say("dm", "chen", "小区是否安装充电桩？")
    assert sent.keys_to("chen") == ["polls.ask.options"]
    sent = await compound.say("dm", "chen", "同意")
    assert sent.keys_to("chen") == ["polls.too_few_options", "polls.ask.options"]
    sent = await compound.say("dm", "chen", "同意、不同意")
    assert sent.keys_to("chen") == ["polls.ask.deadline"]
    sent = await compound.say("dm", "chen", "今天 上午8点")
    assert sent.keys_to("chen") == ["polls.when.past", "polls.ask.deadline"]
    sent = await compound.say("dm", "chen", "默认")
    assert sent.keys_to("chen") == ["polls.created"]
    assert sent.keys_in("all") == ["polls.post_header"]  # compound-wide: no building in scope
    # a resident may not start one
    sent = await compound.say("dm", "alice", "发起投票 x 选项 a、b")
    assert sent.keys_to("alice") == ["core.not_allowed"]


async def test_a_secret_poll_keeps_no_link_between_voter_and_option(compound):
    await residents(compound)
    await compound.say("dm", "chen", "发起投票 续聘物业吗 选项 赞成、反对 截止 12月5日 20:00 "
                                     "范围 3栋 不公开")
    sent = await compound.say("dm", "alice", "投票 1 反对")
    assert sent.keys_to("alice") == ["polls.voted_secret"]
    assert "反对" not in sent.to("alice")[0]
    sent = await compound.say("dm", "bob", "投票 1 B")
    assert sent.keys_to("bob") == ["polls.voted_replacing_secret"]
    assert sent.keys_to("alice") == ["polls.replaced_by_secret"]
    await compound.say("dm", "dave", "投票 1 赞成")
    # staff see turnout per building, never who voted what
    sent = await compound.say("dm", "admin", "投票结果 1")
    detail = sent.to("admin")[0]
    assert "3栋：2/2 户（100%）" in detail and "A 1" not in detail

    # the database: who voted is kept apart from what, under keys that name nobody
    voters = rows(compound, "SELECT voter, unit FROM poll_voters WHERE poll_id = 1 ORDER BY voter")
    assert voters == [("h:3/1203", "1203"), ("h:3/1505", "1505")]
    assert [c[1] for c in rows(compound, "PRAGMA table_info(poll_voters)")] == [
        "poll_id", "voter", "building", "unit", "person_id"]
    ballots = rows(compound, "SELECT ballot, option FROM poll_ballots WHERE poll_id = 1")
    assert sorted(o for _, o in ballots) == [0, 1]
    assert not any(b.startswith(("h:", "p:")) or "1203" in b or "1505" in b for b, _ in ballots)
    assert rows(compound, "SELECT secret_key IS NOT NULL FROM polls WHERE id = 1") == [(1,)]
    # nothing else links them: the votes' texts, the audit, the confirmations
    texts = [r[0] for r in rows(compound, "SELECT text FROM inbound WHERE text LIKE '投票 1%'")]
    assert texts and not any("赞成" in t or "反对" in t or t.endswith(("A", "B")) for t in texts)
    audit = rows(compound, "SELECT detail FROM audit WHERE action = 'poll.vote'")
    assert audit and all(d == "" for (d,) in audit)
    private = [r[0] for r in rows(compound, "SELECT body FROM outbox WHERE kind = 'private' AND "
                                            "address IN ('alice', 'bob', 'dave')")]
    assert len(private) >= 4 and not any("赞成" in b or "反对" in b for b in private)

    # at the close the key is gone: the ballots are bare counts from then on
    sent = await compound.advance(timedelta(days=5))
    assert sent.keys_in("b3") == ["polls.result_header"]
    assert "A. 赞成：1 票（50%）" in sent.to_chat("b3")[0]
    assert rows(compound, "SELECT secret_key FROM polls WHERE id = 1") == [(None,)]


async def test_the_result_is_posted_with_a_chart_of_the_counts(compound):
    import base64

    from bot.digest import render_poll_chart

    await residents(compound)
    await compound.say("dm", "chen", "发起投票 是否更换消防门？ 选项 同意、不同意、弃权 "
                                     "截止 12月5日 20:00 范围 3栋 不公开")
    await compound.say("dm", "alice", "投票 1 同意")
    await compound.say("dm", "dave", "投票 1 A")
    await compound.say("dm", "carol", "投票 1 B")  # 5栋: not in scope, not counted
    sent = await compound.advance(timedelta(days=5))
    post = next(m for m in sent.messages if m.address == "b3")
    assert post.key == "polls.result_header"
    [photo] = post.attachments
    assert photo.kind == "photo" and photo.filename == "poll-1.png"
    png = base64.b64decode(photo.content)
    assert png.startswith(b"\x89PNG")
    # the chart is the one the counts draw (2, 0, 0), in the digest's style, and no other
    expected = render_poll_chart("投票 #1 结果：是否更换消防门？", ["A. 同意", "B. 不同意", "C. 弃权"],
                                 [2, 0, 0], "票数", "参与：2/2 户已登记住户（100%）")
    assert expected.drawn == {"options": {"票数": {"A. 同意": 2, "B. 不同意": 0, "C. 弃权": 0}}}
    assert png == expected.png
    wrong = render_poll_chart("投票 #1 结果：是否更换消防门？", ["A. 同意", "B. 不同意", "C. 弃权"],
                              [1, 1, 0], "票数", "参与：2/2 户已登记住户（100%）")
    assert png != wrong.png


async def test_closing_early_posts_the_chart_in_the_groups_language(compound):
    await compound.say("dm", "frank", "/register B7 701")
    await compound.say("dm", "chen", "/poll Paint the lobby green? options yes, no until Dec 5 8pm "
                                     "scope 7")
    await compound.say("dm", "frank", "/vote 1 no")
    sent = await compound.say("dm", "chen", "/closepoll 1")
    post = next(m for m in sent.messages if m.address == "b7")
    assert [a.filename for a in post.attachments] == ["poll-1.png"]
    assert "Chart of poll #1" in post.attachments[0].caption


async def test_linli_export_polls_writes_counts_and_never_who_voted_what(tmp_path):
    import csv
    import io
    import json

    from tests.test_export import linli

    compound = await Compound.open(tmp_path)
    try:
        await residents(compound)
        await compound.say("dm", "chen", "发起投票 续聘物业吗 选项 赞成、反对 截止 12月5日 20:00 "
                                         "范围 3栋 不公开")
        await compound.say("dm", "chen", "发起投票 装充电桩吗 选项 装、不装 截止 12月5日 20:00 "
                                         "范围 3栋,5栋")
        await compound.say("dm", "alice", "投票 1 反对")
        await compound.say("dm", "dave", "投票 1 赞成")
        await compound.say("dm", "alice", "投票 2 装")
        await compound.say("dm", "carol", "投票 2 不装")
        await compound.advance(timedelta(days=5))  # both closed; the secret key dropped
    finally:
        await compound.close()
    db = str(tmp_path / "linli.db")
    result = linli("export", "polls", "--db", db)
    assert result.returncode == 0, result.stderr
    secret, public = json.loads(result.stdout)
    assert secret["secret"] is True and secret["status"] == "closed"
    assert [(o["option"], o["votes"]) for o in secret["options"]] == [("赞成", 1), ("反对", 1)]
    assert secret["turnout"] == {"households_voted": 2, "households_registered": 2, "percent": 100.0}
    assert secret["buildings"] == [{"building": "3栋", "households_voted": 2,
                                    "households_registered": 2}]  # no counts per building
    assert public["scope"] == ["3栋", "5栋"]
    assert [b["votes"] for b in public["buildings"]] == [{"A": 1, "B": 0}, {"A": 0, "B": 1}]
    # nobody's name, unit or ballot is in it
    for word in ("alice", "dave", "carol", "1203", "1505", "501", "h:3"):
        assert word not in result.stdout, word

    result = linli("export", "polls", "--format", "csv", "--since", "2026-11-01", "--db", db)
    assert result.returncode == 0, result.stderr
    table = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [(r["poll_id"], r["option_letter"], r["votes"]) for r in table] == [
        ("1", "A", "1"), ("1", "B", "1"), ("2", "A", "1"), ("2", "B", "1")]
    assert table[0]["households_voted"] == "2" and table[2]["scope"] == "3栋、5栋"
    result = linli("export", "polls", "--since", "2027-01-01", "--db", db)
    assert json.loads(result.stdout) == []
    result = linli("export", "tickets", "--db", db)
    assert result.returncode == 2 and "--since" in result.stderr


async def test_with_floor_areas_in_the_config_the_area_share_is_shown(tmp_path):
    from bot.config import load_config
    from tests.harness import EXAMPLE_CONFIG

    config = load_config(EXAMPLE_CONFIG)
    buildings = config.buildings.model_copy(update={"floor_areas": {
        "3": {"1203": 90.0, "1505": 120.0, "1801": 90.0}}})
    compound = await Compound.open(tmp_path, config.model_copy(update={"buildings": buildings}))
    try:
        await residents(compound)
        await compound.say("dm", "chen", "发起投票 装充电桩吗 选项 装、不装 截止 12月5日 20:00 范围 3栋")
        await compound.say("dm", "alice", "投票 1 装")
        await compound.say("dm", "dave", "投票 1 不装")
        sent = await compound.say("dm", "alice", "投票结果 1")
        text = sent.to("alice")[0]
        assert "面积：已投票住户的专有面积 210/300 ㎡（70%）" in text
        assert "按面积" not in text  # which flat chose what: not for residents
        sent = await compound.say("dm", "chen", "投票结果 1")
        assert "按面积：A 90 ㎡（30%）、B 120 ㎡（40%）" in sent.to("chen")[0]
        sent = await compound.advance(timedelta(days=5))
        result = sent.to_chat("b3")[0]
        assert "（70%）" in result and "按面积" not in result
        # a secret poll: the area that voted, never the area behind an option
        await compound.say("dm", "chen", "发起投票 续聘吗 选项 是、否 截止 12月9日 20:00 范围 3栋 不公开")
        await compound.say("dm", "dave", "投票 2 是")
        sent = await compound.say("dm", "chen", "投票结果 2")
        detail = sent.to("chen")[0]
        assert "120/300 ㎡（40%）" in detail and "按面积" not in detail
    finally:
        await compound.close()


def test_floor_areas_of_a_building_that_does_not_exist_are_a_config_error(tmp_path):
    import pytest

    from bot.config import ConfigError, load_config
    from tests.harness import EXAMPLE_CONFIG

    text = EXAMPLE_CONFIG.read_text(encoding="utf-8").replace(
        "[buildings]\n", '[buildings]\nfloor_areas = { "99" = { "101" = 80 } }\n', 1)
    (tmp_path / "c.toml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match="floor_areas"):
        load_config(tmp_path / "c.toml")
    (tmp_path / "c.toml").write_text(text.replace('"99"', '"3"').replace("= 80", "= -1"),
                                     encoding="utf-8")
    with pytest.raises(ConfigError):
        load_config(tmp_path / "c.toml")
