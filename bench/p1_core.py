"""P1 core throughput: residents' commands through ``Core.handle`` with a real SQLite file.

The mix is what residents type most: 报修 (a new report), 同问 (me too on a recent one), 进度 (how is
#N going), 我的报修 (my reports), 报名 (sign up for a volunteer slot) and 值班 (the duty rota).  Every
command runs the whole core: parse, de-duplicate, find the sender, check roles, run the handler in a
savepoint, write state and outbox rows in one transaction and commit.

The compound has 2,800 registered households (residents r1 … r2800 of the 9,000, each with a unit
``f"{floor:02d}{room:02d}"`` in their building, loaded by ``Core.start`` as after 登记), so every group
reply pays the privacy gate's cost of hiding registered units (P7 measures that cost on its own).

The baseline, measured in the same run, is a raw replica of Linli's own SQL.  The same commands run once
through Linli with every statement recorded as it reaches SQLite (statement text, parameters, how its
rows were fetched; ``sqlite3``'s trace callback gives the expanded SQL and checks the count), grouped by
command (BEGIN IMMEDIATE … COMMIT, savepoints and the occasional WAL checkpoint included).  Then, on a
fresh copy of the same starting database, plain ``sqlite3`` on the event loop's thread replays those
groups statement by statement with the pragmas ``storage/db.py`` sets: no parsing, handlers, rendering,
privacy gate, aiosqlite or Python objects.  The ratio is Linli's commands/s over the replica's: what Linli
costs over the SQL it runs.  Both end with the same rows in every table (checked each repeat).
"""

from __future__ import annotations

import asyncio
import itertools
import random
import sqlite3
import time
from collections import Counter
from pathlib import Path

import aiosqlite

from bench.common import Row, copy_db, mean, median, register_units

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


async def open_app(path: Path, households: int = HOUSEHOLDS, setup: bool = True):
    """An App over ``path`` on the bench clock; with ``setup``, first the registered households, then
    the event residents sign up for and the rotas' shifts."""
    from bot.app import App
    from bot.clock import ManualClock
    from bot.simulate import compound_config
    from tests.harness import START, RecordingAdapter

    if households and setup:  # before app.open(): the core loads registered units when it starts
        await register_units(path, households, residents=households)
    config = compound_config()
    clock = ManualClock(config.tz, START)
    app = App.create(config, path, ["console"], clock=clock, adapters={"console": RecordingAdapter()})
    await app.open()
    if households and len(app.core.redactor) == 0:
        raise AssertionError("the core did not load the registered units")
    if not setup:
        return app
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


# --- the raw replica: Linli's own statements, replayed with plain sqlite3 -------------------------

PRAGMAS = ("PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL", "PRAGMA wal_autocheckpoint=0",
           "PRAGMA foreign_keys=ON", "PRAGMA busy_timeout=30000")  # as storage/db.py Database.open


class _Cursor:
    """Notes how a recorded statement's rows were fetched (one, all, or none)."""

    def __init__(self, cursor: sqlite3.Cursor, entry: list) -> None:
        self._cursor, self._entry = cursor, entry

    def fetchone(self):
        self._entry[2] = "one"
        return self._cursor.fetchone()

    def fetchall(self):
        self._entry[2] = "all"
        return self._cursor.fetchall()

    def __iter__(self):
        self._entry[2] = "all"
        return iter(self._cursor)

    def __getattr__(self, name: str):
        return getattr(self._cursor, name)


class _Recording:
    """Stands in for aiosqlite's ``sqlite3.Connection`` while one run is recorded: every statement
    (text, parameters, fetch, whether it failed) goes into the current command's group."""

    def __init__(self, real: sqlite3.Connection) -> None:
        self._real = real
        self.groups: list[list[list]] = []
        self.traced: list[list[str]] = []

    def next_command(self) -> None:
        self.groups.append([])
        self.traced.append([])

    def trace(self, expanded: str) -> None:
        if self.traced:
            self.traced[-1].append(expanded)

    def execute(self, sql: str, params=()):
        entry = [sql, tuple(params), None, False]
        if self.groups:
            self.groups[-1].append(entry)
        try:
            return _Cursor(self._real.execute(sql, params), entry)
        except sqlite3.Error:
            entry[3] = True
            raise

    def executemany(self, sql: str, rows):
        raise AssertionError("executemany inside a P1 command: the replica does not replay it")

    def __getattr__(self, name: str):
        return getattr(self._real, name)


def messages(seed: int, warmup: int, commands: int):
    """(warm-up messages, timed messages, the mix): the same for Linli and for the recording."""
    mix = Mix(seed)
    warm = [mix.next() for _ in range(warmup)]
    timed = [mix.next() for _ in range(commands)]
    return warm, timed, mix


async def starting_db(path: Path) -> Path:
    """The database every run of one P1 measurement starts from (households, the event, shifts)."""
    app = await open_app(path)
    await app.stop()
    return path


def _snapshot(path: Path) -> dict[str, int]:
    """Rows per table: Linli's run and the replica's must end alike."""
    conn = sqlite3.connect(path)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {t: conn.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0] for t in tables}
    finally:
        conn.close()


