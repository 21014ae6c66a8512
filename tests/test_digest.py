"""The weekly digest: a week of reports in the demo compound, then Monday 08:00 — each building's
group, the compound group and the committee hear how it went; the chart is checked against the
database it was drawn from, and its Chinese labels against the shipped font."""

from __future__ import annotations

import base64
import io
import warnings
from datetime import datetime, timedelta

import pytest
from PIL import Image

from bot.digest import CHART_DPI, CHART_SIZE, Digest, Week, gather, render_chart, week_bounds
from storage.reports import Tally
from tests.harness import Compound

MONDAY = datetime(2026, 12, 7, 8, 0)  # the digest of 2026-W49 (Nov 30 – Dec 6)


async def a_week_of_reports(compound: Compound) -> None:
    """Tuesday Dec 1 09:00 onwards: four reports in 3栋 and 5栋, handled at known speeds."""
    await compound.say("b3", "alice", "报修 3栋电梯坏了")                     # #1
    await compound.advance(timedelta(hours=1))
    await compound.say("dm", "wang", "受理 1")                               # acknowledged in 1 h
    await compound.say("b3", "bob", "报修 3栋消防门关不上")                    # #2 (10:00)
    await compound.advance(timedelta(minutes=30))
    await compound.say("dm", "wang", "受理 2")                               # acknowledged in 30 min
    await compound.advance(timedelta(hours=1, minutes=30))
    await compound.say("dm", "wang", "已解决 1 换了门机")                     # #1 resolved in 3 h
    await compound.say("b5", "carol", "报修 5栋垃圾没人清")                    # #3 (12:00), never acked
    await compound.say("b3", "dave", "报修 3栋楼上装修噪音")                   # #4 (12:00)
    await compound.advance(timedelta(days=1))
    await compound.say("dm", "wang", "已解决 4")                             # resolved in 1 day


async def test_monday_morning_each_group_hears_its_week_once(tmp_path):
    compound = await Compound.open(tmp_path)
    await a_week_of_reports(compound)
    compound.clock.set(MONDAY - timedelta(minutes=1))
    sent = await compound.advance(timedelta(0))
    assert not any("上周简报" in text for text in sent.texts())
    sent = await compound.advance(timedelta(minutes=1))

    b3 = sent.to_chat("b3")
    assert len(b3) == 1 and "3栋上周简报（11月30日–12月6日）" in b3[0]
    assert "新报修 3 · 已受理 2 · 已解决 2 · 仍未结 1" in b3[0]
    assert "受理用时中位数 45分钟 · 解决用时中位数 13小时30分钟" in b3[0]  # (30m+1h)/2, (3h+24h)/2
    assert "最久未结：#2 消防门（5天14小时）" in b3[0]
    b5 = sent.to_chat("b5")
    assert len(b5) == 1 and "新报修 1 · 已受理 0 · 已解决 0 · 仍未结 1" in b5[0] and "#3" in b5[0]
    assert sent.to_chat("b7") == []  # nothing happened in 7栋: no post
    wide = [m for m in sent.messages if m.address == "all"]
    assert len(wide) == 1 and "富丰新城上周简报" in wide[0].text
    assert "· 3栋：新 3" in wide[0].text and "· 5栋：新 1" in wide[0].text
    assert wide[0].attachments[0].kind == "photo"
    committee = [m for m in sent.messages if m.kind == "private" and m.address == "chen"]
    assert len(committee) == 1 and committee[0].attachments[0].filename == "digest-2026-W49.png"

    sent = await compound.advance(timedelta(hours=3))
    assert not any("上周简报" in text for text in sent.texts())
    await compound.close()
    compound = await Compound.open(tmp_path, start=MONDAY + timedelta(hours=4))  # a restart
    sent = await compound.advance(timedelta(0))
    await compound.close()
    assert not any("上周简报" in text for text in sent.texts())


async def test_a_digest_missed_by_more_than_the_grace_is_not_sent_late(tmp_path):
    compound = await Compound.open(tmp_path)
    await a_week_of_reports(compound)
    await compound.close()
    compound = await Compound.open(tmp_path, start=MONDAY + timedelta(hours=12, minutes=1))
    sent = await compound.advance(timedelta(0))
    await compound.close()
    assert not any("上周简报" in text for text in sent.texts())


