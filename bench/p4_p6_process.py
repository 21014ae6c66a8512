"""P4 memory and P6 cold start: ``linli run`` headless (a config with no tokens) as a child process.

P4 reads peak RSS (VmHWM, the process's own high-water mark, which starts anew at exec) of fresh
child processes, each importing python-telegram-bot and the rest of what Linli stands on first:
``linli run`` on an empty database once it is ready and its first sweeps have run; and
``bench/p4_child.py`` (the app started as ``linli run`` starts it) on 100,000 generated tickets after
it has touched every one of them (each read through the storage layer, 待办 of all buildings and of
each building, 我的报修 of 200 residents, through ``Core.handle``).  The baseline is a fresh Python
process importing the same libraries.  (Before: the baseline read ``ru_maxrss``, which carries the
benchmark parent's peak across the fork: 108–128 MB instead of ≈45 MB; and the loaded figure only
opened the database.)

P6 times spawning ``linli run`` until it prints ``linli: ready`` on stderr (a fresh database, so the
migrations run too), against ``python -c pass`` and ``python -c "import telegram"`` in the same run.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from bench.common import (
    PYTHON,
    ROOT,
    LinliProcess,
    Row,
    median,
    python_peak_rss_mb,
    time_command,
    write_config,
)

DEPENDENCIES = "import telegram, telegram.ext, aiosqlite, apscheduler.schedulers.asyncio, pydantic"
LINLI_IMPORTS = DEPENDENCIES + "\nimport bot.adapters.telegram"  # as with a Telegram token
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
    """Peak RSS of ``linli run`` (python-telegram-bot imported first) once ready and settled, MB."""
    proc = LinliProcess(config, db, preimport=LINLI_IMPORTS)
    try:
        proc.wait_ready()
        time.sleep(settle)
        return proc.peak_rss_mb()
    finally:
        proc.stop()


def touched_rss(config: Path, db: Path, settle: float = SETTLE) -> dict[str, float]:
    """bench/p4_child.py on ``db``: peak RSS (MB) settled after start, and after touching every ticket."""
    import subprocess

    out = subprocess.run([PYTHON, "-m", "bench.p4_child", str(config), str(db), str(settle)],
                         cwd=ROOT, check=True, capture_output=True, text=True, timeout=600).stdout
    seen = {line.split()[0]: line.split()[1:] for line in out.splitlines() if line.strip()}
    return {"idle": int(seen["idle"][0]) / 1024, "touched": int(seen["touched"][0]) / 1024,
            "read": int(seen["touched"][1])}


def memory(folder: Path, quick: bool = False) -> tuple[list[Row], dict]:
    config = write_config(folder)
    tickets = 2_000 if quick else 100_000
    loaded = asyncio.run(generate(folder / "p4-loaded.db", tickets))
    settle = 0.5 if quick else SETTLE
    base = python_peak_rss_mb(DEPENDENCIES)
    idle = peak_rss(config, folder / "p4-idle.db", settle)
    full = touched_rss(config, loaded, settle)
    if full["read"] != tickets:
        raise AssertionError(f"read {full['read']:,} tickets of {tickets:,}")
    return [
        Row("P4 peak RSS, `linli run` idle (fresh process, PTB imported)", idle, "MB", base,
            "fresh python importing the same libraries", "≤100 MB", idle <= 100),
        Row(f"P4 peak RSS, {tickets:,} tickets touched (read, 待办, 我的报修)", full["touched"], "MB",
            base, "fresh python importing the same libraries", "≤100 MB", full["touched"] <= 100,
            note=f"same process before touching: {full['idle']:.1f} MB"),
    ], {"baseline": base, "idle": idle, **full}


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
