"""P3 broadcast: a rota broadcast to 20 groups plus 200 private pings, through the real outbox,
dispatcher and rate limiter, to ``tests/fake_transport.py``'s FakeTelegram, which enforces Telegram's
limits itself (30 messages/s overall, 20/min per group, 1/s per private chat) and counts a violation
for every send it would have answered with 429.

The figure is the time from the first send to the last, against the least time those limits allow
for the same messages (``lower_bound``): the ratio says how close to the limit the dispatcher runs.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from bench.common import Row

GROUPS = 20
PRIVATE = 200


def rota_broadcast_landed() -> bool:
    from bot.commands import SWEEPS

    return any(name.startswith("rota") for name in SWEEPS)


async def broadcast(folder: Path, speed: float) -> dict:
    from bot.app import App
    from bot.clock import ManualClock
    from bot.context import Notifier
    from bot.dispatcher import Dispatcher
    from bot.messages import Outbound
    from bot.simulate import compound_config
    from tests.fake_transport import FakeTelegram, FastTime
    from tests.harness import START

    config = compound_config(GROUPS, telegram_ids=True)
    clock = ManualClock(config.tz, START)
    transport = FakeTelegram(FastTime(speed))
    app = App.create(config, folder / "p3.db", ["telegram"], clock=clock,
                     adapters={"telegram": transport})
    app.dispatcher = Dispatcher(app.core, app.adapters,
                                limiters={"telegram": transport.limiter()})
    await app.open()
    try:
        now = clock.now()
        async with app.db.transaction() as tx:
            volunteers = []
            for i in range(PRIVATE):
                person = await tx.people.create(f"志愿者{i + 1}", now.timestamp(), lang="zh")
                await tx.identities.link("telegram", str(80_000 + i), person.id, now.timestamp())
                volunteers.append((person.id, str(80_000 + i)))
        # The broadcast: the week's rota to every building group, and a private reminder to each
        # volunteer on it, written in one transaction as a sweep would.
        async with app.db.transaction() as tx:
            notifier = Notifier(app.core, tx, now)
            for n in range(1, GROUPS + 1):
                await notifier.post_text(f"b{n}", f"本周值班表（{n}栋）：周一 张三，周二 李四，周三 王五",
                                         ref="rota:bench")
            for person_id, address in volunteers:
                await tx.outbox.add(Outbound("telegram", address, "private",
                                             "提醒：明天 09:00 您在 3栋 值班（巡楼）", person_id=person_id),
                                    now.timestamp(), "rota:bench")
        started = time.perf_counter()
        await app.dispatcher.drain(timeout=600)
        wall = time.perf_counter() - started
        async with app.db.read() as tx:
            counts = await tx.outbox.counts()
    finally:
        await app.stop()
    return {"span": transport.span(), "lower_bound": transport.lower_bound(),
            "violations": transport.violations, "delivered": len(transport.deliveries),
            "wall": wall, "speed": speed, "outbox": counts}


def run(folder: Path, quick: bool = False) -> tuple[list[Row], dict]:
    try:
        import tests.fake_transport  # noqa: F401
    except ImportError as exc:
        return [Row("P3 broadcast, 20 groups + 200 private", None, "s", floor="≤1.1×, 0 violations",
                    note=f"not measured: {exc}")], {}
    result = asyncio.run(broadcast(folder, 20.0 if quick else 1.0))
    ratio = result["span"] / result["lower_bound"] if result["lower_bound"] else float("inf")
    expected = GROUPS + PRIVATE
    ok = ratio <= 1.1 and result["violations"] == 0 and result["delivered"] == expected
    note = (f"{result['delivered']}/{expected} delivered, {result['violations']} violations"
            + ("" if rota_broadcast_landed() else "; stand-in broadcast (rota sweep not landed)"))
    row = Row("P3 broadcast, 20 groups + 200 private", result["span"], "s", result["lower_bound"],
              "lower bound the limits allow", "≤1.1×, 0 violations", ok, note=note)
    return [row], result
