"""P5 scale: the look-ups staff and residents make, on a database of 1,000,000 generated tickets.

* a building's open tickets (what 待办 3栋 runs: the oldest 20 open tickets and the open count);
* a resident's tickets (what 我的报修 runs: their latest 10);
* the weekly digest query (per building: reported, acknowledged, resolved, open, time to acknowledge).

Each is timed through the real storage methods (``Database.read()``, one aiosqlite trip per query),
many times over different buildings and residents; the figure is the median.  The baseline, in the
same run, is the same look-up on a database of 10,000 tickets: the ratio says how it scales.
The 1M-ticket database is generated once per run into the run's temporary folder.

Every one of the 9,000 generated residents has registered a unit (``f"{floor:02d}{room:02d}"`` in their
building, storage/bench.py ``register_units``), in both databases, as in a compound where everyone
used 登记.  These figures time storage look-ups only, so the privacy gate that hides those units from
group replies is not in them: P7 times the same replies through the whole ``Core.handle``, gate
included, with 2,800 and 30,000 registered units.
"""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path

from bench.common import Row, fmt, median, p95, register_units
from bench.p4_p6_process import generate

WEEK = 7 * 86400
RESIDENTS = 9000  # as generated (p4_p6_process.generate); each registers a unit


def _gather():
    try:
        from bot.digest import gather
    except ImportError:
        return None
    return gather


async def digest(tx, since: float, until: float):
    """The weekly digest's queries: ``bot.digest.gather`` (storage/reports.py) when it exists,
    else the stand-in aggregate ``Tickets.week_summary``."""
    gather = _gather()
    if gather is not None:
        from datetime import datetime

        from bot.simulate import compound_config

        config = compound_config()
        start = datetime.fromtimestamp(since, config.tz)
        end = datetime.fromtimestamp(until, config.tz)
        return await gather(config, tx, start, end, 3)
    return await tx.tickets.week_summary(since, until)


def digest_source() -> str:
    if _gather() is not None:
        return ("bot/digest.py gather(): every query of the weekly digest (storage/reports.py "
                "tallies by building and category, durations and oldest open per building)")
    return "stand-in: Tickets.week_summary() (the digest's queries have not landed)"


async def measure(path: Path, samples: int, seed: int = 1) -> dict[str, list[float]]:
    from storage import Database

    db = Database(path)
    await db.open()
    rng = random.Random(seed)
    times: dict[str, list[float]] = {"open": [], "mine": [], "digest": []}
    try:
        async with db.read() as tx:
            residents = await tx.bench.some_residents(samples, seed)
            until = await tx.tickets._value("SELECT MAX(created_at) FROM tickets")
        for i in range(samples):
            building = str(rng.randint(1, 20))
            async with db.read() as tx:
                start = time.perf_counter()
                listed = await tx.tickets.open_in([building], limit=20)
                await tx.tickets.count_open([building])
                times["open"].append(time.perf_counter() - start)
                start = time.perf_counter()
                await tx.tickets.of_reporter(residents[i % len(residents)], limit=10)
                times["mine"].append(time.perf_counter() - start)
            assert listed is not None
        for _ in range(max(3, samples // 20)):
            async with db.read() as tx:
                start = time.perf_counter()
                rows = await digest(tx, until - WEEK, until + 1)
                times["digest"].append(time.perf_counter() - start)
            assert rows
            if sum(times["digest"]) > 20:  # a slow digest: a few samples tell enough
                break
    finally:
        await db.close()
    return times


def run(folder: Path, quick: bool = False, big: Path | None = None) -> tuple[list[Row], dict]:
    tickets = 20_000 if quick else 1_000_000
    samples = 20 if quick else 200
    started = time.perf_counter()
    if big is None or not big.exists():
        big = asyncio.run(generate(folder / f"p5-{tickets}.db", tickets))
    units = asyncio.run(register_units(big, RESIDENTS))
    generated = time.perf_counter() - started
    small = asyncio.run(generate(folder / "p5-10000.db", 10_000))
    asyncio.run(register_units(small, RESIDENTS))
    large = asyncio.run(measure(big, samples))
    base = asyncio.run(measure(small, samples))
    ms = 1000.0
    rows = []
    for key, label, floor_ms, floor in (
            ("open", "P5 a building's open tickets (待办)", 10, "median ≤10 ms"),
            ("mine", "P5 a resident's tickets (我的报修)", 10, "median ≤10 ms"),
            ("digest", "P5 weekly digest query", 2000, "median ≤2 s")):
        value = median(large[key]) * ms
        rows.append(Row(f"{label}, {tickets:,} tickets", value, "ms", median(base[key]) * ms,
                        "10,000 tickets", floor, value <= floor_ms,
                        note=f"p95 {fmt(p95(large[key]) * ms, 'ms')}, {len(large[key])} samples"))
    return rows, {"generated_in": generated, "tickets": tickets, "units": units,
                  "digest": digest_source()}
