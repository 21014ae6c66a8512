"""The WeChat adapter, on a Wechaty puppet service (gRPC): room and private messages in, outbox out.

It talks to the puppet service with ``wechaty-puppet-service`` (the Python client of the Wechaty
project, ``pip install 'linli[wechat]'``), not with the high-level ``wechaty`` SDK, which does not
import on Python 3.11 (see README.md, "Run it on WeChat").  No domain logic lives here: it only translates.

In: every ``message`` event becomes an :class:`~bot.messages.Inbound` — a room message with the room
id as ``chat_id`` and the room's topic as ``chat_title`` (the config may name a room by either), the
talker's room nickname (else WeChat name) as ``sender_name``, ``mentions_bot`` when the bot is among
the message's mentions (its "@name" is taken off the front of the text), an image as a ``photo``
attachment whose ``file_id`` is the WeChat message id; a message from a contact outside any room is
private.  The bot's own messages, and message types Linli cannot read (voice, stickers, links), are
skipped.  Events are handled one at a time, in order, so a photo sent right after a 报修 finds the
ticket.  With ``[wechat] welcome`` on, a ``room-join`` event becomes an Inbound with ``joined`` (the
newcomers' names) and ``mentions`` (their ids).

Out: text through ``message_send_text``; a group message that mentions people starts with
``@name`` + U+2005 (how WeChat writes a mention) and passes their ids, so they are notified.  There
are no buttons on WeChat: :meth:`~bot.messages.Outbound.plain_text` appends the line that says what
to reply (``直接回复「受理 12」即可``).  A photo a user sent is forwarded by its message id; a file
Linli made (e.g. an .ics) goes as a file.  A send the service refuses for good raises
:class:`PermanentError` with a short reason — "not a friend", "room gone", "bot not in room" (see
:func:`classify` for how the service's answers are read) — and the core decides what to do; anything
retrying may fix raises :class:`TemporaryError`.

Sending is gentle (``limits``: one message every ``send_interval_seconds`` plus up to
``send_jitter_seconds`` at random, and ``daily_cap`` a day, all from ``[wechat]``) because bursts get
WeChat accounts restricted.  The connection is watched: a lost event stream or a failed ``ding`` ends
the session and the adapter reconnects with exponential backoff (up to ``reconnect_max_seconds``);
while it is down ``send`` raises :class:`TemporaryError` with ``count=False`` (not an attempt), so the
outbox keeps every message however long the outage, and on reconnecting what waits is due at once.
An event whose details could not be read because the connection broke is read again after the next
login.  Login and logout events of a session that has ended are ignored.
The state goes to the log and, through :meth:`Core.note_health`, to ``linli status``.

The client's own ``start()`` checks the endpoint with a blocking TCP "telnet" probe and logs the token
in clear; this adapter sets up the gRPC channel itself instead (with TLS when configured) and keeps
the client's loggers quiet.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import os
import random
import re
import ssl
import time
import warnings
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.adapters.base import PermanentError, SendLimits, TemporaryError
from bot.config import ConfigError
from bot.messages import Attachment, Inbound, Outbound
from bot.textsplit import split_text

if TYPE_CHECKING:
    from bot.config import Config
    from bot.core import Core

log = logging.getLogger(__name__)
MAX_TEXT = 2000  # characters in one WeChat text message (WeChat cuts longer ones)
MENTION_SPACE = "\u2005"  # WeChat ends an @mention with a four-per-em space
CACHE_SECONDS = 600.0  # how long room topics and member names are trusted
CALL_TIMEOUT = 30.0  # seconds for one gRPC call
EVENT_TRIES = 4  # an event whose details could not be read for a broken connection is read again …
EVENT_RETRY_SECONDS = 1.0  # … after this long (doubling each time) and the next login
_WECHATY_LOGGERS = ("PuppetService", "WechatyPuppetServiceConfig", "WechatyPuppet.Schemas.Event",
                    "WechatyPuppet.Schema.Base", "FileBox")


def _load_client() -> tuple[Any, Any]:
    """Import the puppet-service client (an optional extra) with its loggers routed to ours."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # telnetlib, pyee
            from wechaty_puppet import PuppetOptions
            from wechaty_puppet_service import PuppetService
    except ImportError as exc:
        raise ConfigError(
            "[wechat] is configured, but the WeChat client is not installed: "
            f"pip install 'linli[wechat]'  ({exc})") from exc
    for name in _WECHATY_LOGGERS:
        logger = logging.getLogger(name)
        logger.handlers = []
        logger.propagate = True
        # PuppetService warns with the token in clear at start-up, FileBox about deprecations.
        logger.setLevel(logging.ERROR)
    return PuppetService, PuppetOptions


