"""The office board's pages beyond tickets and audit: rota, events, announcements, digest, exports,
and the calendar feeds (``/calendar/<token>.ics``, handed out by 日历链接, handlers/calendar.py).

``create_app`` (bot/web/app.py) hands :func:`page_routes` a :class:`Kit` with its helpers (rendering,
the signed-in viewer, CSRF, redaction); each page checks the viewer's roles on the server
(:data:`PAGE_ROLES`, the same roles the matching chat command asks for).  Nothing here writes to
the database itself: cancelling an announcement runs 取消通知 through ``Core.perform`` and the
sign-up CSV is the file 报名名单 N attaches, made by the same command — the same role checks,
audit and answers as in chat.  The digest reuses bot/digest.py, the exports bot/exports.py (what
``linli export`` writes), the feeds bot/ical.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from bot.digest import building_text, compound_text, gather, render_chart, week_before, week_bounds
from bot.exports import as_text, ticket_rows
from bot.format import format_moment, hours, join
from bot.i18n import t
from bot.ical import Entry, calendar_text

# page → the roles that may open it (``captain`` means any building's captain)
PAGE_ROLES = {
    "tickets": ("captain", "property", "committee", "admin"),
    "rota": ("captain", "property", "committee", "admin"),
    "events": ("captain", "property", "committee", "admin"),
    "announcements": ("property", "committee", "admin"),  # 通知 / 取消通知
    "digest": ("captain", "property", "committee", "admin"),  # captains: their buildings only
    "exports": ("property", "committee", "admin"),
    "audit": ("captain", "property", "committee", "admin"),
}
NAV = ("tickets", "rota", "events", "announcements", "digest", "exports", "audit")
SIGNUP_CSV_ROLES = ("coordinator", "admin")  # 报名名单's roles (admins pass every check)
DIGEST_WEEKS = 8  # earlier weeks offered on the digest page
EVENTS_BEFORE, EVENTS_AFTER = 30, 90  # days around today on the events page
FEED_PAST = 30 * 86400  # a feed keeps the last month's shifts and events


def holds(roles: frozenset[str], role: str) -> bool:
    return any(r == role or r.startswith(role + ":") for r in roles)


def may_see(viewer, page: str) -> bool:
    """Whether the signed-in ``viewer`` may open ``page`` (also used by the navigation bar)."""
    return viewer is not None and any(holds(viewer.roles, r) for r in PAGE_ROLES.get(page, ()))


@dataclass
class Kit:
    """What the pages need from ``create_app``."""

    core: object
    render: Callable  # (request, template, lang, code=200, viewer=None, **values) -> HTMLResponse
    message: Callable  # (request, lang, status, heading, *lines, viewer=None) -> HTMLResponse
    viewer_of: Callable  # async (request) -> Viewer | Response
    form_of: Callable  # async (request) -> dict
    csrf_ok: Callable  # (viewer, token) -> bool
    csrf_refused: Callable  # (request, viewer) -> Response
    shown_text: Callable  # (text, viewer, building) -> str
    building_name: Callable  # (key, lang) -> str
    set_flash: Callable  # (response, text) -> None
    take_flash: Callable  # (request) -> str | None  (reads it; clear_flash removes it)
    clear_flash: Callable  # (response) -> None


def page_routes(kit: Kit) -> list[Route]:
    core, config = kit.core, kit.core.config
    tz = config.tz

    async def allowed(request: Request, page: str):
        """The viewer when they may open ``page``; else the page saying why not."""
        viewer = await kit.viewer_of(request)
        if isinstance(viewer, Response):
            return viewer
        if not may_see(viewer, page):
            return kit.message(request, viewer.lang, 403, t(viewer.lang, "board.web.forbidden"),
                               t(viewer.lang, f"office.refused.{page}"), viewer=viewer)
        return viewer

    def local(ts: float) -> datetime:
        return datetime.fromtimestamp(ts, tz)

    def iso_week(moment: datetime) -> str:
        year, number, _ = moment.isocalendar()
        return f"{year}-W{number:02d}"

    def week_asked(request: Request, default: str) -> tuple[str, datetime, datetime]:
        week = request.query_params.get("week", "").strip().upper() or default
        try:
            start, end = week_bounds(week, tz)
        except ValueError:
            week = default
            start, end = week_bounds(week, tz)
        return iso_week(start), start, end

    async def names_of(tx, person_ids, viewer, building) -> dict[int, str]:
        names = {}
        for person_id in person_ids:
            if person_id is not None and person_id not in names:
                person = await tx.people.get(person_id)
                names[person_id] = kit.shown_text(person.name if person else "?", viewer, building)
        return names

    # --- rota --------------------------------------------------------------------------------------
    async def rota_page(request: Request) -> Response:
        viewer = await allowed(request, "rota")
        if isinstance(viewer, Response):
            return viewer
        lang, now = viewer.lang, core.clock.now()
        week, start, end = week_asked(request, iso_week(now))
        async with core.db.read() as tx:
            rotas = await tx.rota.all()
            asked = request.query_params.get("rota", "")
            rota = next((r for r in rotas if r.key == asked), rotas[0] if rotas else None)
            shifts = await tx.rota.shifts_between(start.timestamp(), end.timestamp(),
                                                  [rota.id]) if rota else []
            swaps = await tx.board.open_swaps([s.id for s in shifts])
            names = await names_of(tx, [s.person_id for s in shifts], viewer,
                                   rota.building if rota else None)
        days = []
        for offset in range(7):
            day = start + timedelta(days=offset)
            next_day = day + timedelta(days=1)
            rows = [{
                "number": s.id,
                "span": f"{local(s.starts_at):%H:%M}–{local(s.ends_at):%H:%M}",
                "who": names.get(s.person_id, "") if s.person_id else "",
                "uncovered": s.status == "uncovered" or s.person_id is None,
                "swap": swaps.get(s.id),
                "past": s.ends_at <= now.timestamp(),
            } for s in shifts if day.timestamp() <= s.starts_at < next_day.timestamp()]
            days.append({"label": f"{t(lang, f'core.weekday.{day.weekday()}')} "
                                  f"{format_moment(day, lang).split(' ')[0]}",
                         "today": day.date() == now.date(), "shifts": rows})
        return kit.render(
            request, "rota.html", lang, viewer=viewer, rotas=[(r.key, r.name) for r in rotas],
            rota=rota, week=week, days=days,
            uncovered=sum(row["uncovered"] for d in days for row in d["shifts"]),
            pending=sum(row["swap"] is not None for d in days for row in d["shifts"]),
            prev_week=iso_week(start - timedelta(days=7)), next_week=iso_week(end),
            this_week=iso_week(now),
            title=f"{t(lang, 'office.nav.rota')} · {t(lang, 'board.web.title')}")

    # --- events ------------------------------------------------------------------------------------
    async def events_page(request: Request) -> Response:
        viewer = await allowed(request, "events")
        if isinstance(viewer, Response):
            return viewer
        lang, now = viewer.lang, core.clock.now().timestamp()
        async with core.db.read() as tx:
            found = await tx.board.events_between(now - EVENTS_BEFORE * 86400,
                                                  now + EVENTS_AFTER * 86400)
            listed = []
            for item in found:
                event = item.event
                signups = await tx.volunteers.signups(event.id)
                names = await names_of(tx, [s.person_id for s in signups], viewer, event.building)
                listed.append({
                    "number": event.id, "title": kit.shown_text(event.title, viewer, event.building),
                    "when": f"{format_moment(local(event.starts_at), lang)}–"
                            f"{local(event.ends_at):%H:%M}",
                    "place": kit.shown_text(event.place, viewer, event.building) or "—",
                    "building": kit.building_name(event.building, lang) if event.building
                    else t(lang, "office.whole_compound"),
                    "capacity": event.capacity, "going": item.going, "waiting": item.waiting,
                    "attended": item.attended, "no_show": item.no_show,
                    "hours": hours(item.hours), "cancelled": event.status == "cancelled",
                    "past": event.ends_at <= now,
                    "going_names": join(lang, [names[s.person_id] for s in signups
                                               if s.status == "going"]) or "—",
                    "waiting_names": join(lang, [names[s.person_id] for s in signups
                                                 if s.status == "waiting"]) or "—",
                })
        csv_allowed = any(holds(viewer.roles, r) for r in SIGNUP_CSV_ROLES)
        return kit.render(
            request, "events.html", lang, viewer=viewer, csv_allowed=csv_allowed,
            upcoming=[e for e in listed if not e.get("past")],
            past=[e for e in listed if e.get("past")][::-1],
            total_hours=hours(sum(i.hours for i in found if i.event.ends_at <= now)),
            title=f"{t(lang, 'office.nav.events')} · {t(lang, 'board.web.title')}")

    async def signups_csv(request: Request) -> Response:
        viewer = await allowed(request, "events")
        if isinstance(viewer, Response):
            return viewer
        number = request.path_params["number"]
        answers = await core.perform(viewer.session.person, "signups", str(number),
                                     lang=viewer.lang)
        files = [a for answer in answers for a in answer.attachments
                 if a.filename and a.filename.endswith(".csv")]
        if not files:  # the core refused (roles, no such event): say what it said
            return kit.message(request, viewer.lang, 403 if any(
                a.key == "core.not_allowed" for a in answers) else 404,
                t(viewer.lang, "board.web.forbidden"),
                *(a.plain_text() for a in answers), viewer=viewer)
        return Response(files[0].content.encode("utf-8"), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition":
                                 f'attachment; filename="{files[0].filename}"',
                                 "Cache-Control": "no-store"})

    # --- announcements -----------------------------------------------------------------------------
    async def announcements_page(request: Request) -> Response:
        viewer = await allowed(request, "announcements")
        if isinstance(viewer, Response):
            return viewer
        lang = viewer.lang
        async with core.db.read() as tx:
            found = await tx.board.announcements()
            authors = await names_of(tx, [a.announcement.author_id for a in found], viewer, None)
        rows = []
        for item in found:
            a = item.announcement
            rows.append({
                "number": a.id, "status": a.status,
                "status_label": t(lang, f"announcements.status.{a.status}"),
                "text": kit.shown_text(a.text, viewer, None), "urgent": a.urgent,
                "chats": join(lang, [(config.chats[k].name or k) if k in config.chats else k
                                     for k in a.chats]),
                "when": a.rule_text or t(lang, "office.once"),
                "next": format_moment(local(a.next_run), lang) if a.next_run else "—",
                "last": format_moment(local(item.last_run), lang) if item.last_run else "—",
                "runs": item.runs, "messages": item.messages,
                "author": authors.get(a.author_id, "?"),
                "may_cancel": a.status == "active" and (
                    a.author_id == viewer.person.id or "admin" in viewer.roles),
            })
        response = kit.render(
            request, "announcements.html", lang, viewer=viewer,
            scheduled=[r for r in rows if r["status"] == "active"],
            earlier=[r for r in rows if r["status"] != "active"],
            flash=kit.take_flash(request),
            title=f"{t(lang, 'office.nav.announcements')} · {t(lang, 'board.web.title')}")
        kit.clear_flash(response)
        return response

    async def cancel_announcement(request: Request) -> Response:
        viewer = await allowed(request, "announcements")
        if isinstance(viewer, Response):
            return viewer
        form = await kit.form_of(request)
        if not kit.csrf_ok(viewer, form.get("csrf")):
            return kit.csrf_refused(request, viewer)
        answers = await core.perform(viewer.session.person, "unschedule",
                                     str(request.path_params["number"]), lang=viewer.lang)
        response = RedirectResponse("/announcements", status_code=303)
        kit.set_flash(response, "\n".join(a.plain_text() for a in answers))
        return response

    # --- digest ------------------------------------------------------------------------------------
    def digest_buildings(viewer) -> list[str] | None:
        """The buildings whose digest the viewer may read; None: all, and the compound's."""
        if any(r in viewer.roles for r in ("property", "committee", "admin")):
            return None
        return [r.split(":", 1)[1] for r in viewer.roles if r.startswith("captain:")]

    async def digest_of(week_start: datetime, week_end: datetime):
        async with core.db.read() as tx:
            return await gather(config, tx, week_start, week_end, config.digest.oldest_open)

    async def digest_page(request: Request) -> Response:
        viewer = await allowed(request, "digest")
        if isinstance(viewer, Response):
            return viewer
        lang, now = viewer.lang, core.clock.now()
        week, start, end = week_asked(request, week_before(now))
        mine = digest_buildings(viewer)
        building = request.query_params.get("building", "")
        if mine is not None and building not in mine:
            building = mine[0] if mine else ""
        digest = await digest_of(start, end)
        if building and building in digest.buildings:
            text = building_text(digest, building, lang)
        elif mine is None:
            building, text = "", compound_text(digest, lang)
        else:
            text = t(lang, "office.digest_nothing")
        weeks = [week_before(now + timedelta(days=7 - 7 * n)) for n in range(DIGEST_WEEKS)]
        choices = [(b.key, b.name) for b in core.buildings if mine is None or b.key in mine]
        return kit.render(
            request, "digest.html", lang, viewer=viewer, week=week, weeks=weeks, text=text,
            building=building, buildings=choices, compound=mine is None,
            prev_week=iso_week(start - timedelta(days=7)),
            next_week=iso_week(end) if end <= now else None,
            title=f"{t(lang, 'office.nav.digest')} · {t(lang, 'board.web.title')}")

    async def digest_chart(request: Request) -> Response:
        viewer = await allowed(request, "digest")
        if isinstance(viewer, Response):
            return viewer
        if digest_buildings(viewer) is not None:  # the chart shows every building
            return kit.message(request, viewer.lang, 403, t(viewer.lang, "board.web.forbidden"),
                               t(viewer.lang, "office.refused.chart"), viewer=viewer)
        _, start, end = week_asked(request, week_before(core.clock.now()))
        digest = await digest_of(start, end)
        chart = await asyncio.to_thread(render_chart, digest, viewer.lang)
        return Response(chart.png, media_type="image/png",
                        headers={"Cache-Control": "private, max-age=300"})

    # --- exports -----------------------------------------------------------------------------------
    def day_asked(text: str | None) -> datetime | None:
        try:
            day = date.fromisoformat((text or "").strip())
        except ValueError:
            return None
        return datetime(day.year, day.month, day.day, tzinfo=tz)

    async def exports_page(request: Request) -> Response:
        viewer = await allowed(request, "exports")
        if isinstance(viewer, Response):
            return viewer
        today = core.clock.now().date()
        return kit.render(
            request, "exports.html", viewer.lang, viewer=viewer,
            since=(today - timedelta(days=30)).isoformat(), until=today.isoformat(),
            title=f"{t(viewer.lang, 'office.nav.exports')} · {t(viewer.lang, 'board.web.title')}")

    async def export_file(request: Request) -> Response:
        viewer = await allowed(request, "exports")
        if isinstance(viewer, Response):
            return viewer
        format = request.path_params["format"]
        since = day_asked(request.query_params.get("since"))
        until_day = day_asked(request.query_params.get("until"))
        if since is None or format not in ("csv", "json") or (
                request.query_params.get("until") and until_day is None):
            return kit.message(request, viewer.lang, 400, t(viewer.lang, "office.bad_dates"),
                               t(viewer.lang, "office.bad_dates_how"), viewer=viewer)
        until = until_day + timedelta(days=1) if until_day else None  # the whole last day
        async with core.db.read() as tx:
            rows = await ticket_rows(config, tx, viewer.lang, since, until)
            now = core.clock.now().timestamp()
            person = viewer.person.id
        async with core.db.transaction() as tx:
            await tx.audit.record(now, person, "web", "export.tickets", f"format:{format}",
                                  f"{len(rows)} since {since.date()}")
        media = "application/json" if format == "json" else "text/csv; charset=utf-8"
        name = f"tickets-{since.date()}.{format}"
        return Response(as_text(rows, format).encode("utf-8"), media_type=media,
                        headers={"Content-Disposition": f'attachment; filename="{name}"',
                                 "Cache-Control": "no-store"})

    # --- calendar feeds ----------------------------------------------------------------------------
    async def calendar_feed(request: Request) -> Response:
        token = request.path_params["token"]
        now = core.clock.now()
        async with core.db.read() as tx:
            person_id = await tx.calendar.person_of(token) if len(token) < 100 else None
            person = await tx.people.get(person_id) if person_id is not None else None
            if person is None:
                lang = config.compound.language
                return Response(t(lang, "calendar.feed_gone"), status_code=404,
                                media_type="text/plain; charset=utf-8")
            after = now.timestamp() - FEED_PAST
            shifts = await tx.rota.shifts_of(person.id, after, limit=500)
            rotas = {r.id: r.name for r in await tx.rota.all()}
            events = await tx.calendar.events_of(person.id, after)
        lang = core.language_of_person(person)
        entries = [Entry(f"shift-{s.id}@linli", t(lang, "calendar.shift",
                                                   rota=rotas.get(s.rota_id, "?")),
                         s.starts_at, s.ends_at, t(lang, "calendar.shift_note", number=s.id))
                   for s in shifts]
        entries += [Entry(f"event-{e.id}@linli",
                          t(lang, "calendar.event" if status == "going" else
                            "calendar.event_waiting", title=e.title),
                          e.starts_at, e.ends_at, t(lang, "calendar.event_note", number=e.id),
                          e.place) for e, status in events]
        entries.sort(key=lambda entry: entry.starts_at)
        text = calendar_text(entries, name=t(lang, "calendar.feed_name",
                                            compound=config.compound.name, name=person.name),
                             timezone=config.compound.timezone, now=now)
        return Response(text.encode("utf-8"), media_type="text/calendar; charset=utf-8",
                        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})

    return [
        Route("/rota", rota_page),
        Route("/events", events_page),
        Route("/events/{number:int}/signups.csv", signups_csv),
        Route("/announcements", announcements_page, methods=["GET"]),
        Route("/announcements/{number:int}/cancel", cancel_announcement, methods=["POST"]),
        Route("/digest", digest_page),
        Route("/digest/chart.png", digest_chart),
        Route("/exports", exports_page),
        Route("/exports/tickets.{format}", export_file),
        Route("/calendar/{token}.ics", calendar_feed),
    ]

