"""Fan-out within Telegram's limits: the real outbox, dispatcher and limiter against a fake Telegram
that answers 429 the moment a limit is exceeded (tests/fake_transport.py).

Telegram's own limits — 30 messages a second, 20 a minute in one group, 1 a second in one private
chat — kept in virtual seconds: ``SimTime`` (time passes only while the limiter waits, so the
measured span is the limiter's doing, not the test machine's load) for the timing bounds, and
``FastTime`` (the wall clock, sped up) where the fake's 429s and retries meet real time.
"""

from __future__ import annotations

import itertools
import random
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from bot.adapters.base import SendLimits
from bot.app import App
from bot.clock import ManualClock
from bot.config import load_config
from bot.dispatcher import Dispatcher
from bot.messages import Attachment, Inbound, Outbound
from bot.ratelimit import PlatformLimiter
from tests.fake_transport import TELEGRAM, FakeTelegram, FastTime, SimTime, lower_bound

BUILDINGS = 20
CAPTAINS = 200
START = datetime(2026, 12, 1, 9, 0)


def big_compound_config(folder: Path):
    """20 building groups and a compound group on Telegram, an admin and 200 captains."""
    lines = ['[compound]', 'name = "富丰新城"', '[buildings]', f'numbered = {BUILDINGS}',
             '[announcements]', 'max_length = 10000',
             '[chats.all]', 'name = "业主群"', 'telegram = -1000']
    for n in range(1, BUILDINGS + 1):
        lines += [f'[chats.b{n}]', f'name = "{n}栋"', f'building = "{n}"', f'telegram = -{1000 + n}']
    lines += ['[people.admin]', 'name = "社区办"', 'roles = ["admin"]', 'telegram = 1']
    for i in range(CAPTAINS):
        lines += [f'[people.c{i}]', f'name = "楼长{i}"', f'roles = ["captain:{i % BUILDINGS + 1}"]',
                  f'telegram = {1000 + i}']
    path = folder / "big.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return load_config(path)


async def open_app(folder: Path, transport: FakeTelegram, limiter: PlatformLimiter | None = None):
    config = big_compound_config(folder)
    clock = ManualClock(config.tz, START)
    app = App.create(config, folder / "fanout.db", ["telegram"], clock=clock,
                     adapters={"telegram": transport})
    app.dispatcher = Dispatcher(app.core, app.adapters,
                                limiters={"telegram": limiter or transport.limiter()})
    await app.open()
    return app, clock


async def queue(app: App, messages: list[Outbound]) -> None:
    """Write messages to the outbox in one transaction, as a handler would."""
    now = app.core.clock.now().timestamp()
    async with app.db.transaction() as tx:
        for message in messages:
            await tx.outbox.add(message, now)


def broadcast(text: str) -> list[Outbound]:
    groups = [Outbound("telegram", str(-1000 - n), "group", text, chat_key=f"b{n}")
              for n in range(0, BUILDINGS + 1)]
    pings = [Outbound("telegram", str(1000 + i), "private", f"楼长{i}：明早8点停水，请转告本楼。")
             for i in range(CAPTAINS)]
    return groups + pings


async def test_a_broadcast_to_21_groups_and_200_captains_keeps_every_limit(tmp_path):
    transport = FakeTelegram(SimTime())
    app, _ = await open_app(tmp_path, transport)
    text = "【停水通知】" + "因二次供水设备检修，明天8:00至17:00全小区停水，请提前储水。" * 260
    try:
        await queue(app, broadcast(text))
        await app.dispatcher.drain(timeout=60)
        async with app.db.read() as tx:
            counts = await tx.outbox.counts()
    finally:
        await app.stop()
    assert counts == {"sent": BUILDINGS + 1 + CAPTAINS}
    assert transport.violations == 0 and transport.too_long == 0
    pieces = transport.texts_to("-1003")
    assert len(pieces) == 3 and "".join(pieces).replace("\n", "") == text  # split, nothing lost
    assert len(transport.deliveries) == 3 * (BUILDINGS + 1) + CAPTAINS
    bound = transport.lower_bound()
    assert bound == 8.0  # 263 messages at 30 a second: ⌊262/30⌋ = 8 s between first and last
    assert bound <= transport.span() <= 1.1 * bound, (transport.span(), bound)


async def test_a_busy_group_gets_20_a_minute_in_order(tmp_path):
    transport = FakeTelegram(SimTime())
    app, _ = await open_app(tmp_path, transport)
    try:
        await queue(app, [Outbound("telegram", "-1003", "group", f"第{i}条") for i in range(1, 26)]
                    + [Outbound("telegram", "1", "private", f"note {i}") for i in range(1, 6)])
        await app.dispatcher.drain(timeout=60)
    finally:
        await app.stop()
    assert transport.violations == 0
    assert transport.texts_to("-1003") == [f"第{i}条" for i in range(1, 26)]
    group_times = [d.at for d in transport.deliveries if d.address == "-1003"]
    assert group_times[20] - group_times[0] >= 60 - transport.tolerance  # the 21st waits a minute
    private_times = [d.at for d in transport.deliveries if d.address == "1"]
    assert all(b - a >= 1 - transport.tolerance for a, b in itertools.pairwise(private_times))
    assert transport.lower_bound() == 60.0
    assert transport.span() <= 1.1 * transport.lower_bound()


