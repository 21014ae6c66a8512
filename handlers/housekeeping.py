"""Housekeeping: the tables that only grow are pruned to the retention the config states.

``[retention]`` (bot/config.py ``RetentionSettings``) says how long rows are kept: the inbound
de-duplication record ``inbound_days`` (14: platforms redeliver within hours), sent and failed outbox
rows ``outbox_days`` (30; pending and held messages are never pruned), the audit log ``audit_days``
(730, kept longest; 0: forever); the office board's one-time sign-in links go a day after they
expired (until then a used or expired link still says so).  Tickets and their history are never pruned.

The sweep starts a pass at most once every ``every`` (an hour), remembered in the kv store, so a
restart does not start one early.  A pass deletes ``batch_size`` rows per statement (≤500), each batch
in its own short transaction, and yields to the event loop between batches, so chats are answered
meanwhile; after ``batches_per_tick`` batches it stops and the next tick goes on where it stopped (a
backlog, e.g. the first pass after an upgrade, is worked off tick by tick, never in one long hold of
the write lock).  Pruning is idempotent: a pass over pruned tables deletes nothing.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import datetime

from bot.commands import Router

log = logging.getLogger(__name__)
router = Router("housekeeping")
LAST_PASS = "housekeeping:retention"  # kv: {"at": when the pass started, "done": finished?}
DAY = 86400.0


@router.sweep("housekeeping.prune")
async def prune(core, now: datetime) -> dict[str, int] | None:
    """Prune what is older than the retention; return the rows deleted this tick (None: not due)."""
    settings = core.config.retention
    ts = now.timestamp()
    async with core.db.read() as tx:
        last = _read(await tx.kv.get(LAST_PASS))
    if last["done"] and 0 <= ts - last["at"] < settings.every.total_seconds():
        return None
    started = last["at"] if not last["done"] else ts  # an unfinished pass goes on with its cut-offs
    steps = [("inbound", settings.inbound_days), ("outbox", settings.outbox_days),
             ("audit", settings.audit_days), ("links", 1)]  # a day after a sign-in link expired
    pruned = {table: 0 for table, _ in steps}
    budget = settings.batches_per_tick
    done = True
    for table, days in steps:
        if not days:
            continue  # 0: kept forever
        before = started - days * DAY
        while True:
            if budget <= 0:
                done = False
                break
            async with core.db.transaction() as tx:
                deleted = await getattr(tx.retention, f"prune_{table}")(before, settings.batch_size)
            budget -= 1
            pruned[table] += deleted
            await asyncio.sleep(0)  # let the chats in between batches
            if deleted < settings.batch_size:
                break
        if not done:
            break
    async with core.db.transaction() as tx:
        await tx.kv.put(LAST_PASS, json.dumps({"at": started, "done": done}))
    if any(pruned.values()):
        log.info("retention: pruned %s%s", ", ".join(f"{n} {t}" for t, n in pruned.items() if n),
                 "" if done else " (more next tick)")
    return pruned


def _read(raw: str | None) -> dict:
    """The last pass as stored; a missing or unreadable record means no pass yet."""
    try:
        value = json.loads(raw or "")
        return {"at": float(value["at"]), "done": bool(value["done"])}
    except (ValueError, TypeError, KeyError):
        return {"at": 0.0, "done": True}
