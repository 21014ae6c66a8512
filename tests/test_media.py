"""Photos kept, not just forwarded (issue 14): what a resident attaches to a report is downloaded
by the adapter, checked by decoding it with Pillow, stripped of EXIF, stored under its SHA-256 with a
thumbnail in the media folder beside the database, sent on as the stored file, shown on the board
and backed up with ``linli db backup``.

The scenarios run on the demo compound (tests/harness.py): an attachment carries a ``fetch`` as an
adapter's would (the bytes a platform would serve), and the recording adapter sees what the
dispatcher hands a real one — the stored file's path."""

from __future__ import annotations

import asyncio
import hashlib
import io
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from PIL import Image

from bot.config import MediaSettings, WebSettings, load_config
from bot.messages import Attachment
from bot.web.app import create_app
from storage.media import MediaProblem, MediaStore, media_folder
from tests.harness import EXAMPLE_CONFIG, ROOT, Compound

SECRET = "test-secret-not-for-use"
GPS_IFD = 0x8825


def photo_with_gps(width: int = 640, height: int = 480, seed: int = 7) -> bytes:
    """A JPEG the way a phone writes one: a camera model, and where it was taken (GPS)."""
    image = Image.effect_noise((width, height), 40 + seed).convert("RGB")
    exif = Image.Exif()
    exif[0x0110] = "Linli Test Phone"  # Model
    exif[0x0112] = 1  # Orientation
    exif.get_ifd(GPS_IFD).update({1: "N", 2: (31.0, 14.0, 5.0), 3: "E", 4: (121.0, 28.0, 9.0)})
    out = io.BytesIO()
    image.save(out, "JPEG", quality=95, exif=exif.tobytes())
    return out.getvalue()


def fetcher(data: bytes, calls: list | None = None):
    async def fetch(limit: int) -> bytes:
        if calls is not None:
            calls.append(limit)
        return data
    return fetch


def photo(data: bytes, file_id: str = "p-1", **kwargs) -> Attachment:
    return Attachment("photo", file_id, fetch=fetcher(data), **kwargs)


def stored_files(compound: Compound) -> list[Path]:
    folder = media_folder(compound.app.db.path)
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else []


def config_with(**media):
    config = load_config(EXAMPLE_CONFIG)
    return config.model_copy(update={
        "media": MediaSettings(**media),
        "web": WebSettings(listen="127.0.0.1:0", public_url="http://board.test", secret=SECRET)})


@pytest.fixture
async def compound(tmp_path):
    compound = await Compound.open(tmp_path, config=config_with(max_mb=1))
    yield compound
    await compound.close()


async def test_a_photo_with_a_report_is_kept_without_its_gps_and_reaches_the_captain(compound):
    original = photo_with_gps()
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(GPS_IFD)  # the phone said where
    sent = await compound.say("b3", "alice", "报修 3栋楼道灯坏了", attachments=(photo(original),))
    assert sent.keys_to("alice") == ["tickets.acknowledged"] and sent.keys_in("b3") == []
    ping = next(m for m in sent.messages if m.address == "wang" and m.key == "tickets.ping.new")
    [attachment] = ping.attachments
    # the captain gets the stored file (named by its SHA-256), not the platform's id alone
    assert attachment.media and attachment.path
    stored = await asyncio.to_thread(Path(attachment.path).read_bytes)
    assert attachment.media == hashlib.sha256(stored).hexdigest() + ".jpg"
    assert stored != original
    kept = Image.open(io.BytesIO(stored))
    assert kept.size == (640, 480)
    assert not kept.getexif().get_ifd(GPS_IFD) and 0x0110 not in kept.getexif()
    assert "exif" not in kept.info
    names = [p.name for p in stored_files(compound)]
    assert names == sorted([attachment.media, attachment.media.replace(".jpg", ".thumb.jpg")])
    async with compound.app.db.read() as tx:
        assert await tx.media.of_ticket(1) == [(attachment.media, "report")]


async def test_a_file_that_only_says_it_is_a_jpg_is_refused_with_a_friendly_reply(compound):
    text_file = b"name,unit\nalice,3-1201\n" * 20  # notes.txt, renamed IMG_0001.jpg
    sent = await compound.say("b3", "alice", "报修 3栋楼道灯坏了",
                              attachments=(photo(text_file, filename="IMG_0001.jpg"),))
    assert sent.keys_in("b3") == ["media.not_image"]  # told in the group where the photo was
    assert sent.keys_to("alice") == ["tickets.acknowledged"]  # the report is filed all the same
    assert "照片" in sent.to_chat("b3")[0]
    ping = next(m for m in sent.messages if m.address == "wang")
    assert ping.attachments == ()  # nothing of it reaches the captain
    assert stored_files(compound) == []
    # A truncated JPEG (the start of a real photo) is no photo either.
    sent = await compound.say("b3", "alice", "", attachments=(photo(photo_with_gps()[:3000]),))
    assert sent.keys_in("b3") == ["media.not_image"]
    async with compound.app.db.read() as tx:
        assert await tx.tickets.attachments(1) == []


