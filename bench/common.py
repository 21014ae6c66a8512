"""What every benchmark shares: the result row, the machine, statistics and the bench compound."""

from __future__ import annotations

import os
import platform
import sqlite3
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable


@dataclass
class Row:
    """One figure: its value, the baseline measured in the same run, and the floor it must meet.

    ``higher_is_better`` decides how the ratio is compared with the floor: throughput floors are
    minimum ratios (≥), latency/memory floors are maximum ratios or absolute ceilings (≤).
    """

    name: str
    value: float | None
    unit: str
    baseline: float | None = None
    baseline_name: str = ""
    floor: str = ""  # how the floor reads in the table, e.g. "≥1000/s, ≥0.3×"
    ok: bool | None = None  # None: not measured
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.value is None or not self.baseline:
            return None
        return self.value / self.baseline


def machine() -> dict[str, str]:
    """The machine a run was measured on."""
    return {
        "cores": str(os.cpu_count()),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "platform": f"{platform.system()} {platform.release()} {platform.machine()}",
    }


def median(values: list[float]) -> float:
    return statistics.median(values)


def mean(values: list[float]) -> float:
    return statistics.fmean(values) if values else 0.0


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def fmt(value: float | None, unit: str = "") -> str:
    if value is None:
        return "—"
    if abs(value) >= 1000:
        text = f"{value:,.0f}"
    elif abs(value) >= 100:
        text = f"{value:.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.2f}"
    return f"{text} {unit}".strip()


def table(rows: list[Row]) -> str:
    """The results as a Markdown table (it reads fine in a terminal too)."""
    head = "| figure | value | baseline (same run) | ratio | floor | result |"
    lines = [head, "|---|---|---|---|---|---|"]
    for row in rows:
        base = f"{fmt(row.baseline, row.unit)} ({row.baseline_name})" if row.baseline_name else "—"
        ratio = f"{row.ratio:.2f}×" if row.ratio is not None else "—"
        result = {True: "pass", False: "FAIL", None: "not measured"}[row.ok]
        value = fmt(row.value, row.unit)
        if row.note:
            value = f"{value} ({row.note})" if row.value is not None else row.note
        lines.append(f"| {row.name} | {value} | {base} | {ratio} | {row.floor} | {result} |")
    return "\n".join(lines)


def copy_db(source: Path, target: Path) -> Path:
    """A copy of a closed database (its WAL too, if one was left)."""
    import shutil

    for suffix in ("", "-wal"):
        if Path(f"{source}{suffix}").exists():
            shutil.copyfile(f"{source}{suffix}", f"{target}{suffix}")
    return target


def write_config(folder: Path, buildings: int = 20) -> Path:
    """The bench compound's TOML (20 buildings, a group and a captain each, no tokens)."""
    from bot.simulate import compound_toml

    path = folder / "bench-compound.toml"
    path.write_text(compound_toml(buildings), encoding="utf-8")
    return path


async def register_units(path: Path, units: int, *, residents: int = 0) -> int:
    """Register ``units`` households' units (``f"{floor:02d}{room:02d}"``, spread over the 20
    buildings) in the database at ``path``, first adding ``residents`` generated residents (console
    identities r1, r2 …) when asked.  Returns how many units were registered.  The core reads
    registered units when it starts (``Core.start``), so call this before ``app.open()``."""
    from storage import Database

    db = Database(path)
    await db.open()
    try:
        async with db.transaction() as tx:
            if residents:
                await tx.bench.generate(tickets=0, residents=residents, start=time.time(), end=time.time())
            return await tx.bench.register_units(units)
    finally:
        await db.close()


class LinliProcess:
    """``linli run`` (headless: a config without tokens) as a child process, until it is ready."""

    def __init__(self, config: Path, db: Path, preimport: str = "") -> None:
        """``preimport``: Python run first in the same process (e.g. importing python-telegram-bot,
        as a deployment with a Telegram token does), then ``linli run`` as ``python -m bot``."""
        import subprocess

        self.started = time.perf_counter()
        args = ["run", "--config", str(config), "--db", str(db), "--log-level", "WARNING"]
        if preimport:
            start = [PYTHON, "-c", f"{preimport}\nimport runpy, sys\nsys.argv = ['linli', *sys.argv[1:]]\n"
                     "runpy.run_module('bot', run_name='__main__', alter_sys=True)"]
        else:
            start = [PYTHON, "-m", "bot"]
        self.proc = subprocess.Popen(start + args, cwd=ROOT, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True)
        self.ready_after: float | None = None

    def wait_ready(self, timeout: float = 60.0) -> float:
        """Seconds from spawning to ``linli: ready`` on stderr."""
        import selectors

        selector = selectors.DefaultSelector()
        selector.register(self.proc.stderr, selectors.EVENT_READ)
        deadline = time.perf_counter() + timeout
        seen = []
        while time.perf_counter() < deadline:
            if not selector.select(timeout=0.5):
                continue
            line = self.proc.stderr.readline()
            if not line:
                raise RuntimeError("linli run exited before it was ready:\n" + "".join(seen))
            seen.append(line)
            if line.startswith("linli: ready"):
                self.ready_after = time.perf_counter() - self.started
                return self.ready_after
        raise TimeoutError("linli run was not ready in time:\n" + "".join(seen))

    def peak_rss_mb(self) -> float:
        """The process's peak resident set size so far (VmHWM), in MB."""
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmHWM in /proc status")

    def stop(self) -> int:
        import signal
        import subprocess

        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


READ_VMHWM = ("\nfrom pathlib import Path\nprint([line.split()[1] for line in "
               "Path('/proc/self/status').read_text().splitlines() if line.startswith('VmHWM:')][0])")


def python_peak_rss_mb(code: str) -> float:
    """Peak RSS of a fresh Python process running ``code`` (a baseline), in MB: its own VmHWM, which
    starts anew at exec (``ru_maxrss`` would carry the benchmark parent's peak over the fork)."""
    import subprocess

    out = subprocess.run([PYTHON, "-c", code + READ_VMHWM], cwd=ROOT, check=True, capture_output=True,
                         text=True).stdout
    return int(out.split()[-1]) / 1024


def time_command(args: list[str]) -> float:
    import subprocess

    start = time.perf_counter()
    subprocess.run(args, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start