def _remove(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


async def linli_run(start: Path, path: Path, warm: list, timed: list,
                    record: bool = False) -> tuple[float, _Recording | None]:
    """Commands/s of ``timed`` through ``Core.handle`` on a copy of ``start`` (after ``warm``); with
    ``record``, every statement of every command (warm-up included) is recorded instead of timed."""
    copy_db(start, path)
    app = await open_app(path, setup=False)
    aconn = app.db.conn
    real = aconn._conn
    recording = None
    if record:
        recording = _Recording(real)
        aconn._connection = recording
        real.set_trace_callback(recording.trace)
    try:
        for message in warm:
            if recording:
                recording.next_command()
            await app.core.handle(message)
        start_at = time.perf_counter()
        for message in timed:
            if recording:
                recording.next_command()
            await app.core.handle(message)
        elapsed = time.perf_counter() - start_at
        if recording:
            recording.next_command()  # the outbox count below is no command's
        async with app.db.read() as tx:
            pending = await tx.outbox.count_pending()
        if pending < len(timed):
            raise AssertionError(f"only {pending} outbox rows for {len(timed)} commands")
    finally:
        if record:
            real.set_trace_callback(None)
            aconn._connection = real
        await app.stop()
    return len(timed) / elapsed, recording


def _replay(conn: sqlite3.Connection, group: list[list]) -> None:
    for sql, params, fetch, failed in group:
        try:
            cursor = conn.execute(sql, params)
        except sqlite3.Error:
            if failed:
                continue
            raise
        if failed:
            raise AssertionError(f"replayed without the error Linli met: {sql}")
        if fetch == "one":
            cursor.fetchone()
        elif fetch == "all":
            cursor.fetchall()
        cursor.close()


async def replica_run(start: Path, path: Path, warm: list[list[list]], timed: list[list[list]]) -> float:
    """Commands/s of plain sqlite3 replaying the recorded groups on a copy of ``start``, on the loop,
    one command after another (the pragmas of storage/db.py, autocommit as Linli's connection)."""
    copy_db(start, path)
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        for pragma in PRAGMAS:
            conn.execute(pragma).fetchall()
        for group in warm:
            _replay(conn, group)
        start_at = time.perf_counter()
        for group in timed:
            _replay(conn, group)
        elapsed = time.perf_counter() - start_at
        conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()  # as Database.close
    finally:
        conn.close()
    return len(timed) / elapsed


def statement_counts(recording: _Recording, timed: list, warmup: int) -> dict:
    """Statements per timed command: overall, by kind of command, and as the trace saw them."""
    groups = recording.groups[warmup:warmup + len(timed)]
    traced = recording.traced[warmup:warmup + len(timed)]
    by_kind: dict[str, list[int]] = {}
    for message, group in zip(timed, groups, strict=True):
        word = message.text.split()[0]
        by_kind.setdefault(word, []).append(len(group))
    return {
        "per_command": mean([len(g) for g in groups]),
        "traced_per_command": mean([len(t) for t in traced]),
        "by_kind": {word: mean(counts) for word, counts in sorted(by_kind.items(), key=lambda x: -len(x[1]))},
        "transactions_per_command": mean([sum(1 for e in g if e[0].startswith("BEGIN")) for g in groups]),
        "example": {word: next(t for m, t in zip(timed, traced, strict=True) if m.text.split()[0] == word)
                    for word in ("报修",) if any(m.text.startswith(word) for m in timed)},
    }


async def p1_measure(folder: Path, commands: int, repeats: int, warmup: int = 200, seed: int = 1) -> dict:
    """Linli and its replica, ``repeats`` times each, taking turns, on copies of one starting db."""
    start = await starting_db(folder / "p1-start.db")
    warm, timed, mix = messages(seed, warmup, commands)
    _, recording = await linli_run(start, folder / "p1-record.db", warm, timed, record=True)
    groups = recording.groups[:warmup], recording.groups[warmup:warmup + commands]
    recorded = _snapshot(folder / "p1-record.db")
    core, replica = [], []
    for i in range(repeats):
        rate, _ = await linli_run(start, folder / f"p1-core-{i}.db", warm, timed)
        core.append(rate)
        replica.append(await replica_run(start, folder / f"p1-replica-{i}.db", *groups))
        for name in (f"p1-core-{i}.db", f"p1-replica-{i}.db"):
            if _snapshot(folder / name) != recorded:
                raise AssertionError(f"{name} ended with other rows than the recorded run")
            _remove(folder / name)
    return {"core": core, "replica": replica, "mix": mix,
            "statements": statement_counts(recording, timed, warmup)}


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
    measured = asyncio.run(p1_measure(folder, commands, repeats))
    core, replica, mix = measured["core"], measured["replica"], measured["mix"]
    value, baseline = median(core), median(replica)
    hops, sql = asyncio.run(hop_count(folder / "p1-hops.db", 100 if quick else 1000))
    hop = median([asyncio.run(bare_hop(500 if quick else 5000)) for _ in range(3)])
    ratio = value / baseline
    ratios = [c / r for c, r in zip(core, replica, strict=True)]
    counts = measured["statements"]
    note = (f"{counts['per_command']:.1f} statements/command; per-repeat ratio "
            f"{min(ratios):.2f}–{max(ratios):.2f}×")
    row = Row("P1 core throughput (commands/s)", value, "/s", baseline,
              "raw sqlite3 replica of the same statements", "≥1,000/s and ≥0.5× replica",
              value >= 1000 and ratio >= 0.5, note=note)
    per_command = 1 / value
    details = {
        "commands": commands, "repeats": repeats, "core": core, "replica": replica,
        "ratios": ratios, "mix": dict(mix.counts), "statements": counts,
        "hops_per_command": hops, "sql_per_command": sql, "bare_hop": hop,
        "per_command": per_command, "replica_per_command": 1 / baseline,
        "hop_share": min(1.0, hops * hop / per_command),
    }
    return [row], details
