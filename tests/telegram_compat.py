"""A real Bot API peer for tests and benchmarks: the ``telegram-test-api`` emulator plus a thin
compatibility proxy that makes it speak the Bot API the way python-telegram-bot 22 expects.

    peer = start_telegram_peer()            # node emulator + proxy, both on 127.0.0.1, free ports
    config: [telegram] token = peer.token, api_base_url = peer.api_base_url
    peer.send(alice, group, "/report 3栋电梯坏了")     # a resident, through the emulator's client API
    ping = peer.wait_for(lambda m: m.chat_id == wang.id and "#1" in m.text)
    peer.press(wang, ping, "受理")                    # a captain presses 受理 (by its label)
    peer.close()

The emulator (``tests/peers/telegram_emulator.js`` starting the npm package ``telegram-test-api``
4.2.x, unchanged) stores what residents send and what the bot sends.  The bot talks to the proxy
(``peer.api_base_url``), never to the emulator directly; the test talks to the emulator's own
client endpoints (``/sendMessage``, ``/sendCommand``, ``/sendCallback``, ``/getUpdatesHistory``).

The emulator's gaps with python-telegram-bot 22, each checked against the installed package, and
what the proxy does about them (nothing here is in the bot):

========================================  ===================================================
gap in telegram-test-api 4.2.1            the proxy
========================================  ===================================================
getMe has no ``is_bot`` (PTB's start-up   adds ``is_bot``, ``can_join_groups``,
fails)                                    ``can_read_all_group_messages`` (= not privacy mode)
sent messages: ``date`` in milliseconds,  answers with a Telegram-shaped Message: date in
chat ``type`` always ``private``, no      seconds, chat type from the id's sign (negative =
``from``                                  group), ``from`` = the bot
editMessageText / editMessageReplyMarkup  returns the edited Message; refuses (400) a message
return ``null``; no "not found" / "not    that does not exist or would not change, as Telegram
modified" errors                          does
callback queries lack ``chat_instance``   adds one (PTB's CallbackQuery needs it)
getUpdates ignores ``timeout`` (a busy    long polling: waits up to ``timeout`` s for updates;
loop) and ``offset`` (an update is gone   keeps every update until the bot confirms it with a
once fetched, confirmed or not)           higher ``offset``, as Telegram does
setMyCommands, getMyCommands,             implemented here (the menu is recorded per scope and
sendChatAction → HTTP 500                 language, for tests to read)
sendPhoto, sendDocument → HTTP 500        stored in the emulator as a message with ``photo`` /
                                          ``document`` (a file id; an upload gets a new id)
answerCallbackQuery returns ``null`` and  returns True and records the answer
records nothing
never answers 403                         "Forbidden: bot can't initiate conversation with a
                                          user" for a private chat whose user has not written
                                          to the bot yet (``require_start``), as Telegram does
no privacy mode                           with ``privacy_mode=True``, group messages that are
                                          neither /commands nor @mentions of the bot nor
                                          replies to it are withheld, as Telegram does
errors as ``{"message": …}``, HTTP 500    ``{"ok": false, "error_code", "description"}``
accepts any token                         401 Unauthorized for any token but the peer's
accepts any file id                       400 "wrong file identifier" for a file id Telegram never
                                          issued (users' photos and the bot's uploads are known)
no getFile, no file downloads             getFile and ``/file/bot<token>/<path>`` for the files a
                                          test gave bytes (``register_file``); others: 400, as for
                                          a file too old to fetch.  Uploads are recorded by their
                                          SHA-256 (``state.uploaded``: file id → digest)
never fails                               on request (``state.failing``): 502 Bad Gateway
no flood control, no group migration      on request (``state.flood``, ``state.migrated``): 429
                                          with ``retry_after``; 400 with ``migrate_to_chat_id``
getChatMember → HTTP 500                  the bot is a member, or an admin of ``state.admins``
webhook deliveries skip all of the above  setWebhook is handled here: updates are POSTed, with
(and a failing one crashes the emulator:  the secret token header, until the bot answers 200;
an unhandled promise rejection)           getUpdates answers 409 meanwhile, as Telegram does
========================================  ===================================================

Stdlib only (a threaded HTTP server and urllib), so a synchronous benchmark script can use it too.
"""

from __future__ import annotations

import contextlib
import email.parser
import email.policy
import hashlib
import itertools
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

PEERS = Path(__file__).resolve().parent / "peers"
EMULATOR_SCRIPT = PEERS / "telegram_emulator.js"
DEFAULT_TOKEN = "123456:linli-test-token"
JSON_FIELDS = ("reply_markup", "entities", "caption_entities", "commands", "scope",
               "allowed_updates", "link_preview_options", "reply_parameters")
FORBIDDEN_START = "Forbidden: bot can't initiate conversation with a user"
FORBIDDEN_BLOCKED = "Forbidden: bot was blocked by the user"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def node_available() -> bool:
    return shutil.which("node") is not None and \
        (PEERS / "node_modules" / "telegram-test-api").is_dir()


