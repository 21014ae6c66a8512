"""The office board in a real browser (Playwright for Python driving Debian's chromium, at a phone's
width): a resident reports in chat, the office signs in with a one-time link, filters, opens the
ticket, acknowledges it, and the reporter is told.  Saves docs/board-tickets.png.

scripts/test.sh installs chromium with apt-get (``playwright install`` cannot download here)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest

from bot.web import Board
from tests.harness import ROOT, Compound
from tests.test_web import PHONE, SECRET, web_config

CHROMIUM = Path("/usr/bin/chromium")
playwright_api = pytest.importorskip("playwright.async_api", reason="pip install playwright")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="no /usr/bin/chromium: apt-get install chromium "
                       "(scripts/test.sh does)"),
]
PHONE_SIZE = {"width": 390, "height": 844}


async def test_the_office_acknowledges_a_report_from_a_phone(tmp_path):
    compound = await Compound.open(tmp_path, config=web_config())
    board = Board(compound.core, "127.0.0.1:0", secret=SECRET)
    await board.start()
    try:
        await compound.say("b3", "alice", f"报修 3栋电梯坏了，电话{PHONE}")
        await compound.say("b5", "bob", "报修 5栋垃圾没人收")
        await compound.say("b3", "carol", "报修 3栋楼道灯不亮")
        sent = await compound.say("dm", "admin", "后台")
        link = board.url + urlsplit(sent.values_to("admin", "board.link")["link"]).path
        async with playwright_api.async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=str(CHROMIUM),
                                               args=["--no-sandbox", "--disable-dev-shm-usage"])
            try:
                page = await browser.new_page(viewport=PHONE_SIZE, device_scale_factor=2,
                                              locale="zh-CN", is_mobile=True, has_touch=True)
                await page.goto(link)
                await page.click("#sign-in")
                await page.wait_for_url(f"{board.url}/tickets")
                assert await page.locator("tr.ticket").count() == 3
                await page.select_option("select[name=building]", "3")
                await page.click(".filters button[type=submit]")
                await page.wait_for_url("**/tickets?building=3*")
                assert await page.locator("tr.ticket").count() == 2
                # fits a phone: no sideways scrolling
                assert await page.evaluate("document.documentElement.scrollWidth <= innerWidth")
                await page.evaluate("document.fonts.ready")
                await page.screenshot(path=str(ROOT / "docs" / "board-tickets.png"), full_page=True)

                await page.click("tr.ticket[data-number='1'] td.num a")
                await page.wait_for_url(f"{board.url}/tickets/1")
                assert PHONE in await page.inner_text("blockquote.report")
                await page.fill("#note", "马上来")
                await page.click("button[value=ack]")
                await page.wait_for_url(f"{board.url}/tickets/1")
                assert "已通知报修人" in await page.inner_text(".flash")
                assert await page.locator("button[value=ack]").count() == 0
                await page.screenshot(path=str(tmp_path / "ticket.png"), full_page=True)

                before = len(compound.adapter.sent)
                await compound.app.dispatcher.drain()
                told = [(m.address, m.key) for m in compound.adapter.sent[before:]
                        if m.kind == "private"]
                assert told == [("alice", "tickets.update.acknowledged")]

                again = await browser.new_page(viewport=PHONE_SIZE)  # a used link, another tab
                response = await again.goto(link)
                assert response.status == 410
                assert "已经用过了" in await again.inner_text("main")
            finally:
                await browser.close()
    finally:
        await board.stop()
        await compound.close()


async def test_the_other_pages_fit_a_phone_and_an_announcement_is_cancelled_from_it(tmp_path):
    compound = await Compound.open(tmp_path, config=web_config())
    board = Board(compound.core, "127.0.0.1:0", secret=SECRET)
    await board.start()
    try:
        for name in ("alice", "bob", "carol"):
            await compound.say("all", name, "大家好")
        await compound.say("dm", "sun", "排班 门岗值守 每天 8:00-12:00 孙老师 李阿姨 alice bob")
        await compound.say("dm", "bob", "请假 12月5日")
        await compound.say("dm", "alice", "换班 3 孙老师")
        await compound.say("dm", "sun", "新活动 美化家园 周日 上午9点 2小时 中心花园 2人")
        for name in ("alice", "bob", "carol"):
            await compound.say("all", name, "报名 1")
        await compound.say("dm", "admin", "定时通知 明天8点 全部 明早停水检修")
        await compound.say("b3", "alice", f"报修 3栋电梯坏了，电话{PHONE}")
        sent = await compound.say("dm", "admin", "后台")
        link = board.url + urlsplit(sent.values_to("admin", "board.link")["link"]).path
        async with playwright_api.async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=str(CHROMIUM),
                                               args=["--no-sandbox", "--disable-dev-shm-usage"])
            try:
                page = await browser.new_page(viewport=PHONE_SIZE, device_scale_factor=2,
                                              locale="zh-CN", is_mobile=True, has_touch=True)
                await page.goto(link)
                await page.click("#sign-in")
                await page.wait_for_url(f"{board.url}/tickets")
                for path, label in (("/rota", "值班"), ("/events", "活动"),
                                    ("/announcements", "通知"), ("/digest", "周报"),
                                    ("/exports", "导出"), ("/audit", "操作记录")):
                    await page.click(f"header nav a[href='{path}']")  # the navigation bar
                    await page.wait_for_url(f"{board.url}{path}")
                    assert label in await page.inner_text("h1")
                    assert await page.evaluate("document.documentElement.scrollWidth <= innerWidth"), path
                    if path == "/rota":
                        assert await page.locator("li.shift.uncovered").count() == 1
                        assert await page.locator(".badge.swap").count() == 1
                        await page.evaluate("document.fonts.ready")
                        await page.screenshot(path=str(ROOT / "docs" / "board-rota.png"),
                                              full_page=True)
                    if path == "/digest":
                        loaded = await page.evaluate(
                            "document.querySelector('img.chart').decode().then(() => true)")
                        assert loaded
                await page.goto(f"{board.url}/announcements")
                await page.click("section[data-announcement='1'] button.danger")
                await page.wait_for_url(f"{board.url}/announcements")
                assert "已取消" in await page.inner_text(".flash")
                assert await page.locator("button.danger").count() == 0
                async with compound.app.db.read() as tx:
                    assert (await tx.announcements.get(1)).status == "cancelled"
            finally:
                await browser.close()
    finally:
        await board.stop()
        await compound.close()
