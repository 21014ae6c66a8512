"""P1 core throughput: residents' commands through ``Core.handle`` with a real SQLite file.

The mix is what residents type most: 报修 (a new report), 同问 (me too on a recent one), 进度 (how is
#N going), 我的报修 (my reports), 报名 (sign up for a volunteer slot) and 值班 (the duty rota).  Every
command runs the whole core: parse, de-duplicate, find the sender, check roles, run the handler in a
savepoint, write state and outbox rows in one transaction and commit.

The compound has 2,800 registered households (residents r1 … r2800 of the 9,000, each with a unit
``f"{floor:02d}{room:02d}"`` in their building, loaded by ``Core.start`` as after 登记), so every group
reply pays the privacy gate's cost of hiding registered units (P7 measures that cost on its own).

The baseline, measured in the same run, is the least any durable command can cost with aiosqlite:
one INSERT and one COMMIT per command, on a file with the same pragmas (WAL, synchronous=NORMAL,
wal_autocheckpoint=10000).
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections import Counter
from pathlib import Path

import aiosqlite

from bench.common import Row, median, register_units

CATEGORY_TEXTS = ("电梯坏了，困在三楼", "楼道垃圾没人清理", "消防门被堵住了", "充电桩不能用",
                  "楼上装修噪音太吵", "狗叫了一晚上", "地库有车乱停占道", "楼道灯不亮了")
RESIDENTS = 9000
HOUSEHOLDS = 2800  # residents r1 … r2800 have registered their unit (see the module docstring)


class Mix:
    """Generates the residents' messages, deterministically from a seed."""

    WEIGHTS = (("report", 25), ("metoo", 15), ("progress", 20), ("mine", 15), ("signup", 12),
               ("rota", 13))

    def __init__(self, seed: int = 1) -> None:
        self.rng = random.Random(seed)
        self.ids = itertools.count(1)
        self.reports = 0
        self.kinds = [k for k, w in self.WEIGHTS for _ in range(w)]
        self.counts: Counter[str] = Counter()

    def text(self, kind: str, building: int) -> str:
        if kind == "report" or self.reports == 0:
            self.reports += 1
            return f"报修 {building}栋{self.rng.choice(CATEGORY_TEXTS)}"
        recent = max(1, self.reports - self.rng.randint(0, 50))
        if kind == "metoo":
            return f"同问 {recent}"
        if kind == "progress":
            return f"进度 {recent}"
        if kind == "mine":
            return "我的报修"
        if kind == "signup":
            return "报名 1"
        return "值班"

    def next(self):
        from bot.messages import Inbound

        kind = self.rng.choice(self.kinds)
        building = self.rng.randint(1, 20)
        resident = f"r{self.rng.randint(1, RESIDENTS)}"
        text = self.text(kind, building)
        if text.startswith("报修"):
            kind = "report"
        self.counts[kind] += 1
        private = kind == "mine" and self.rng.random() < 0.5
        return Inbound(platform="console", chat_id=resident if private else f"b{building}",
                       chat_kind="private" if private else "group", sender_id=resident,
                       sender_name=resident, text=text, message_id=f"m{next(self.ids)}")


async def open_app(path: Path, households: int = HOUSEHOLDS):
    from bot.app import App
    from bot.clock import ManualClock
    from bot.simulate import compound_config
    from tests.harness import START, RecordingAdapter

    if households:  # before app.open(): the core loads registered units when it starts
        await register_units(path, households, residents=households)
    config = compound_config()
    clock = ManualClock(config.tz, START)
    app = App.create(config, path, ["console"], clock=clock, adapters={"console": RecordingAdapter()})
    await app.open()
    if households and len(app.core.redactor) == 0:
        raise AssertionError("the core did not load the registered units")
    from bot.messages import Inbound

    # the event residents sign up for (报名 1)
    await app.core.handle(Inbound("console", "coord", "private", "coord", "coord",
                                  "新活动 美化家园 周日 上午9点 2小时 中心花园 200人", "setup-1"))
    await app.core.tick()  # the rotas' shifts are made (值班 has someone to show)
    return app


