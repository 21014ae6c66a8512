"""P3 broadcast: a rota's evening post to 20 building groups plus 200 private reminders (volunteers
signed up for tomorrow's event), written by the real sweeps (rota.broadcasts, volunteers.reminders)
and delivered through the real outbox, dispatcher and rate limiter to ``tests/fake_transport.py``'s
FakeTelegram, which enforces Telegram's limits itself (30 messages/s overall, 20/min per group, 1/s
per private chat) and counts a violation for every send it would have answered with 429.

The figure is the time from the first send to the last, against the least time those limits allow
for the same messages (``lower_bound``): the ratio says how close to the limit the dispatcher runs.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path

from bench.common import Row

GROUPS = 20
PRIVATE = 200


def bench_config():
    """The compound on Telegram, with one rota posted to all 20 building groups at 20:00."""
    import tomllib

    from bot.config import Config
    from bot.simulate import compound_toml

    raw = tomllib.loads(compound_toml(GROUPS, telegram_ids=True, rotas=False))
    raw["people"]["vol1"] = {"name": "志愿者1", "telegram": 3900}
    raw["rota"] = {"patrol": {"name": "全小区夜间巡查", "chats": [f"b{n}" for n in range(1, GROUPS + 1)],
                              "members": ["vol1"], "shifts": "每天 19:00-20:00", "remind_before": "30m",
                              "broadcasts": {"evening": "20:00"}}}
    return Config(path="<bench>", **raw)


async def broadcast(folder: Path, speed: float) -> dict:
    """Set up (not timed): a volunteer event tomorrow with 200 residents signed up, and a rota
    posted to all 20 building groups.  Then at 20:00 the sweeps write the evening's messages (20
    group posts of tomorrow's duty, 200 private reminders) and the dispatcher delivers them."""
    from datetime import timedelta

    from bot.app import App
    from bot.clock import ManualClock
    from bot.dispatcher import Dispatcher
    from bot.messages import Inbound
    from bot.simulate import telegram_id
    from tests.fake_transport import FakeTelegram, FastTime
    from tests.harness import START

    config = bench_config()
    clock = ManualClock(config.tz, START)  # Tuesday 09:00
    setup = FakeTelegram(FastTime(1000.0))
    app = App.create(config, folder / "p3.db", ["telegram"], clock=clock, adapters={"telegram": setup})
    app.dispatcher = Dispatcher(app.core, app.adapters, limiters={"telegram": setup.limiter()})
    await app.open()
    try:
        coord = str(telegram_id("coord"))
        await app.core.handle(Inbound("telegram", coord, "private", coord, "孙老师",
                                      f"新活动 楼道大扫除 明天 上午9点 2小时 中心花园 {PRIVATE}人", "e1"))
        for i in range(PRIVATE):
            user = str(80_000 + i)
            await app.core.handle(Inbound("telegram", user, "private", user, f"志愿者{i}", "报名 1",
                                          f"j{i}"))
        await app.core.tick()  # shifts are made
        await app.dispatcher.drain(timeout=600)
        # a set-up reply that flood control held back for a retry goes now, not with 20:00's
        clock.set(clock.now().replace(hour=19, minute=59))
        await app.dispatcher.drain(timeout=600)
        # 20:00: the evening's posts and reminders, through a fresh transport on real time
        clock.set(clock.now().replace(hour=20, minute=0) + timedelta(seconds=1))
        await app.core.tick()
        transport = FakeTelegram(FastTime(speed))
        app.adapters["telegram"] = transport
        app.dispatcher = Dispatcher(app.core, app.adapters, limiters={"telegram": transport.limiter()})
        async with app.db.read() as tx:
            pending = await tx.outbox.count_pending()
        started = time.perf_counter()
        await app.dispatcher.drain(timeout=600)
        wall = time.perf_counter() - started
        async with app.db.read() as tx:
            counts = await tx.outbox.counts()
    finally:
        await app.stop()
    kinds = Counter(d.kind for d in transport.deliveries)
    return {"span": transport.span(), "lower_bound": transport.lower_bound(),
            "violations": transport.violations, "delivered": len(transport.deliveries),
            "groups": kinds["group"], "private": kinds["private"], "pending": pending,
            "wall": wall, "speed": speed, "outbox": counts}


def run(folder: Path, quick: bool = False) -> tuple[list[Row], dict]:
    try:
        import tests.fake_transport  # noqa: F401
    except ImportError as exc:
        return [Row("P3 broadcast, 20 groups + 200 private", None, "s", floor="≤1.1×, 0 violations",
                    note=f"not measured: {exc}")], {}
    result = asyncio.run(broadcast(folder, 20.0 if quick else 1.0))
    ratio = result["span"] / result["lower_bound"] if result["lower_bound"] else float("inf")
    ok = (ratio <= 1.1 and result["violations"] == 0 and result["groups"] >= GROUPS
          and result["private"] >= PRIVATE)
    note = (f"{result['groups']} group + {result['private']} private delivered, "
            f"{result['violations']} violations")
    row = Row("P3 rota broadcast + reminders (20 groups, 200 private)", result["span"], "s",
              result["lower_bound"], "lower bound the limits allow", "≤1.1×, 0 violations", ok,
              note=note)
    return [row], result
