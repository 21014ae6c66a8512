"""The office board's other pages (bot/web/pages.py): the rota week, events with their sign-up CSV,
announcements with cancel, the digest, the exports, the navigation bar, and who may open what —
and the private calendar feeds (日历链接) that follow a swap and die on 日历链接 重置."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from icalendar import Calendar

from bot.web.auth import SESSION_COOKIE, Sessions
from tests.harness import Compound
from tests.test_web import PHONE, SECRET, client_for, csrf_of, sign_in, web_config

GATE = "排班 门岗值守 每天 8:00-12:00 孙老师 李阿姨 alice bob"
EVENT = "新活动 美化家园 周日 上午9点 2小时 中心花园 2人"


@pytest.fixture
async def board(tmp_path):
    compound = await Compound.open(tmp_path, config=web_config())
    for name in ("alice", "bob", "carol"):
        await compound.say("all", name, "大家好")  # residents become known by writing
    yield compound
    await compound.close()


def session_of(person: str, board: Compound) -> dict[str, str]:
    return {SESSION_COOKIE: Sessions(SECRET, board.clock).new(person)[1]}


async def test_the_rota_week_shows_who_is_on_duty_uncovered_shifts_and_pending_swaps(board):
    await board.say("dm", "sun", GATE)
    await board.say("dm", "bob", "请假 12月5日")  # bob's shift #4 on Saturday is uncovered now
    await board.say("dm", "alice", "换班 3 孙老师")  # alice asks 孙老师 to take #3 (Friday)
    async with client_for(board) as office:
        await sign_in(board, office, "admin")
        page = await office.get("/rota", params={"rota": "gate"})
        assert page.status_code == 200
        html = page.text
        assert "门岗值守" in html and "2026-W49" in html
        assert 'data-shift="1"' in html and "孙老师" in html and "08:00–12:00" in html
        saturday = html.split('data-shift="4"')[1].split("</li>")[0]
        assert "无人值班" in saturday and "bob" not in saturday
        friday = html.split('data-shift="3"')[1].split("</li>")[0]
        assert "换班 #1 待对方答复" in friday and "alice" in friday
        assert 'data-shift="2"' in html.split('data-shift="3"')[0]  # the week is in order
        later = await office.get("/rota", params={"rota": "gate", "week": "2026-W50"})
        assert "2026-W50" in later.text and 'data-shift="1"' not in later.text
        assert 'rel="prev"' in later.text and "week=2026-W49" in later.text
        nonsense = await office.get("/rota", params={"week": "2026-W99"})  # back to this week
        assert nonsense.status_code == 200 and "2026-W49" in nonsense.text
        english = await office.get("/rota", params={"lang": "en"})
        assert "Uncovered" in english.text and "awaits an answer" in english.text


async def test_events_show_places_waitlist_attendance_and_the_signup_csv_for_coordinators(board):
    await board.say("dm", "sun", EVENT)
    for name in ("alice", "bob", "carol"):
        await board.say("all", name, "报名 1")  # two places: carol waits
    async with client_for(board) as coordinator_and_captain:
        await sign_in(board, coordinator_and_captain, "li")  # captain of 5 and a coordinator
        page = await coordinator_and_captain.get("/events")
        assert page.status_code == 200
        card = page.text.split('data-event="1"')[1]
        assert "美化家园" in card and "2/2" in card and "carol" in card
        assert "/events/1/signups.csv" in card
        download = await coordinator_and_captain.get("/events/1/signups.csv")
        assert download.status_code == 200 and download.headers["content-type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(download.text)))
        assert rows[0] == ["number", "name", "status", "signed up at"]
        assert [(r[1], r[2]) for r in rows[1:]] == [("alice", "going"), ("bob", "going"),
                                                    ("carol", "waiting")]
        async with board.app.db.read() as tx:
            assert await tx.audit.count("event.signups") == 1  # through 报名名单, audited
        assert (await coordinator_and_captain.get("/events/99/signups.csv")).status_code == 404
    board.clock.advance(timedelta(days=6))  # Sunday's event is over
    await board.say("dm", "sun", "签到 1 alice")
    async with client_for(board) as committee:
        await sign_in(board, committee, "chen")  # no coordinator role: sees, cannot download
        page = await committee.get("/events")
        card = page.text.split('data-event="1"')[1]
        assert "近 30 天已结束（共 2 小时）" in page.text  # alice's two hours
        assert "/events/1/signups.csv" not in card
        refused = await committee.get("/events/1/signups.csv")
        assert refused.status_code == 403 and "csv" not in refused.headers["content-type"]


async def test_announcements_list_and_cancel_through_the_core_with_csrf_and_roles(board):
    await board.say("dm", "zhao", "定时通知 明天8点 全部 明早停水检修")
    await board.say("dm", "chen", "定时通知 每周日 9点 全部 业委会接待日")
    await board.say("dm", "zhao", "通知 全部 电梯保养完成")
    async with client_for(board) as committee:
        await sign_in(board, committee, "chen")
        page = await committee.get("/announcements")
        assert page.status_code == 200
        scheduled = page.text.split("已发出或已取消")[0]
        assert "明早停水检修" in scheduled and "业委会接待日" in scheduled
        assert "电梯保养完成" in page.text.split("已发出或已取消")[1]
        mine = page.text.split('data-announcement="2"')[1].split("</section>")[0]
        theirs = page.text.split('data-announcement="1"')[1].split("</section>")[0]
        assert "取消这条通知" in mine and "取消这条通知" not in theirs  # only the author's
        csrf = csrf_of(page.text)
        assert (await committee.post("/announcements/2/cancel")).status_code == 403  # no CSRF
        forced = await committee.post("/announcements/1/cancel", data={"csrf": csrf})
        assert forced.status_code == 303  # the core refuses: not the author
        page = await committee.get("/announcements")
        assert "通知 #1 只有发布人或社区管理员可以取消" in page.text  # the core's answer, shown
        done = await committee.post("/announcements/2/cancel", data={"csrf": csrf})
        assert done.status_code == 303
        page = await committee.get("/announcements")
        assert "已取消" in page.text.split('data-announcement="2"')[1].split("</section>")[0]
    async with board.app.db.read() as tx:
        assert (await tx.announcements.get(2)).status == "cancelled"
        assert (await tx.announcements.get(1)).status == "active"
        assert await tx.audit.count("announcement.cancel") == 1
    async with client_for(board) as captain:
        await sign_in(board, captain, "wang")
        page = await captain.get("/announcements")
        assert page.status_code == 403 and "物业、业委会和社区管理员" in page.text
        assert (await captain.post("/announcements/1/cancel", data={"csrf": "x"})).status_code == 403


async def test_the_digest_per_week_and_building_with_its_chart(board):
    await board.say("b3", "alice", f"报修 3栋电梯坏了，电话{PHONE}")
    await board.say("b5", "bob", "报修 5栋垃圾没人收")
    board.clock.advance(timedelta(days=7))  # the report's week is "last week" now
    async with client_for(board) as committee:
        await sign_in(board, committee, "chen")
        page = await committee.get("/digest")
        assert page.status_code == 200 and "2026-W49" in page.text
        assert "3栋" in page.text and "5栋" in page.text and PHONE not in page.text
        chart = await committee.get("/digest/chart.png", params={"week": "2026-W49"})
        assert chart.status_code == 200 and chart.content.startswith(b"\x89PNG")
        one = await committee.get("/digest", params={"week": "2026-W49", "building": "5"})
        assert "5栋" in one.text and "3栋电梯" not in one.text
        earlier = await committee.get("/digest", params={"week": "2026-W48"})
        assert "2026-W48" in earlier.text and "新报修 0" in earlier.text  # an earlier, quiet week
        assert "新报修 2" in page.text
    async with client_for(board) as captain:
        await sign_in(board, captain, "wang")  # captain of 3: building 3's digest only
        page = await captain.get("/digest", params={"week": "2026-W49", "building": "5"})
        assert page.status_code == 200
        assert '<option value="5"' not in page.text and 'value="3" selected' in page.text
        assert (await captain.get("/digest/chart.png")).status_code == 403


async def test_exports_are_what_linli_export_writes(board):
    await board.say("b3", "alice", f"报修 3栋电梯坏了，电话{PHONE}")
    await board.say("b5", "bob", "报修 =HYPERLINK(\"x\") 5栋灯坏了")
    async with client_for(board) as prop:
        await sign_in(board, prop, "zhao")
        page = await prop.get("/exports")
        assert page.status_code == 200 and 'formaction="/exports/tickets.json"' in page.text
        data = await prop.get("/exports/tickets.json", params={"since": "2026-11-01"})
        assert data.status_code == 200
        rows = json.loads(data.text)
        assert [r["service_request_id"] for r in rows] == ["1", "2"]
        assert PHONE not in data.text and rows[0]["address"] == "3栋"
        sheet = await prop.get("/exports/tickets.csv", params={"since": "2026-11-01",
                                                               "until": "2026-12-01"})
        cells = list(csv.DictReader(io.StringIO(sheet.text)))
        assert len(cells) == 2 and cells[1]["description"].startswith("'=HYPERLINK")
        none = await prop.get("/exports/tickets.csv", params={"since": "2026-12-02"})
        assert len(list(csv.DictReader(io.StringIO(none.text)))) == 0
        bad = await prop.get("/exports/tickets.csv", params={"since": "yesterday"})
        assert bad.status_code == 400 and "2026-11-01" in bad.text
        async with board.app.db.read() as tx:
            assert await tx.audit.count("export.tickets") == 3
    async with client_for(board) as captain:
        await sign_in(board, captain, "wang")
        assert (await captain.get("/exports")).status_code == 403
        refused = await captain.get("/exports/tickets.json", params={"since": "2026-11-01"})
        assert refused.status_code == 403 and "电梯" not in refused.text


async def test_the_navigation_bar_offers_each_viewer_only_their_pages(board):
    async with client_for(board) as office:
        await sign_in(board, office, "admin")
        page = await office.get("/rota")
        nav = page.text.split("<nav")[1].split("</nav>")[0]
        for path in ("/tickets", "/rota", "/events", "/announcements", "/digest", "/exports",
                     "/audit"):
            assert f'href="{path}"' in nav
        assert 'href="/rota" aria-current="page"' in nav
    async with client_for(board) as captain:
        await sign_in(board, captain, "wang")
        nav = (await captain.get("/tickets")).text.split("<nav")[1].split("</nav>")[0]
        assert 'href="/rota"' in nav and 'href="/announcements"' not in nav
        assert 'href="/exports"' not in nav


async def test_residents_coordinators_and_strangers_reach_none_of_the_pages(board):
    pages = ("/rota", "/events", "/events/1/signups.csv", "/announcements", "/digest",
             "/digest/chart.png", "/exports", "/exports/tickets.csv?since=2026-11-01")
    async with client_for(board) as nobody:
        for path in pages:
            assert (await nobody.get(path)).status_code == 401
        assert (await nobody.post("/announcements/1/cancel")).status_code == 401
    for person in ("sun", "alice"):  # a coordinator; a resident (not in [people])
        async with client_for(board, cookies=session_of(person, board)) as outsider:
            for path in pages:
                page = await outsider.get(path)
                assert page.status_code == 403 and "开放" in page.text
            assert (await outsider.post("/announcements/1/cancel")).status_code == 403


def feed_path(sent, person: str, key: str = "calendar.link") -> str:
    link = sent.values_to(person, key)["link"]
    assert link.startswith("http://board.test/calendar/") and link.endswith(".ics")
    return urlsplit(link).path


def summaries(ics: str) -> dict[str, str]:
    calendar = Calendar.from_ical(ics)
    return {str(e["uid"]): str(e["summary"]) for e in calendar.walk("VEVENT")}


async def test_a_calendar_feed_follows_a_swap_and_a_reset_revokes_the_old_address(board):
    await board.say("dm", "sun", GATE)
    await board.say("dm", "sun", EVENT)
    await board.say("all", "alice", "报名 1")
    sent = await board.say("b3", "alice", "日历链接")  # asked in a group: answered privately
    assert sent.keys_in("b3") == ["calendar.in_private"]
    assert not any("/calendar/" in text for text in sent.to_chat("b3"))
    path = feed_path(sent, "alice")
    again = await board.say("dm", "alice", "/calendar")
    assert feed_path(again, "alice") == path  # the same address: a subscription keeps working
    async with client_for(board) as phone:  # a calendar app: no cookie, no session
        feed = await phone.get(path)
        assert feed.status_code == 200 and feed.headers["content-type"].startswith("text/calendar")
        entries = summaries(feed.text)
        assert "shift-3@linli" in entries and "shift-7@linli" in entries
        assert "shift-4@linli" not in entries  # bob's
        assert entries["event-1@linli"] == "活动：美化家园"

        await board.say("dm", "alice", "换班 3 bob")
        await board.say("dm", "bob", "接受换班 1")
        entries = summaries((await phone.get(path)).text)
        assert "shift-3@linli" not in entries and "shift-7@linli" in entries
        bobs = await board.say("dm", "bob", "日历链接")
        assert "shift-3@linli" in summaries((await phone.get(feed_path(bobs, "bob"))).text)

        sent = await board.say("dm", "alice", "日历链接 重置")
        new_path = feed_path(sent, "alice", "calendar.reset")
        assert new_path != path
        gone = await phone.get(path)
        assert gone.status_code == 404 and "日历链接" in gone.text
        assert "shift-7@linli" in summaries((await phone.get(new_path)).text)
        assert (await phone.get("/calendar/not-a-token.ics")).status_code == 404
    sent = await board.say("dm", "alice", "日历链接 明天")
    assert sent.keys_to("alice") == ["calendar.usage"]
    async with board.app.db.read() as tx:
        assert await tx.audit.count("calendar.reset") == 1


async def test_without_a_board_there_is_no_calendar_link(tmp_path):
    compound = await Compound.open(tmp_path)  # the example config has no [web]
    try:
        sent = await compound.say("dm", "wang", "日历链接")
        assert sent.keys_to("wang") == ["calendar.not_served"]
        sent = await compound.say("dm", "wang", "/calendar")
        assert sent.keys_to("wang") == ["calendar.not_served"]
    finally:
        await compound.close()


async def test_the_boards_counts_by_status_kept_by_triggers_match_a_full_count(board):
    await board.say("b3", "alice", "报修 3栋电梯坏了")
    await board.say("b5", "bob", "报修 5栋垃圾没人收")
    await board.say("dm", "carol", "报修 楼道灯不亮")  # no building yet
    await board.say("dm", "wang", "受理 1")
    await board.say("dm", "li", "驳回 2 不归物业管")
    await board.say("dm", "wang", "已解决 1 修好了")
    async with board.app.db.read() as tx:
        for buildings in (None, ["3"], ["5"], ["3", "5"]):
            kept = await tx.tickets.count_by_status(buildings, None)
            counted = await tx.tickets.count_by_status(buildings, 4e9)  # the same, by a full count
            assert kept == counted, buildings
        assert (await tx.tickets.count_by_status(["3"], None)) == {"resolved": 1}
    async with client_for(board) as office:
        await sign_in(board, office, "admin")
        page = await office.get("/tickets", params={"status": "all"})
        assert '<li class="status-rejected"><span>已驳回</span> <b>1</b></li>' in page.text


async def test_names_with_a_phone_number_show_it_only_to_those_who_may_see_it(board):
    await board.say("dm", "sun", EVENT)
    await board.say("all", f"dave{PHONE}", "报名 1")  # a display name with a phone number in it
    async with client_for(board) as committee:
        await sign_in(board, committee, "chen")
        page = await committee.get("/events")
        assert "dave" in page.text and PHONE not in page.text
    async with client_for(board) as office:
        await sign_in(board, office, "admin")
        assert PHONE in (await office.get("/events")).text


async def test_every_page_speaks_english_when_asked(board):
    await board.say("dm", "sun", GATE)
    await board.say("dm", "sun", EVENT)
    await board.say("dm", "admin", "定时通知 明天8点 全部 明早停水检修")
    async with client_for(board) as office:
        await sign_in(board, office, "admin")
        for path, heading in (("/rota", "Rota"), ("/events", "Events"),
                              ("/announcements", "Announcements"), ("/digest", "Digest"),
                              ("/exports", "Exports")):
            page = await office.get(path, params={"lang": "en"})
            assert page.status_code == 200 and f"<h1>{heading}" in page.text, path
            assert 'lang="en"' in page.text and "中文" in page.text  # the way back to Chinese
        page = await office.get("/events")  # the choice is kept
        assert "Coming up" in page.text and "Going" in page.text


async def test_the_tickets_list_filters_by_common_area_and_category(board):
    """The office narrows the list to one common area or one category; the counts follow."""
    await board.say("all", "alice", "报修 地下车库漏水了")
    await board.say("b3", "bob", "报修 3栋电梯坏了")
    await board.say("b3", "carol", "报修 3栋楼道灯不亮")
    async with client_for(board) as office:
        await sign_in(board, office, "zhao")
        everything = await office.get("/tickets")
        assert all(f'data-number="{n}"' in everything.text for n in (1, 2, 3))
        assert 'name="area"' in everything.text and 'name="category"' in everything.text
        garage = await office.get("/tickets", params={"area": "garage"})
        assert 'data-number="1"' in garage.text and 'data-number="2"' not in garage.text
        assert "地下车库" in garage.text  # an area's ticket is listed by its area
        lifts = await office.get("/tickets", params={"category": "elevator"})
        assert 'data-number="2"' in lifts.text
        assert 'data-number="1"' not in lifts.text and 'data-number="3"' not in lifts.text
        odd = await office.get("/tickets", params={"area": "moon", "category": "'; DROP TABLE"})
        assert odd.status_code == 200 and all(f'data-number="{n}"' in odd.text for n in (1, 2, 3))
