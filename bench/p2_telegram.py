"""P2 Telegram end to end: a resident's /report through a Bot API emulator until the group sees the
acknowledgement, against a bare python-telegram-bot echo bot through the same emulator, same run.

The peer is the npm package telegram-test-api behind ``tests/telegram_compat.py``'s proxy (one proxy
per bot, both on the same emulator; both proxies poll the emulator every 5 ms).  ``linli run`` (a
child process, a real SQLite file, the 20-building compound) and the echo bot (``bench/echo_bot.py``,
a child process) poll with the same long-polling settings.  Samples alternate between the two bots;
each round trip is timed from the resident's send until the bot's answer is in the emulator.

Both round trips are dominated by the emulator's polling (tens of ms), so Linli's own handling time is
its own figure: inside ``linli run`` (the Telegram adapter's ``on_message`` wrapped before it starts, see
``HANDLING``), from the update reaching the adapter until ``Core.handle`` returns, i.e. the report, its
ping and the group's acknowledgement committed to the outbox.  Sending them is the dispatcher's work
and is in the round trip only.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from bench.common import PYTHON, ROOT, LinliProcess, Row, median, p95

ECHO_TOKEN = "654321:linli-bench-echo"
POLL = 0.005
HANDLING = """
import sys, time
import bot.adapters.telegram as _telegram
_on_message = _telegram.TelegramAdapter.on_message
async def _timed(self, update, context):
    start = time.perf_counter()
    try:
        await _on_message(self, update, context)
    finally:
        print(f"linli-bench: handled {time.perf_counter() - start:.6f}", file=sys.stderr, flush=True)
_telegram.TelegramAdapter.on_message = _timed
"""  # run in linli run's process before it starts: adapter in → Core.handle committed


def _wait_answer(proxy, token: str, chat_id: int, after: int, timeout: float = 15.0) -> float:
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        for entry in proxy.history(token):
            message = entry.get("message") or {}
            if "chat_id" in message and "callbackQuery" not in entry and \
                    int(message["chat_id"]) == chat_id and int(entry["messageId"]) > after:
                return time.perf_counter()
        time.sleep(0.002)
    raise TimeoutError(f"no answer in chat {chat_id} within {timeout} s")


def _last_id(proxy, token: str) -> int:
    ids = [int(e["messageId"]) for e in proxy.history(token) if "messageId" in e]
    return max(ids, default=0)


def run(folder: Path, quick: bool = False) -> tuple[list[Row], dict]:
    try:
        from tests.telegram_compat import (
            CompatProxy,
            TgChat,
            TgUser,
            _command_entities,
            node_available,
            start_telegram_peer,
        )
    except ImportError as exc:  # the Telegram peer has not landed
        return [_not_measured(f"tests/telegram_compat.py missing: {exc}")], {}
    if not node_available():
        return [_not_measured("node / tests/peers/node_modules missing (npm ci in tests/peers)")], {}
    from bot.simulate import compound_toml, telegram_id

    samples = 6 if quick else 40
    peer = start_telegram_peer(require_start=False)
    peer.proxy.poll_interval = POLL
    echo_proxy = CompatProxy(peer.emulator_url, require_start=False, poll_interval=POLL).start()
    config = folder / "p2-telegram.toml"
    config.write_text(compound_toml(20, telegram_token=peer.token, api_base_url=peer.api_base_url),
                      encoding="utf-8")
    linli = echo = None
    linli_times, echo_times, handled = [], [], []
    try:
        linli = LinliProcess(config, folder / "p2.db", preimport=HANDLING)
        linli.wait_ready()
        echo = subprocess.Popen([PYTHON, "-m", "bench.echo_bot", ECHO_TOKEN, f"{echo_proxy.url}/bot"],
                                cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        line = echo.stderr.readline()
        if not line.startswith("echo: ready"):
            raise RuntimeError(f"echo bot did not start: {line!r}")
        warmup = 2
        for i in range(samples + warmup):
            building = i % 20 + 1
            chat = TgChat(telegram_id(f"b{building}"), f"{building}栋邻里群")
            user = TgUser(50_000 + i, f"住户{i}")
            text = f"/report {building}栋电梯坏了 {i}"
            # Linli: the group's acknowledgement of the report
            after = _last_id(peer.proxy, peer.token)
            start = time.perf_counter()
            peer.send(user, chat, text)
            took = _wait_answer(peer.proxy, peer.token, chat.id, after) - start
            if i >= warmup:
                linli_times.append(took)
            # the echo bot: its echo of the same text
            after = _last_id(echo_proxy, ECHO_TOKEN)
            start = time.perf_counter()
            peer._client("/sendCommand", {
                "botToken": ECHO_TOKEN, "from": user.as_dict(), "chat": chat.as_dict(),
                "date": int(time.time()), "text": text, "entities": _command_entities(text)})
            took = _wait_answer(echo_proxy, ECHO_TOKEN, chat.id, after) - start
            if i >= warmup:
                echo_times.append(took)
    finally:
        if echo is not None:
            echo.terminate()
            try:
                echo.wait(10)
            except subprocess.TimeoutExpired:
                echo.kill()
        if linli is not None:
            linli.stop()
            handled = [float(line.split()[-1]) for line in linli.proc.stderr.read().splitlines()
                       if line.startswith("linli-bench: handled")]
        echo_proxy.stop()
        peer.close()
    ms = 1000.0
    value, base = median(linli_times) * ms, median(echo_times) * ms
    rows = [
        Row("P2 Telegram /report round trip, median", value, "ms", base, "PTB echo bot",
            "≤1.5× echo", value <= 1.5 * base),
        Row("P2 Telegram /report round trip, p95", p95(linli_times) * ms, "ms", p95(echo_times) * ms,
            "PTB echo bot", "— (reported)", True, note=f"{samples} samples each"),
    ]
    handled = handled[-samples:]
    if len(handled) == samples:
        rows.append(Row("P2 Linli's handling of /report (adapter in → outbox committed), median",
                        median(handled) * ms, "ms", floor="— (reported)", ok=True,
                        note=f"p95 {p95(handled) * ms:.2f} ms, {samples} samples; in `linli run`"))
    else:
        rows.append(Row("P2 Linli's handling of /report (adapter in → outbox committed)", None, "ms",
                        floor="— (reported)", note=f"not measured: {len(handled)} timings for {samples}"))
    return rows, {"samples": samples, "linli": linli_times, "echo": echo_times, "handled": handled}


def _not_measured(why: str) -> Row:
    return Row("P2 Telegram /report round trip", None, "ms", floor="median ≤1.5× echo", ok=None,
               note=f"not measured: {why}")
