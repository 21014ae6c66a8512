"""The Telegram adapter's edges, one at a time, against the same real peer as the end-to-end tests
(telegram-test-api behind tests/telegram_compat.py; python-telegram-bot doing real HTTP): long texts,
text that looks like markup, mentions, flood control, refusals, migrated groups, unknown file ids,
and the command line's answers about the bot (check-config, a wrong token).
"""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
from pathlib import Path

import pytest

from bot.adapters.base import PermanentError, TemporaryError
from bot.app import App
from bot.config import load_config
from bot.dispatcher import Dispatcher
from bot.messages import Attachment, Button, Outbound
from bot.textsplit import utf16_length
from tests.telegram_compat import TelegramPeer, free_port, node_available, start_telegram_peer
from tests.test_telegram_e2e import ALICE, B3, WANG, linli_command, write_config

pytestmark = pytest.mark.skipif(not node_available(), reason="needs node and tests/peers/node_modules")


@pytest.fixture
def peer():
    peer = start_telegram_peer()
    yield peer
    peer.close()


@pytest.fixture
async def adapter(tmp_path, peer):
    app = App.create(load_config(write_config(tmp_path, peer)), tmp_path / "adapter.db", ["telegram"])
    await app.open()
    adapter = app.adapters["telegram"]
    await adapter.start()
    yield adapter
    await app.stop()


def sent(peer: TelegramPeer, method: str = "sendMessage") -> list[dict]:
    return [params for name, params in peer.state.requests if name == method]


async def test_a_long_text_that_looks_like_markup_goes_out_verbatim_in_pieces(peer, adapter) -> None:
    line = "<b>粗体</b> *星号* _下划线_ [链接](http://x.invalid) & `代码` 3栋电梯 #12\n"
    text = line * 160  # about 9,000 characters
    await adapter.send(Outbound("telegram", str(B3.id), "group", text,
                                buttons=(Button("受理", "受理 1"),)))
    pieces = peer.bot_messages(B3.id)
    assert len(pieces) == 3
    assert all(utf16_length(p.text) <= 4096 for p in pieces)
    assert " ".join(p.text for p in pieces).split() == text.split()
    assert [bool(p.buttons) for p in pieces] == [False, False, True]
    assert not any("parse_mode" in params for params in sent(peer))


async def test_the_dispatcher_sends_a_long_outbox_message_in_pieces(peer, adapter) -> None:
    core = adapter.core
    text = "三号楼电梯今天停运检修。" * 900  # 10,800 characters, no spaces to break at
    async with core.db.transaction() as tx:
        await tx.outbox.add(Outbound("telegram", str(B3.id), "group", text,
                                     buttons=(Button("同问", "同问 1"),)), 0.0, "")
    await Dispatcher(core, {"telegram": adapter}).drain()
    pieces = peer.bot_messages(B3.id)
    assert len(pieces) == 3 and "".join(p.text for p in pieces) == text
    assert [bool(p.buttons) for p in pieces] == [False, False, True]


async def test_a_mention_covers_the_name_in_utf16_units(peer, adapter) -> None:
    name = "🏠Alice 张"
    await adapter.send(Outbound("telegram", str(B3.id), "group", f"{name}，请私聊我。",
                                mention_ids=(str(ALICE.id),), mention_name=name))
    (message,) = peer.bot_messages(B3.id)
    (entity,) = message.entities
    assert entity["type"] == "text_mention" and entity["user"]["id"] == ALICE.id
    assert (entity["offset"], entity["length"]) == (0, 9)  # the emoji is two UTF-16 units


async def test_flood_control_asks_for_exactly_the_wait_telegram_gave(peer, adapter) -> None:
    peer.state.flood[B3.id] = [7]
    with pytest.raises(TemporaryError) as raised:
        await adapter.send(Outbound("telegram", str(B3.id), "group", "停水通知"))
    assert raised.value.retry_after == 7
    await adapter.send(Outbound("telegram", str(B3.id), "group", "停水通知"))
    assert [m.text for m in peer.bot_messages(B3.id)] == ["停水通知"]


async def test_a_retry_goes_on_where_the_failed_attempt_stopped(peer, adapter) -> None:
    peer.state.started.add(WANG.id)
    peer.state.files.add("photo-of-the-lift")
    peer.state.flood[WANG.id] = [0, 3]  # the text goes through, the photo after it is refused
    message = Outbound("telegram", str(WANG.id), "private", "🔔 新报修 #1", outbox_id=42,
                       attachments=(Attachment("photo", "photo-of-the-lift"),))
    with pytest.raises(TemporaryError):
        await adapter.send(message)
    await adapter.send(message)
    messages = peer.bot_messages(WANG.id)
    assert [(m.text, m.photo) for m in messages] == [("🔔 新报修 #1", ""), ("", "photo-of-the-lift")]


async def test_a_file_telegram_does_not_know_is_skipped_not_retried(peer, adapter, caplog) -> None:
    peer.state.started.add(WANG.id)
    message = Outbound("telegram", str(WANG.id), "private", "🔔 新报修 #2", outbox_id=43,
                       attachments=(Attachment("photo", "wxid-file-from-wechat"),))
    with caplog.at_level(logging.WARNING):
        await adapter.send(message)
    assert [m.text for m in peer.bot_messages(WANG.id)] == ["🔔 新报修 #2"]
    assert "wxid-file-from-wechat" in caplog.text


async def test_refusals_are_permanent(peer, adapter) -> None:
    with pytest.raises(PermanentError, match="initiate conversation"):
        await adapter.send(Outbound("telegram", str(ALICE.id), "private", "你好"))
    with pytest.raises(PermanentError):
        await adapter.send(Outbound("telegram", "0", "group", "nowhere"))
    with pytest.raises(PermanentError, match="not a Telegram chat id"):
        await adapter.send(Outbound("telegram", "3栋邻里群", "group", "a WeChat room name"))