class PeerError(RuntimeError):
    """The emulator could not be started or answered nonsense."""


# --- the emulator process ----------------------------------------------------------------------
def start_emulator(port: int | None = None, timeout: float = 15.0) -> tuple[subprocess.Popen, str]:
    """Start telegram-test-api on 127.0.0.1; return the process and its base URL."""
    if not node_available():
        raise PeerError("node or tests/peers/node_modules/telegram-test-api is missing "
                        "(run `npm ci` in tests/peers)")
    for attempt in range(3):
        chosen = port or free_port()
        errors = tempfile.TemporaryFile()
        proc = subprocess.Popen(
            ["node", str(EMULATOR_SCRIPT), "--port", str(chosen), "--host", "127.0.0.1"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors,
            cwd=str(PEERS), env={**os.environ, "DEBUG": ""})
        line = _read_line(proc, timeout)
        if not line:
            errors.seek(0)
            line = errors.read().decode(errors="replace")[-500:]
        errors.close()
        if line.startswith("telegram-test-api: listening on"):
            return proc, f"http://127.0.0.1:{chosen}"
        stop_process(proc)
        if port is not None or attempt == 2:
            raise PeerError(f"telegram-test-api did not start: {line!r}")
    raise PeerError("unreachable")


def _read_line(proc: subprocess.Popen, timeout: float) -> str:
    out: list[str] = []
    reader = threading.Thread(target=lambda: out.append(proc.stdout.readline().decode()),
                              daemon=True)
    reader.start()
    reader.join(timeout)
    if not out:
        return f"(nothing within {timeout} s; exit code {proc.poll()})"
    return out[0].strip()


def stop_process(proc: subprocess.Popen | None, timeout: float = 5.0) -> None:
    """Stop a child we started: SIGTERM, then SIGKILL; close its pipes."""
    if proc is None:
        return
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)
    for pipe in (proc.stdin, proc.stdout, proc.stderr):
        with contextlib.suppress(Exception):
            if pipe is not None:
                pipe.close()


