"""The office board's pages (Starlette, server-rendered with Jinja2; assets from ``static/``).

Every page but sign-in needs a session of a person whose config roles include captain, property,
committee or admin (checked on every request, :func:`_viewer`).  Every POST carries the session's
CSRF token.  Reading goes through ``core.db.read()`` and the repositories; every action on a ticket
goes through ``core.perform`` — the same role checks, audit and notifications as the command in
chat.  Unit and phone numbers show only where ``Core.sees_private`` allows; elsewhere the text is
redacted as in groups (``core.redactor``).
"""

from __future__ import annotations

import asyncio
import email.parser
import email.policy
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlencode

from itsdangerous import BadSignature, URLSafeSerializer
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from bot.format import format_moment, format_span
from bot.i18n import LANGUAGES, t
from bot.messages import Attachment
from bot.web.auth import (
    SESSION_COOKIE,
    SESSION_SECONDS,
    Session,
    Sessions,
    look_at_link,
    secret_of,
    spend_link,
    staff_roles,
)
from storage.media import NAME as MEDIA_NAME
from storage.media import MediaProblem, thumb_name
from storage.people import Person
from storage.tickets import OPEN_STATUSES, Ticket

log = logging.getLogger(__name__)
HERE = Path(__file__).parent
FONT = HERE.parent / "fonts" / "LinliSansSC-Regular.otf"
LANG_COOKIE = "linli_lang"
FLASH_COOKIE = "linli_flash"
STATUSES = ("open", "acknowledged", "in_progress", "resolved", "rejected", "closed")
AGES = (1, 3, 7, 30)  # the "waiting over N days" filter
ACTIONS = {  # board action → (the command core.perform runs, statuses it may follow)
    "ack": ("ack", ("open",)),
    "progress": ("progress", ("open", "acknowledged")),
    "resolve": ("resolve", ("open", "acknowledged", "in_progress")),
    "reject": ("reject", ("open", "acknowledged", "in_progress")),
}
LIST_LIMIT = 200


@dataclass
class Viewer:
    session: Session
    person: Person
    roles: frozenset[str]
    lang: str
    csrf: str


