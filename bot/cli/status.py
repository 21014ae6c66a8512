"""``linli status``: is Linli connected, and is anything waiting to be sent?

Reads what a running ``linli run`` keeps in the database: each adapter's health (written through
:meth:`bot.core.Core.note_health` when its connection changes, and refreshed while it is up) and the
outbox.  It works while the bot runs and after it stopped.  Exit code 0 when every configured platform
is connected and its health is fresh, 1 otherwise (for a cron job or a monitor), 2 for a bad config.
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime
from pathlib import Path

from bot.app import configured_platforms
from bot.cli import config_from, db_from
from storage import Database

FRESH_SECONDS = 180.0  # an adapter that is up refreshes its health more often than this


def register(subparsers, common) -> None:
    parser = subparsers.add_parser(
        "status", parents=[common], help="show the platforms' connection health and the outbox",
        description="Show each configured platform's connection state (as the running bot last "
                    "wrote it) and how many messages wait in the outbox. Exits 0 when every "
                    "platform is connected, 1 when one is not.")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead")
    parser.set_defaults(func=status)


def describe(record: str | None, now: float, fresh: float) -> dict:
    """A health record (JSON text from the kv table) as a dict with ``ok``."""
    if not record:
        return {"state": "unknown", "detail": "no health record (the bot has not run here, or this "
                "platform's adapter does not report its health)",
                "at": None, "ok": False}
    try:
        value = json.loads(record)
    except ValueError:
        return {"state": "unknown", "detail": "unreadable health record", "at": None, "ok": False}
    at = float(value.get("at") or 0)
    state = str(value.get("state", "unknown"))
    stale = state == "connected" and fresh > 0 and now - at > fresh
    return {"state": "stale" if stale else state, "detail": str(value.get("detail", "")),
            "at": at, "ok": state == "connected" and not stale}


async def status(args) -> int:
    config = config_from(args)
    path = Path(db_from(args))
    platforms = configured_platforms(config)
    if not await asyncio.to_thread(path.exists):
        print(f"linli: no database at {path} (start the bot with `linli run` first)")
        return 1
    fresh = max(FRESH_SECONDS, 3 * config.wechat.ping_seconds)
    db = Database(path)
    await db.open(migrate=False)
    try:
        async with db.read() as tx:
            health = {p: describe(await tx.kv.get(f"health:{p}"), time.time(), fresh)
                      for p in platforms}
            counts = await tx.outbox.counts()
            pending = {p: await tx.outbox.count_pending([p]) for p in platforms}
    finally:
        await db.close()
    ok = all(h["ok"] for h in health.values())
    if args.json:
        print(json.dumps({"ok": ok, "platforms": health, "pending": pending, "outbox": counts},
                         ensure_ascii=False))
        return 0 if ok else 1
    print(f"linli status — {config.compound.name} ({path})")
    if not platforms:
        print("  no platform configured ([telegram] token or [wechat] endpoint)")
    for platform, h in health.items():
        when = datetime.fromtimestamp(h["at"], config.tz).strftime("%Y-%m-%d %H:%M:%S") \
            if h["at"] else "-"
        detail = f" — {h['detail']}" if h["detail"] else ""
        print(f"  {platform}: {h['state']} (updated {when}){detail}; "
              f"{pending[platform]} waiting to be sent")
    summary = ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "empty"
    print(f"  outbox: {summary}")
    return 0 if ok else 1