def limits_of(config: Config) -> SendLimits:
    """The per-account send limits from ``[wechat]``: the gap (with jitter) between any two sends is
    what keeps an account safe; the per-second window is only a backstop."""
    settings = config.wechat
    return SendLimits(overall_per_second=30.0, group_per_minute=20.0, private_per_second=1.0,
                      min_interval=settings.send_interval_seconds,
                      jitter=settings.send_jitter_seconds,
                      daily_cap=settings.daily_cap or None, max_text_length=MAX_TEXT)


def host_and_port(endpoint: str) -> tuple[str, int]:
    """``"127.0.0.1:8788"`` (or a URL) → ("127.0.0.1", 8788)."""
    rest = endpoint.strip().split("://", 1)[-1].rstrip("/")
    host, _, port = rest.rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError(f"[wechat] endpoint = {endpoint!r}: write it as host:port, "
                          "e.g. \"127.0.0.1:8788\"")
    return host.strip("[]"), int(port)


def type_name(payload: Any) -> str:
    """"TEXT", "IMAGE", … for a message payload (the client maps the service's numbers)."""
    value = getattr(payload, "type", None)
    name = getattr(value, "name", "") or str(value)
    return name.removeprefix("MESSAGE_TYPE_").upper()


def strip_mention(text: str, names: set[str]) -> str:
    """Take "@<one of names>" (and the space after it) off the front of ``text``."""
    if not text.startswith(("@", "＠")):
        return text
    for name in sorted((n for n in names if n), key=len, reverse=True):
        if text[1:].startswith(name):
            rest = text[1 + len(name):]
            if not rest or rest[0] in f" \t{MENTION_SPACE}\u3000:：,，":
                return rest.lstrip(f" \t{MENTION_SPACE}\u3000:：,，")
    return text


# Why a send failed, from what the puppet service answers.  The Node service (wechaty-puppet-service)
# hands on whatever the puppet threw as gRPC status UNKNOWN with the error's stack as the message
# (gerror → grpc-js serverErrorToStatus), so the status alone rarely says anything: the message's first
# line does.  The mock puppet says "MockContact.load(): <id> not exist.", "MockRoom.load(): <id> not
# exist.", "no payload found for id <id>" and "not logged in"; wechaty-puppet "Wechaty Puppet Unsupported
# API Error"; real puppets word it their own way, in English or Chinese (the lists below).  What is not
# recognised is checked with the service (WechatAdapter.diagnose) before it is called temporary.
NOT_FRIEND = "not a friend"
ROOM_GONE = "room gone"
NOT_IN_ROOM = "bot not in room"
REASONS = {NOT_FRIEND: "blocked", ROOM_GONE: "chat_gone", NOT_IN_ROOM: "not_member"}


def unreachable(why: str) -> PermanentError:
    """A refusal retrying will not fix, with the typed reason the core decides on."""
    return PermanentError(why, reason=REASONS[why])
_GONE_WORDS = ("not exist", "no payload", "not found", "unknown contact", "unknown room", "不存在")
_NOT_IN_ROOM_WORDS = ("not in room", "not in the room", "not a member", "not member", "not in chatroom",
                      "不在群", "不是群成员", "非群成员", "被移出", "移出群聊", "已退出群聊")
_NOT_FRIEND_WORDS = ("not friend", "not a friend", "not your friend", "blocked", "非好友", "不是好友",
                     "不是你的好友", "拒收", "拉黑", "开启了朋友验证")
_LOGGED_OUT_WORDS = ("not logged in", "not login", "logged out", "未登录", "已退出登录")
_UNSUPPORTED_WORDS = ("unsupported api", "not supported", "unimplemented")


def grpc_error_types() -> tuple[type, type, Any]:
    """(GRPCError, StreamTerminatedError, Status) from grpclib, which comes with the client."""
    from grpclib.const import Status
    from grpclib.exceptions import GRPCError, StreamTerminatedError

    return GRPCError, StreamTerminatedError, Status


def first_line(exc: BaseException) -> str:
    """What the service said, without the puppet's stack trace that follows it."""
    text = str(getattr(exc, "message", None) or exc or "").strip()
    line = text.splitlines()[0].strip() if text else ""
    return line.removeprefix("Error: ")[:200]