def create_app(core, *, secret: str | None = None) -> Starlette:
    """The board for ``core`` (its config's ``[web]`` decides the cookies' Secure flag)."""
    config = core.config
    secret = secret or secret_of(config)
    sessions = Sessions(secret, core.clock)
    flashes = URLSafeSerializer(secret, salt="linli.board.flash")
    secure = bool(config.web and config.web.public_url.startswith("https://"))
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(),
                      trim_blocks=True, lstrip_blocks=True)

    # --- helpers -------------------------------------------------------------------------------
    def language(request: Request, person: Person | None = None) -> str:
        asked = request.query_params.get("lang")
        if asked in LANGUAGES:
            return asked
        kept = request.cookies.get(LANG_COOKIE)
        if kept in LANGUAGES:
            return kept
        if person is not None and person.lang in LANGUAGES:
            return person.lang
        for part in request.headers.get("accept-language", "").split(","):
            code = part.split(";")[0].strip().lower()[:2]
            if code in LANGUAGES:
                return code
        return config.compound.language

    def render(request: Request, template: str, lang: str, code: int = 200,
               viewer: Viewer | None = None, **values) -> HTMLResponse:
        other = "en" if lang == "zh" else "zh"
        query = dict(request.query_params)
        query["lang"] = other
        values.setdefault("title", t(lang, "board.web.title"))
        html = env.get_template(template).render(
            lang=lang, tr=lambda key, **v: t(lang, key, **v), viewer=viewer,
            other_lang_url=f"{request.url.path}?{urlencode(query)}", **values)
        response = HTMLResponse(html, status_code=code)
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "no-referrer"  # a sign-in link never leaks onwards
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            "form-action 'self'; frame-ancestors 'none'")
        if request.query_params.get("lang") in LANGUAGES:
            response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, httponly=True,
                                samesite="strict", secure=secure)
        return response

    def message(request: Request, lang: str, status: int, heading: str, *lines: str,
                viewer: Viewer | None = None) -> HTMLResponse:
        return render(request, "message.html", lang, status, viewer=viewer, heading=heading,
                      lines=lines)

    async def viewer_of(request: Request) -> Viewer | HTMLResponse:
        """The signed-in member of staff, or the page that says why not."""
        session = sessions.read(request.cookies.get(SESSION_COOKIE))
        if session is None:
            lang = language(request)
            return message(request, lang, 401, t(lang, "board.web.signin_title"),
                           t(lang, "board.web.need_signin"))
        async with core.db.read() as tx:
            person = await tx.people.by_key(session.person)
        roles = staff_roles(config, session.person)
        lang = language(request, person)
        if person is None or not roles:
            return message(request, lang, 403, t(lang, "board.web.forbidden"),
                           t(lang, "board.web.not_staff"))
        return Viewer(session, person, roles, lang, sessions.csrf_token(session))

    async def form_of(request: Request) -> dict[str, str]:
        body = (await request.body())[:64 * 1024].decode("utf-8", "replace")
        return {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}

    def csrf_refused(request: Request, viewer: Viewer) -> HTMLResponse:
        return message(request, viewer.lang, 403, t(viewer.lang, "board.web.forbidden"),
                       t(viewer.lang, "board.web.csrf"), viewer=viewer)

    def building_name(key: str | None, lang: str) -> str:
        building = core.building(key)
        return building.name if building else (key or t(lang, "board.web.no_building"))

    def shown_text(text: str, viewer: Viewer, building: str | None) -> str:
        if core.sees_private(viewer.roles, building):
            return text
        return core.redactor.redact(text, t(viewer.lang, "core.hidden"))

    def overdue(ticket: Ticket, now: float) -> bool:
        return ticket.is_open and (ticket.escalation_level > 0 or (
            ticket.status == "open" and ticket.escalate_at is not None and ticket.escalate_at <= now))

    # --- signing in and out --------------------------------------------------------------------
    async def link_refused(request: Request, state) -> HTMLResponse:
        person = None
        if state.person:
            async with core.db.read() as tx:
                person = await tx.people.by_key(state.person)
        lang = language(request, person)
        status = 404 if state.state == "unknown" else 410
        return message(request, lang, status, t(lang, "board.web.signin_title"),
                       t(lang, f"board.web.link_{state.state}"), t(lang, "board.web.link_how"))

    async def login_page(request: Request) -> Response:
        token = request.path_params["token"]
        state = await look_at_link(core, token)
        if state.state != "ok":
            return await link_refused(request, state)
        async with core.db.read() as tx:
            person = await tx.people.by_key(state.person)
        lang = language(request, person)
        return render(request, "login.html", lang, name=person.name if person else state.person,
                      action=f"/login/{token}")

    async def login(request: Request) -> Response:
        state = await spend_link(core, request.path_params["token"])
        if state.state != "ok":
            return await link_refused(request, state)
        if not staff_roles(config, state.person):
            lang = language(request)
            return message(request, lang, 403, t(lang, "board.web.forbidden"),
                           t(lang, "board.web.not_staff"))
        _, cookie = sessions.new(state.person)
        response = RedirectResponse("/tickets", status_code=303)
        response.set_cookie(SESSION_COOKIE, cookie, max_age=SESSION_SECONDS, httponly=True,
                            samesite="strict", secure=secure, path="/")
        return response

    async def logout(request: Request) -> Response:
        viewer = await viewer_of(request)
        if isinstance(viewer, Response):
            return viewer
        if not sessions.csrf_ok(viewer.session, (await form_of(request)).get("csrf")):
            return csrf_refused(request, viewer)
        response = message(request, viewer.lang, 200, t(viewer.lang, "board.web.signed_out"))
        response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict",
                               secure=secure)
        return response

    # --- tickets -------------------------------------------------------------------------------
    async def home(request: Request) -> Response:
        return RedirectResponse("/tickets", status_code=303)

    async def tickets(request: Request) -> Response:
        viewer = await viewer_of(request)
        if isinstance(viewer, Response):
            return viewer
        lang, now = viewer.lang, core.clock.now()
        query = request.query_params
        building = query.get("building", "")
        buildings = [building] if core.building(building) else None
        status = query.get("status", "open")
        statuses = list(OPEN_STATUSES) if status == "open" else (
            [status] if status in STATUSES else None)
        age = int(query["age"]) if query.get("age", "").isdigit() else 0
        before = (now - timedelta(days=age)).timestamp() if age else None
        area = query.get("area", "")
        area = area if core.area(area) else ""
        categories = [(c.code, c.name(lang)) for c in config.category_list()]
        category = query.get("category", "")
        category = category if category in dict(categories) else ""
        narrowed = {"area": area or None, "category": category or None}
        async with core.db.read() as tx:
            listed = await tx.tickets.listed(buildings, statuses, before, LIST_LIMIT + 1, **narrowed)
            counts = await tx.tickets.count_by_status(buildings, before, **narrowed)
        more = len(listed) > LIST_LIMIT
        rows = [{
            "number": ticket.id,
            "building": (core.area(ticket.area).name if ticket.area and core.area(ticket.area)
                         else building_name(ticket.building, lang)),
            "category": config.category_name(ticket.category, lang),
            "status": ticket.status,
            "status_label": t(lang, f"tickets.status.{ticket.status}"),
            "age": format_span(now - datetime.fromtimestamp(ticket.created_at, config.tz), lang),
            "text": shown_text(ticket.text, viewer, ticket.building),
            "overdue": overdue(ticket, now.timestamp()),
        } for ticket in listed[:LIST_LIMIT]]
        total = sum(counts.get(s, 0) for s in statuses) if statuses else sum(counts.values())
        return render(
            request, "tickets.html", lang, viewer=viewer, rows=rows, more=more, total=total,
            counts=[(s, t(lang, f"tickets.status.{s}"), counts.get(s, 0)) for s in STATUSES],
            buildings=[(b.key, b.name) for b in core.buildings], building=building,
            statuses=[("open", t(lang, "board.web.filter.open")),
                      *((s, t(lang, f"tickets.status.{s}")) for s in STATUSES),
                      ("all", t(lang, "board.web.filter.all"))],
            status=status, ages=AGES, age=age, areas=[(a.key, a.name) for a in core.areas],
            area=area, categories=categories, category=category)

    async def ticket_page(request: Request) -> Response:
        viewer = await viewer_of(request)
        if isinstance(viewer, Response):
            return viewer
        lang, number = viewer.lang, request.path_params["number"]
        async with core.db.read() as tx:
            ticket = await tx.tickets.get(number)
            if ticket is None or ticket.status == "draft":
                return message(request, lang, 404, t(lang, "board.web.not_found", number=number),
                               viewer=viewer)
            events = await tx.tickets.events(ticket.id)
            photos = await tx.media.of_ticket(ticket.id)
            followers = len(await tx.tickets.followers(ticket.id))
            reporter = await tx.people.get(ticket.reporter_id)
            names = {}
            for event in events:
                if event.actor_id is not None and event.actor_id not in names:
                    actor = await tx.people.get(event.actor_id)
                    names[event.actor_id] = actor.name if actor else "?"
        anonymous = bool(ticket.anonymous)  # 报修 匿名: who reported it is for property and the office
        private = core.sees_private(viewer.roles, ticket.building, anonymous=anonymous)
        if anonymous and not private:
            reporter_shown = t(lang, "anonymous.reporter")
        else:
            reporter_shown = shown_text(reporter.name if reporter else "?", viewer, ticket.building)
        timeline = [{
            "when": format_moment(datetime.fromtimestamp(event.at, config.tz), lang),
            "who": shown_text(names.get(event.actor_id, ""), viewer, ticket.building),
            "action": t(lang, f"tickets.action.{event.action}"),
            "note": shown_text(event.note, viewer, ticket.building) if event.note else "",
        } for event in events]
        may_act = "admin" in viewer.roles or "property" in viewer.roles or (
            ticket.building is not None and f"captain:{ticket.building}" in viewer.roles)
        actions = [(name, t(lang, f"board.web.action.{name}")) for name, (_, after)
                   in ACTIONS.items() if may_act and ticket.status in after]
        flash = None
        if request.cookies.get(FLASH_COOKIE):
            try:
                flash = flashes.loads(request.cookies[FLASH_COOKIE])
            except BadSignature:
                flash = None
        response = render(
            request, "ticket.html", lang, viewer=viewer,
            title=f"#{ticket.id} · {t(lang, 'board.web.title')}", ticket=ticket,
            building=building_name(ticket.building, lang),
            category=config.category_name(ticket.category, lang),
            status_label=t(lang, f"tickets.status.{ticket.status}"),
            reported=format_moment(datetime.fromtimestamp(ticket.created_at, config.tz), lang),
            text=shown_text(ticket.text, viewer, ticket.building),
            reporter=reporter_shown,
            private=private, unit=reporter.unit if reporter and private else None,
            phone=reporter.phone if reporter and private else None,
            followers=followers, timeline=timeline, actions=actions, may_act=may_act,
            overdue=overdue(ticket, core.clock.now().timestamp()), flash=flash,
            photos=[{"url": f"/media/{name}", "thumb": f"/media/{thumb_name(name)}",
                     "after": stage == "after"} for name, stage in photos])
        if flash is not None:
            response.delete_cookie(FLASH_COOKIE, path="/", httponly=True, samesite="strict",
                                   secure=secure)
        return response

    async def act(request: Request) -> Response:
        viewer = await viewer_of(request)
        if isinstance(viewer, Response):
            return viewer
        photo = b""
        if request.headers.get("content-type", "").startswith("multipart/form-data"):
            form, photo = await multipart_of(request)  # the form with an "after" photo
        else:
            form = await form_of(request)
        if not sessions.csrf_ok(viewer.session, form.get("csrf")):
            return csrf_refused(request, viewer)
        number = request.path_params["number"]
        action = form.get("action", "")
        if action not in ACTIONS:
            return message(request, viewer.lang, 400, t(viewer.lang, "board.web.forbidden"),
                           viewer=viewer)
        note = " ".join(form.get("note", "").split())[:500]
        attachments: tuple[Attachment, ...] = ()
        problem = None
        if photo and action == "resolve" and core.media is not None:
            try:  # the same checks as a photo sent in chat: a picture, not too big, EXIF gone
                kept = await asyncio.to_thread(core.media.keep, photo)
                attachments = (Attachment("photo", media=kept.name, origin="office"),)
            except MediaProblem as exc:
                problem = t(viewer.lang, f"media.{exc.reason}", limit=core.media.max_mb)
        if action == "reject" and not note:
            said = t(viewer.lang, "board.web.reject_needs_note")
        elif problem is not None:
            said = problem  # not resolved: the photo was refused, and the page says why
        else:
            answers = await core.perform(viewer.session.person, ACTIONS[action][0],
                                         f"{number} {note}".strip(), lang=viewer.lang,
                                         attachments=attachments)
            said = "\n".join(answer.plain_text() for answer in answers)
            await core.forget_unattached(a.media for a in attachments)  # refused: not kept
        response = RedirectResponse(f"/tickets/{number}", status_code=303)
        response.set_cookie(FLASH_COOKIE, flashes.dumps(said[:1500]), max_age=120, httponly=True,
                            samesite="strict", secure=secure, path="/")
        return response

    async def multipart_of(request: Request) -> tuple[dict[str, str], bytes]:
        """A multipart form's fields and its uploaded file ("photo"), read with the standard
        library's MIME parser; a body over the photo limit (plus room for the fields) is cut, and
        the cut photo then fails its check."""
        limit = (core.media.max_bytes if core.media else 10 * 1024 * 1024) + 64 * 1024
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                break
        head = b"Content-Type: " + request.headers["content-type"].encode("latin-1") + b"\r\n\r\n"
        parsed = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + bytes(body))
        fields: dict[str, str] = {}
        photo = b""
        for part in parsed.iter_parts() if parsed.is_multipart() else ():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True) or b""
            if name == "photo":
                photo = payload
            elif name:
                fields[name] = payload[:64 * 1024].decode("utf-8", "replace")
        return fields, photo

    async def media(request: Request) -> Response:
        """A stored photo of a ticket (or its thumbnail), for a signed-in member of staff."""
        viewer = await viewer_of(request)
        if isinstance(viewer, Response):
            return viewer
        name = request.path_params["name"]
        match = MEDIA_NAME.match(name)
        ticket = None
        if match is not None:
            async with core.db.read() as tx:  # only a photo some ticket has is served
                ticket = await tx.media.ticket_of(match.group(1))
        path = core.media.path(name) if core.media is not None and ticket is not None else None
        if path is None:
            return message(request, viewer.lang, 404, t(viewer.lang, "board.web.forbidden"),
                           viewer=viewer)
        return FileResponse(path, media_type="image/png" if name.endswith(".png") else "image/jpeg",
                            headers={"Cache-Control": "private, max-age=86400",
                                     "X-Content-Type-Options": "nosniff"})

    # --- audit log -----------------------------------------------------------------------------
    async def audit(request: Request) -> Response:
        viewer = await viewer_of(request)
        if isinstance(viewer, Response):
            return viewer
        lang = viewer.lang
        who, what = request.query_params.get("person", ""), request.query_params.get("action", "")
        async with core.db.read() as tx:
            person = await tx.people.by_key(who) if who in config.people else None
            actions = await tx.audit.actions()
            entries = await tx.audit.recent(person.id if person else None,
                                            what if what in actions else None, limit=300)
            names = {}
            for entry in entries:
                actor = entry["actor_id"]
                if actor is not None and actor not in names:
                    found = await tx.people.get(actor)
                    names[actor] = found.name if found else "?"
        rows = [{
            "when": format_moment(datetime.fromtimestamp(e["at"], config.tz), lang),
            "who": shown_text(names.get(e["actor_id"], "—"), viewer, None),
            "platform": e["platform"] or "",
            "action": e["action"], "target": e["target"],
            "detail": shown_text(e["detail"], viewer, None),
        } for e in entries]
        people = [(key, p.name or key) for key, p in config.people.items()]
        return render(request, "audit.html", lang, viewer=viewer, rows=rows, people=people,
                      who=who, actions=actions, what=what,
                      title=f"{t(lang, 'board.web.audit')} · {t(lang, 'board.web.title')}")

    async def font(request: Request) -> Response:
        """The package's CJK font (bot/fonts), for a screen with no Chinese font of its own."""
        return FileResponse(FONT, media_type="font/otf",
                            headers={"Cache-Control": "public, max-age=604800"})

    routes = [
        *more_pages(core, env, render, message, viewer_of, form_of, sessions, csrf_refused,
                    shown_text, building_name, flashes, secure),
        Route("/", home),
        Route("/fonts/LinliSansSC-Regular.otf", font),
        Route("/login/{token}", login_page, methods=["GET"]),
        Route("/login/{token}", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/tickets", tickets),
        Route("/tickets/{number:int}", ticket_page, methods=["GET"]),
        Route("/tickets/{number:int}", act, methods=["POST"]),
        Route("/audit", audit),
        Route("/media/{name}", media),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    return Starlette(routes=routes)


def more_pages(core, env, render, message, viewer_of, form_of, sessions, csrf_refused, shown_text,
               building_name, flashes, secure) -> list[Route]:
    """The rota, events, announcements, digest and exports pages and the calendar feeds
    (bot/web/pages.py), with the navigation bar's role check."""
    from bot.web.pages import Kit, may_see, page_routes

    env.globals["may_see"] = may_see
    env.auto_reload = False  # the templates are the package's: no stat() of each on every page

    def set_flash(response: Response, text: str) -> None:
        response.set_cookie(FLASH_COOKIE, flashes.dumps(text[:1500]), max_age=120, httponly=True,
                            samesite="strict", secure=secure, path="/")

    def take_flash(request: Request) -> str | None:
        try:
            return flashes.loads(request.cookies[FLASH_COOKIE]) if request.cookies.get(
                FLASH_COOKIE) else None
        except BadSignature:
            return None

    def clear_flash(response: Response) -> None:
        response.delete_cookie(FLASH_COOKIE, path="/", httponly=True, samesite="strict",
                               secure=secure)

    return page_routes(Kit(
        core=core, render=render, message=message, viewer_of=viewer_of, form_of=form_of,
        csrf_ok=lambda viewer, token: sessions.csrf_ok(viewer.session, token),
        csrf_refused=csrf_refused, shown_text=shown_text, building_name=building_name,
        set_flash=set_flash, take_flash=take_flash, clear_flash=clear_flash))
