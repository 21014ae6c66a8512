"""Running the WeChat test peer and the real bot as subprocesses, for the WeChat end-to-end tests.

``WechatPeer`` starts ``tests/peers/wechat_server.js`` (the npm ``wechaty-puppet-service`` gRPC server
with ``wechaty-puppet-mock`` behind it, TLS off, a fixed token) on free loopback ports and drives its
HTTP control API: a mock contact says something in a room or privately, people join a room, and what
the bot sent is listed.  ``LinliProcess`` runs ``linli run`` against it with a config written from
``config.example.toml`` plus the WeChat ids, and collects its log.
"""

from __future__ import annotations

import atexit
import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import tomllib
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PEERS = ROOT / "tests" / "peers"
TOKEN = "linli_test_token"
BOT = {"id": "wx-linli", "name": "小区管家"}  # not one of [compound] bot_names: learnt at login
CONTACTS = {
    "alice": "Alice", "bob": "Bob", "wang": "王师傅", "li": "李阿姨", "zhao": "赵经理",
    "sun": "孙老师", "newbie": "小新", "stranger": "路人甲",
}
ROOM3 = "r3@chatroom"  # mapped by topic
ROOM5 = "r5@chatroom"  # mapped by id
ROOMX = "rx@chatroom"  # not in the config
ROOMS = [
    {"id": ROOM3, "topic": "3栋邻里群", "members": [BOT["id"], "wx-alice", "wx-bob", "wx-wang"]},
    {"id": ROOM5, "topic": "五栋业主", "members": [BOT["id"], "wx-li", "wx-bob"]},
    {"id": ROOMX, "topic": "隔壁小区", "members": [BOT["id"], "wx-stranger", "wx-alice"]},
]
WECHAT_PEOPLE = {"wang": "wx-wang", "li": "wx-li", "zhao": "wx-zhao", "sun": "wx-sun"}
_RUNNING: set[subprocess.Popen] = set()  # killed when the test run ends, however it ends


@atexit.register
def _kill_leftovers() -> None:
    for process in list(_RUNNING):
        if process.poll() is None:
            process.kill()