def error_text(exc: BaseException) -> str:
    """An error in one line, for the log and ``linli status`` ("UNKNOWN: not logged in")."""
    grpc_error, _, _ = grpc_error_types()
    if isinstance(exc, grpc_error):
        return f"{exc.status.name}: {first_line(exc)}"
    return f"{type(exc).__name__}: {first_line(exc)}".rstrip(": ")


def connection_trouble(exc: BaseException) -> bool:
    """The call did not get an answer from the service (it is down, restarting, or the connection broke):
    retrying over the next connection may work; the service did not refuse anything."""
    grpc_error, stream_terminated, status = grpc_error_types()
    if isinstance(exc, grpc_error):
        return exc.status in (status.UNAVAILABLE, status.DEADLINE_EXCEEDED, status.CANCELLED)
    return isinstance(exc, stream_terminated | OSError | TimeoutError)


def classify(exc: BaseException, kind: str = "") -> TemporaryError | PermanentError:
    """A send failure (to a ``kind`` "group" or "private" address) as the dispatcher's TemporaryError or
    PermanentError, the latter with a short reason: "not a friend", "room gone", "bot not in room"."""
    grpc_error, _, status = grpc_error_types()
    if not isinstance(exc, grpc_error) or connection_trouble(exc):
        return TemporaryError(error_text(exc))
    said = first_line(exc).lower()
    gone = ROOM_GONE if kind == "group" else NOT_FRIEND
    if any(word in said for word in _LOGGED_OUT_WORDS):
        # the account was logged out and the logout event is on its way: not an attempt, as offline
        return TemporaryError(f"wechat: the account is not logged in ({error_text(exc)})", retry_after=5.0,
                              count=False)
    if any(word in said for word in _NOT_IN_ROOM_WORDS):
        return unreachable(NOT_IN_ROOM)
    if any(word in said for word in _NOT_FRIEND_WORDS):
        return unreachable(NOT_FRIEND)
    if any(word in said for word in _GONE_WORDS) or exc.status == status.NOT_FOUND:
        return unreachable(gone)
    if exc.status == status.PERMISSION_DENIED:
        return unreachable(NOT_IN_ROOM if kind == "group" else NOT_FRIEND)
    if exc.status == status.UNIMPLEMENTED or any(word in said for word in _UNSUPPORTED_WORDS):
        return PermanentError("not supported by the puppet")
    if exc.status == status.INVALID_ARGUMENT:
        return PermanentError(f"refused by the puppet: {first_line(exc)}")
    return TemporaryError(error_text(exc))


# A quote-reply as the puppets hand it over: 「name：quoted text」, a dashed line, then the reply.
_QUOTE = re.compile(r"^「(?:[^：:」]{1,40}[：:])?(?P<quoted>.*?)」\s*\n\s*(?:-\s*){3,}\n?(?P<reply>.*)$",
                    re.S)


def quoted_reply(text: str) -> tuple[str, str | None]:
    """(the reply, "text:" + the quoted text) of a quote-reply; (text, None) for any other message.
    The puppet gives only the quoted text, not the quoted message's id: the core matches the text."""
    match = _QUOTE.match(text)
    if match is None:
        return text, None
    return match.group("reply").strip(), "text:" + match.group("quoted").strip()


