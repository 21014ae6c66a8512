"""End to end on Telegram (the Bot API emulator of tests/test_telegram_e2e.py, the real ``linli run``):
an anonymous report, its fix confirmed, and the satisfaction question answered with a button."""

from __future__ import annotations

import time

import pytest

from tests.telegram_compat import TelegramPeer
from tests.test_telegram_e2e import (  # noqa: F401  (peer: a pytest fixture)
    ADMIN,
    ALICE,
    B3,
    ROOT,
    WANG,
    Linli,
    in_chat,
    peer,
    pytestmark,
    tickets,
    wait_edit,
    write_config,
)


@pytest.fixture
def linli(tmp_path, peer, monkeypatch):  # noqa: F811
    """``linli run`` on this checkout's code (an installed ``linli`` script may import another)."""
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    bot = Linli(write_config(tmp_path, peer), tmp_path / "linli.db")
    bot.start()
    yield bot
    code = bot.stop()
    assert not [line for line in bot.lines if "Traceback" in line], bot.log()
    assert code == 0, f"linli exited with {code}:\n" + bot.log()


def test_anonymous_report_then_a_rating_by_button(peer: TelegramPeer, linli: Linli) -> None:  # noqa: F811
    for person in (WANG, ALICE, ADMIN):
        mark = peer.last_id()
        peer.send(person, None, "/start")
        peer.wait_for(in_chat(person), after=mark, what="answering /start")
    mark = peer.last_id()
    peer.send(ALICE, None, "登记 3栋 1203")
    peer.wait_for(in_chat(ALICE, "已登记"), after=mark, what="registering Alice's unit")

    # Alice reports anonymously in the 3栋 group: the receipt names and mentions nobody, the
    # captain's ping says 匿名居民, and Alice hears privately what stays hidden.
    mark = peer.last_id()
    peer.send(ALICE, B3, "/report --anonymous 3栋楼上有人高空抛物，1203阳台都是烟头")
    receipt = peer.wait_for(in_chat(B3, "#1"), after=mark, what="the anonymous receipt")
    assert "匿名" in receipt.text and "Alice" not in receipt.text and "1203" not in receipt.text
    ping = peer.wait_for(in_chat(WANG, "#1", "匿名居民"), after=mark, what="pinging the captain")
    assert "Alice" not in ping.text and "1203" not in ping.text
    peer.wait_for(in_chat(ALICE, "#1", "匿名"), after=mark, what="the private receipt")

    # Fixed and confirmed: the question comes privately, with three buttons.
    mark = peer.last_id()
    peer.send(WANG, None, "已解决 1 已张贴告示并巡查")
    resolved = peer.wait_for(in_chat(ALICE, "#1", "已处理完成"), after=mark,
                             what="telling Alice it is resolved")
    mark = peer.last_id()
    assert peer.press(ALICE, resolved, "确认解决") == "确认 1"
    question = peer.wait_for(in_chat(ALICE, "#1", "满意吗"), after=mark, what="asking for a rating")
    assert [data for _, data in question.buttons] == ["评价 1 5", "评价 1 3", "评价 1 1"]

    # She presses 不满意: the question is edited to the answer, and the office is told (this
    # compound has no property).
    mark = peer.last_id()
    assert peer.press(ALICE, question, "☹️ 不满意") == "评价 1 1"
    wait_edit(peer, question, "不满意")
    told = peer.wait_for(in_chat(ADMIN, "#1", "不满意"), after=mark, what="telling the office")
    assert "王师傅" in told.text
    time.sleep(0.3)
    assert tickets(linli.db)[0][2] == "closed"
    for message in peer.bot_messages():
        if message.chat_id < 0:
            assert "Alice" not in message.text and "1203" not in message.text, message.text
