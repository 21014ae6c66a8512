"""End to end on Telegram: the real bot (``linli run``, a subprocess, a real SQLite file) against a
Bot API server on 127.0.0.1 that nobody on this team wrote — the npm package telegram-test-api,
behind the small compatibility proxy of ``tests/telegram_compat.py`` — with the test acting as the
residents and captains through the emulator's own client endpoints.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from datetime import date, timedelta
from pathlib import Path

import pytest

from tests.telegram_compat import (
    BotMessage,
    TelegramPeer,
    TgChat,
    TgUser,
    free_port,
    node_available,
    start_telegram_peer,
)

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not node_available(),
                       reason="node and tests/peers/node_modules are needed (npm ci in tests/peers)"),
]

# Telegram ids: groups are negative, people positive.
ALL, B3, B5 = TgChat(-1001000, "测试小区业主群"), TgChat(-1001003, "3栋邻里群"), \
    TgChat(-1001005, "5栋邻里群")
STRANGERS = TgChat(-1009999, "别的群")  # a group the bot is in but the config does not know
WANG = TgUser(301, "王师傅", "wang_shifu")  # captain of 3栋
LI = TgUser(305, "李阿姨")  # captain of 5栋; never opened a private chat with the bot
ADMIN = TgUser(901, "社区办")
SUN = TgUser(401, "孙老师")  # volunteer coordinator
ALICE = TgUser(201, "Alice 张", "alice")  # a resident of 3栋
BOB = TgUser(202, "Bob", language_code="en")  # another resident
CAROL = TgUser(203, "Carol 13912345678")  # a resident whose display name holds her phone number

CONFIG = """
[compound]
name = "测试小区"
timezone = "Asia/Shanghai"
language = "zh"

[buildings]
numbered = 8

[tickets]
waking_hours = "00:00-24:00"

[delivery]
retry_base_seconds = 0.2
retry_max_seconds = 2

[scheduler]
tick_seconds = 2

[telegram]
token = "{token}"
api_base_url = "{api}"
api_base_file_url = "{files}"
poll_timeout = 1
{telegram_extra}

[chats.all]
name = "测试小区业主群"
telegram = {all}

[chats.b3]
name = "3栋邻里群"
building = "3"
telegram = {b3}

[chats.b5]
name = "5栋邻里群"
building = "5"
telegram = {b5}

[people.wang]
name = "王师傅"
roles = ["captain:3"]
telegram = {wang}

[people.li]
name = "李阿姨"
roles = ["captain:5"]
telegram = {li}

[people.sun]
name = "孙老师"
roles = ["coordinator"]
telegram = {sun}