def _http(url: str, payload: dict | None = None, timeout: float = 10.0) -> tuple[int, object]:
    data = json.dumps(payload if payload is not None else {}).encode()
    request = urllib.request.Request(url, data=data, method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        body = exc.read()
        try:
            return exc.code, json.loads(body or b"null")
        except ValueError:
            return exc.code, {"message": body.decode(errors="replace")}
    except (urllib.error.URLError, OSError) as exc:  # the emulator is gone (or not there yet)
        return 502, {"message": f"emulator unreachable: {exc}"}


# --- the compatibility proxy -------------------------------------------------------------------
class ApiError(Exception):
    def __init__(self, code: int, description: str, parameters: dict | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters


class FloodWait(ApiError):
    """Telegram's flood control: 429 with ``parameters.retry_after``."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(429, f"Too Many Requests: retry after {retry_after:g}",
                         {"retry_after": retry_after})


@dataclass
class CompatState:
    """What the proxy knows beyond the emulator (guarded by ``lock``)."""

    privacy_mode: bool = False
    require_start: bool = True
    started: set[int] = field(default_factory=set)  # users who wrote to the bot in private
    blocked: set[int] = field(default_factory=set)  # users who blocked the bot
    pending: list[dict] = field(default_factory=list)  # fetched from the emulator, not confirmed
    confirmed: list[dict] = field(default_factory=list)  # confirmed by the bot (for replays)
    withheld: list[dict] = field(default_factory=list)  # group messages privacy mode hid
    commands: dict[tuple[str, str], list[dict]] = field(default_factory=dict)
    answered: list[dict] = field(default_factory=list)  # answerCallbackQuery calls
    forbidden: list[dict] = field(default_factory=list)  # sends refused with 403
    calls: list[str] = field(default_factory=list)  # every Bot API method the bot called
    unsupported: list[str] = field(default_factory=list)  # methods neither side implements
    files: set[str] = field(default_factory=set)  # file ids Telegram issued (users' photos, uploads)
    admins: set[int] = field(default_factory=set)  # groups where the bot is an administrator
    flood: dict[int, list[float]] = field(default_factory=dict)  # chat → the next sends' 429
    # retry_after (0: let that send through)
    migrated: dict[int, int] = field(default_factory=dict)  # group → the supergroup it became
    requests: list[tuple[str, dict]] = field(default_factory=list)  # (method, parameters)
    webhook: dict | None = None  # {"url", "secret", "token"} while a webhook is set
    failing: set[str] = field(default_factory=set)  # methods answering 502 Bad Gateway ("*": all)
    webhook_posts: list[tuple[int, int]] = field(default_factory=list)  # (update_id, HTTP status)
    uploads: itertools.count = field(default_factory=lambda: itertools.count(1))
    file_data: dict[str, bytes] = field(default_factory=dict)  # file id → what getFile serves
    uploaded: dict[str, str] = field(default_factory=dict)  # an upload's file id → its SHA-256
    lock: threading.RLock = field(default_factory=threading.RLock)


class CompatProxy:
    """The Bot API on 127.0.0.1 in front of the emulator (see the module docstring)."""

    def __init__(self, upstream: str, *, token: str = "", privacy_mode: bool = False,
                 require_start: bool = True, poll_interval: float = 0.05) -> None:
        self.upstream = upstream.rstrip("/")
        self.token = token  # when set, any other token is refused (401), as Telegram does
        self.state = CompatState(privacy_mode=privacy_mode, require_start=require_start)
        self.poll_interval = poll_interval
        self._me: dict | None = None
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                proxy._serve(self)

            do_GET = do_POST

            def log_message(self, *args) -> None:  # quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True,
                                        name="telegram-compat")
        self._stopping = threading.Event()
        self._pusher: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> CompatProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self.server.shutdown()
        self.server.server_close()
        if self._pusher is not None:
            self._pusher.join(5)

    # --- HTTP plumbing ---------------------------------------------------------------------------
    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        path = urllib.parse.urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        parts = path.path.strip("/").split("/")
        if len(parts) >= 3 and parts[0] == "file" and parts[1].startswith("bot"):
            unquote = urllib.parse.unquote  # PTB quotes the token's ":"
            self._serve_file(handler, unquote(parts[1][3:]), unquote("/".join(parts[2:])))
            return
        if len(parts) == 2 and parts[0].startswith("bot"):
            token, method = parts[0][3:], parts[1]
            params = self._params(handler.headers.get("Content-Type", ""), body, path.query)
            try:
                status, answer = 200, {"ok": True, "result": self.call(token, method, params)}
            except ApiError as exc:
                status, answer = exc.code, {"ok": False, "error_code": exc.code,
                                            "description": exc.description}
                if exc.parameters:
                    answer["parameters"] = exc.parameters
        else:  # the emulator's client endpoints pass through unchanged
            status, answer = _http(self.upstream + path.path, json.loads(body or b"{}"))
        data = json.dumps(answer).encode()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the bot went away
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data)

    def _serve_file(self, handler: BaseHTTPRequestHandler, token: str, file_path: str) -> None:
        """A file download, as api.telegram.org/file/bot<token>/<file_path> serves it."""
        with self.state.lock:
            data = self.state.file_data.get(file_path.removeprefix("photos/"))
        status = 200 if data is not None and (not self.token or token == self.token) else 404
        data = data if status == 200 else b'{"ok":false,"error_code":404,"description":"Not Found"}'
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            handler.send_response(status)
            handler.send_header("Content-Type", "application/octet-stream")
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data)

    def api_getFile(self, token: str, params: dict) -> dict:
        file_id = str(params.get("file_id") or "")
        with self.state.lock:
            data = self.state.file_data.get(file_id)
        if data is None:
            raise ApiError(400, "Bad Request: wrong file_id or the file is temporarily unavailable")
        return {"file_id": file_id, "file_unique_id": _unique(file_id), "file_size": len(data),
                "file_path": f"photos/{file_id}"}

    @staticmethod
    def _params(content_type: str, body: bytes, query: str) -> dict:
        params: dict[str, object] = {k: v[-1] for k, v in urllib.parse.parse_qs(query).items()}
        if content_type.startswith("application/json"):
            params.update(json.loads(body or b"{}"))
        elif content_type.startswith("multipart/form-data"):
            message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
                b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body)
            for part in message.iter_parts():
                name = part.get_param("name", header="content-disposition")
                payload = part.get_payload(decode=True) or b""
                if part.get_filename():
                    params[name] = {"upload": part.get_filename(), "size": len(payload),
                                    "sha256": hashlib.sha256(payload).hexdigest()}
                else:
                    params[name] = payload.decode()
        elif body:
            params.update({k: v[-1] for k, v in
                           urllib.parse.parse_qs(body.decode(), keep_blank_values=True).items()})
        for key in JSON_FIELDS:
            value = params.get(key)
            if isinstance(value, str) and value[:1] in "[{":
                params[key] = json.loads(value)
        for key, value in list(params.items()):  # attach://name → the uploaded part
            if isinstance(value, str) and value.startswith("attach://"):
                params[key] = params.get(value[len("attach://"):], value)
        return params

    def _bot_api(self, token: str, method: str, payload: dict) -> object:
        status, answer = _http(f"{self.upstream}/bot{token}/{method}", payload)
        if status != 200 or not isinstance(answer, dict) or not answer.get("ok"):
            description = (answer or {}).get("description") or (answer or {}).get("message") \
                if isinstance(answer, dict) else str(answer)
            raise ApiError(status if status >= 400 else 500,
                           description or f"emulator answered {status}")
        return answer.get("result")

    def history(self, token: str) -> list[dict]:
        status, answer = _http(f"{self.upstream}/getUpdatesHistory", {"token": token})
        if status != 200 or not isinstance(answer, dict):
            raise PeerError(f"getUpdatesHistory answered {status}: {answer!r}")
        return answer.get("result") or []

    # --- the Bot API -------------------------------------------------------------------------------
    def call(self, token: str, method: str, params: dict) -> object:
        with self.state.lock:
            self.state.calls.append(method)
            if method != "getUpdates":
                self.state.requests.append((method, params))
        if self.token and token != self.token:
            raise ApiError(401, "Unauthorized")
        if method in self.state.failing or "*" in self.state.failing:
            if method == "getUpdates":
                time.sleep(self.poll_interval)  # a dead upstream does not answer at once
            raise ApiError(502, "Bad Gateway")
        handler = getattr(self, f"api_{method}", None)
        if handler is None:
            with self.state.lock:
                self.state.unsupported.append(method)
            result = self._bot_api(token, method, params)  # the emulator may know it
            return result
        return handler(token, params)

    def me(self, token: str) -> dict:
        if self._me is None:
            raw = self._bot_api(token, "getMe", {})
            self._me = {"id": raw["id"], "is_bot": True, "first_name": raw["first_name"],
                        "username": raw["username"]}
        return self._me

    def api_getMe(self, token: str, params: dict) -> dict:
        return {**self.me(token), "can_join_groups": True,
                "can_read_all_group_messages": not self.state.privacy_mode,
                "supports_inline_queries": False}

    def api_setWebhook(self, token: str, params: dict) -> bool:
        """Webhooks are delivered from here (the emulator's own would skip the patches above):
        each update is POSTed with the secret token header until the bot answers 200."""
        url = str(params.get("url") or "")
        if url and not url.startswith(("http://", "https://")):  # plain http: it is loopback
            raise ApiError(400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook")
        secret = str(params.get("secret_token") or "")
        if secret and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
            raise ApiError(400, "Bad Request: secret token contains unallowed characters")
        if str(params.get("drop_pending_updates", "")).lower() == "true":
            self._fetch(token)
            with self.state.lock:
                self.state.pending.clear()
        with self.state.lock:
            self.state.webhook = {"url": url, "secret": str(params.get("secret_token") or ""),
                                  "token": token} if url else None
            if url and self._pusher is None:
                self._pusher = threading.Thread(target=self._push_updates, daemon=True,
                                                name="telegram-compat-webhook")
                self._pusher.start()
        return True

    def _push_updates(self) -> None:
        while not self._stopping.is_set():
            hook = self.state.webhook
            update = None
            if hook is not None:
                self._fetch(hook["token"])
                with self.state.lock:
                    update = self.state.pending[0] if self.state.pending else None
            if update is None:
                self._stopping.wait(self.poll_interval)
                continue
            headers = {"Content-Type": "application/json"}
            if hook["secret"]:
                headers["X-Telegram-Bot-Api-Secret-Token"] = hook["secret"]
            request = urllib.request.Request(hook["url"], data=json.dumps(update).encode(),
                                             method="POST", headers=headers)
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    status = response.status
            except urllib.error.HTTPError as exc:
                status = exc.code
            except OSError:
                status = 0
            with self.state.lock:
                self.state.webhook_posts.append((update["update_id"], status))
                if status == 200 and self.state.pending and self.state.pending[0] is update:
                    self.state.confirmed.append(self.state.pending.pop(0))
            if status != 200:
                self._stopping.wait(0.2)  # Telegram retries a failing webhook, more slowly

    def api_deleteWebhook(self, token: str, params: dict) -> bool:
        with self.state.lock:
            self.state.webhook = None
        if str(params.get("drop_pending_updates", "")).lower() == "true":
            with self.state.lock:
                self.state.pending.clear()
            self._fetch(token)
            with self.state.lock:
                self.state.pending.clear()
        return True

    def api_getWebhookInfo(self, token: str, params: dict) -> dict:
        hook = self.state.webhook or {}
        return {"url": hook.get("url", ""), "has_custom_certificate": False,
                "pending_update_count": len(self.state.pending)}

    def api_getUpdates(self, token: str, params: dict) -> list[dict]:
        if self.state.webhook is not None:
            raise ApiError(409, "Conflict: can't use getUpdates method while webhook is active; "
                                "use deleteWebhook to delete the webhook first")
        offset = int(params.get("offset") or 0)
        limit = max(1, min(100, int(params.get("limit") or 100)))
        timeout = max(0.0, min(50.0, float(params.get("timeout") or 0)))
        deadline = time.monotonic() + timeout
        while True:
            with self.state.lock:
                if offset:
                    done = [u for u in self.state.pending if u["update_id"] < offset]
                    self.state.confirmed.extend(done)
                    self.state.pending = [u for u in self.state.pending
                                          if u["update_id"] >= offset]
            self._fetch(token)
            with self.state.lock:
                if self.state.pending:
                    return [json.loads(json.dumps(u)) for u in self.state.pending[:limit]]
            if time.monotonic() >= deadline:
                return []
            time.sleep(self.poll_interval)

    def _fetch(self, token: str) -> None:
        """Move new updates from the emulator (which forgets them once read) into ``pending``."""
        status, answer = _http(f"{self.upstream}/bot{token}/getUpdates", {})
        if status != 200 or not isinstance(answer, dict):
            raise ApiError(502, f"emulator getUpdates answered {status}")
        for update in answer.get("result") or []:
            update = self._patch_update(token, update)
            if update is None:
                continue
            with self.state.lock:
                self.state.pending.append(update)
                self.state.pending.sort(key=lambda u: u["update_id"])

    def _patch_update(self, token: str, update: dict) -> dict | None:
        message = update.get("message")
        query = update.get("callback_query")
        if message is not None:
            _fix_message(message)
            with self.state.lock:
                self.state.files.update(str(p["file_id"]) for p in message.get("photo") or ())
                if isinstance(message.get("document"), dict):
                    self.state.files.add(str(message["document"]["file_id"]))
            chat = message["chat"]
            user = message.get("from") or {}
            if chat["type"] == "private" and user.get("id"):
                with self.state.lock:
                    self.state.started.add(int(user["id"]))
                    self.state.blocked.discard(int(user["id"]))
            elif self.state.privacy_mode and not self._visible_in_privacy_mode(token, message):
                with self.state.lock:
                    self.state.withheld.append(update)
                return None
        if query is not None:
            query.pop("botToken", None)
            if isinstance(query.get("message"), dict):
                _fix_message(query["message"])
                chat_id = query["message"]["chat"]["id"]
            else:
                chat_id = query["from"]["id"]
            query.setdefault("chat_instance",
                             hashlib.sha1(str(chat_id).encode()).hexdigest()[:16])
        return update

    def _visible_in_privacy_mode(self, token: str, message: dict) -> bool:
        text = message.get("text") or message.get("caption") or ""
        username = self.me(token)["username"].lower()
        if message["chat"]["id"] in self.state.admins or text.startswith("/"):
            return True
        if f"@{username}" in text.lower():
            return True
        reply = message.get("reply_to_message") or {}
        return (reply.get("from") or {}).get("id") == self.me(token)["id"]

    def _flood_or_moved(self, chat_id: int) -> None:
        """Flood control and group migration, when a test asked for them (any call to a chat)."""
        with self.state.lock:
            waits = self.state.flood.get(chat_id)
            wait = waits.pop(0) if waits else None
            if waits is not None and not waits:
                del self.state.flood[chat_id]
            moved = self.state.migrated.get(chat_id)
        if wait:  # 0: this call goes through
            raise FloodWait(wait)
        if moved is not None:
            raise ApiError(400, "Bad Request: group chat was upgraded to a supergroup chat",
                           {"migrate_to_chat_id": moved})

    def _check_may_send(self, params: dict) -> int:
        chat_id = int(params.get("chat_id") or 0)
        self._flood_or_moved(chat_id)
        if chat_id > 0:
            with self.state.lock:
                refusal = (FORBIDDEN_BLOCKED if chat_id in self.state.blocked else
                           FORBIDDEN_START if self.state.require_start and
                           chat_id not in self.state.started else None)
                if refusal:
                    self.state.forbidden.append({"chat_id": chat_id, "params": params})
            if refusal:
                raise ApiError(403, refusal)
        if not chat_id:
            raise ApiError(400, "Bad Request: chat not found")
        return chat_id

    def api_sendMessage(self, token: str, params: dict) -> dict:
        self._check_may_send(params)
        if not str(params.get("text") or "").strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if len(params["text"].encode("utf-16-le")) // 2 > 4096:
            raise ApiError(400, "Bad Request: message is too long")
        result = self._bot_api(token, "sendMessage", params)
        return self._as_message(token, {"messageId": result["message_id"], "time": result["date"],
                                        "message": result})

    def _send_media(self, token: str, params: dict, kind: str) -> dict:
        self._check_may_send(params)
        value = params.get(kind)
        if isinstance(value, dict):  # an upload: Telegram gives it a file id
            with self.state.lock:
                params[kind] = f"compat-upload-{next(self.state.uploads)}-{value['upload']}"
                self.state.files.add(params[kind])
                self.state.uploaded[params[kind]] = value.get("sha256", "")
        elif not value:
            raise ApiError(400, f"Bad Request: there is no {kind} in the request")
        elif value not in self.state.files:
            raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
        result = self._bot_api(token, "sendMessage", params)  # stored like any bot message
        return self._as_message(token, {"messageId": result["message_id"], "time": result["date"],
                                        "message": result})

    def api_sendPhoto(self, token: str, params: dict) -> dict:
        return self._send_media(token, params, "photo")

    def api_sendDocument(self, token: str, params: dict) -> dict:
        return self._send_media(token, params, "document")

    def api_sendChatAction(self, token: str, params: dict) -> bool:
        self._check_may_send(params)
        return True

    def _stored(self, token: str, chat_id: object, message_id: object) -> dict | None:
        for entry in self.history(token):
            message = entry.get("message") or {}
            if "chat_id" in message and str(message["chat_id"]) == str(chat_id) and \
                    str(entry.get("messageId")) == str(message_id):
                return entry
        return None

    def _edit(self, token: str, params: dict, method: str) -> dict:
        self._flood_or_moved(int(params.get("chat_id") or 0))
        entry = self._stored(token, params.get("chat_id"), params.get("message_id"))
        if entry is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        old = entry["message"]
        same_text = method == "editMessageReplyMarkup" or params.get("text") == old.get("text")
        if same_text and params.get("reply_markup") == old.get("reply_markup"):
            raise ApiError(400, "Bad Request: message is not modified: specified new message "
                                "content and reply markup are exactly the same as a current "
                                "content and reply markup of the message")
        if method == "editMessageText" and not str(params.get("text") or "").strip():
            raise ApiError(400, "Bad Request: message text is empty")
        self._bot_api(token, method, params)
        if "reply_markup" not in params and method == "editMessageText":
            # Telegram drops the inline keyboard of an edit that does not repeat it
            self._bot_api(token, "editMessageReplyMarkup",
                          {"chat_id": params["chat_id"], "message_id": params["message_id"],
                           "reply_markup": {"inline_keyboard": []}})
        entry = self._stored(token, params.get("chat_id"), params.get("message_id"))
        return self._as_message(token, entry)

    def api_editMessageText(self, token: str, params: dict) -> dict:
        return self._edit(token, params, "editMessageText")

    def api_editMessageReplyMarkup(self, token: str, params: dict) -> dict:
        return self._edit(token, params, "editMessageReplyMarkup")

    def api_getChatMember(self, token: str, params: dict) -> dict:
        chat_id, user_id = int(params.get("chat_id") or 0), int(params.get("user_id") or 0)
        if user_id != self.me(token)["id"] or chat_id >= 0:
            return {"status": "member", "user": {"id": user_id, "is_bot": False,
                                                 "first_name": str(user_id)}}
        if chat_id not in self.state.admins:
            return {"status": "member", "user": self.me(token)}
        rights = ("can_be_edited", "is_anonymous", "can_manage_chat", "can_delete_messages",
                  "can_manage_video_chats", "can_restrict_members", "can_promote_members",
                  "can_change_info", "can_invite_users", "can_post_stories", "can_edit_stories",
                  "can_delete_stories")
        return {"status": "administrator", "user": self.me(token),
                **{right: right not in ("can_be_edited", "is_anonymous") for right in rights}}

    def api_answerCallbackQuery(self, token: str, params: dict) -> bool:
        with self.state.lock:
            self.state.answered.append(dict(params))
        return True

    def api_setMyCommands(self, token: str, params: dict) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise ApiError(400, "Bad Request: commands must be a list of at most 100")
        for command in commands:
            name = str(command.get("command", ""))
            if not (1 <= len(name) <= 32) or not all(c.islower() or c.isdigit() or c == "_"
                                                     for c in name):
                raise ApiError(400, f"Bad Request: BOT_COMMAND_INVALID ({name!r})")
            if not (1 <= len(str(command.get("description", ""))) <= 256):
                raise ApiError(400, "Bad Request: command description must be 1-256 characters")
        with self.state.lock:
            self.state.commands[_scope_key(params)] = commands
        return True

    def api_getMyCommands(self, token: str, params: dict) -> list[dict]:
        with self.state.lock:
            return list(self.state.commands.get(_scope_key(params), []))

    def api_deleteMyCommands(self, token: str, params: dict) -> bool:
        with self.state.lock:
            self.state.commands.pop(_scope_key(params), None)
        return True

    def _as_message(self, token: str, entry: dict) -> dict:
        """A stored bot message as the Telegram Message the Bot API would return."""
        stored = entry["message"]
        chat_id = int(stored["chat_id"])
        date = int(entry["time"])
        message: dict[str, object] = {
            "message_id": int(entry["messageId"]), "from": self.me(token),
            "date": date // 1000 if date > 10**11 else date, "chat": _chat(chat_id)}
        for key in ("text", "entities", "caption", "caption_entities"):
            if stored.get(key):
                message[key] = stored[key]
        markup = stored.get("reply_markup")
        if isinstance(markup, dict) and markup.get("inline_keyboard"):
            message["reply_markup"] = markup
        if stored.get("photo"):
            file_id = str(stored["photo"])
            message["photo"] = [{"file_id": file_id, "file_unique_id": _unique(file_id),
                                 "width": 1280, "height": 960}]
        if stored.get("document"):
            file_id = str(stored["document"])
            message["document"] = {"file_id": file_id, "file_unique_id": _unique(file_id),
                                   "file_name": file_id.rsplit("-", 1)[-1]}
        return message


def _scope_key(params: dict) -> tuple[str, str]:
    scope = params.get("scope") or {"type": "default"}
    return (scope.get("type", "default") if isinstance(scope, dict) else str(scope),
            str(params.get("language_code") or ""))


def _unique(file_id: str) -> str:
    return hashlib.sha1(file_id.encode()).hexdigest()[:12]


def _chat(chat_id: int, title: str = "") -> dict:
    if chat_id > 0:
        return {"id": chat_id, "type": "private", "first_name": title or str(chat_id)}
    kind = "supergroup" if str(chat_id).startswith("-100") else "group"
    return {"id": chat_id, "type": kind, "title": title or str(chat_id)}


def _fix_message(message: dict) -> None:
    message.pop("botToken", None)
    if isinstance(message.get("date"), int | float) and message["date"] > 10**11:
        message["date"] = int(message["date"] // 1000)
    message.setdefault("date", int(time.time()))
    chat = message.setdefault("chat", {})
    if "id" in chat and "type" not in chat:
        chat.update(_chat(int(chat["id"]), chat.get("title", "")))


# --- people and chats, and the peer a test drives ---------------------------------------------------
@dataclass(frozen=True)
class TgUser:
    id: int
    first_name: str
    username: str = ""
    language_code: str = "zh"

    def as_dict(self) -> dict:
        user = {"id": self.id, "is_bot": False, "first_name": self.first_name,
                "language_code": self.language_code}
        if self.username:
            user["username"] = self.username
        return user


@dataclass(frozen=True)
class TgChat:
    id: int
    title: str = ""

    @property
    def private(self) -> bool:
        return self.id > 0

    def as_dict(self) -> dict:
        return _chat(self.id, self.title)


@dataclass(frozen=True)
class BotMessage:
    """One message the bot sent, as the emulator stores it now (after any edits)."""

    message_id: int
    chat_id: int
    text: str
    buttons: tuple[tuple[str, str], ...]  # (label, callback_data)
    photo: str
    document: str
    caption: str
    entities: tuple[dict, ...]
    time: float
    raw: dict

    @classmethod
    def from_entry(cls, entry: dict) -> BotMessage:
        message = entry["message"]
        markup = message.get("reply_markup") or {}
        buttons = tuple((b.get("text", ""), b.get("callback_data", ""))
                        for row in (markup.get("inline_keyboard") or []) for b in row)
        entities = message.get("entities") or message.get("caption_entities") or []
        if isinstance(entities, str):
            entities = json.loads(entities)
        return cls(int(entry["messageId"]), int(message["chat_id"]), message.get("text") or "",
                   buttons, str(message.get("photo") or ""), str(message.get("document") or ""),
                   message.get("caption") or "", tuple(entities), entry["time"] / 1000, entry)


class TelegramPeer:
    """The emulator and the proxy, and the client side: residents and captains sending things."""

    def __init__(self, token: str = DEFAULT_TOKEN, *, privacy_mode: bool = False,
                 require_start: bool = True) -> None:
        self.token = token
        self.emulator, self.emulator_url = start_emulator()
        try:
            self.proxy = CompatProxy(self.emulator_url, token=token, privacy_mode=privacy_mode,
                                     require_start=require_start).start()
        except Exception:
            stop_process(self.emulator)
            raise
        self.me = self.proxy.me(token)

    # where the bot connects ------------------------------------------------------------------
    @property
    def api_base_url(self) -> str:
        """``[telegram] api_base_url`` for the bot (PTB appends the token)."""
        return f"{self.proxy.url}/bot"

    @property
    def api_base_file_url(self) -> str:
        return f"{self.proxy.url}/file/bot"

    @property
    def state(self) -> CompatState:
        return self.proxy.state

    @property
    def bot_username(self) -> str:
        return self.me["username"]

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.proxy.stop()
        stop_process(self.emulator)

    def __enter__(self) -> TelegramPeer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def register_file(self, file_id: str, data: bytes) -> None:
        """A file a user sends as ``file_id``: getFile finds it and the download serves ``data``."""
        with self.state.lock:
            self.state.file_data[file_id] = data
            self.state.files.add(file_id)

    # the client side (the emulator's own client endpoints) -----------------------------------
    def send(self, user: TgUser, chat: TgChat | None, text: str = "", *, photo: str = "",
             reply_to: BotMessage | None = None) -> None:
        """``user`` sends ``text`` in ``chat`` (None: their private chat with the bot); with
        ``photo`` (a file id) the text is the photo's caption."""
        chat_dict = chat.as_dict() if chat is not None else {
            "id": user.id, "type": "private", "first_name": user.first_name}
        message: dict[str, object] = {"botToken": self.token, "from": user.as_dict(),
                                      "chat": chat_dict, "date": int(time.time())}
        entities = _command_entities(text)
        if photo:
            message["photo"] = [{"file_id": photo, "file_unique_id": _unique(photo),
                                 "width": 1280, "height": 960}]
            if text:
                message["caption"] = text
                if entities:
                    message["caption_entities"] = entities
        else:
            message["text"] = text
            if entities:
                message["entities"] = entities
        if reply_to is not None:
            message["reply_to_message"] = self._telegram_message(reply_to)
        endpoint = "/sendCommand" if entities and not photo else "/sendMessage"
        self._client(endpoint, message)

    def press(self, user: TgUser, message: BotMessage, label: str) -> str:
        """``user`` presses the inline button labelled ``label`` under ``message``; return the
        callback data Telegram sends for it."""
        data = next((d for text, d in message.buttons if text == label), None)
        if data is None:
            raise AssertionError(f"no button {label!r} under message {message.message_id}: "
                                 f"{message.buttons}")
        self._client("/sendCallback", {"botToken": self.token, "from": user.as_dict(),
                                       "message": self._telegram_message(message), "data": data,
                                       "date": int(time.time())})
        return data

    def callback(self, user: TgUser, message: BotMessage, data: str) -> None:
        """A callback query with any ``data`` (a modified client can send what it likes)."""
        self._client("/sendCallback", {"botToken": self.token, "from": user.as_dict(),
                                       "message": self._telegram_message(message), "data": data,
                                       "date": int(time.time())})

    def send_raw(self, user: TgUser, chat: TgChat | None, **fields: object) -> None:
        """A message with exactly these fields (a sticker, a location, nonsense)."""
        chat_dict = chat.as_dict() if chat is not None else {
            "id": user.id, "type": "private", "first_name": user.first_name}
        self._client("/sendMessage", {"botToken": self.token, "from": user.as_dict(),
                                      "chat": chat_dict, "date": int(time.time()), **fields})

    def _telegram_message(self, message: BotMessage) -> dict:
        out = {"message_id": message.message_id, "date": int(message.time),
               "chat": _chat(message.chat_id), "from": self.me}
        if message.text:
            out["text"] = message.text
        markup = message.raw["message"].get("reply_markup")
        if isinstance(markup, dict) and markup.get("inline_keyboard"):
            out["reply_markup"] = markup
        return out

    def _client(self, endpoint: str, payload: dict) -> None:
        status, answer = _http(self.emulator_url + endpoint, payload)
        if status != 200:
            raise PeerError(f"emulator {endpoint} answered {status}: {answer!r}")

    def bot_messages(self, chat_id: int | None = None) -> list[BotMessage]:
        """Everything the bot has sent (in ``chat_id``), oldest first, as it stands now."""
        out = []
        for entry in self.proxy.history(self.token):
            message = entry.get("message") or {}
            if "chat_id" not in message or "callbackQuery" in entry:
                continue
            bot_message = BotMessage.from_entry(entry)
            if chat_id is None or bot_message.chat_id == chat_id:
                out.append(bot_message)
        return sorted(out, key=lambda m: m.message_id)

    def wait_for(self, predicate: Callable[[BotMessage], bool], timeout: float = 10.0,
                 after: int = 0, what: str = "") -> BotMessage:
        """The first bot message (with id > ``after``) that matches, waiting up to ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            for message in self.bot_messages():
                if message.message_id > after and predicate(message):
                    return message
            if time.monotonic() >= deadline:
                seen = "\n".join(f"  [{m.chat_id}] {m.text or m.caption or m.photo}"
                                 for m in self.bot_messages() if m.message_id > after)
                raise AssertionError(f"no bot message {what} within {timeout} s; "
                                     f"the bot sent:\n{seen}")
            time.sleep(0.05)

    def last_id(self) -> int:
        messages = self.bot_messages()
        return messages[-1].message_id if messages else 0

    def replay_confirmed(self, count: int) -> int:
        """Put the last ``count`` confirmed updates back in the queue, as Telegram does for a bot
        that died before confirming its offset; return how many were put back."""
        with self.state.lock:
            again = self.state.confirmed[-count:] if count else []
            self.state.pending = sorted(again + self.state.pending, key=lambda u: u["update_id"])
            return len(again)


def _command_entities(text: str) -> list[dict]:
    if not text.startswith("/"):
        return []
    head = text.split(None, 1)[0]
    return [{"type": "bot_command", "offset": 0, "length": len(head.encode("utf-16-le")) // 2}]


def start_telegram_peer(token: str = DEFAULT_TOKEN, *, privacy_mode: bool = False,
                        require_start: bool = True) -> TelegramPeer:
    """Start telegram-test-api and the compatibility proxy on loopback; ``peer.api_base_url`` is
    what the bot's ``[telegram] api_base_url`` should be.  Call ``peer.close()`` when done."""
    return TelegramPeer(token, privacy_mode=privacy_mode, require_start=require_start)


@contextlib.contextmanager
def telegram_peer(**options) -> Iterator[TelegramPeer]:
    peer = start_telegram_peer(**options)
    try:
        yield peer
    finally:
        peer.close()
