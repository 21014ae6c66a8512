"""APScheduler wiring: the sweeps run on a timer, and sooner when something asks to be woken.

The database is the source of truth for everything time-based (escalation deadlines, reminders,
scheduled announcements): a sweep reads what is due and acts on it.  So APScheduler only decides
*when* to look: an ``IntervalTrigger`` every ``[scheduler] tick_seconds``, one run right at start-up
(catching up on whatever fell due while the bot was down), and a ``DateTrigger`` for any exact moment
a capability asks for with ``core.wake_at(moment)`` (the app hands the scheduler's ``wake_at`` to
the core's constructor; the scheduler knows nothing of the core but the coroutine it runs).  A
restart rebuilds nothing by hand: the next sweep finds every deadline in the database.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, tzinfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.clock import Clock

log = logging.getLogger(__name__)


class Scheduler:
    """Runs the sweeps (``core.tick``) on a timer and at requested moments."""

    def __init__(self, tz: tzinfo, clock: Clock) -> None:
        self.tz = tz
        self.clock = clock
        self.scheduler = AsyncIOScheduler(timezone=tz)
        self.tick: Callable[[], Awaitable[None]] | None = None
        self._running: set[asyncio.Task] = set()

    def start(self, tick: Callable[[], Awaitable[None]], every: float) -> None:
        """Run ``tick`` every ``every`` seconds, once now, and at every moment asked for."""
        self.tick = tick
        self.scheduler.add_job(
            self._run, IntervalTrigger(seconds=every), id="tick", max_instances=1,
            coalesce=True, next_run_time=datetime.now(self.tz), misfire_grace_time=None)
        self.scheduler.start()
        log.info("scheduler started: sweeps every %ss", every)

    def wake_at(self, moment: datetime) -> None:
        """Run the sweeps at ``moment`` too (e.g. an announcement due at 09:00 sharp)."""
        if not self.scheduler.running or self.tick is None:
            return
        real = moment - getattr(self.clock, "offset", timedelta())
        self.scheduler.add_job(self._run, DateTrigger(run_date=real), max_instances=3,
                               misfire_grace_time=None)

    async def _run(self) -> None:
        """One run of the sweeps, remembered so that stopping can let it finish."""
        task = asyncio.current_task()
        if task is not None:
            self._running.add(task)
        try:
            await self.tick()
        finally:
            self._running.discard(task)

    async def stop(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109 - a total budget
        """No new runs; a run under way finishes (a sweep is never cut in the middle).

        APScheduler's asyncio executor cancels the jobs still running when it shuts down, so the
        scheduler is paused first, the run under way awaited, and only then shut down."""
        if self.scheduler.running:
            self.scheduler.pause()
        if self._running:
            await asyncio.wait(set(self._running), timeout=timeout)
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