async def test_a_group_that_became_a_supergroup_still_gets_its_message(peer, adapter, caplog) -> None:
    peer.state.migrated[B3.id] = -1009003003
    with caplog.at_level(logging.WARNING):
        await adapter.send(Outbound("telegram", str(B3.id), "group", "停电通知"))
    assert [m.text for m in peer.bot_messages(-1009003003)] == ["停电通知"]
    assert "-1009003003" in caplog.text


# --- the command line ----------------------------------------------------------------------------
def run_linli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([*linli_command(), *args], capture_output=True, text=True, timeout=timeout,
                          cwd=str(Path(__file__).resolve().parents[1]))


@pytest.mark.parametrize("privacy_mode", [False, True])
def test_check_config_says_what_privacy_mode_means(tmp_path, privacy_mode) -> None:
    peer = start_telegram_peer(privacy_mode=privacy_mode)
    try:
        peer.state.admins.add(-1001005)
        result = run_linli("check-config", "--config", str(write_config(tmp_path, peer)))
    finally:
        peer.close()
    assert result.returncode == 0, result.stderr
    assert f"@{peer.bot_username}" in result.stdout
    if privacy_mode:
        assert "privacy mode: ON" in result.stdout and "/setprivacy" in result.stdout
        assert "报修" in result.stdout
        assert "[chats.b3] telegram = -1001003: a member with privacy mode on" in result.stdout
    else:
        assert "privacy mode: off" in result.stdout
        assert "[chats.b3] telegram = -1001003: a member: it reads every message" in result.stdout
    assert "[chats.b5] telegram = -1001005: the bot is an admin" in result.stdout
    assert "Traceback" not in result.stderr


def test_a_wrong_token_is_a_clear_message_not_a_traceback(tmp_path) -> None:
    with start_telegram_peer() as peer:
        config = write_config(tmp_path, peer)
        config.write_text(config.read_text().replace(peer.token, "999:not-the-token"))
        checked = run_linli("check-config", "--config", str(config))
        ran = run_linli("run", "--config", str(config), "--db", str(tmp_path / "x.db"))
    assert checked.returncode == 2 and "@BotFather" in checked.stdout
    assert ran.returncode == 2 and "[telegram] token" in ran.stderr
    assert "Traceback" not in checked.stderr + ran.stderr


def test_an_unreachable_api_is_a_clear_message_not_a_traceback(tmp_path) -> None:
    with start_telegram_peer() as peer:
        config = write_config(tmp_path, peer)
    # the peer is gone now: nothing listens at api_base_url
    checked = run_linli("check-config", "--config", str(config))
    ran = run_linli("run", "--config", str(config), "--db", str(tmp_path / "x.db"))
    assert checked.returncode == 1 and "cannot reach" in checked.stdout
    assert ran.returncode == 1 and "cannot reach" in ran.stderr
    assert "Traceback" not in checked.stderr + ran.stderr
    assert run_linli("check-config", "--offline", "--config", str(config)).returncode == 0


def test_a_webhook_telegram_refuses_is_a_clear_message(tmp_path) -> None:
    with start_telegram_peer() as peer:
        config = write_config(tmp_path, peer, telegram_extra="\n".join((
            'mode = "webhook"', f"webhook_port = {free_port()}",
            'webhook_url = "http://127.0.0.1:1/hook"', 'webhook_secret = "not allowed!"')))
        ran = run_linli("run", "--config", str(config), "--db", str(tmp_path / "x.db"))
    assert ran.returncode == 2, ran.stderr
    assert "webhook_secret" in ran.stderr and "Traceback" not in ran.stderr


async def test_an_edit_held_back_by_flood_control_is_an_edit_when_retried(peer, adapter) -> None:
    peer.state.started.add(WANG.id)
    await adapter.send(Outbound("telegram", str(WANG.id), "private", "🔔 新报修 #9",
                                buttons=(Button("受理", "受理 9"),)))
    (ping,) = peer.bot_messages(WANG.id)
    peer.press(WANG, ping, "受理")  # the adapter polls it and hands it to the core
    answer = None
    for _ in range(200):
        async with adapter.core.db.read() as tx:
            pending = await tx.outbox.pending(["telegram"])
        answer = next((m for m, _, _ in pending if m.edit_of == str(ping.message_id)), None)
        if answer is not None:
            break
        await asyncio.sleep(0.05)
    assert answer is not None, "the press was not answered"
    peer.state.flood[WANG.id] = [2]
    with pytest.raises(TemporaryError):
        await adapter.send(answer)
    assert await adapter.send(answer) == str(ping.message_id)
    (edited,) = peer.bot_messages(WANG.id)  # still one message: edited, not a second one
    assert edited.text.startswith("🔔 新报修 #9\n\n➡️ ") and edited.buttons


def test_the_token_can_come_from_the_environment(tmp_path) -> None:
    with start_telegram_peer() as peer:
        config = write_config(tmp_path, peer)
        config.write_text(config.read_text().replace(f'token = "{peer.token}"\n', ""))
        without = run_linli("check-config", "--config", str(config))
        with_env = subprocess.run(
            [*linli_command(), "check-config", "--config", str(config)], capture_output=True,
            text=True, timeout=60, env={**os.environ, "LINLI_TELEGRAM_TOKEN": peer.token})
    assert "platforms: none" in without.stdout
    assert with_env.returncode == 0, with_env.stdout + with_env.stderr
    assert "platforms: telegram" in with_env.stdout and f"@{peer.bot_username}" in with_env.stdout
