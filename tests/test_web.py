"""The office board (bot/web): one-time links, sessions, CSRF, roles, the tickets pages, actions
through ``Core.perform`` so the reporter is told exactly as with 受理 in chat."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlsplit

import httpx
import pytest

from bot.cli import main as linli
from bot.config import WebSettings, load_config
from bot.web.app import create_app
from bot.web.auth import SESSION_COOKIE, Sessions
from tests.harness import EXAMPLE_CONFIG, Compound

SECRET = "test-secret-not-for-use"
PHONE = "13812345678"


def web_config(**web):
    config = load_config(EXAMPLE_CONFIG)
    settings = WebSettings(listen="127.0.0.1:0", public_url="http://board.test", secret=SECRET,
                           **web)
    return config.model_copy(update={"web": settings})


@pytest.fixture
async def board(tmp_path):
    compound = await Compound.open(tmp_path, config=web_config())
    yield compound
    await compound.close()


def client_for(compound: Compound, **kwargs) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(compound.core)),
                             base_url="http://board.test", **kwargs)


async def link_for(compound: Compound, person: str) -> str:
    sent = await compound.say("dm", person, "后台")
    assert sent.keys_to(person) == ["board.link"]
    return urlsplit(sent.values_to(person, "board.link")["link"]).path


async def sign_in(compound: Compound, client: httpx.AsyncClient, person: str) -> None:
    path = await link_for(compound, person)
    page = await client.get(path)
    assert page.status_code == 200 and 'id="sign-in"' in page.text
    done = await client.post(path)
    assert done.status_code == 303 and done.headers["location"] == "/tickets"
    cookie = done.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Secure" not in cookie


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


async def test_the_office_signs_in_filters_and_acknowledges_and_the_reporter_is_told(board):
    await board.say("b3", "alice", f"报修 3栋电梯坏了，电话{PHONE}")
    await board.say("b5", "bob", "报修 5栋垃圾没人收")
    async with client_for(board) as office:
        await sign_in(board, office, "admin")
        page = await office.get("/tickets")
        assert page.status_code == 200
        assert 'data-number="1"' in page.text and 'data-number="2"' in page.text
        assert PHONE in page.text  # the community office may see phone numbers
        page = await office.get("/tickets", params={"building": "3", "status": "open"})
        assert 'data-number="1"' in page.text and 'data-number="2"' not in page.text
        page = await office.get("/tickets", params={"age": "3"})  # nothing waits 3 days yet
        assert 'data-number="1"' not in page.text

        page = await office.get("/tickets/1")
        assert page.status_code == 200 and "电梯坏了" in page.text
        assert 'value="ack"' in page.text and 'value="reject"' in page.text
        csrf = csrf_of(page.text)
        refused = await office.post("/tickets/1", data={"action": "ack"})
        assert refused.status_code == 403
        refused = await office.post("/tickets/1", data={"action": "ack", "csrf": "x" * 64})
        assert refused.status_code == 403
        done = await office.post("/tickets/1", data={"action": "ack", "note": "马上来",
                                                     "csrf": csrf})
        assert done.status_code == 303
        before = len(board.adapter.sent)
        await board.app.dispatcher.drain()
        told = [m for m in board.adapter.sent[before:] if m.kind == "private"]
        assert [(m.address, m.key) for m in told] == [("alice", "tickets.update.acknowledged")]
        assert told[0].values["note"] == "马上来"
        page = await office.get("/tickets/1")
        assert "已通知报修人" in page.text  # what 受理 answers in chat, shown on the board
        assert 'value="ack"' not in page.text and 'value="progress"' in page.text
        async with board.app.db.read() as tx:
            assert await tx.audit.count("ticket.ack") == 1
            assert (await tx.tickets.get(1)).status == "acknowledged"
        rejected = await office.post("/tickets/1", data={"action": "reject", "csrf": csrf})
        assert rejected.status_code == 303  # no reason: refused on the board, nothing changed
        page = await office.get("/tickets/1")
        assert "驳回需要写明原因" in page.text
        audit = await office.get("/audit", params={"action": "ticket.ack"})
        assert "ticket:1" in audit.text and "ticket.report" not in audit.text.split("<tbody>")[1]


async def test_a_used_or_expired_link_is_refused_and_says_how_to_get_another(board):
    path = await link_for(board, "wang")
    async with client_for(board) as first:
        assert (await first.post(path)).status_code == 303
    async with client_for(board) as second:
        again = await second.get(path)
        assert again.status_code == 410 and "已经用过了" in again.text and "后台" in again.text
        again = await second.post(path)
        assert again.status_code == 410 and SESSION_COOKIE not in again.headers.get("set-cookie", "")
        late = await link_for(board, "wang")
        board.clock.advance(timedelta(minutes=11))
        expired = await second.get(late)
        assert expired.status_code == 410 and "过期" in expired.text
        assert (await second.post(late)).status_code == 410
        assert (await second.get("/login/not-a-token")).status_code == 404
        english = await second.get(late, params={"lang": "en"})
        assert "expired" in english.text and "/board" in english.text


async def test_forged_cookies_and_non_staff_sessions_are_refused(board):
    await board.say("b3", "alice", "报修 3栋电梯坏了")
    async with client_for(board, cookies={SESSION_COOKIE: "admin"}) as forged:
        assert (await forged.get("/tickets")).status_code == 401
        assert (await forged.get("/tickets/1")).status_code == 401
    other_secret = Sessions("someone-else", board.clock).new("admin")[1]
    async with client_for(board, cookies={SESSION_COOKIE: other_secret}) as forged:
        assert (await forged.get("/tickets")).status_code == 401
    for person in ("sun", "alice"):  # a coordinator; a resident (not in [people])
        cookie = Sessions(SECRET, board.clock).new(person)[1]
        async with client_for(board, cookies={SESSION_COOKIE: cookie}) as outsider:
            for path in ("/tickets", "/tickets/1", "/audit"):
                page = await outsider.get(path)
                assert page.status_code == 403 and "开放" in page.text
            assert (await outsider.post("/tickets/1", data={"action": "ack"})).status_code == 403
    cookie = Sessions(SECRET, board.clock).new("admin")[1]
    board.clock.advance(timedelta(hours=13))
    async with client_for(board, cookies={SESSION_COOKIE: cookie}) as stale:
        assert (await stale.get("/tickets")).status_code == 401


async def test_links_only_in_private_and_only_for_staff(board):
    sent = await board.say("b3", "wang", "后台")
    assert sent.keys_in("b3") == ["core.private_only"]
    assert not any("/login/" in text for text in sent.texts())
    sent = await board.say("dm", "alice", "后台")
    assert sent.keys_to("alice") == ["core.not_allowed"]
    answers = await board.core.perform("zhao", "board", "")
    assert [a.key for a in answers] == ["board.link"]
    assert answers[0].values["link"].startswith("http://board.test/login/")
    async with board.app.db.read() as tx:
        assert await tx.audit.count("board.link") == 1


async def test_privacy_and_actions_follow_the_viewers_roles(board):
    await board.say("b3", "alice", f"报修 3栋电梯坏了，电话{PHONE}")
    async with client_for(board) as committee:
        await sign_in(board, committee, "chen")
        page = await committee.get("/tickets")
        assert 'data-number="1"' in page.text and PHONE not in page.text
        page = await committee.get("/tickets/1")
        assert PHONE not in page.text and 'value="ack"' not in page.text
        assert "不能处理" in page.text
        csrf = csrf_of(page.text)
        done = await committee.post("/tickets/1", data={"action": "ack", "csrf": csrf})
        assert done.status_code == 303  # the core refuses, as it would in chat
        async with board.app.db.read() as tx:
            assert (await tx.tickets.get(1)).status == "open"
    async with client_for(board) as other_captain:
        await sign_in(board, other_captain, "li")  # captain of building 5
        page = await other_captain.get("/tickets/1")
        assert PHONE not in page.text and 'value="ack"' not in page.text
    async with client_for(board) as captain:
        await sign_in(board, captain, "wang")
        page = await captain.get("/tickets/1")
        assert PHONE in page.text and 'value="ack"' in page.text


async def test_pages_speak_english_when_asked(board):
    await board.say("b3", "alice", "报修 3栋电梯坏了")
    async with client_for(board) as office:
        await sign_in(board, office, "admin")
        page = await office.get("/tickets", headers={"accept-language": "en-US,en;q=0.9"})
        assert "社区办" in page.text  # the person's name
        page = await office.get("/tickets", params={"lang": "en"})
        assert ">Reports<" in page.text and "elevator" in page.text.lower()
        page = await office.get("/tickets/1")  # the choice is kept in a cookie
        assert "Timeline" in page.text
        css = await office.get("/static/board.css")
        assert css.status_code == 200 and "@media" in css.text


def test_linli_web_login_prints_a_link(tmp_path, capsys):
    config = tmp_path / "config.toml"
    config.write_text(EXAMPLE_CONFIG.read_text(encoding="utf-8") +
                      '\n[web]\nlisten = "127.0.0.1:8080"\npublic_url = "https://board.example.org"\n',
                      encoding="utf-8")
    db = str(tmp_path / "linli.db")
    assert linli(["web-login", "admin", "--config", str(config), "--db", db]) == 0
    assert capsys.readouterr().out.startswith("https://board.example.org/login/")
    assert linli(["web-login", "sun", "--config", str(config), "--db", db]) == 1
    assert linli(["web-login", "nobody", "--config", str(config), "--db", db]) == 2


async def test_an_anonymous_report_keeps_its_reporter_from_the_captain_on_the_board(board):
    """报修 匿名: the building's captain sees 匿名居民 on the ticket's page; property sees who it was."""
    await board.say("dm", "alice", "登记 3栋 1203")
    await board.say("b3", "alice", "报修 匿名 楼上每天半夜拖椅子")
    async with client_for(board) as captain:
        await sign_in(board, captain, "wang")
        page = await captain.get("/tickets/1")
        assert "匿名居民" in page.text and "alice" not in page.text and "1203" not in page.text
        assert 'value="ack"' in page.text  # the captain still moves it along
    async with client_for(board) as property_staff:
        await sign_in(board, property_staff, "zhao")
        page = await property_staff.get("/tickets/1")
        assert "alice" in page.text and "1203" in page.text


async def test_sign_in_links_are_pruned_a_day_after_they_expired(board):
    """The housekeeping pass forgets one-time links a day after they expired; a fresh one stays and
    works (until then a used or expired link still says so)."""
    from handlers.housekeeping import prune
    from storage.retention import SIGN_IN_LINKS

    async def links() -> int:
        async with board.app.db.read() as tx:
            return await tx.retention._value("SELECT COUNT(*) FROM kv WHERE key LIKE ?",
                                             (SIGN_IN_LINKS + "%",))

    await link_for(board, "zhao")
    await link_for(board, "wang")
    assert await links() == 2
    board.clock.advance(timedelta(hours=23))
    await prune(board.core, board.clock.now())
    assert await links() == 2  # expired 22 h 50 min ago: still says "expired"
    board.clock.advance(timedelta(hours=2))
    fresh = await link_for(board, "zhao")
    await prune(board.core, board.clock.now())
    assert await links() == 1
    async with client_for(board) as office:
        page = await office.get(fresh)
        assert page.status_code == 200 and 'id="sign-in"' in page.text
