"""Signing in to the office board without passwords, and keeping a session.

* **One-time links.**  ``后台`` / ``/board`` (handlers/board.py) or ``linli web-login PERSON`` makes
  a random token; the kv store keeps only its SHA-256 (``web:link:<hash>`` → the person's config
  key, the expiry, when it was used).  Opening ``/login/<token>`` shows who it signs in (a link
  preview fetched by a chat app uses nothing); pressing the button spends it (:func:`spend_link`).
* **Sessions.**  A cookie signed with itsdangerous (the ``[web]`` secret or ``LINLI_WEB_SECRET``)
  holding the person's config key, a random session id and when it began; read back only within
  12 hours by the core's clock.  HttpOnly, SameSite=Strict, Secure when ``public_url`` is https.
* **CSRF.**  Every form carries an HMAC of the session id (:func:`csrf_token`), checked on POST.
* **Roles** are read from the config on every request (:func:`staff_roles`): a person whose roles
  were taken away is shut out at once, whatever their cookie says.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeSerializer

from bot.config import Config
from storage.retention import SIGN_IN_LINKS

log = logging.getLogger(__name__)

LINK_PREFIX = SIGN_IN_LINKS  # kv keys of one-time links (pruned by storage/retention.py)
SESSION_COOKIE = "linli_session"
SESSION_SECONDS = 12 * 3600
STAFF = ("captain", "property", "committee", "admin")


def secret_of(config: Config) -> str:
    web = config.web
    secret = (web.secret if web else "") or os.environ.get("LINLI_WEB_SECRET", "")
    if not secret:
        log.warning("no [web] secret or LINLI_WEB_SECRET: using a random one; everyone signs in "
                    "again after a restart")
        secret = secrets.token_urlsafe(32)
    return secret


def public_url_of(config: Config) -> str:
    web = config.web
    if web is None:
        return "http://127.0.0.1:8080"
    return web.public_url or f"http://{web.listen}"


def link_key(token: str) -> str:
    return LINK_PREFIX + hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class LinkState:
    """What a sign-in token is: ``ok`` (for ``person``), ``used``, ``expired`` or ``unknown``."""

    state: str
    person: str | None = None


async def look_at_link(core, token: str) -> LinkState:
    """What ``token`` is, without spending it."""
    async with core.db.read() as tx:
        raw = await tx.kv.get(link_key(token))
    return _state(raw, core.clock.now().timestamp())


async def spend_link(core, token: str) -> LinkState:
    """Spend ``token`` (once only, in one write transaction): ``ok`` with its person, or why not."""
    now = core.clock.now().timestamp()
    async with core.db.transaction() as tx:
        key = link_key(token)
        raw = await tx.kv.get(key)
        state = _state(raw, now)
        if state.state == "ok":
            record = json.loads(raw)
            record["used"] = now
            await tx.kv.put(key, json.dumps(record))
            person = await tx.people.by_key(state.person)
            await tx.audit.record(now, person.id if person else None, "web", "board.sign_in",
                                  f"person:{state.person}")
    return state


def _state(raw: str | None, now: float) -> LinkState:
    if not raw:
        return LinkState("unknown")
    try:
        record = json.loads(raw)
        person, expires, used = record["person"], float(record["expires"]), record.get("used")
    except (ValueError, KeyError, TypeError):
        return LinkState("unknown")
    if used:
        return LinkState("used", person)
    if now >= expires:
        return LinkState("expired", person)
    return LinkState("ok", person)


@dataclass(frozen=True)
class Session:
    person: str  # a config key from [people]
    sid: str
    began: float


class Sessions:
    """Signing and reading the session cookie, and the CSRF tokens that go with it."""

    def __init__(self, secret: str, clock) -> None:
        self._serializer = URLSafeSerializer(secret, salt="linli.board.session")
        self._csrf_key = hashlib.sha256(("csrf:" + secret).encode()).digest()
        self.clock = clock

    def new(self, person: str) -> tuple[Session, str]:
        session = Session(person, secrets.token_urlsafe(16), self.clock.now().timestamp())
        return session, self._serializer.dumps([session.person, session.sid, session.began])

    def read(self, cookie: str | None) -> Session | None:
        if not cookie:
            return None
        try:
            person, sid, began = self._serializer.loads(cookie)
        except (BadSignature, ValueError, TypeError):
            return None
        if not isinstance(person, str) or not isinstance(sid, str) or \
                not isinstance(began, int | float):
            return None
        age = self.clock.now().timestamp() - began
        if not 0 <= age < SESSION_SECONDS + 60:  # a minute's grace for a clock stepped back
            return None
        return Session(person, sid, float(began))

    def csrf_token(self, session: Session) -> str:
        return hmac.new(self._csrf_key, session.sid.encode(), "sha256").hexdigest()

    def csrf_ok(self, session: Session, given: str | None) -> bool:
        return bool(given) and hmac.compare_digest(self.csrf_token(session), given)


def staff_roles(config: Config, person_key: str | None) -> frozenset[str]:
    """The person's roles from the config, when they may use the board; else empty."""
    person = config.people.get(person_key or "")
    if person is None:
        return frozenset()
    roles = frozenset(person.roles)
    if any(r == base or r.startswith(base + ":") for r in roles for base in STAFF):
        return roles
    return frozenset()
