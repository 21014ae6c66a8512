"""P9 the office board: its first page of open tickets and a ticket page, with 1,000,000 tickets.

The database is P5's (bench/p4_p6_process.py ``generate``: 1M tickets over three years with their
history, 9,000 residents each with a registered unit).  The board (bot/web/app.py ``create_app``)
runs in process on the app's real core; each request is handed to the ASGI app itself with a
signed session cookie — routing, session check, roles, the storage reads, redaction, Jinja2
rendering — so the time is the server's, without a network or a client library.  Timed:

* ``/tickets`` (the first page: every open ticket, oldest first, 200 shown, with counts by status)
  as property (sees units) and as the committee (every text redacted against 9,000 units);
* ``/tickets/N`` for random N (the report, its timeline, followers, the reporter).

The baseline, in the same run, is the raw SQL the page runs (storage/board.py ``board_page_sql`` /
``ticket_with_events``) on the same database: the ratio is what the board adds to its queries.
"""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path

from bench.common import Row, fmt, median, p95, register_units
from bench.p4_p6_process import generate

RESIDENTS = 9000
SECRET = "bench-board-secret"
PAGE = 200  # bot/web/app.py LIST_LIMIT


async def serve(app, path: str, cookie: str) -> tuple[int, str]:
    """One GET through the ASGI app itself (no client library, no network): status and body."""
    url, _, query = path.partition("?")
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
             "scheme": "http", "path": url, "raw_path": url.encode(), "root_path": "",
             "query_string": query.encode(), "server": ("board.bench", 80),
             "client": ("127.0.0.1", 1), "headers": [(b"host", b"board.bench"),
                                                      (b"cookie", cookie.encode())]}
    answer: dict = {"status": 0, "body": []}

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]
        elif message["type"] == "http.response.body":
            answer["body"].append(message.get("body", b""))

    await app(scope, receive, send)
    return answer["status"], b"".join(answer["body"]).decode("utf-8")


async def measure(path: Path, samples: int, seed: int = 9) -> dict[str, list[float]]:
    from bot.app import App
    from bot.simulate import compound_config
    from bot.web.app import create_app
    from bot.web.auth import SESSION_COOKIE, Sessions
    from tests.harness import RecordingAdapter

    rng = random.Random(seed)
    app = App.create(compound_config(), path, ["console"], adapters={"console": RecordingAdapter()})
    await app.open()
    times: dict[str, list[float]] = {"list": [], "list_redacted": [], "ticket": [],
                                     "list_sql": [], "ticket_sql": []}
    try:
        core = app.core
        sessions = Sessions(SECRET, core.clock)
        board = create_app(core, secret=SECRET)
        async with app.db.read() as tx:
            highest = await tx.tickets.count()
        cookies = {who: f"{SESSION_COOKIE}={sessions.new(who)[1]}" for who in ("prop1", "chen")}
        for i in range(samples + 1):  # the first round warms up
            number = rng.randint(1, highest)
            for key, who, url in (("list", "prop1", "/tickets"),
                                  ("list_redacted", "chen", "/tickets"),
                                  ("ticket", "prop1", f"/tickets/{number}")):
                start = time.perf_counter()
                status, html = await serve(board, url, cookies[who])
                spent = time.perf_counter() - start
                if status != 200 or (key != "ticket" and 'tr class="ticket' not in html):
                    raise AssertionError(f"{url} as {who}: {status}")
                if key == "ticket" and f"#{number}" not in html:
                    raise AssertionError(f"{url}: not the ticket's page")
                if i:
                    times[key].append(spent)
            async with app.db.read() as tx:
                start = time.perf_counter()
                rows, counts = await tx.board.board_page_sql(PAGE + 1)
                spent = time.perf_counter() - start
                if i:
                    times["list_sql"].append(spent)
                start = time.perf_counter()
                ticket, _events = await tx.board.ticket_with_events(number)
                spent = time.perf_counter() - start
                if i:
                    times["ticket_sql"].append(spent)
            if not rows or not counts or ticket is None:
                raise AssertionError("the raw SQL found nothing")
    finally:
        await app.stop()
    return times


def run(folder: Path, quick: bool = False, big: Path | None = None) -> tuple[list[Row], dict]:
    tickets = 20_000 if quick else 1_000_000
    samples = 10 if quick else 100
    started = time.perf_counter()
    if big is None or not big.exists():
        big = asyncio.run(generate(folder / f"p9-{tickets}.db", tickets))
        asyncio.run(register_units(big, RESIDENTS))
    generated = time.perf_counter() - started
    times = asyncio.run(measure(big, samples))
    ms = 1000.0
    rows = []
    for key, base, label in (
            ("list", "list_sql", "P9 board: first page of open tickets (property)"),
            ("list_redacted", "list_sql", "P9 board: first page of open tickets (committee, redacted)"),
            ("ticket", "ticket_sql", "P9 board: a ticket page")):
        value = median(times[key]) * ms
        rows.append(Row(f"{label}, {tickets:,} tickets", value, "ms", median(times[base]) * ms,
                        "the page's raw SQL", "median ≤50 ms", value <= 50,
                        note=f"p95 {fmt(p95(times[key]) * ms, 'ms')}, {len(times[key])} samples"))
    return rows, {"generated_in": generated, "tickets": tickets}
