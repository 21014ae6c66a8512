"""The WeChat adapter's translation rules, without a peer (the end-to-end tests have one)."""

from __future__ import annotations

import asyncio
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


# --- typed send failures ---------------------------------------------------------------------------
# What the Node puppet service answers: whatever the puppet threw, as status UNKNOWN with the error's
# stack as the message (gerror → grpc-js); the mock's wording is what tests/peers/wechat_server.js gets.
def grpc(status: str, message: str):
    from grpclib.const import Status
    from grpclib.exceptions import GRPCError

    return GRPCError(Status[status], message)


STACK = "\n    at PuppetMock._messageSend (file:///peers/node_modules/wechaty-puppet-mock/x.js:1:1)"


@pytest.mark.parametrize(("error", "kind", "reason"), [
    (grpc("UNKNOWN", "Error: MockContact.load(): wx-gone not exist." + STACK), "private", "not a friend"),
    (grpc("UNKNOWN", "Error: MockRoom.load(): gone@chatroom not exist." + STACK), "group", "room gone"),
    (grpc("UNKNOWN", "Error: no payload found for id gone@chatroom" + STACK), "group", "room gone"),
    (grpc("UNKNOWN", "Error: 你不是群成员，无法发送消息"), "group", "bot not in room"),
    (grpc("INTERNAL", "send failed: bot is not in room r@chatroom"), "group", "bot not in room"),
    (grpc("UNKNOWN", "Error: 对方不是你的好友"), "private", "not a friend"),
    (grpc("NOT_FOUND", "conversation"), "group", "room gone"),
    (grpc("PERMISSION_DENIED", "denied"), "group", "bot not in room"),
    (grpc("UNKNOWN", "Error: Wechaty Puppet Unsupported API Error. Learn More At …"), "private",
     "not supported by the puppet"),
])
def test_failures_retrying_will_not_fix_are_permanent_with_a_short_reason(error, kind, reason):
    failure = wechat.classify(error, kind)
    assert isinstance(failure, wechat.PermanentError) and str(failure) == reason


@pytest.mark.parametrize("error", [
    grpc("UNAVAILABLE", "connection refused"), grpc("DEADLINE_EXCEEDED", ""),
    grpc("INTERNAL", "TIMEOUT: RequestId: MT_SEND_MSG counter: 9"),
    grpc("INTERNAL", "ERR_SEND_MSG send message failed"), ConnectionResetError("reset"), TimeoutError(),
])
def test_failures_retrying_may_fix_are_temporary(error):
    failure = wechat.classify(error, "group")
    assert isinstance(failure, wechat.TemporaryError) and failure.count
    assert "\n" not in str(failure)


def test_a_connection_lost_mid_call_is_temporary():
    from grpclib.exceptions import StreamTerminatedError

    assert wechat.connection_trouble(StreamTerminatedError("Connection lost"))
    assert isinstance(wechat.classify(StreamTerminatedError("Connection lost")), wechat.TemporaryError)


def test_a_logged_out_account_waits_without_using_up_attempts():
    failure = wechat.classify(grpc("UNKNOWN", "Error: not logged in" + STACK), "private")
    assert isinstance(failure, wechat.TemporaryError) and failure.count is False
    assert "at PuppetMock" not in str(failure)  # the puppet's stack stays out of the log


class FakeClient:
    """The parts of the puppet-service client that send() and diagnose() use."""

    def __init__(self, send_error=None, room_members=("wx-bot", "wx-alice"), friend=True,
                 lookup_error=None):
        self.send_error, self.room_members, self.friend = send_error, room_members, friend
        self.lookup_error = lookup_error
        self.sent: list[tuple[str, str]] = []

    async def message_send_text(self, address, text, mention_ids=None):
        self.sent.append((address, text))
        if self.send_error is not None:
            raise self.send_error
        return "m1"

    async def room_payload(self, room_id):
        if self.lookup_error is not None:
            raise self.lookup_error
        return type("Room", (), {"id": room_id, "topic": "3栋", "member_ids": list(self.room_members)})

    async def contact_payload(self, contact_id):
        if self.lookup_error is not None:
            raise self.lookup_error
        return type("Contact", (), {"id": contact_id, "friend": self.friend, "name": "x", "alias": ""})


def connected(client: FakeClient) -> wechat.WechatAdapter:
    a = adapter()
    a.client, a.self_id = client, "wx-bot"
    a._logged_in.set()
    return a


async def test_an_unexplained_refusal_is_checked_with_the_service():
    vague = grpc("INTERNAL", "ERR_SEND_MSG send message failed")
    room = Outbound("wechat", "r@chatroom", "group", "hi")
    with pytest.raises(wechat.PermanentError, match=r"^bot not in room$"):
        await connected(FakeClient(vague, room_members=("wx-alice",))).send(room)
    with pytest.raises(wechat.PermanentError, match=r"^room gone$"):
        await connected(FakeClient(vague, lookup_error=grpc("UNKNOWN", "Error: no payload found"))).send(room)
    private = Outbound("wechat", "wx-alice", "private", "hi")
    with pytest.raises(wechat.PermanentError, match=r"^not a friend$"):
        await connected(FakeClient(vague, friend=False)).send(private)
    # the room is there with the bot in it, the contact is a friend: it may go next time
    with pytest.raises(wechat.TemporaryError):
        await connected(FakeClient(vague)).send(room)
    with pytest.raises(wechat.TemporaryError):
        await connected(FakeClient(vague)).send(private)
    # the service could not be asked either: temporary
    with pytest.raises(wechat.TemporaryError):
        await connected(FakeClient(vague, lookup_error=ConnectionResetError())).send(room)
    assert await connected(FakeClient()).send(private) == "m1"


async def test_a_login_from_a_session_that_has_ended_is_ignored():
    a = adapter()
    old, a.client = object(), FakeClient()
    await a._on_login(type("Login", (), {"contact_id": "wx-bot"}), old)
    assert not a._logged_in.is_set()  # sending now would go into the old, dead channel
    a._logged_in.set()
    await a._on_logout(type("Logout", (), {"data": ""}), old)
    assert a._logged_in.is_set()  # the current session is still logged in


async def test_an_event_read_when_the_connection_broke_is_read_again_after_the_next_login(monkeypatch):
    from grpclib.exceptions import StreamTerminatedError

    monkeypatch.setattr(wechat, "EVENT_RETRY_SECONDS", 0.0)
    handled = []

    class Core:
        async def handle(self, inbound):
            handled.append(inbound)

    a = adapter()
    a.core = Core()
    tries = []

    async def message_inbound(message_id):
        tries.append(message_id)
        if len(tries) == 1:
            raise StreamTerminatedError("Connection lost")
        return "inbound"

    monkeypatch.setattr(a, "message_inbound", message_inbound)
    task = asyncio.create_task(a._handle_event("message", "m7"))
    await asyncio.sleep(0.05)
    assert tries == ["m7"] and not task.done()  # waits for the next login, however long
    a._logged_in.set()
    await asyncio.wait_for(task, 2)
    assert tries == ["m7", "m7"] and handled == ["inbound"]
    # what the service answers (the message is gone) drops the event, with no traceback
    monkeypatch.setattr(a, "message_inbound", lambda _id: _raise(grpc("UNKNOWN", "no payload found")))
    await asyncio.wait_for(a._handle_event("message", "m8"), 2)


async def _raise(error):
    raise error