async def test_a_limiter_looser_than_the_platform_gets_429s_and_still_loses_nothing(tmp_path):
    transport = FakeTelegram(FastTime(speed=20))
    too_loose = PlatformLimiter(SendLimits(overall_per_second=1000, group_per_minute=1000,
                                           private_per_second=1000),
                                monotonic=transport.time.monotonic, sleep=transport.time.sleep)
    app, clock = await open_app(tmp_path, transport, too_loose)
    try:
        await queue(app, broadcast("明早8点停水"))
        await app.dispatcher.drain(timeout=30)
        assert transport.violations > 0  # the fake said 429 …
        async with app.db.read() as tx:
            waiting = await tx.outbox.count_pending()
            retry_errors = [m for m in await tx.outbox.all_messages("pending")]
        assert waiting == len(retry_errors) > 0  # … and those messages wait for retry_after
        for _ in range(12):  # time passes for the bot and for Telegram alike
            clock.advance(timedelta(seconds=2))
            await transport.time.sleep(2)
            await app.dispatcher.drain(timeout=30)
        async with app.db.read() as tx:
            counts = await tx.outbox.counts()
    finally:
        await app.stop()
    assert counts == {"sent": BUILDINGS + 1 + CAPTAINS}
    assert sorted(d.outbox_id for d in transport.deliveries) == list(range(1, 222))  # once each


async def test_the_daily_cap_holds_the_rest_until_tomorrow_even_across_a_restart(tmp_path):
    capped = SendLimits(overall_per_second=30, group_per_minute=20, private_per_second=1,
                        daily_cap=5)
    transport = FakeTelegram(FastTime(speed=50), limits=capped)
    app, clock = await open_app(tmp_path, transport)
    await queue(app, [Outbound("telegram", str(1000 + i), "private", f"ping {i}") for i in range(4)])
    await app.dispatcher.drain(timeout=30)
    await app.stop()
    assert len(transport.deliveries) == 4
    # restart: a fresh dispatcher counts the 4 already sent today from the outbox
    app, clock = await open_app(tmp_path, transport)
    try:
        await queue(app, [Outbound("telegram", str(1100 + i), "private", f"more {i}")
                          for i in range(4)])
        await app.dispatcher.drain(timeout=30)
        assert len(transport.deliveries) == 5
        async with app.db.read() as tx:
            assert await tx.outbox.count_pending() == 3
            next_due = await tx.outbox.next_due(["telegram"])
        assert next_due == datetime(2026, 12, 2, tzinfo=clock.tz).timestamp()  # midnight
        clock.set(datetime(2026, 12, 2, 0, 1))
        await app.dispatcher.drain(timeout=30)
    finally:
        await app.stop()
    assert len(transport.deliveries) == 8 and transport.violations == 0


async def test_jitter_spreads_sends_by_a_random_extra_gap():
    time = SimTime()
    limits = SendLimits(overall_per_second=100, group_per_minute=100, private_per_second=100,
                        min_interval=2.0, jitter=1.0)
    limiter = PlatformLimiter(limits, monotonic=time.monotonic, sleep=time.sleep,
                              rng=random.Random(7))
    moments = []
    for i in range(12):
        await limiter.acquire("private", f"u{i}")
        moments.append(time.monotonic())
    gaps = [b - a for a, b in itertools.pairwise(moments)]
    assert all(2.0 <= gap <= 3.0 for gap in gaps), gaps  # min_interval + up to 1 s jitter
    assert max(gaps) - min(gaps) > 0.3  # not a fixed rhythm


def test_the_lower_bound_counts_every_window():
    assert lower_bound([], TELEGRAM) == 0
    assert lower_bound([("private", str(i)) for i in range(30)], TELEGRAM) == 0
    assert lower_bound([("private", str(i)) for i in range(31)], TELEGRAM) == 1
    assert lower_bound([("group", "g")] * 21, TELEGRAM) == 60
    assert lower_bound([("private", "p")] * 3, TELEGRAM) == 2


@pytest.mark.parametrize("cost", [1, 3])
async def test_a_photo_counts_as_the_extra_message_it_is(tmp_path, cost):
    transport = FakeTelegram(FastTime(speed=10))
    app, _ = await open_app(tmp_path, transport)
    photos = tuple(Attachment("photo", filename=f"chart{i}.png", content="iVBORw0KGgo=")
                   for i in range(cost - 1))
    try:
        await queue(app, [Outbound("telegram", str(-1000 - n), "group", "digest", attachments=photos)
                          for n in range(0, BUILDINGS + 1)] * 2)
        await app.dispatcher.drain(timeout=30)
    finally:
        await app.stop()
    assert transport.violations == 0
    assert len(transport.deliveries) == 2 * (BUILDINGS + 1) * cost


async def test_the_announce_reply_says_when_a_slow_platform_will_have_finished(tmp_path):
    wechat_like = SendLimits(overall_per_second=30, group_per_minute=20, private_per_second=1,
                             min_interval=2.0, jitter=1.0, max_text_length=4096)
    transport = FakeTelegram(SimTime(), limits=wechat_like)
    app, _ = await open_app(tmp_path, transport)
    text = "【停水通知】" + "因二次供水设备检修，明天8:00至17:00全小区停水，请提前储水。" * 260
    try:
        await app.core.handle(Inbound("telegram", "1", "private", "1", "社区办", f"通知 全部 {text}",
                                      "m1"))
        async with app.db.read() as tx:
            reply = next(m.text for m in await tx.outbox.all_messages() if m.address == "1")
        await app.dispatcher.drain(timeout=60)
    finally:
        await app.stop()
    # 21 groups × 3 pieces at one every 2–3 s (2.5 s on average): 62 × 2.5 s = 155 s after 09:00
    assert "已发到 21 个群" in reply and "预计 12月1日 09:02 前全部送达" in reply, reply
    assert transport.violations == 0 and len(transport.deliveries) == 21 * 3 + 1
    assert 0.9 * 155 <= transport.span() <= 1.1 * 155
