"""Community decisions end to end (issue 15): a poll and a notice that must be confirmed, on the
Telegram emulator and on the WeChat puppet service, with the real ``linli run`` and a real SQLite
file (the fixtures of tests/test_telegram_e2e.py and tests/test_wechat_e2e.py).

On Telegram residents vote and confirm with the buttons under the posts; on WeChat, which has no
buttons, they type ``投票 1 A`` and ``收到`` — or just ``👍``.  Closing the poll posts the result with
its chart (a photo on Telegram, an image file on WeChat).  Secret or not, no vote and no unit is
seen in a group.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from tests.telegram_compat import node_available
from tests.test_telegram_e2e import ADMIN, ALICE, B3, BOB, WANG, Linli, in_chat, linli, peer  # noqa: F401
from tests.test_wechat_e2e import texts
from tests.wechat_peer import ROOM3, LinliProcess, WechatPeer, peer_problem, write_config

pytestmark = [pytest.mark.slow]
needs_node = pytest.mark.skipif(not node_available(), reason="node and tests/peers/node_modules "
                                                             "are needed (npm ci in tests/peers)")
needs_wechat = pytest.mark.skipif(peer_problem() is not None, reason=str(peer_problem()))


@pytest.fixture(autouse=True)
def this_worktree(monkeypatch):
    """``linli run`` imports the bot from this checkout: the ``linli`` script of an editable
    install would otherwise import it from wherever the package was installed from."""
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).resolve().parents[1]))


@pytest.fixture
def wechat(tmp_path):
    """The peer and the bot of tests/test_wechat_e2e.py, with building 3's room named by its id:
    the bot posts to it before anyone has spoken there, and the adapter sends to a room by id (a
    room named by its topic is found only for answers to messages from it)."""
    wx = WechatPeer(tmp_path).start()
    config = write_config(tmp_path, wx)
    config.write_text(config.read_text(encoding="utf-8").replace('"3栋邻里群"', f'"{ROOM3}"'),
                      encoding="utf-8")
    bot = LinliProcess(config, tmp_path / "linli.db")
    try:
        bot.start()
        yield wx, bot
    finally:
        code = bot.stop()
        wx.stop()
    assert code == 0, f"linli run exited with {code}:\n{bot.text()[-3000:]}"
    assert "Traceback" not in bot.text(), bot.text()[-5000:]


def rows(db: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


def wait_rows(db: Path, sql: str, expected: list[tuple], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while rows(db, sql) != expected:
        if time.monotonic() > deadline:
            raise AssertionError(f"{sql}: {rows(db, sql)!r}, not {expected!r}")
        time.sleep(0.05)


CONFIRMED = "SELECT notice_id, household FROM notice_confirmations ORDER BY household"


@needs_node
def test_a_poll_and_a_confirmed_notice_on_telegram(peer, linli: Linli) -> None:  # noqa: F811
    started = time.monotonic()
    for user in (ADMIN, ALICE, BOB, WANG):
        peer.send(user, None, "/start")
    for user in (ADMIN, ALICE, BOB, WANG):
        peer.wait_for(in_chat(user), what="answering /start")
    mark = peer.last_id()
    peer.send(ALICE, None, "登记 3栋 1203")
    peer.send(BOB, None, "登记 3栋 1505")
    peer.wait_for(in_chat(ALICE, "已登记"), after=mark, what="registering Alice")
    peer.wait_for(in_chat(BOB, "已登记"), after=mark, what="registering Bob")

    # The office starts a poll for building 3: posted in its group with a button per option.
    mark = peer.last_id()
    peer.send(ADMIN, None, "发起投票 是否更换消防门？ 选项 同意、不同意 范围 3栋")
    post = peer.wait_for(in_chat(B3, "投票 #1", "是否更换消防门"), after=mark, what="posting poll #1")
    assert [label for label, _ in post.buttons] == ["A", "B"]
    peer.wait_for(in_chat(ADMIN, "已发起投票 #1"), after=mark, what="telling the author")

    # Residents vote with the buttons; each is answered privately, the group hears nothing.
    mark = peer.last_id()
    assert peer.press(ALICE, post, "A") == "投票 1 A"
    peer.wait_for(in_chat(ALICE, "投票 #1", "同意"), after=mark, what="Alice's vote confirmed")
    peer.press(BOB, post, "A")
    peer.wait_for(in_chat(BOB, "投票 #1"), after=mark, what="Bob's vote confirmed")
    assert rows(linli.db, "SELECT option, COUNT(*) FROM poll_ballots GROUP BY option") == [(0, 2)]

    # Closed early: the result goes to the group, with the chart as a photo.
    mark = peer.last_id()
    peer.send(ADMIN, None, "结束投票 1")
    result = peer.wait_for(in_chat(B3, "投票 #1 结果"), after=mark, what="posting the result")
    assert "A. 同意：2 票（100%）" in result.text and "2/2 户" in result.text
    chart = peer.wait_for(lambda m: m.chat_id == B3.id and m.photo, after=mark,
                          what="posting the chart")
    assert "投票 #1 结果图" in chart.caption

    # A notice that must be confirmed: a 收到 button under it.
    mark = peer.last_id()
    peer.send(ADMIN, None, "通知确认 3栋 明天9点到12点停水，请提前储水")
    notice = peer.wait_for(in_chat(B3, "通知 #1", "停水"), after=mark, what="posting the notice")
    assert [label for label, _ in notice.buttons] == ["收到"]
    assert peer.press(ALICE, notice, "收到") == "收到 1"
    peer.send(BOB, B3, "好的👍")  # not a word alone: chatter
    peer.send(BOB, B3, "好的")  # the word alone, under a notice he has not confirmed
    wait_rows(linli.db, CONFIRMED, [(1, "h:3/1203"), (1, "h:3/1505")])
    mark = peer.last_id()
    peer.send(WANG, None, "通知进度 1")
    progress = peer.wait_for(in_chat(WANG, "通知 #1"), after=mark, what="the notice's progress")
    assert "3栋：2/2 户（100%）" in progress.text
    # no answer per confirmation in the group (one coalesced count comes minutes later)
    assert not [m for m in peer.bot_messages(B3.id) if m.message_id > notice.message_id]

    for message in peer.bot_messages():
        if message.chat_id < 0:
            assert "1203" not in (message.text or "") and "1505" not in (message.text or "")
    assert time.monotonic() - started < 20


@needs_wechat
def test_a_poll_and_a_confirmed_notice_on_wechat(wechat, tmp_path) -> None:
    peer, _bot = wechat  # noqa: F811
    db = tmp_path / "linli.db"
    started = time.monotonic()
    mark = peer.mark()
    peer.say("alice", "登记 3栋 1203")
    peer.say("bob", "登记 3栋 1505")
    peer.wait_sent(mark, 1, where="wx-alice")
    peer.wait_sent(mark, 1, where="wx-bob")

    # Property starts a poll; the room gets the options and how to vote by typing.
    mark = peer.mark()
    peer.say("zhao", "发起投票 是否更换消防门？ 选项 同意、不同意 范围 3栋")
    post = texts(peer.wait_sent(mark, 1, where=ROOM3), ROOM3)[0]
    assert "投票 #1" in post and "A. 同意" in post and "投票 1 A" in post

    # Alice votes in the room (answered privately), Bob privately.
    mark = peer.mark()
    peer.say("alice", "投票 1 A", room=ROOM3)
    peer.say("bob", "投票 1 不同意")
    assert any("同意" in t for t in texts(peer.wait_sent(mark, 1, where="wx-alice"), "wx-alice"))
    peer.wait_sent(mark, 1, where="wx-bob")
    time.sleep(0.3)
    assert texts(peer.sent(mark), ROOM3) == []

    # Closed early: the result and its chart (an image file) go to the room.
    mark = peer.mark()
    peer.say("zhao", "结束投票 1")
    sent = peer.wait_sent(mark, 2, where=ROOM3)
    result = texts(sent, ROOM3)
    assert result and "A. 同意：1 票（50%）" in result[0] and "B. 不同意：1 票（50%）" in result[0]
    assert [m["fileName"] for m in sent if m["kind"] == "file"] == ["poll-1.png"]

    # A notice: 收到 typed in the room, and a bare 👍 — no answer each, both counted.
    mark = peer.mark()
    peer.say("zhao", "通知确认 3栋 明天9点到12点停水，请提前储水")
    post = texts(peer.wait_sent(mark, 1, where=ROOM3), ROOM3)[0]
    assert "通知 #1" in post and "收到" in post
    mark = peer.mark()
    peer.say("alice", "收到", room=ROOM3)
    peer.say("bob", "👍", room=ROOM3)
    wait_rows(db, CONFIRMED, [(1, "h:3/1203"), (1, "h:3/1505")])
    peer.say("wang", "通知进度 1")
    progress = texts(peer.wait_sent(mark, 1, where="wx-wang"), "wx-wang")
    assert "3栋：2/2 户（100%）" in progress[0]
    assert texts(peer.sent(mark), ROOM3) == []

    for message in peer.sent():
        if message["room"]:
            assert "1203" not in message["text"] and "1505" not in message["text"], message
    assert time.monotonic() - started < 20
