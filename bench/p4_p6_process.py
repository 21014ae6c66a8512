"""P4 memory and P6 cold start: ``linli run`` headless (a config with no tokens) as a child process.

P4 reads the process's peak RSS (VmHWM) once it is ready and its first sweeps have run: on an empty
database, and on one holding 100,000 generated tickets.  The baseline is a bare Python process that
imports what Linli stands on (python-telegram-bot, aiosqlite, APScheduler, pydantic).

P6 times spawning ``linli run`` until it prints ``linli: ready`` on stderr (a fresh database, so the
migrations run too), against ``python -c pass`` and ``python -c "import telegram"`` in the same run.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from bench.common import PYTHON, LinliProcess, Row, median, python_peak_rss_mb, time_command, write_config

DEPENDENCIES = "import telegram, telegram.ext, aiosqlite, apscheduler.schedulers.asyncio, pydantic"
SETTLE = 3.0  # seconds after ready: the scheduler's first sweeps run at start-up


async def generate(path: Path, tickets: int, residents: int = 9000, seed: int = 1) -> Path:
    """A database holding ``tickets`` generated tickets (created over the three years to now)."""
    from storage import Database

    db = Database(path)
    await db.open()
    try:
        end = time.time()
        async with db.transaction() as tx:
            await tx.bench.generate(tickets=tickets, residents=residents, start=end - 3 * 365 * 86400,
                                    end=end, seed=seed)
    finally:
        await db.close()
    return path


def peak_rss(config: Path, db: Path, settle: float = SETTLE) -> float:
    proc = LinliProcess(config, db)
    try:
        proc.wait_ready()
        time.sleep(settle)
        return proc.peak_rss_mb()
    finally:
        proc.stop()


def memory(folder: Path, quick: bool = False) -> list[Row]:
    config = write_config(folder)
    tickets = 2_000 if quick else 100_000
    loaded = asyncio.run(generate(folder / "p4-loaded.db", tickets))
    settle = 0.5 if quick else SETTLE
    base = python_peak_rss_mb(DEPENDENCIES)
    idle = peak_rss(config, folder / "p4-idle.db", settle)
    full = peak_rss(config, loaded, settle)
    return [
        Row("P4 peak RSS, `linli run` idle", idle, "MB", base, "python importing the dependencies",
            "≤100 MB", idle <= 100),
        Row(f"P4 peak RSS, {tickets:,} tickets loaded", full, "MB", idle, "idle, same run",
            "≤100 MB", full <= 100),
    ]


def cold_start(folder: Path, quick: bool = False) -> list[Row]:
    config = write_config(folder)
    repeats = 1 if quick else 5
    starts, bare, telegram = [], [], []
    for i in range(repeats):
        bare.append(time_command([PYTHON, "-c", "pass"]))
        telegram.append(time_command([PYTHON, "-c", "import telegram.ext"]))
        proc = LinliProcess(config, folder / f"p6-{i}.db")
        try:
            starts.append(proc.wait_ready())
        finally:
            proc.stop()
    value = median(starts)
    return [
        Row("P6 cold start of `linli run` to ready", value, "s", median(telegram),
            "python -c 'import telegram.ext'", "≤1.5 s", value <= 1.5,
            note=f"python -c pass: {median(bare):.2f} s"),
    ]