async def core_run(path: Path, commands: int, warmup: int = 200, seed: int = 1) -> tuple[float, Mix]:
    """Commands per second through ``Core.handle`` (after a warm-up), outbox rows included."""
    app = await open_app(path)
    try:
        mix = Mix(seed)
        for _ in range(warmup):
            await app.core.handle(mix.next())
        messages = [mix.next() for _ in range(commands)]
        start = time.perf_counter()
        for message in messages:
            await app.core.handle(message)
        elapsed = time.perf_counter() - start
        async with app.db.read() as tx:
            pending = await tx.outbox.count_pending()
        if pending < commands:
            raise AssertionError(f"only {pending} outbox rows for {commands} commands")
        return commands / elapsed, mix
    finally:
        await app.stop()


async def baseline_run(path: Path, commands: int) -> float:
    """One aiosqlite INSERT + COMMIT per command: the floor of any durable command."""
    conn = await aiosqlite.connect(str(path))
    try:
        await conn.execute("PRAGMA journal_mode=WAL")
        await conn.execute("PRAGMA synchronous=NORMAL")
        await conn.execute("PRAGMA wal_autocheckpoint=10000")
        await conn.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, at REAL, body TEXT)")
        await conn.commit()
        start = time.perf_counter()
        for i in range(commands):
            await conn.execute("INSERT INTO t (at, body) VALUES (?, ?)", (time.time(), f"command {i}"))
            await conn.commit()
        return commands / (time.perf_counter() - start)
    finally:
        await conn.close()


async def bare_hop(commands: int = 5000) -> float:
    """Seconds one aiosqlite thread round trip costs with nothing to do (the hop itself)."""
    conn = await aiosqlite.connect(":memory:")
    try:
        start = time.perf_counter()
        for _ in range(commands):
            await conn._execute(int)
        return (time.perf_counter() - start) / commands
    finally:
        await conn.close()


async def hop_count(path: Path, commands: int = 500) -> tuple[float, float]:
    """(thread hops per command, seconds of SQLite work per command), counted on one run."""
    app = await open_app(path)
    conn = app.db.conn
    real = conn._execute
    hops = [0, 0.0]

    async def counted(fn, *args, **kwargs):
        def timed():
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                hops[1] += time.perf_counter() - start

        hops[0] += 1
        return await real(timed)

    try:
        mix = Mix(2)
        for _ in range(200):
            await app.core.handle(mix.next())
        conn._execute = counted
        for _ in range(commands):
            await app.core.handle(mix.next())
    finally:
        conn._execute = real
        await app.stop()
    return hops[0] / commands, hops[1] / commands


def profile(path: Path, commands: int = 1500) -> str:
    """A pyinstrument profile of the core loop (text, the top of the call tree)."""
    from pyinstrument import Profiler

    import bot.app
    import bot.simulate  # noqa: F401
    import tests.harness  # noqa: F401

    async def go():
        await core_run(path, commands, warmup=100, seed=3)

    profiler = Profiler(async_mode="enabled", interval=0.0005)
    profiler.start()
    asyncio.run(go())
    profiler.stop()
    return profiler.output_text(unicode=True, color=False, show_all=False)


def run(folder: Path, quick: bool = False) -> tuple[list[Row], dict]:
    commands = 300 if quick else 3000
    repeats = 1 if quick else 5
    core, base = [], []
    mix = None
    for i in range(repeats):
        rate, mix = asyncio.run(core_run(folder / f"p1-core-{i}.db", commands))
        core.append(rate)
        base.append(asyncio.run(baseline_run(folder / f"p1-base-{i}.db", commands)))
    value, baseline = median(core), median(base)
    hops, sql = asyncio.run(hop_count(folder / "p1-hops.db", 100 if quick else 1000))
    hop = median([asyncio.run(bare_hop(500 if quick else 5000)) for _ in range(3)])
    note = f"mix {dict(mix.counts)}" if mix else ""
    ratio = value / baseline
    row = Row("P1 core throughput (commands/s)", value, "/s", baseline, "aiosqlite insert+commit",
              "≥1,000/s and ≥0.3×", value >= 1000 and ratio >= 0.3)
    per_command = 1 / value
    details = {
        "commands": commands, "repeats": repeats, "core": core, "baseline": base, "mix": note,
        "hops_per_command": hops, "sql_per_command": sql, "bare_hop": hop,
        "per_command": per_command,
        "hop_share": min(1.0, hops * hop / per_command),
    }
    return [row], details