[people.admin]
name = "社区办"
roles = ["admin"]
telegram = {admin}
"""


def linli_command() -> list[str]:
    script = Path(sys.executable).with_name("linli")
    return [str(script)] if script.exists() else [sys.executable, "-m", "bot"]


class Linli:
    """``linli run`` as a child process; its stderr is collected line by line."""

    def __init__(self, config: Path, db: Path) -> None:
        self.config, self.db = config, db
        self.proc: subprocess.Popen | None = None
        self.lines: list[str] = []

    def start(self, timeout: float = 20.0) -> None:
        self.lines = []
        self.proc = subprocess.Popen(
            [*linli_command(), "run", "--config", str(self.config), "--db", str(self.db)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            cwd=str(ROOT), env={**os.environ, "PYTHONUNBUFFERED": "1"})
        threading.Thread(target=self._read, args=(self.proc,), daemon=True).start()
        deadline = time.monotonic() + timeout
        while not any("linli: ready" in line for line in self.lines):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("linli did not get ready:\n" + self.log())
            time.sleep(0.05)

    def _read(self, proc: subprocess.Popen) -> None:
        for raw in proc.stderr:
            self.lines.append(raw.decode(errors="replace").rstrip())

    def log(self) -> str:
        return "\n".join(self.lines[-60:])

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int | None:
        if self.proc is None:
            return None
        proc, self.proc = self.proc, None
        if proc.poll() is None:
            proc.send_signal(sig)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        return proc.returncode


def write_config(folder: Path, peer: TelegramPeer, telegram_extra: str = "") -> Path:
    path = folder / "linli.toml"
    path.write_text(CONFIG.format(telegram_extra=telegram_extra,
        token=peer.token, api=peer.api_base_url, files=peer.api_base_file_url, all=ALL.id,
        b3=B3.id, b5=B5.id, wang=WANG.id, li=LI.id, sun=SUN.id, admin=ADMIN.id), encoding="utf-8")
    return path


@pytest.fixture
def peer():
    peer = start_telegram_peer()
    yield peer
    peer.close()


@pytest.fixture
def linli(tmp_path, peer):
    bot = Linli(write_config(tmp_path, peer), tmp_path / "linli.db")
    bot.start()
    yield bot
    code = bot.stop()
    tracebacks = [line for line in bot.lines if "Traceback" in line]
    assert not tracebacks, "the bot printed a traceback:\n" + bot.log()
    assert code == 0, f"linli exited with {code}:\n" + bot.log()


def in_chat(chat: TgChat | TgUser, *needles: str):
    """A predicate: a bot message in ``chat`` whose text has every needle."""
    def match(message: BotMessage) -> bool:
        text = message.text or message.caption
        return message.chat_id == chat.id and all(n in text for n in needles)
    return match


def tickets(db: Path) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT id, building, status, text FROM tickets ORDER BY id").fetchall()


def attachments(db: Path) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT ticket_id, kind, file_id FROM ticket_attachments").fetchall()


# --- the scenarios ---------------------------------------------------------------------------------
def test_report_button_press_and_updates(peer: TelegramPeer, linli: Linli) -> None:
    me = peer.bot_username
    # The command menu went up in both languages, for private chats and for groups.
    menus = peer.state.commands
    for scope in ("all_private_chats", "all_group_chats"):
        assert {c["command"] for c in menus[(scope, "")]} >= {"report", "help"}
        assert any("报" in c["description"] for c in menus[(scope, "zh")])
    assert "ack" in {c["command"] for c in menus[("all_private_chats", "")]}
    assert "ack" not in {c["command"] for c in menus[("all_group_chats", "")]}

    # `linli status` (another process, reading the same database) sees Telegram connected.
    status = subprocess.run([*linli_command(), "status", "--config", str(linli.config), "--db",
                             str(linli.db)], capture_output=True, text=True, timeout=30, cwd=str(ROOT))
    assert status.returncode == 0, status.stdout + status.stderr
    assert "telegram: connected" in status.stdout and f"@{me}" in status.stdout

    # The captain and Alice have opened a private chat with the bot: /start answers with help.
    peer.send(WANG, None, "/start")
    peer.send(ALICE, None, "/start")
    peer.wait_for(in_chat(WANG), what="answering /start")
    peer.wait_for(in_chat(ALICE), what="answering /start")

    # Alice registers her unit privately, then reports in the 3栋 group with a plain /command.
    mark = peer.last_id()
    peer.send(ALICE, None, "登记 3栋 1203")
    peer.wait_for(in_chat(ALICE, "已登记"), after=mark, what="registering Alice's unit")
    peer.send(ALICE, B3, "/report 3栋电梯坏了，困人了 电话13812345678")
    ack = peer.wait_for(in_chat(ALICE, "#1"), after=mark, what="acknowledging #1 to Alice privately")
    assert "电梯" in ack.text
    ping = peer.wait_for(in_chat(WANG, "#1", "电梯坏了"), after=mark, what="pinging the captain")
    assert "1203" in ping.text and "13812345678" in ping.text  # the captain sees it all, privately
    assert [label for label, _ in ping.buttons] == ["受理", "处理中", "已解决", "驳回"]
    assert all(data.endswith(" 1") for _, data in ping.buttons)

    # /report@ThisBot is ours; /report@OtherBot is another bot's and stays unanswered.
    mark = peer.last_id()
    peer.send(BOB, B3, "/report@OtherBot 3栋 门禁坏了")
    peer.send(BOB, B3, f"/report@{me} 3栋 消防门关不上")
    # Bob never opened a private chat with the bot: Telegram refuses it, so his receipt comes in
    # the group instead.
    second = peer.wait_for(in_chat(B3, "#2"), after=mark, what="acknowledging #2 in the group")
    assert "#3" not in second.text
    # The Chinese command word typed as text (privacy mode is off for this bot).
    peer.send(ALICE, B3, "报修 3栋 垃圾桶满了没人清")
    peer.wait_for(in_chat(ALICE, "#3"), after=mark, what="acknowledging 报修 typed as text")
    time.sleep(0.5)
    assert not [m for m in peer.bot_messages(B3) if "#1" in m.text or "#3" in m.text], \
        "Alice's receipts went to the group although she can be told privately"
    texts = [t for (_, _, _, t) in tickets(linli.db)]
    assert not any("门禁" in t for t in texts), "a command for another bot was taken as ours"
    assert len(texts) == 3

    # The captain presses 受理 under the ping: the press is answered and the ping edited in place.
    mark = peer.last_id()
    assert peer.press(WANG, ping, "受理") == "受理 1"
    update = peer.wait_for(in_chat(ALICE, "#1", "已受理"), after=mark,
                           what="telling the reporter privately")
    assert update.chat_id == ALICE.id
    edited = wait_edit(peer, ping, "已受理")
    assert edited.buttons, "the edited ping keeps its buttons for the next step"
    assert any(a.get("callback_query_id") for a in peer.state.answered)
    assert tickets(linli.db)[0][2] == "acknowledged"
    # No second message for the press itself: the answer went into the edit.
    assert not [m for m in peer.bot_messages(WANG.id) if m.message_id > mark and "#1" in m.text
                and "已受理" in m.text]

    # A resident trying a captain's command in the group: refused there, nothing moves.
    mark = peer.last_id()
    peer.send(BOB, B3, "/resolve 1")
    peer.wait_for(in_chat(B3, "楼长"), after=mark, what="refusing a resident's /resolve")
    assert tickets(linli.db)[0][2] == "acknowledged"

    # The same command typed by hand works too.
    peer.send(WANG, None, "处理中 1 师傅下午到")
    peer.wait_for(in_chat(ALICE, "#1", "正在处理", "师傅下午到"), after=mark,
                  what="the reporter hearing about 处理中")

    # Linking identities: /link gives a one-time code in private (and only in private).
    mark = peer.last_id()
    peer.send(ALICE, None, "/link")
    code = peer.wait_for(in_chat(ALICE, "绑定码"), after=mark, what="giving a /link code")
    assert re.search(r"绑定 \S+", code.text)

    # Privacy: no registered unit or phone number ever reached a group.
    for message in peer.bot_messages():
        if message.chat_id < 0:
            assert "1203" not in message.text and "13812345678" not in message.text, message.text


def wait_edit(peer: TelegramPeer, message: BotMessage, needle: str, timeout: float = 10.0) -> BotMessage:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for current in peer.bot_messages(message.chat_id):
            if current.message_id == message.message_id and needle in current.text:
                return current
        time.sleep(0.05)
    raise AssertionError(f"message {message.message_id} was not edited to show {needle!r}")


def test_photo_report_reaches_the_captain(peer: TelegramPeer, linli: Linli) -> None:
    peer.send(WANG, None, "/start")
    peer.send(ALICE, None, "/start")
    peer.wait_for(in_chat(ALICE), what="answering /start")
    mark = peer.last_id()
    peer.send(ALICE, B3, "/report 3栋 楼道灯坏了", photo="AgACAgQAAxk-photo-1")
    peer.wait_for(in_chat(ALICE, "#1"), after=mark, what="acknowledging the photo report privately")
    peer.wait_for(in_chat(WANG, "#1", "楼道灯坏了"), after=mark, what="pinging the captain")
    photo = peer.wait_for(lambda m: m.chat_id == WANG.id and m.photo, after=mark,
                          what="forwarding the photo to the captain")
    assert photo.photo == "AgACAgQAAxk-photo-1"
    assert attachments(linli.db) == [(1, "photo", "AgACAgQAAxk-photo-1")]
    # A second photo, without a caption, soon after: added to the same report and forwarded.
    mark = peer.last_id()
    peer.send(ALICE, B3, photo="AgACAgQAAxk-photo-2")
    peer.wait_for(in_chat(B3, "照片已加到报修 #1"), after=mark, what="confirming the added photo")
    peer.wait_for(lambda m: m.chat_id == WANG.id and m.photo == "AgACAgQAAxk-photo-2", after=mark,
                  what="forwarding the added photo to the captain")
    assert attachments(linli.db)[-1] == (1, "photo", "AgACAgQAAxk-photo-2")
    # A photo sent "as a file" (an image document) with the /report caption.
    mark = peer.last_id()
    caption = "/report 3栋 外墙砖掉了"
    peer.send_raw(ALICE, B3, caption=caption, caption_entities=[
        {"type": "bot_command", "offset": 0, "length": 7}], document={
        "file_id": "BQACAgQ-document-3", "file_unique_id": "d3", "file_name": "IMG_0042.JPG",
        "mime_type": "image/jpeg"})
    peer.wait_for(in_chat(ALICE, "#2"), after=mark, what="acknowledging the image-file report")
    forwarded = peer.wait_for(lambda m: m.chat_id == WANG.id and m.document, after=mark,
                              what="forwarding the image file to the captain")
    assert forwarded.document == "BQACAgQ-document-3"
    assert attachments(linli.db)[-1] == (2, "document", "BQACAgQ-document-3")


def test_private_ping_refused_falls_back_to_the_group(peer: TelegramPeer, linli: Linli) -> None:
    me = peer.bot_username
    peer.send(ALICE, None, "/start")
    peer.wait_for(in_chat(ALICE), what="answering /start")
    mark = peer.last_id()
    # 李阿姨 (captain of 5栋) never opened a private chat with the bot: Telegram refuses the ping.
    peer.send(ALICE, B5, "/report 5栋 充电桩坏了")
    peer.wait_for(in_chat(ALICE, "#1"), after=mark, what="acknowledging to Alice privately")
    notice = peer.wait_for(in_chat(B5, "李阿姨", f"t.me/{me}?start="), after=mark,
                           what="asking 李阿姨 in her group to open a private chat")
    assert peer.state.forbidden and peer.state.forbidden[0]["chat_id"] == LI.id
    mentions = [e for e in notice.entities if e.get("type") == "text_mention"]
    assert mentions and mentions[0]["user"]["id"] == LI.id and mentions[0]["offset"] == 0
    assert not [m for m in peer.bot_messages(LI.id)]
    # A second refused message does not repeat the notice.
    peer.send(ALICE, B5, "/report 5栋 路灯不亮")
    peer.wait_for(in_chat(ALICE, "#2"), after=mark, what="acknowledging #2 to Alice")
    time.sleep(0.5)
    assert len([m for m in peer.bot_messages(B5.id) if f"t.me/{me}" in m.text]) == 1
    # She taps the deep link (Telegram sends "/start hello" in the private chat): the held pings go.
    start = notice.text.split(f"t.me/{me}?start=", 1)[1].split()[0]
    peer.send(LI, None, f"/start {start}")
    ping1 = peer.wait_for(in_chat(LI, "#1", "充电桩坏了"), what="the held ping #1, released")
    ping2 = peer.wait_for(in_chat(LI, "#2", "路灯不亮"), what="the held ping #2, released")
    assert ping1.buttons and ping2.buttons
    # Carol, who never opened a private chat either, reported in 5栋: her update goes on hold, and
    # the notice goes to the group where she wrote (where she surely is), not to the compound's
    # group — without the phone number her display name holds.
    mark = peer.last_id()
    peer.send(CAROL, B5, "/report 5栋 信箱坏了")
    ping3 = peer.wait_for(in_chat(LI, "#3", "信箱坏了"), after=mark, what="pinging 李阿姨 for #3")
    peer.press(LI, ping3, "受理")
    asked = peer.wait_for(in_chat(B5, "Carol", f"t.me/{me}?start="), after=mark,
                          what="asking Carol in 5栋")
    assert "13912345678" not in asked.text and asked.entities[0]["user"]["id"] == CAROL.id
    assert not [m for m in peer.bot_messages(ALL.id) if m.message_id > mark]
    peer.send(CAROL, None, f"/start {start}")
    peer.wait_for(in_chat(CAROL, "#3", "已受理"), what="Carol's held update, released")
    # Nothing was lost or given up on.
    with sqlite3.connect(linli.db) as conn:
        states = dict(conn.execute("SELECT status, COUNT(*) FROM outbox GROUP BY status").fetchall())
    assert set(states) <= {"sent", "pending"} and not states.get("failed"), states


def test_restart_does_not_process_updates_again(peer: TelegramPeer, linli: Linli) -> None:
    peer.send(WANG, None, "/start")
    peer.send(ALICE, None, "/start")
    peer.wait_for(in_chat(ALICE), what="answering /start")
    peer.send(ALICE, B3, "/report 3栋 单元门锁坏了")
    ping = peer.wait_for(in_chat(WANG, "新报修 #1"), what="pinging the captain")
    peer.press(WANG, ping, "受理")
    peer.wait_for(in_chat(ALICE, "#1", "已受理"), what="the reporter hearing about 受理")
    time.sleep(0.3)
    before = len(peer.bot_messages())
    handled = len(peer.state.confirmed) + len(peer.state.pending)

    # A clean restart: the bot confirmed its offset on the way out; nothing comes again.
    assert linli.stop() == 0
    assert not peer.state.pending, "the bot left updates unconfirmed on a clean stop"
    linli.start()
    time.sleep(1.5)
    assert len(peer.bot_messages()) == before

    # A hard crash before confirming: Telegram sends the same updates again after the restart.
    assert linli.stop(signal.SIGKILL) == -signal.SIGKILL
    assert peer.replay_confirmed(handled) == handled
    linli.start()
    deadline = time.monotonic() + 5
    while peer.state.pending and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not peer.state.pending, "the restarted bot did not fetch the redelivered updates"
    time.sleep(1.0)
    assert len(peer.bot_messages()) == before, "a redelivered update was processed again"
    assert [(n, s) for n, _, s, _ in tickets(linli.db)] == [(1, "acknowledged")]
    assert any("redelivered" in line for line in linli.lines)

    # … and the restarted bot is alive: a new report is new.
    peer.send(ALICE, B3, "/report 3栋 电梯按钮失灵")
    peer.wait_for(in_chat(ALICE, "#2"), what="acknowledging a report after the restart")


def test_odd_input_gets_an_answer_or_silence_never_a_traceback(peer: TelegramPeer, linli: Linli) -> None:
    peer.send(WANG, None, "/start")
    peer.wait_for(in_chat(WANG), what="answering /start")
    # Alice has no private chat with the bot yet: her receipt is posted in the group.
    peer.send(ALICE, B3, "/report 3栋 水管漏水")
    ack = peer.wait_for(in_chat(B3, "#1"), what="acknowledging #1")
    mark = peer.last_id()
    # A resident forges a callback (a modified client can send any data): the role check holds.
    peer.callback(ALICE, ack, "受理 1")
    refusal = peer.wait_for(in_chat(B3, "受理"), after=mark, what="refusing the forged 受理")
    # … as a reply to the post, which stays as it was for everyone else
    assert refusal.raw["message"]["reply_parameters"]["message_id"] == ack.message_id
    assert peer.bot_messages(B3.id)[0].text == ack.text
    assert tickets(linli.db)[0][2] == "open"
    # Stickers, locations, empty and absurd texts, unknown groups, odd /start payloads.
    peer.send_raw(ALICE, B3, sticker={"file_id": "st1", "file_unique_id": "u", "width": 1,
                                      "height": 1, "is_animated": False, "is_video": False,
                                      "type": "regular"})
    peer.send_raw(ALICE, B3, location={"latitude": 31.2, "longitude": 121.4})
    peer.callback(ALICE, ack, "")
    peer.callback(ALICE, ack, "💣" * 40)
    peer.send(ALICE, STRANGERS, "/report 3栋 别的群里的报修")
    peer.send(ALICE, None, "/start ../../etc/passwd")
    peer.send(ALICE, None, "/report@")
    peer.send(ALICE, B3, "报修 \u202e3栋\u0000电梯 " + "很长" * 3000)
    # (her odd /start opened a private chat: from now on her receipts come there)
    peer.wait_for(in_chat(ALICE, "#2"), after=mark, what="acknowledging the very long report")
    peer.send(ALICE, B3, "/report")
    peer.wait_for(in_chat(B3, "报修"), after=peer.last_id() - 1, what="explaining /report")
    time.sleep(0.5)
    texts = [t for (_, _, _, t) in tickets(linli.db)]
    assert len(texts) == 2 and len(texts[1]) <= 1000
    assert not any("别的群" in t for t in texts)
    # The log names what an admin needs for the config: the unknown group's id, people's ids.
    assert any(f"'别的群' is chat id {STRANGERS.id}" in line for line in linli.lines), linli.log()
    assert any(f"(user id {ALICE.id}) opened a private chat" in line for line in linli.lines)
    # Still alive and well.
    peer.send(ALICE, B3, "/report 3栋 楼梯灯不亮")
    peer.wait_for(in_chat(ALICE, "#3"), what="acknowledging #3")


def test_volunteer_sign_up_by_button_on_an_event_post(peer: TelegramPeer, linli: Linli) -> None:
    for person in (SUN, ALICE):
        peer.send(person, None, "/start")
        peer.wait_for(in_chat(person), what="answering /start")
    day = (date.today() + timedelta(days=10)).isoformat()
    mark = peer.last_id()
    peer.send(SUN, None, f"新活动 美化家园 {day} 9点 2小时 中心花园 30人")
    created = peer.wait_for(in_chat(SUN, "美化家园"), after=mark, what="confirming the new event")
    number = re.search(r"#(\d+)", created.text).group(1)
    post = peer.wait_for(lambda m: m.chat_id == ALL.id and "美化家园" in m.text and m.buttons,
                         after=mark, what="posting the event with buttons to the compound group")
    assert [label for label, _ in post.buttons] == ["报名", "取消报名"]

    mark = peer.last_id()
    answered = len(peer.state.answered)
    peer.press(ALICE, post, "报名")
    joined = peer.wait_for(in_chat(ALICE, f"#{number}", "1/30"), after=mark,
                           what="confirming the sign-up privately")
    assert "报名成功" in joined.text
    assert len(peer.state.answered) > answered
    assert next(m for m in peer.bot_messages(ALL.id) if m.message_id == post.message_id).text == \
        post.text, "the post everyone sees was changed by one person's press"
    # Pressing again does not sign her up twice.
    mark = peer.last_id()
    peer.press(ALICE, post, "报名")
    again = peer.wait_for(lambda m: m.chat_id in (ALICE.id, ALL.id) and "不用重复" in m.text,
                          after=mark, what="saying she is in already")
    if again.chat_id == ALL.id:  # answered in the group: as a reply to the post, the post intact
        assert again.raw["message"]["reply_parameters"]["message_id"] == post.message_id
    with sqlite3.connect(linli.db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM signups").fetchone()[0] == 1


def test_an_announcement_reaches_every_group(peer: TelegramPeer, linli: Linli) -> None:
    peer.send(ADMIN, None, "/start")
    peer.wait_for(in_chat(ADMIN), what="answering /start")
    mark = peer.last_id()
    # 紧急 (urgent): goes out now even in the quiet hours of the compound's evening
    peer.send(ADMIN, None, "通知 全部 紧急 明天上午9点到11点停水，请提前储水。<b>不是标记</b>")
    for chat in (ALL, B3, B5):
        posted = peer.wait_for(in_chat(chat, "停水"), after=mark, what=f"the announcement in {chat.title}")
        assert "<b>不是标记</b>" in posted.text  # sent as plain text: nothing to escape, nothing lost
    peer.wait_for(in_chat(ADMIN, "3 个群"), after=mark, what="telling the admin where it went")
    # A resident may not broadcast.
    mark = peer.last_id()
    peer.send(BOB, B3, "通知 全部 我家猫丢了")
    peer.wait_for(in_chat(B3, "通知"), after=mark, what="refusing a resident's 通知")
    assert not [m for m in peer.bot_messages(ALL.id) if "猫" in m.text]


def test_webhook_mode(tmp_path, peer: TelegramPeer) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/tg-hook"
    config = write_config(tmp_path, peer, telegram_extra="\n".join((
        'mode = "webhook"', 'webhook_listen = "127.0.0.1"', f"webhook_port = {port}",
        'webhook_path = "tg-hook"', f'webhook_url = "{url}"', 'webhook_secret = "s3cret-Token_1"')))
    bot = Linli(config, tmp_path / "linli.db")
    bot.start()
    try:
        assert peer.state.webhook == {"url": url, "secret": "s3cret-Token_1", "token": peer.token}
        peer.send(WANG, None, "/start")
        peer.send(ALICE, B3, "/report 3栋 地库积水")
        peer.wait_for(in_chat(B3, "#1"), what="acknowledging a report that came by webhook")
        ping = peer.wait_for(in_chat(WANG, "新报修 #1"), what="pinging the captain")
        peer.press(WANG, ping, "受理")
        wait_edit(peer, ping, "已受理")
        assert peer.state.webhook_posts and all(s == 200 for _, s in peer.state.webhook_posts)
        # Someone who does not know the secret cannot inject updates.
        forged = {"update_id": 999999, "message": {
            "message_id": 1, "date": int(time.time()), "chat": B3.as_dict(),
            "from": ALICE.as_dict(), "text": "/report 3栋 伪造的报修"}}
        request = urllib.request.Request(url, data=json.dumps(forged).encode(), method="POST",
                                         headers={"Content-Type": "application/json",
                                                  "X-Telegram-Bot-Api-Secret-Token": "guess"})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=5)
        assert refused.value.code == 403
        time.sleep(0.5)
        assert len(tickets(bot.db)) == 1
    finally:
        code = bot.stop()
    assert code == 0, bot.log()
    assert not [line for line in bot.lines if "Traceback" in line], bot.log()


def test_with_privacy_mode_on_only_commands_reach_the_bot(tmp_path) -> None:
    """What check-config warns about, as it happens: Telegram withholds 报修 typed as text in a
    group where the bot is a plain member, and delivers it where the bot is an admin."""
    with start_telegram_peer(privacy_mode=True) as peer:
        peer.state.admins.add(B5.id)
        bot = Linli(write_config(tmp_path, peer), tmp_path / "linli.db")
        bot.start()
        try:
            assert any("privacy mode is on" in line for line in bot.lines), bot.log()
            peer.send(ALICE, B3, "报修 3栋 楼道堆满杂物")
            peer.send(ALICE, B3, "/report 3栋 楼道灯坏了")
            peer.wait_for(in_chat(B3, "#1", "✅"), what="acknowledging the /report")
            peer.send(ALICE, B5, "报修 5栋 门禁坏了")
            peer.wait_for(in_chat(B5, "#2", "✅"), what="acknowledging 报修 where the bot is admin")
            assert [m["message"]["text"] for m in peer.state.withheld] == ["报修 3栋 楼道堆满杂物"]
            assert [t for (_, _, _, t) in tickets(bot.db)] == ["3栋 楼道灯坏了", "5栋 门禁坏了"]
        finally:
            assert bot.stop() == 0, bot.log()


def test_telegram_down_for_a_while_loses_and_repeats_nothing(peer: TelegramPeer, linli: Linli) -> None:
    for person in (WANG, ALICE):
        peer.send(person, None, "/start")
        peer.wait_for(in_chat(person), what="answering /start")
    # Sending fails (502) while reading works: the report is taken, its answers wait and retry.
    peer.state.failing.add("sendMessage")
    peer.send(ALICE, B3, "/report 3栋 地下车库漏水")
    deadline = time.monotonic() + 10
    while not tickets(linli.db) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert tickets(linli.db), "the report was not taken while sending failed"
    time.sleep(1.5)
    refused = sum(1 for name, _ in peer.state.requests if name == "sendMessage")
    assert refused >= 2, "the bot did not try (and retry) while Telegram failed"
    peer.state.failing.clear()
    peer.wait_for(in_chat(ALICE, "#1"), what="the acknowledgement, once Telegram is back")
    peer.wait_for(in_chat(WANG, "新报修 #1"), what="the ping, once Telegram is back")
    # Everything down (polling too) for a while: polling resumes by itself.
    peer.state.failing.add("*")
    time.sleep(2)
    peer.send(ALICE, B3, "/report 3栋 电梯异响")
    time.sleep(0.5)
    peer.state.failing.clear()
    peer.wait_for(in_chat(ALICE, "#2"), what="a report sent during the outage, answered after it")
    time.sleep(1.0)
    told = [m.text for m in peer.bot_messages(ALICE.id)]
    assert [t.count("已收到报修 #1") for t in told if "已收到报修" in t] == [1, 0], told
    assert [t.count("已收到报修 #2") for t in told if "已收到报修" in t] == [0, 1], told
    assert not peer.bot_messages(B3.id)
    assert len(peer.bot_messages(WANG.id)) == 3  # /start's help, and one ping each


def test_a_group_upgraded_to_a_supergroup_keeps_working(peer: TelegramPeer, linli: Linli) -> None:
    """Telegram turns a growing group into a supergroup with a new id; the config still has the
    old one.  Linli follows the upgrade (and remembers it across restarts)."""
    upgraded = TgChat(-1003003003003, "3栋邻里群")
    peer.state.migrated[B3.id] = upgraded.id  # what Telegram answers for the old id from now on
    peer.send_raw(ALICE, upgraded, migrate_from_chat_id=B3.id)  # the service message in the new one
    peer.send(WANG, None, "/start")
    peer.send(ALICE, upgraded, "/report 3栋 水泵房有异响")
    peer.wait_for(in_chat(upgraded, "#1", "✅"), what="acknowledging in the supergroup")
    peer.wait_for(in_chat(WANG, "新报修 #1"), what="pinging 3栋's captain: the report is 3栋's")
    with sqlite3.connect(linli.db) as conn:
        assert conn.execute("SELECT chat_key FROM tickets").fetchall() == [("b3",)]
    assert any(f"is now supergroup {upgraded.id}" in line for line in linli.lines), linli.log()
    assert linli.stop() == 0
    linli.start()
    before = len(peer.state.requests)
    peer.send(ALICE, upgraded, "/report 3栋 楼道消防栓漏水")
    peer.wait_for(in_chat(upgraded, "#2", "✅"), what="still at home in the supergroup after a restart")
    to_old = [p for _, p in peer.state.requests[before:] if str(p.get("chat_id")) == str(B3.id)]
    assert not to_old, "after the restart the bot still tried the old group id first"