class WechatAdapter:
    """Linli on WeChat through a Wechaty puppet service (see module docstring)."""

    platform = "wechat"
    limits = SendLimits(min_interval=2.0, jitter=1.0, daily_cap=500)  # replaced from the config

    def __init__(self, config: Config, core: Core) -> None:
        self.config = config
        self.core = core
        self.settings = config.wechat
        self.limits = limits_of(config)
        self.endpoint = host_and_port(self.settings.endpoint)
        self.token = self.settings.token or os.environ.get("LINLI_WECHAT_TOKEN", "")
        if not self.token:
            raise ConfigError("[wechat] token is empty: set it to the puppet service's token "
                              "(or set LINLI_WECHAT_TOKEN)")
        self._service_class, self._options_class = _load_client()
        self.client: Any = None  # the PuppetService of the current session
        self.self_id = ""
        self.self_name = ""
        self.state = "stopped"
        self._logged_in = asyncio.Event()
        self._first_try_failed = asyncio.Event()
        self._stopping = False
        self._runner: asyncio.Task | None = None
        self._down_since: float | None = None
        self._queue: asyncio.Queue = asyncio.Queue()
        self._worker: asyncio.Task | None = None
        self._rooms: dict[str, tuple[float, str]] = {}  # room id → (fetched at, topic)
        self._names: dict[tuple[str, str], tuple[float, str]] = {}  # (room, contact) → name

    # --- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        """Connect in the background; wait a little for the first login (not when the first try
        failed already), never fail start-up."""
        self._stopping = False
        self._worker = asyncio.create_task(self._work(), name="wechat-inbound")
        self._runner = asyncio.create_task(self._run(), name="wechat-connection")
        waits = [asyncio.create_task(self._logged_in.wait()),
                 asyncio.create_task(self._first_try_failed.wait())]
        await asyncio.wait(waits, timeout=10, return_when=asyncio.FIRST_COMPLETED)
        for task in waits:
            task.cancel()
        if not self._logged_in.is_set():
            log.warning("wechat: not logged in yet (%s); Linli runs on and keeps trying, the outbox "
                        "holds what is to be sent", self.state)

    async def stop(self) -> None:
        self._stopping = True
        for task in (self._runner, self._worker):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        await self._close_client()
        with contextlib.suppress(Exception):
            await self._health("stopped", "")

    async def _close_client(self) -> None:
        client, self.client = self.client, None
        self._logged_in.clear()
        if client is None:
            return
        with contextlib.suppress(Exception):
            client._event_stream.remove_all_listeners()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.puppet_stub.stop(), 3)  # lets the service log out
        with contextlib.suppress(Exception):
            if client.channel is not None:
                client.channel.close()

    async def _health(self, state: str, detail: str) -> None:
        changed = state != self.state
        self.state = state
        # Recorded first, logged after: whoever sees "wechat: <state>" in the log (a monitor, the
        # end-to-end tests) finds the same state in ``linli status``.
        with contextlib.suppress(Exception):
            await self.core.note_health(self.platform, state, detail)
        if changed:
            level = logging.WARNING if state in ("disconnected", "logged out") else logging.INFO
            log.log(level, "wechat: %s%s", state, f" ({detail})" if detail else "")

    # --- the connection ----------------------------------------------------------------------
    def _new_client(self) -> Any:
        options = self._options_class(end_point=f"{self.endpoint[0]}:{self.endpoint[1]}",
                                      token=self.token or "linli")
        client = self._service_class(options)
        from grpclib.client import Channel
        from grpclib.config import Configuration
        from wechaty_grpc.wechaty import PuppetStub

        client.channel = Channel(host=self.endpoint[0], port=self.endpoint[1],
                                 ssl=self._ssl_context(),
                                 config=Configuration(ssl_target_name_override=self.server_name()))
        # The token goes as "authorization: Wechaty <token>" (what the Node client sends, TLS or
        # not) and as the HTTP/2 :authority (what older services read).
        client.channel._authority = self.token
        client._puppet_stub = PuppetStub(client.channel,
                                         metadata={"authorization": f"Wechaty {self.token}"})
        client.on("message", self._on_message)
        client.on("room-join", self._on_join)
        client.on("room-topic", self._on_topic)
        # The client runs each handler as a task of its own, which may run after its session ended:
        # login and logout say which client they came from, and one that is no longer current is ignored.
        client.on("login", lambda payload: self._on_login(payload, client))
        client.on("logout", lambda payload: self._on_logout(payload, client))
        client.on("scan", self._on_scan)
        client.on("error", self._on_error)
        return client

    def server_name(self) -> str | None:
        """The TLS server name (SNI): as configured, else the token's prefix, as Wechaty does
        (``puppet_padlocal_xxx`` → ``puppet_padlocal``)."""
        if not self.settings.tls:
            return None
        if self.settings.tls_server_name:
            return self.settings.tls_server_name
        cut = self.token.rfind("_")
        return self.token[:cut].lower() if cut > 0 else None

    def _ssl_context(self) -> ssl.SSLContext | None:
        if not self.settings.tls:
            return None
        context = ssl.create_default_context(cafile=self.settings.tls_ca_cert or None)
        if not self.settings.tls_ca_cert:
            # Wechaty services use a self-signed certificate shared by the whole project: encrypt,
            # but there is nothing to check it against.
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        context.set_alpn_protocols(["h2"])
        return context

    async def _run(self) -> None:
        """Connect, listen until the session ends, wait (backing off), and connect again."""
        delay = 1.0
        while not self._stopping:
            where = f"{self.endpoint[0]}:{self.endpoint[1]}"
            await self._health("connecting", where)
            self.client = client = self._new_client()
            started = time.monotonic()
            reason = "the event stream ended"
            try:
                await self._session(client)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # network trouble, the service restarting, a bad token …
                reason = self.explain(exc)
            await self._close_client()
            if self._stopping:
                return
            if time.monotonic() - started > 30:
                delay = 1.0  # it had been up for a while: try again soon
            if self._down_since is None:
                self._down_since = time.monotonic()
            wait = min(delay, self.settings.reconnect_max_seconds) * random.uniform(0.8, 1.2)
            await self._health("disconnected", f"{reason}; reconnecting in {wait:.0f} s")
            self._first_try_failed.set()
            await asyncio.sleep(wait)
            delay = min(delay * 2, self.settings.reconnect_max_seconds)

    def explain(self, exc: BaseException) -> str:
        """Why a session ended, for the log and ``linli status`` (never with the token in it)."""
        text = error_text(exc)
        if "UNAUTHENTICATED" in text:
            text += " (the service refused the token: check [wechat] token)"
        return text.replace(self.token, "<token>") if self.token else text

    async def _session(self, client: Any) -> None:
        """One connection: the service's Stop and Start (as the client does), then the event stream,
        with a watchdog that ends the session when the service stops answering."""
        stub = client.puppet_stub
        with contextlib.suppress(Exception):
            await asyncio.wait_for(stub.stop(), CALL_TIMEOUT)  # a fresh start, as the client does
        await asyncio.wait_for(stub.start(), CALL_TIMEOUT)
        listener = asyncio.create_task(client._listen_for_event(), name="wechat-events")
        watchdog = asyncio.create_task(self._watch(client), name="wechat-watchdog")
        try:
            done, _ = await asyncio.wait({listener, watchdog}, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()  # raises what ended the session
        finally:
            for task in (listener, watchdog):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    async def _watch(self, client: Any) -> None:
        """Ding the service every ``ping_seconds``; a failed ding ends the session."""
        while True:
            await asyncio.sleep(self.settings.ping_seconds)
            await asyncio.wait_for(client.puppet_stub.ding(data="linli"), CALL_TIMEOUT)
            if self._logged_in.is_set():
                await self._health("connected", f"as {self.self_name or self.self_id}")

    # --- events ------------------------------------------------------------------------------
    async def _on_login(self, payload: Any, client: Any = None) -> None:
        client = client or self.client
        if client is None or client is not self.client:
            return  # from a session that has ended since: logging in now would send into a dead channel
        self.self_id = payload.contact_id
        name = ""
        with contextlib.suppress(Exception):
            contact = await asyncio.wait_for(client.contact_payload(self.self_id), CALL_TIMEOUT)
            name = contact.name
        if client is not self.client:
            return
        self.self_name = name
        if name:
            self.core.parser.add_usernames(name)
        down_for = time.monotonic() - self._down_since if self._down_since is not None else None
        # "connected" is recorded before sends may go, so that once "linli: ready" or "wechat: connected"
        # is printed, ``linli status`` says so too; the session may have ended meanwhile (checked again).
        await self._health("connected", f"as {name or self.self_id}")
        if client is not self.client:
            return
        self._down_since = None
        self._logged_in.set()
        if down_for is not None:
            log.info("wechat: back after %.0f s", down_for)
        try:
            await self._resume_outbox()
        except Exception:
            log.exception("wechat: could not make the waiting messages due (they go at their time)")

    async def _on_logout(self, payload: Any, client: Any = None) -> None:
        if client is not None and client is not self.client:
            return  # an ended session's: the current one may be logged in
        self._logged_in.clear()
        if self._down_since is None:
            self._down_since = time.monotonic()
        await self._health("logged out", getattr(payload, "data", "") or "")

    async def _on_scan(self, payload: Any) -> None:
        qrcode = getattr(payload, "qrcode", None)
        if qrcode:
            from urllib.parse import quote

            url = f"https://wechaty.js.org/qrcode/{quote(qrcode, safe='')}"
            log.warning("wechat: waiting for login: scan this QR code with the bot account's phone: "
                        "%s", url)  # each new code, not only the first
            self.state = "waiting for login"
            await self._health("waiting for login", f"scan {url}")

    async def _on_error(self, payload: Any) -> None:
        log.warning("wechat: the puppet service reports an error: %s", getattr(payload, "data", payload))

    async def _on_topic(self, payload: Any) -> None:
        self._rooms.pop(getattr(payload, "room_id", ""), None)

    async def _on_message(self, payload: Any) -> None:
        self._queue.put_nowait(("message", payload.message_id))

    async def _on_join(self, payload: Any) -> None:
        self._queue.put_nowait(("join", payload))

    async def _resume_outbox(self) -> None:
        """Back online: the messages that waited for a retry are due now."""
        now = self.core.clock.now().timestamp()
        async with self.core.db.transaction() as tx:
            waiting = [m.outbox_id for m, due, _ in await tx.outbox.pending([self.platform])
                       if due > now]
            for outbox_id in waiting:
                await tx.outbox.postpone(outbox_id, now)
        if waiting:
            log.info("wechat: %s waiting message(s) are due again", len(waiting))
        self.core.outbox_changed.set()

    async def _work(self) -> None:
        """Handle events one at a time, in the order they came; a failure is logged, never raised."""
        while True:
            kind, item = await self._queue.get()
            await self._handle_event(kind, item)

    async def _handle_event(self, kind: str, item: Any) -> None:
        """One event; when the connection breaks while its details are read (the service restarting
        right after it sent the event, say), it is read again once the bot is logged in again, rather
        than lost (the core ignores a message it has handled already)."""
        for attempt in range(EVENT_TRIES):
            try:
                inbound = await (self.message_inbound(item) if kind == "message" else
                                 self.join_inbound(item))
                if inbound is not None:
                    await self.core.handle(inbound)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                lost = connection_trouble(exc)
                if lost and attempt < EVENT_TRIES - 1:
                    log.warning("wechat: the connection broke while reading a %s event (%s); reading "
                                "it again once reconnected", kind, self.explain(exc))
                elif lost or isinstance(exc, grpc_error_types()[0]):
                    # the service answered (e.g. the message is gone after it restarted), or never did
                    log.warning("wechat: a %s event was dropped: %s", kind, self.explain(exc))
                    return
                else:
                    log.exception("wechat: could not handle a %s event", kind)
                    return
            # Give the session time to notice the broken connection (it then clears _logged_in),
            # then wait for the next login, however long the outage.
            await asyncio.sleep(EVENT_RETRY_SECONDS * 2 ** attempt)
            await self._logged_in.wait()

    # --- in ----------------------------------------------------------------------------------
    async def message_inbound(self, message_id: str) -> Inbound | None:
        """The Inbound for one message event, or None for what Linli does not read."""
        client = self._current()
        payload = await asyncio.wait_for(client.message_payload(message_id), CALL_TIMEOUT)
        talker = payload.from_id
        if not talker or talker == self.self_id:
            return None  # the bot's own message, echoed back
        kind = type_name(payload)
        attachments: tuple[Attachment, ...] = ()
        text = payload.text or ""
        if kind == "IMAGE":
            attachments = (Attachment("photo", payload.id, filename=payload.filename or "",
                                      fetch=self._download(payload.id)),)
            text = ""
        elif kind == "AUDIO":  # a voice message: the core answers it (it cannot listen yet)
            attachments = (Attachment("voice", payload.id),)
            text = ""
        elif kind != "TEXT":
            return None
        text, reply_to = quoted_reply(text)
        room = payload.room_id or ""
        log.debug("wechat: %s message %s in %s (%s) from %s (%s)", kind.lower(), payload.id,
                  room or "private", await self.room_topic(room) if room else "-", talker,
                  await self.member_name(room, talker))
        mentions = tuple(payload.mention_ids or ())
        mentions_bot = bool(self.self_id) and self.self_id in mentions
        if room:
            topic = await self.room_topic(room)
            sender = await self.member_name(room, talker)
            if mentions_bot:
                text = strip_mention(text, {self.self_name, await self.member_name(room, self.self_id)})
            return Inbound(platform=self.platform, chat_id=room, chat_kind="group", sender_id=talker,
                           sender_name=sender, text=text, message_id=payload.id,
                           mentions=mentions, mentions_bot=mentions_bot, attachments=attachments,
                           chat_title=topic, reply_to=reply_to)
        return Inbound(platform=self.platform, chat_id=talker, chat_kind="private", sender_id=talker,
                       sender_name=await self.member_name("", talker), text=text,
                       message_id=payload.id, attachments=attachments, reply_to=reply_to)

    def _download(self, message_id: str):
        """How the core downloads an image a contact sent.  The puppet service (Node, 1.x) answers
        ``MessageFile``/``MessageImage`` with a FileBox as JSON: up to 20 KB inline (base64), above
        that a UUID FileBox, to be read with the ``Download`` call that this Python client does not
        have.  So the bytes are read from ``MessageFileStream`` — the name first, then chunks of
        data — which works at any size; ``MessageImageStream`` (the HD image) is tried when the
        file stream gives nothing."""

        async def fetch(limit: int) -> bytes:
            client = self._current()
            data = await self._stream(client.puppet_stub.message_file_stream(id=message_id), limit)
            if not data:
                data = await self._stream(
                    client.puppet_stub.message_image_stream(id=message_id, type=3), limit)
            return data

        return fetch

    @staticmethod
    async def _stream(responses: Any, limit: int) -> bytes:
        import betterproto

        data = bytearray()
        async for response in responses:
            chunk = response.file_box_chunk
            field, value = betterproto.which_one_of(chunk, "payload")
            if field == "data":
                data += value
                if len(data) > limit:
                    break  # the core says "too big"; no need for the rest
        return bytes(data)

    async def join_inbound(self, payload: Any) -> Inbound | None:
        """People joined a room: an Inbound with ``joined``, when ``[wechat] welcome`` is on."""
        room = payload.room_id or ""
        ids = tuple(i for i in (payload.invited_ids or ()) if i and i != self.self_id)
        if not self.settings.welcome or not room or not ids:
            return None
        for contact_id in ids:
            self._names.pop((room, contact_id), None)
        names = tuple([await self.member_name(room, i) for i in ids])
        stamp = payload.timestamp or int(time.time() * 1000)
        return Inbound(platform=self.platform, chat_id=room, chat_kind="group", sender_id=ids[0],
                       sender_name=names[0], text="", message_id=f"join:{room}:{stamp}:{ids[0]}",
                       mentions=ids, chat_title=await self.room_topic(room), joined=names)

    async def room_topic(self, room_id: str) -> str:
        cached = self._rooms.get(room_id)
        if cached and time.monotonic() - cached[0] < CACHE_SECONDS:
            return cached[1]
        topic = ""
        try:
            payload = await asyncio.wait_for(self._current().room_payload(room_id), CALL_TIMEOUT)
            topic = payload.topic or ""
        except Exception as exc:
            if connection_trouble(exc):
                raise  # not "no topic" for ten minutes (a room named by its topic would be ignored)
        self._rooms[room_id] = (time.monotonic(), topic)
        return topic

    async def room_id(self, address: str) -> str:
        """The id of the room ``address`` names: itself if it is a room id (``…@chatroom``, or one
        we have heard from), else the id of the room whose topic it is (the config may name a room
        either way); a topic no room has is a room gone for good."""
        if address in self._rooms or address.endswith("@chatroom"):
            return address
        now = time.monotonic()
        for room, (fetched, topic) in self._rooms.items():
            if topic == address and now - fetched < CACHE_SECONDS:
                return room
        ids = await asyncio.wait_for(self._current().room_list(), CALL_TIMEOUT)
        for room in ids:
            self._rooms.pop(room, None)  # read each topic afresh
            if await self.room_topic(room) == address:
                return room
        raise unreachable(ROOM_GONE)

    async def member_name(self, room_id: str, contact_id: str) -> str:
        """How a contact shows in a room (room nickname, else WeChat name), or privately."""
        key = (room_id, contact_id)
        cached = self._names.get(key)
        if cached and time.monotonic() - cached[0] < CACHE_SECONDS:
            return cached[1]
        name = ""
        client = self._current()
        try:  # a broken connection is raised (the event is read again), not cached as the id
            if room_id:
                with contextlib.suppress(Exception):
                    member = await asyncio.wait_for(
                        client.room_member_payload(room_id, contact_id), CALL_TIMEOUT)
                    name = member.room_alias or member.name
            if not name:
                contact = await asyncio.wait_for(client.contact_payload(contact_id), CALL_TIMEOUT)
                name = contact.alias or contact.name
        except Exception as exc:
            if connection_trouble(exc):
                raise
        name = name or contact_id
        self._names[key] = (time.monotonic(), name)
        return name

    # --- out ---------------------------------------------------------------------------------
    async def send(self, message: Outbound) -> str | None:
        """Deliver one outbox message; while disconnected, raise TemporaryError (it waits)."""
        client = self.client
        if client is None or not self._logged_in.is_set():
            down = time.monotonic() - self._down_since if self._down_since is not None else 0.0
            # Not tried, so not counted as an attempt; on reconnecting, what waits is due at once.
            raise TemporaryError(f"wechat: not connected ({self.state})",
                                 retry_after=min(30.0, max(2.0, down)), count=False)
        last_id: str | None = None
        try:
            if message.kind == "group":  # [chats] may name a room by its topic: send to its id
                message = replace(message, address=await self.room_id(message.address))
            text, mention_ids = await self.mention_text(message)
            for index, part in enumerate(split_text(text, MAX_TEXT)):
                last_id = await asyncio.wait_for(
                    client.message_send_text(message.address, part,
                                             list(mention_ids) if index == 0 and mention_ids else None),
                    CALL_TIMEOUT) or last_id
        except (TemporaryError, PermanentError):
            raise
        except Exception as exc:
            failure = classify(exc, message.kind)
            if isinstance(failure, TemporaryError) and failure.count and not connection_trouble(exc):
                failure = await self.diagnose(client, message) or failure
            if isinstance(failure, PermanentError):
                log.warning("wechat: %s %s cannot be reached: %s (the service said %s)", message.kind,
                            message.address, failure, self.explain(exc))
            raise failure from exc
        for attachment in message.attachments:
            # The text is out: a failed attachment is logged, not retried (that would repeat the text).
            try:
                last_id = await self._send_attachment(client, message.address, attachment) or last_id
            except Exception as exc:
                log.warning("wechat: attachment %s to %s not sent: %r", attachment.kind,
                            message.address, exc)
        return last_id

    async def diagnose(self, client: Any, message: Outbound) -> PermanentError | None:
        """The service refused a send without saying why in words :func:`classify` knows: ask it about
        the address.  A room it does not know (any more) or whose members do not include the bot, or a
        contact it does not know or who is not a friend, is a PermanentError; anything else None."""
        try:
            if message.kind == "group":
                room = await asyncio.wait_for(client.room_payload(message.address), CALL_TIMEOUT)
                members = list(room.member_ids or ())
                if self.self_id and members and self.self_id not in members:
                    return unreachable(NOT_IN_ROOM)
            else:
                contact = await asyncio.wait_for(client.contact_payload(message.address), CALL_TIMEOUT)
                if contact.id and not contact.friend:
                    return unreachable(NOT_FRIEND)
        except Exception as exc:
            found = classify(exc, message.kind)
            if isinstance(found, PermanentError) and str(found) in (ROOM_GONE, NOT_FRIEND, NOT_IN_ROOM):
                return found
        return None

    def _current(self) -> Any:
        """The current session's client; between sessions a ConnectionError (connection trouble)."""
        client = self.client
        if client is None:
            raise ConnectionError("wechat: not connected")
        return client

    async def mention_text(self, message: Outbound) -> tuple[str, tuple[str, ...]]:
        """The text as WeChat should show it, and the ids it mentions (groups only)."""
        text = message.plain_text()
        if message.kind != "group" or not message.mention_ids:
            return text, ()
        ids = tuple(i for i in message.mention_ids if i and i != self.self_id)
        if not ids:
            return text, ()
        names = [await self.member_name(message.address, i) for i in ids]
        if message.mention_name and text.startswith(message.mention_name):
            text = text[len(message.mention_name):].lstrip()
        prefix = "".join(f"@{name}{MENTION_SPACE}" for name in names)
        return prefix + text, ids

    async def _send_attachment(self, client: Any, address: str, attachment: Attachment) -> str | None:
        from wechaty_puppet import FileBox

        if attachment.path:  # a stored photo (storage/media.py), whatever platform it came from
            data = await asyncio.to_thread(Path(attachment.path).read_bytes)
            box = FileBox.from_base64(base64.b64encode(data), name=Path(attachment.path).name)
            return await asyncio.wait_for(client.message_send_file(address, box), CALL_TIMEOUT)
        if attachment.origin not in ("", self.platform) and not attachment.content:
            log.info("wechat: %s %r from %s cannot be sent here (not stored)", attachment.kind,
                     attachment.file_id[:40], attachment.origin)
            return None
        if attachment.file_id and not attachment.content:
            await asyncio.wait_for(client.message_forward(address, attachment.file_id), CALL_TIMEOUT)
            return None
        if not attachment.content:
            return None
        data = attachment.content if attachment.kind == "photo" else \
            base64.b64encode(attachment.content.encode("utf-8")).decode("ascii")
        box = FileBox.from_base64(data.encode("ascii"), name=attachment.filename or "file.txt")
        return await asyncio.wait_for(client.message_send_file(address, box), CALL_TIMEOUT)

    def describe(self) -> dict[str, str]:
        """The adapter's state, for logs and tests."""
        return {"state": self.state, "self": self.self_name or self.self_id}