async def test_a_photo_over_the_size_limit_is_refused_before_and_after_downloading(compound):
    big = photo_with_gps(1900, 1400)  # noise compresses badly: well over 1 MB
    assert len(big) > 1024 * 1024
    sent = await compound.say("b3", "alice", "报修 3栋外墙砖掉了", attachments=(photo(big),))
    assert sent.keys_in("b3") == ["media.too_big"]
    assert sent.keys_to("alice") == ["tickets.acknowledged"]
    assert sent.messages[0].values["limit"] == 1
    # A platform that says the size first: not even downloaded.
    calls: list[int] = []
    told = Attachment("photo", "p-2", size=5 * 1024 * 1024, fetch=fetcher(big, calls))
    sent = await compound.say("b3", "alice", "", attachments=(told,))
    assert sent.keys_in("b3") == ["media.too_big"] and calls == []
    assert stored_files(compound) == []


async def test_the_same_photo_twice_is_one_file_and_a_later_photo_joins_the_report(compound):
    data = photo_with_gps(seed=3)
    await compound.say("b3", "alice", "报修 3栋电梯坏了", attachments=(photo(data, "a"),))
    sent = await compound.say("b3", "alice", "", attachments=(photo(data, "b"),))
    assert sent.keys_in("b3") == ["tickets.photo_attached"]
    added = next(m for m in sent.messages if m.address == "wang")
    assert added.key == "tickets.photo_added" and added.attachments[0].path
    assert len(stored_files(compound)) == 2  # the photo and its thumbnail, once
    async with compound.app.db.read() as tx:
        photos = await tx.media.of_ticket(1)
    assert len(photos) == 2 and photos[0] == photos[1]


async def test_a_photo_that_belongs_to_no_report_is_not_kept(compound):
    """Chatter in a group (a photo of the sunset, no report of the sender's in the last ten
    minutes) is downloaded to be checked, then deleted: no ticket took it."""
    sent = await compound.say("b3", "bob", "", attachments=(photo(photo_with_gps(seed=5)),))
    assert sent.messages == []
    assert stored_files(compound) == []
    await compound.say("b3", "alice", "报修 3栋电梯坏了", attachments=(photo(photo_with_gps()),))
    assert len(stored_files(compound)) == 2  # a report's photo stays


def test_the_store_turns_a_photo_upright_and_keeps_transparency(tmp_path):
    store = MediaStore(tmp_path / "media")
    sideways = Image.new("RGB", (300, 100), (200, 30, 30))
    exif = Image.Exif()
    exif[0x0112] = 6  # the camera was turned: show it rotated 90°
    out = io.BytesIO()
    sideways.save(out, "JPEG", exif=exif.tobytes())
    kept = store.keep(out.getvalue())
    assert (kept.width, kept.height) == (100, 300)
    assert 0x0112 not in Image.open(store.path(kept.name)).getexif()
    logo = Image.new("RGBA", (50, 50), (0, 0, 0, 0))
    out = io.BytesIO()
    logo.save(out, "PNG")
    assert store.keep(out.getvalue()).name.endswith(".png")
    with pytest.raises(MediaProblem) as refused:
        store.keep(b"GIF89a not really")
    assert refused.value.reason == "not_image"
    assert store.path("../../etc/passwd") is None and store.path("a" * 64 + ".jpg") is None


async def test_cross_platform_a_wechat_photo_goes_to_a_telegram_captain_as_the_stored_file(compound):
    """The outbox row keeps the stored name and the platform the photo came from; the Telegram
    adapter uploads the stored file (another platform's id means nothing on Telegram).  The full
    path through the real puppet service is in tests/test_media_e2e.py."""
    from bot.adapters.telegram import TelegramAdapter

    other = Attachment("photo", "wx-msg-17", fetch=fetcher(photo_with_gps()))
    sent = await compound.say("b3", "alice", "报修 3栋路灯不亮", attachments=(other,))
    ping = next(m for m in sent.messages if m.address == "wang" and m.attachments)
    attachment = ping.attachments[0]
    assert attachment.origin == "console" and attachment.file_id == "wx-msg-17"

    calls = []

    class Bot:
        async def send_photo(self, chat_id, what, caption=None):
            calls.append((chat_id, what))
            return type("Sent", (), {"message_id": 5})()

    adapter = object.__new__(TelegramAdapter)
    adapter.platform = "telegram"
    adapter.application = type("App", (), {"bot": Bot()})()
    assert await adapter._send_attachment(42, attachment) == "5"
    [(chat_id, upload)] = calls
    assert chat_id == 42
    assert upload.input_file_content == await asyncio.to_thread(Path(attachment.path).read_bytes)
    # Not stored (downloading failed): a WeChat id is not sent to Telegram at all.
    calls.clear()
    assert await adapter._send_attachment(42, Attachment("photo", "wx-msg-18",
                                                         origin="wechat")) is None
    assert calls == []


