"""Photos kept, end to end: the real bot (``linli run``) downloads what a resident sends through the
real protocol peers, keeps it in the media folder, and the captain gets the stored file — on the
same platform and on the other one.

WeChat: the npm puppet service 1.19 (with the mock puppet) answers ``MessageFile``/``MessageImage``
with a UUID FileBox for anything over 20 KB, which the Python client cannot read; the adapter reads
``MessageFileStream`` instead.  The photo here is well over 200 KB, so that path is the one tested.
Telegram: ``getFile`` and the file download, which the emulator lacks, are served by the
compatibility proxy (tests/telegram_compat.py) for files a test registers.
"""

from __future__ import annotations

import hashlib
import io
import sqlite3
import tomllib
from pathlib import Path

import pytest
from PIL import Image

from tests.telegram_compat import TgChat, TgUser, node_available, start_telegram_peer
from tests.test_media import GPS_IFD, photo_with_gps
from tests.wechat_peer import ROOM3, LinliProcess, WechatPeer, dump_toml, peer_problem, wait_for
from tests.wechat_peer import write_config as write_wechat_config

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not node_available() or peer_problem() is not None,
                                 reason=str(peer_problem() or "node and tests/peers/node_modules"))]
B3 = TgChat(-1001003, "3栋邻里群")
WANG = TgUser(301, "王师傅", "wang_shifu")
ALICE = TgUser(201, "Alice 张", "alice")


def big_photo() -> bytes:
    data = photo_with_gps(640, 520, seed=11)
    assert len(data) >= 200 * 1024, len(data)  # not the one-pixel PNG of the other tests
    return data


def kept_photos(db: Path) -> list[tuple[int, str, str]]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT ticket_id, platform, media FROM ticket_attachments "
                            "WHERE media IS NOT NULL ORDER BY id").fetchall()


def stored(db: Path, name: str) -> bytes:
    return (db.with_name(f"{db.stem}-media") / name[:2] / name).read_bytes()


def check_clean(data: bytes, like: bytes) -> None:
    image, original = Image.open(io.BytesIO(data)), Image.open(io.BytesIO(like))
    assert image.size == original.size
    assert original.getexif().get_ifd(GPS_IFD) and not image.getexif().get_ifd(GPS_IFD)


@pytest.fixture
def running():
    """Start processes; stop them all afterwards, whatever happened."""
    stops = []
    yield stops.append
    for stop in reversed(stops):
        stop()


def test_a_large_wechat_photo_is_kept_and_the_captain_gets_the_stored_file(tmp_path, running):
    peer = WechatPeer(tmp_path).start()
    running(peer.stop)
    bot = LinliProcess(write_wechat_config(tmp_path, peer), tmp_path / "linli.db").start()
    running(bot.stop)
    mark = peer.mark()
    peer.say("alice", "报修 3栋电梯坏了", room=ROOM3)
    peer.wait_sent(mark, 2)
    photo = big_photo()
    mark = peer.mark()
    peer.say("alice", image="lift.jpg", room=ROOM3, data=photo)
    [sent] = wait_for(lambda: [m for m in peer.sent(mark) if m["kind"] == "file"] or None, 30,
                      "the stored photo to the captain")
    assert sent["conversationId"] == "wx-wang"
    [(ticket, platform, name)] = kept_photos(tmp_path / "linli.db")
    assert (ticket, platform) == (1, "wechat")
    data = stored(tmp_path / "linli.db", name)
    assert sent["sha256"] == hashlib.sha256(data).hexdigest() == name.split(".")[0]
    assert sent["bytes"] == len(data)
    check_clean(data, photo)
    assert "could not be downloaded" not in bot.text() and "Traceback" not in bot.text()


