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
Linli made (e.g. an .ics) goes as a file.

Sending is gentle (``limits``: one message every ``send_interval_seconds`` plus up to
``send_jitter_seconds`` at random, and ``daily_cap`` a day, all from ``[wechat]``) because bursts get
WeChat accounts restricted.  The connection is watched: a lost event stream or a failed ``ding`` ends
the session and the adapter reconnects with exponential backoff (up to ``reconnect_max_seconds``);
while it is down ``send`` raises :class:`TemporaryError` with ``count=False`` (not an attempt), so the
outbox keeps every message however long the outage, and on reconnecting what waits is due at once.
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
import ssl
import time
import warnings
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


def classify(exc: BaseException) -> Exception:
    """A send failure as the dispatcher's TemporaryError or PermanentError."""
    try:
        from grpclib.const import Status
        from grpclib.exceptions import GRPCError
    except ImportError:  # pragma: no cover - grpclib comes with the client
        return TemporaryError(repr(exc))
    if isinstance(exc, GRPCError):
        if exc.status in (Status.INVALID_ARGUMENT, Status.NOT_FOUND, Status.PERMISSION_DENIED):
            return PermanentError(f"{exc.status.name}: {exc.message}")
        return TemporaryError(f"{exc.status.name}: {exc.message}")
    return TemporaryError(f"{type(exc).__name__}: {exc}")


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
        if changed:
            level = logging.WARNING if state in ("disconnected", "logged out") else logging.INFO
            log.log(level, "wechat: %s%s", state, f" ({detail})" if detail else "")
        with contextlib.suppress(Exception):
            await self.core.note_health(self.platform, state, detail)

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
        client.on("login", self._on_login)
        client.on("logout", self._on_logout)
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
        text = str(classify(exc))
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
    async def _on_login(self, payload: Any) -> None:
        self.self_id = payload.contact_id
        name = ""
        with contextlib.suppress(Exception):
            contact = await asyncio.wait_for(self.client.contact_payload(self.self_id), CALL_TIMEOUT)
            name = contact.name
        self.self_name = name
        if name:
            self.core.parser.add_usernames(name)
        self._logged_in.set()
        down_for = time.monotonic() - self._down_since if self._down_since is not None else None
        self._down_since = None
        await self._health("connected", f"as {name or self.self_id}")
        if down_for is not None:
            log.info("wechat: back after %.0f s", down_for)
        try:
            await self._resume_outbox()
        except Exception:
            log.exception("wechat: could not make the waiting messages due (they go at their time)")

    async def _on_logout(self, payload: Any) -> None:
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
            try:
                inbound = await (self.message_inbound(item) if kind == "message" else
                                 self.join_inbound(item))
                if inbound is not None:
                    await self.core.handle(inbound)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("wechat: could not handle a %s event", kind)

    # --- in ----------------------------------------------------------------------------------
    async def message_inbound(self, message_id: str) -> Inbound | None:
        """The Inbound for one message event, or None for what Linli does not read."""
        client = self.client
        if client is None:
            return None
        payload = await asyncio.wait_for(client.message_payload(message_id), CALL_TIMEOUT)
        talker = payload.from_id
        if not talker or talker == self.self_id:
            return None  # the bot's own message, echoed back
        kind = type_name(payload)
        attachments: tuple[Attachment, ...] = ()
        text = payload.text or ""
        if kind == "IMAGE":
            attachments = (Attachment("photo", payload.id, filename=payload.filename or ""),)
            text = ""
        elif kind != "TEXT":
            return None
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
                           chat_title=topic)
        return Inbound(platform=self.platform, chat_id=talker, chat_kind="private", sender_id=talker,
                       sender_name=await self.member_name("", talker), text=text,
                       message_id=payload.id, attachments=attachments)

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
        with contextlib.suppress(Exception):
            payload = await asyncio.wait_for(self.client.room_payload(room_id), CALL_TIMEOUT)
            topic = payload.topic or ""
        self._rooms[room_id] = (time.monotonic(), topic)
        return topic

    async def member_name(self, room_id: str, contact_id: str) -> str:
        """How a contact shows in a room (room nickname, else WeChat name), or privately."""
        key = (room_id, contact_id)
        cached = self._names.get(key)
        if cached and time.monotonic() - cached[0] < CACHE_SECONDS:
            return cached[1]
        name = ""
        if room_id:
            with contextlib.suppress(Exception):
                member = await asyncio.wait_for(
                    self.client.room_member_payload(room_id, contact_id), CALL_TIMEOUT)
                name = member.room_alias or member.name
        if not name:
            with contextlib.suppress(Exception):
                contact = await asyncio.wait_for(self.client.contact_payload(contact_id),
                                                 CALL_TIMEOUT)
                name = contact.alias or contact.name
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
        text, mention_ids = await self.mention_text(message)
        last_id: str | None = None
        try:
            for index, part in enumerate(split_text(text, MAX_TEXT)):
                last_id = await asyncio.wait_for(
                    client.message_send_text(message.address, part,
                                             list(mention_ids) if index == 0 and mention_ids else None),
                    CALL_TIMEOUT) or last_id
        except (TemporaryError, PermanentError):
            raise
        except Exception as exc:
            raise classify(exc) from exc
        for attachment in message.attachments:
            # The text is out: a failed attachment is logged, not retried (that would repeat the text).
            try:
                last_id = await self._send_attachment(client, message.address, attachment) or last_id
            except Exception as exc:
                log.warning("wechat: attachment %s to %s not sent: %r", attachment.kind,
                            message.address, exc)
        return last_id

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
        if attachment.file_id and not attachment.content:
            await asyncio.wait_for(client.message_forward(address, attachment.file_id), CALL_TIMEOUT)
            return None
        if not attachment.content:
            return None
        from wechaty_puppet import FileBox

        data = attachment.content if attachment.kind == "photo" else \
            base64.b64encode(attachment.content.encode("utf-8")).decode("ascii")
        box = FileBox.from_base64(data.encode("ascii"), name=attachment.filename or "file.txt")
        return await asyncio.wait_for(client.message_send_file(address, box), CALL_TIMEOUT)

    def describe(self) -> dict[str, str]:
        """The adapter's state, for logs and tests."""
        return {"state": self.state, "self": self.self_name or self.self_id}