async def login(compound: Compound, client: httpx.AsyncClient, person: str) -> None:
    sent = await compound.say("dm", person, "后台")
    path = "/" + sent.values_to(person, "board.link")["link"].split("/", 3)[3]
    assert (await client.post(path)).status_code == 303


async def test_the_board_shows_the_photos_and_resolving_attaches_an_after_photo(compound):
    await compound.say("b3", "alice", "报修 3栋楼道灯坏了", attachments=(photo(photo_with_gps()),))
    await compound.say("b5", "bob", "报修 5栋垃圾没人收")
    transport = httpx.ASGITransport(app=create_app(compound.core))
    async with httpx.AsyncClient(transport=transport, base_url="http://board.test") as office:
        assert (await office.get("/media/" + "0" * 64 + ".jpg")).status_code == 401  # signed out
        await login(compound, office, "wang")
        page = await office.get("/tickets/1")
        [(full, thumb)] = re.findall(r'<a href="(/media/[0-9a-f]{64}\.jpg)"><img src="([^"]+)"',
                                     page.text)
        assert thumb == full.replace(".jpg", ".thumb.jpg")
        image = await office.get(full)
        assert image.status_code == 200 and image.headers["content-type"] == "image/jpeg"
        assert not Image.open(io.BytesIO(image.content)).getexif().get_ifd(GPS_IFD)
        small = Image.open(io.BytesIO((await office.get(thumb)).content))
        assert max(small.size) <= 320
        assert "没有照片" in (await office.get("/tickets/2")).text
        assert (await office.get("/media/" + "f" * 64 + ".jpg")).status_code == 404
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
        # An "after" photo that is no picture: refused, the ticket stays as it was.
        refused = await office.post("/tickets/1", data={"csrf": csrf, "action": "resolve"},
                                    files={"photo": ("after.jpg", b"not a photo", "image/jpeg")})
        assert refused.status_code == 303
        async with compound.app.db.read() as tx:
            assert (await tx.tickets.get(1)).status == "open"
        after = photo_with_gps(320, 240, seed=9)
        done = await office.post("/tickets/1", data={"csrf": csrf, "action": "resolve",
                                                     "note": "换了灯泡"},
                                 files={"photo": ("after.jpg", after, "image/jpeg")})
        assert done.status_code == 303
        page = await office.get("/tickets/1")
        assert page.text.count('<li class="after">') == 1
    await compound.app.dispatcher.drain()
    told = [m for m in compound.adapter.sent if m.address == "alice"
            and m.key == "tickets.update.resolved"]
    assert told and told[-1].attachments and told[-1].attachments[0].path
    async with compound.app.db.read() as tx:
        assert [stage for _, stage in await tx.media.of_ticket(1)] == ["report", "after"]


async def test_backup_takes_the_photos_along(compound, tmp_path):
    await compound.say("b3", "alice", "报修 3栋楼道灯坏了", attachments=(photo(photo_with_gps()),))
    db = Path(compound.app.db.path)
    target = tmp_path / "backups" / "monday.db"

    def backup() -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "bot", "db", "backup", str(target), "--force",
                               "--db", str(db), "--config", str(EXAMPLE_CONFIG)],
                              capture_output=True, text=True, timeout=120, cwd=ROOT)

    result = backup()
    assert result.returncode == 0, result.stderr
    assert "photos: 2 new file(s)" in result.stdout
    copied = sorted(p.relative_to(tmp_path / "backups" / "monday-media")
                    for p in (tmp_path / "backups" / "monday-media").rglob("*.jpg"))
    kept = sorted(p.relative_to(media_folder(db)) for p in stored_files(compound))
    assert copied == kept and len(copied) == 2
    again = backup()  # content-addressed: nothing new to copy
    assert again.returncode == 0 and "photos: 0 new file(s)" in again.stdout


async def test_a_captioned_photo_offered_as_a_report_is_kept_until_yes_files_it(compound):
    """A photo whose caption reads as a report gets the offer; the stored photo waits for 是 and the
    ticket gets it (not only the platform's id)."""
    sent = await compound.say("b3", "alice", "3栋电梯又坏了 有没有人管",
                              attachments=(photo(photo_with_gps(), "p-9"),))
    assert sent.keys_in("b3") == ["conversation.offer"]
    assert [p for p in stored_files(compound) if "thumb" not in p.name]  # kept while the offer waits
    sent = await compound.say("b3", "alice", "是")
    assert sent.keys_to("alice") == ["tickets.acknowledged"] and sent.keys_in("b3") == []
    async with compound.app.db.read() as tx:
        (kind, file_id, media), = [(k, f, m) for _, k, f, m in await tx.tickets.attachments(1)]
    assert (kind, file_id) == ("photo", "p-9") and media
    assert compound.app.core.media.path(media) is not None
    ping = next(m for m in sent.messages if m.key == "tickets.ping.new")
    assert [a.media for a in ping.attachments] == [media]