def test_a_telegram_photo_is_downloaded_with_get_file_and_sent_on_as_the_stored_file(
        tmp_path, running):
    from tests.test_telegram_e2e import in_chat, write_config

    peer = start_telegram_peer()
    running(peer.close)
    # ``python -m bot`` from this checkout (the venv's ``linli`` script may be another checkout's)
    bot = LinliProcess(write_config(tmp_path, peer), tmp_path / "linli.db").start()
    running(bot.stop)
    photo = big_photo()
    peer.register_file("AgACAgQ-kept-1", photo)
    peer.send(WANG, None, "/start")
    peer.send(ALICE, None, "/start")
    peer.wait_for(in_chat(ALICE), what="answering /start")
    mark = peer.last_id()
    peer.send(ALICE, B3, "/report 3栋 楼道灯坏了", photo="AgACAgQ-kept-1")
    peer.wait_for(in_chat(ALICE, "#1"), after=mark, what="acknowledging the photo report to Alice")
    uploaded = peer.wait_for(lambda m: m.chat_id == WANG.id and m.photo, after=mark,
                             what="the stored photo to the captain")
    [(ticket, platform, name)] = kept_photos(tmp_path / "linli.db")
    assert (ticket, platform) == (1, "telegram")
    data = stored(tmp_path / "linli.db", name)
    assert peer.state.uploaded[uploaded.photo] == hashlib.sha256(data).hexdigest()
    check_clean(data, photo)
    assert "getFile" in peer.state.calls
    # A file Telegram says is a JPEG but is not one: the reporter is told, nothing is kept.
    peer.register_file("BQACAgQ-fake-2", b"%PDF-1.4 not a photo" * 100)
    mark = peer.last_id()
    peer.send_raw(ALICE, B3, caption="/report 3栋 外墙砖掉了", caption_entities=[
        {"type": "bot_command", "offset": 0, "length": 7}], document={
        "file_id": "BQACAgQ-fake-2", "file_unique_id": "f2", "file_name": "IMG_0042.JPG",
        "mime_type": "image/jpeg"})
    peer.wait_for(in_chat(B3, "不是照片"), after=mark, what="refusing the fake photo")
    peer.wait_for(in_chat(ALICE, "#2"), after=mark, what="filing the report anyway (her receipt, privately)")
    assert len(kept_photos(tmp_path / "linli.db")) == 1


def test_a_wechat_residents_photo_reaches_a_captain_on_telegram(tmp_path, running):
    """One bot on both platforms: Alice reports on WeChat, 王师傅 only uses Telegram."""
    peer = WechatPeer(tmp_path).start()
    running(peer.stop)
    telegram = start_telegram_peer()
    running(telegram.close)
    path = write_wechat_config(tmp_path, peer)
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    raw["telegram"] = {"token": telegram.token, "api_base_url": telegram.api_base_url,
                       "api_base_file_url": telegram.api_base_file_url, "poll_timeout": 1}
    raw["people"]["wang"].pop("wechat")
    raw["people"]["wang"]["telegram"] = WANG.id
    path.write_text(dump_toml(raw), encoding="utf-8")
    bot = LinliProcess(path, tmp_path / "linli.db").start()
    running(bot.stop)
    telegram.send(WANG, None, "/start")
    wait_for(lambda: telegram.bot_messages(WANG.id) or None, 20, "the bot answering 王师傅")
    mark = telegram.last_id()
    peer.say("alice", "报修 3栋电梯坏了", room=ROOM3)
    photo = big_photo()
    peer.say("alice", image="lift.jpg", room=ROOM3, data=photo)
    uploaded = telegram.wait_for(lambda m: m.chat_id == WANG.id and m.photo, after=mark,
                                 what="the WeChat photo reaching 王师傅 on Telegram")
    [(_, platform, name)] = kept_photos(tmp_path / "linli.db")
    assert platform == "wechat"
    data = stored(tmp_path / "linli.db", name)
    assert telegram.state.uploaded[uploaded.photo] == hashlib.sha256(data).hexdigest()
    check_clean(data, photo)
