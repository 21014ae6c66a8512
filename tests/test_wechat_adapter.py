"""The WeChat adapter's translation rules, without a peer (the end-to-end tests have one)."""

from __future__ import annotations

import json
import re
import time
import tomllib

import pytest

from bot.cli.status import describe
from bot.config import Config, ConfigError, WechatSettings, load_config
from bot.messages import Button, Outbound
from tests.harness import EXAMPLE_CONFIG

wechat = pytest.importorskip("bot.adapters.wechat", reason="the WeChat extra is not installed")


def adapter(**settings) -> wechat.WechatAdapter:
    config = load_config(EXAMPLE_CONFIG)
    config = Config(**(config.model_dump() | {"wechat": {"endpoint": "127.0.0.1:8788",
                                                          "token": "puppet_padlocal_abc"} | settings}))
    return wechat.WechatAdapter(config, core=None)


def test_the_example_configs_wechat_block_is_valid_once_uncommented():
    text = EXAMPLE_CONFIG.read_text(encoding="utf-8")
    block = text[text.index("# [wechat]"):]
    lines = []
    for line in block.splitlines():
        if not line.startswith("# "):
            break
        lines.append(re.sub(r"^# ?", "", line))
    settings = WechatSettings(**tomllib.loads("\n".join(lines))["wechat"])
    assert settings.endpoint and settings.token and settings.welcome
    assert 2 <= settings.send_interval_seconds <= settings.send_interval_seconds + \
        settings.send_jitter_seconds <= 3  # about one message every 2–3 s


def test_limits_come_from_the_config():
    limits = adapter(send_interval_seconds=2.5, send_jitter_seconds=0.5, daily_cap=300).limits
    assert (limits.min_interval, limits.jitter, limits.daily_cap) == (2.5, 0.5, 300)
    assert adapter(daily_cap=0).limits.daily_cap is None  # 0: no cap


@pytest.mark.parametrize(("endpoint", "expected"), [
    ("127.0.0.1:8788", ("127.0.0.1", 8788)), ("http://puppet.local:9000/", ("puppet.local", 9000)),
    ("[::1]:8788", ("::1", 8788))])
def test_endpoints(endpoint, expected):
    assert wechat.host_and_port(endpoint) == expected


def test_an_endpoint_without_a_port_is_a_config_problem():
    with pytest.raises(ConfigError, match="host:port"):
        adapter(endpoint="puppet.local")


def test_the_token_may_come_from_the_environment_but_must_be_there(monkeypatch):
    monkeypatch.delenv("LINLI_WECHAT_TOKEN", raising=False)
    with pytest.raises(ConfigError, match="token"):
        adapter(token="")
    monkeypatch.setenv("LINLI_WECHAT_TOKEN", "puppet_xp_123")
    assert adapter(token="").token == "puppet_xp_123"


def test_the_tls_server_name_is_the_tokens_prefix_as_wechaty_does():
    assert adapter(tls=True).server_name() == "puppet_padlocal"
    assert adapter(tls=True, tls_server_name="example").server_name() == "example"
    assert adapter().server_name() is None  # no TLS, no SNI


@pytest.mark.parametrize(("text", "expected"), [
    ("@小区管家\u2005报修 电梯坏了", "报修 电梯坏了"), ("@小区管家 mine", "mine"),
    ("@小区管家", ""), ("@小区管家们 你好", "@小区管家们 你好"), ("报修 @小区管家", "报修 @小区管家")])
def test_the_bots_own_mention_is_taken_off_the_front(text, expected):
    assert wechat.strip_mention(text, {"小区管家", ""}) == expected


async def test_group_replies_start_with_a_wechat_mention_and_pass_the_ids():
    a = adapter()
    a.self_id = "wx-bot"
    now = time.monotonic()
    a._names[("r@chatroom", "wx-alice")] = (now, "Alice")
    a._names[("r@chatroom", "wx-bob")] = (now, "Bob")
    reply = Outbound("wechat", "r@chatroom", "group", "✅ 收到", mention_ids=("wx-alice",))
    assert await a.mention_text(reply) == ("@Alice\u2005✅ 收到", ("wx-alice",))
    # a text that starts with the person's name: the name becomes the mention (no repetition)
    welcome = Outbound("wechat", "r@chatroom", "group", "小新 👋 欢迎", mention_ids=("wx-bob",),
                       mention_name="小新")
    assert await a.mention_text(welcome) == ("@Bob\u2005👋 欢迎", ("wx-bob",))
    private = Outbound("wechat", "wx-alice", "private", "hi", mention_ids=("wx-alice",))
    assert await a.mention_text(private) == ("hi", ())
    itself = Outbound("wechat", "r@chatroom", "group", "hi", mention_ids=("wx-bot",))
    assert await a.mention_text(itself) == ("hi", ())


async def test_buttons_become_the_words_to_reply():
    a = adapter()
    message = Outbound("wechat", "wx-wang", "private", "🔔 新报修 #12",
                       buttons=(Button("受理", "受理 12"),), buttons_hint="直接回复「受理 12」即可")
    text, _ = await a.mention_text(message)
    assert text == "🔔 新报修 #12\n直接回复「受理 12」即可"


async def test_sending_while_disconnected_waits_without_using_up_attempts():
    a = adapter()
    with pytest.raises(wechat.TemporaryError) as caught:
        await a.send(Outbound("wechat", "wx-wang", "private", "hi"))
    assert caught.value.count is False and caught.value.retry_after >= 2


def test_status_reads_health_records():
    now = time.time()

    def record(state: str, at: float) -> str:
        return json.dumps({"state": state, "detail": "", "at": at})

    assert describe(None, now, 180)["ok"] is False
    assert describe(record("connected", now), now, 180)["ok"]
    stale = describe(record("connected", now - 600), now, 180)
    assert stale["state"] == "stale" and not stale["ok"]
    assert describe(record("disconnected", now), now, 180)["ok"] is False