def peer_problem() -> str | None:
    """Why the peer cannot run here (no node, no npm packages, no Python client), or None."""
    if shutil.which("node") is None:
        return "node is not installed"
    for package in ("wechaty-puppet-service", "wechaty-puppet-mock"):
        if not (PEERS / "node_modules" / package).is_dir():
            return f"tests/peers/node_modules/{package} missing (run: cd tests/peers && npm ci)"
    try:
        import wechaty_puppet_service  # noqa: F401
    except ImportError:
        return "the WeChat extra is not installed (pip install -e '.[wechat]')"
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate, timeout: float, what: str, interval: float = 0.05):
    """Poll ``predicate`` until it returns something truthy; fail with ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


class WechatPeer:
    """The Node puppet service with the mock puppet, and its control API."""

    def __init__(self, folder: Path, grpc_port: int | None = None, http_port: int | None = None,
                 tls: bool = False) -> None:
        self.folder = folder
        self.grpc_port = grpc_port or free_port()
        self.http_port = http_port or free_port()
        self.tls = tls
        self.process: subprocess.Popen | None = None
        self.fixture = folder / "wechat-fixture.json"
        self.fixture.write_text(json.dumps({
            "bot": BOT, "rooms": ROOMS,
            "contacts": [{"id": f"wx-{k}", "name": v} for k, v in CONTACTS.items()],
        }, ensure_ascii=False), encoding="utf-8")
        self.log = folder / "wechat-peer.log"

    def start(self) -> WechatPeer:
        command = ["node", "--disable-warning=MODULE_TYPELESS_PACKAGE_JSON",
                   "--disable-warning=DeprecationWarning", str(PEERS / "wechat_server.js"),
                   "--fixture", str(self.fixture), "--grpc-port", str(self.grpc_port),
                   "--http-port", str(self.http_port), "--token", TOKEN]
        if self.tls:
            command.append("--tls")
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(command, cwd=PEERS, stdout=log, stderr=subprocess.STDOUT)
        _RUNNING.add(self.process)
        wait_for(lambda: self.process.poll() is not None or "wechat-peer: ready" in self.log_text(),
                 30, "the WeChat peer to start")
        if self.process.poll() is not None:
            raise RuntimeError(f"the WeChat peer did not start:\n{self.log_text()}")
        return self

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""

    def kill(self) -> None:
        """Stop the server at once, like a crash (SIGKILL)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)
        self.process = None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.process = None

    # --- the control API ---------------------------------------------------------------------
    def call(self, path: str, body: dict | None = None):
        data = json.dumps(body, ensure_ascii=False).encode() if body is not None else None
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.http_port}{path}", data=data,
            method="POST" if body is not None else "GET", headers={"content-type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            raise AssertionError(f"peer {path}: {exc.read().decode()}") from exc

    def state(self) -> dict:
        return self.call("/state")

    def say(self, who: str, text: str = "", *, room: str | None = None, image: str = "",
            mentions: tuple[str, ...] = (), data: bytes = b"") -> str:
        """Contact ``who`` (a CONTACTS key) says ``text`` in ``room``, or privately to the bot; or
        sends an ``image`` (a file name: with ``data``, those bytes, else a one-pixel PNG)."""
        body = {"talker": f"wx-{who}", "mentions": list(mentions)}
        body |= {"room": room} if room else {"to": BOT["id"]}
        body |= {"image": image} if image else {"text": text}
        if data:
            body["data"] = base64.b64encode(data).decode("ascii")
        return self.call("/say", body)["id"]

    def join(self, room: str, *who: str, inviter: str = "alice") -> None:
        self.call("/join", {"room": room, "members": [f"wx-{w}" for w in who],
                            "inviter": f"wx-{inviter}"})

    def sent(self, since: int = 0) -> list[dict]:
        return self.call(f"/sent?since={since}")

    def mark(self) -> int:
        return self.state()["sent"]

    def wait_sent(self, since: int, count: int, timeout: float = 20.0,
                  where: str | None = None) -> list[dict]:
        """Wait until the bot has sent ``count`` messages (to ``where``, if given) after ``since``."""
        def enough():
            got = [m for m in self.sent(since) if where is None or m["conversationId"] == where]
            return got if len(got) >= count else None
        return wait_for(enough, timeout, f"{count} message(s) to {where or 'anyone'} "
                                         f"(so far: {self.sent(since)!r})")


def write_config(folder: Path, peer: WechatPeer, delivery: dict | None = None,
                 people: dict[str, str] | None = None, **wechat) -> Path:
    """config.example.toml with [wechat] pointing at the peer, and WeChat ids for rooms and people
    (``people`` gives some of them other ids, e.g. one the puppet does not know)."""
    raw = tomllib.loads((ROOT / "config.example.toml").read_text(encoding="utf-8"))
    raw["wechat"] = {"endpoint": f"127.0.0.1:{peer.grpc_port}", "token": TOKEN,
                     "send_interval_seconds": 0.05, "send_jitter_seconds": 0.05,
                     "ping_seconds": 1, "reconnect_max_seconds": 1} | wechat
    if peer.tls:
        raw["wechat"]["tls"] = True
    raw.setdefault("delivery", {}).update(retry_base_seconds=0.3, retry_max_seconds=1.0,
                                          **(delivery or {}))
    raw.setdefault("scheduler", {})["tick_seconds"] = 1
    raw.pop("telegram", None)
    raw["chats"]["b3"]["wechat"] = "3栋邻里群"
    raw["chats"]["b5"]["wechat"] = ROOM5
    for key, wechat_id in (WECHAT_PEOPLE | (people or {})).items():
        raw["people"][key]["wechat"] = wechat_id
    path = folder / "config.toml"
    path.write_text(dump_toml(raw), encoding="utf-8")
    return path


def dump_toml(table: dict, prefix: str = "") -> str:
    """Enough TOML for a config: scalars, lists of scalars, nested tables."""
    lines, subtables = [], []
    for key, value in table.items():
        name = json.dumps(key, ensure_ascii=False)
        if isinstance(value, dict):
            subtables.append((f"{prefix}.{name}" if prefix else name, value))
        else:
            lines.append(f"{name} = {toml_value(value)}")
    out = (f"[{prefix}]\n" if prefix else "") + "".join(f"{line}\n" for line in lines)
    for name, value in subtables:
        out += "\n" + dump_toml(value, name)
    return out


def toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return json.dumps(str(value), ensure_ascii=False)


class LinliProcess:
    """``linli run`` as a subprocess, its stderr collected."""

    def __init__(self, config: Path, db: Path) -> None:
        self.config = config
        self.db = db
        self.lines: list[str] = []
        self.process: subprocess.Popen | None = None

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "bot", *args, "--config", str(self.config), "--db", str(self.db)]

    def start(self, timeout: float = 40.0) -> LinliProcess:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.process = subprocess.Popen(self.command("run"), cwd=ROOT, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE, text=True, encoding="utf-8", env=env)
        _RUNNING.add(self.process)
        threading.Thread(target=self._read, daemon=True).start()
        wait_for(lambda: self.process.poll() is not None or "linli: ready" in self.text(), timeout,
                 "linli: ready")
        if self.process.poll() is not None:
            raise RuntimeError(f"linli run exited:\n{self.text()}")
        return self

    def _read(self) -> None:
        for line in self.process.stderr:
            self.lines.append(line)

    def text(self) -> str:
        return "".join(self.lines)

    def count(self, needle: str) -> int:
        return sum(needle in line for line in self.lines)

    def status(self) -> tuple[int, dict]:
        done = subprocess.run(self.command("status", "--json"), cwd=ROOT, capture_output=True,
                              text=True, timeout=60)
        return done.returncode, json.loads(done.stdout)

    def stop(self) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        code = self.process.returncode
        self.process = None
        return code