async def test_the_chart_opens_has_its_size_and_shows_what_the_database_holds(tmp_path):
    compound = await Compound.open(tmp_path)
    await a_week_of_reports(compound)
    start, end = week_bounds("2026-W49", compound.config.tz)
    async with compound.app.db.read() as tx:
        digest = await gather(compound.config, tx, start, end)
        rows = await tx.tickets.open_in(None, limit=100)
        resolved = [await tx.tickets.get(n) for n in (1, 4)]
    await compound.close()
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*missing from font")  # a box instead of 栋 fails
        chart = render_chart(digest, "zh")
    image = Image.open(io.BytesIO(chart.png))
    image.verify()
    assert image.format == "PNG"
    assert image.size == (CHART_SIZE[0] * CHART_DPI, CHART_SIZE[1] * CHART_DPI) == (chart.width,
                                                                                    chart.height)
    # what the bars show, read back from the figure, against the tickets table
    open_by_building = {"3栋": 0, "5栋": 0}
    for ticket in rows:
        open_by_building[f"{ticket.building}栋"] += 1
    assert chart.drawn["building"]["未结"] == open_by_building == {"3栋": 1, "5栋": 1}
    assert chart.drawn["building"]["本周解决"] == {"3栋": 2, "5栋": 0}
    assert all(t.resolved_at is not None and start.timestamp() <= t.resolved_at < end.timestamp()
               for t in resolved)
    assert chart.drawn["category"]["未结"] == {"消防门": 1, "环境卫生": 1, "电梯": 0, "噪音": 0}
    assert chart.drawn["category"]["本周解决"] == {"消防门": 0, "环境卫生": 0, "电梯": 1, "噪音": 1}


def test_a_label_the_font_cannot_draw_is_caught():
    start, end = week_bounds("2026-W49", MONDAY.tzinfo)
    odd = Week("x", "𠀀栋", Tally(opened=1, still_open=1))
    digest = Digest("2026-W49", start, end, Week("", "小区", Tally(opened=1)), {"x": odd}, {})
    with warnings.catch_warnings(), pytest.raises(UserWarning, match="missing from font"):
        warnings.filterwarnings("error", message=".*missing from font")
        render_chart(digest, "zh")


async def test_staff_get_a_weeks_digest_on_demand(tmp_path):
    compound = await Compound.open(tmp_path)
    await a_week_of_reports(compound)
    compound.clock.set(datetime(2026, 12, 9, 10, 0))
    sent = await compound.say("dm", "chen", "周报")
    message = next(m for m in sent.messages if m.address == "chen")
    assert "富丰新城上周简报（11月30日–12月6日）" in message.text
    png = base64.b64decode(message.attachments[0].content)
    assert Image.open(io.BytesIO(png)).size == (1000, 800)
    sent = await compound.say("dm", "chen", "周报 2026-W53")  # 2026 has 53 ISO weeks
    assert "12月28日–1月3日" in sent.to("chen")[0]
    sent = await compound.say("dm", "chen", "周报 2026-W60")
    assert "不是一个周" in sent.to("chen")[0]
    sent = await compound.say("dm", "chen", "周报 下周")
    assert "不是一个周" in sent.to("chen")[0]
    sent = await compound.say("b3", "alice", "周报")
    assert "只有" in sent.to_chat("b3")[0]
    await compound.close()


def test_the_console_shows_the_chart_as_a_photo_line_not_as_bytes(tmp_path):
    from tests.test_console import linli

    script = (":clock 2026-12-01 09:00\nb3 alice: 报修 3栋电梯坏了\ndm wang: 受理 1\n"
              ":clock 2026-12-07 08:00\n")
    result = linli("console", "--db", str(tmp_path / "c.db"), stdin=script)
    assert result.returncode == 0, result.stderr
    assert "[b3] 📊 3栋上周简报（11月30日–12月6日）" in result.stdout
    assert "(photo digest-2026-W49.png, " in result.stdout and "iVBOR" not in result.stdout
