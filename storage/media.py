"""Photos residents attach to reports, kept in a media folder beside the database.

A photo a person sends is downloaded by its platform's adapter (Telegram ``getFile``; WeChat through
the puppet service's file stream) and handed to :meth:`MediaStore.keep`, which

* refuses more than ``[media] max_mb`` (``MediaProblem("too_big")``);
* checks the type by decoding the whole image with Pillow — a file that only *says* it is a photo
  (``notes.txt`` renamed ``IMG_1.jpg``) is refused (``MediaProblem("not_image")``);
* re-encodes the pixels into a new file: EXIF (GPS position, camera, time), XMP and comments are
  gone, the orientation the camera recorded is applied first, and the longest side is at most
  ``[media] max_side`` pixels;
* names the file by the SHA-256 of what it stored (``<sha256>.jpg``, or ``.png`` for a picture with
  transparency), so the same photo sent twice is one file, and writes a thumbnail
  (``<sha256>.thumb.jpg``) for the board.

The folder is ``<database name>-media/`` next to the database file (``linli.db`` →
``linli-media/``), one sub-folder per first two hex digits.  ``linli db backup`` copies it along.
Which ticket a photo belongs to is a row of ``ticket_attachments`` (its ``media`` column, migration
0013); the ``media`` repository reads those rows.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from storage.db import Repo, repository

NAME = re.compile(r"^([0-9a-f]{64})(\.thumb)?\.(jpg|png)$")
MAX_PIXELS = 64_000_000  # a decompression bomb is "too big", not a crash
DEFAULT_MAX_BYTES = 10 * 1024 * 1024


class MediaProblem(Exception):
    """Why a file was not kept: ``reason`` is "too_big" or "not_image"."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Kept:
    name: str  # "<sha256>.jpg"
    size: int  # bytes stored
    width: int
    height: int


def media_folder(db_path: str | Path) -> Path | None:
    """The media folder of a database file (None for an in-memory database)."""
    if str(db_path) == ":memory:":
        return None
    path = Path(db_path)
    return path.with_name(f"{path.stem}-media")


def thumb_name(name: str) -> str:
    return name.rsplit(".", 1)[0] + ".thumb.jpg"


class MediaStore:
    """The media folder: keep a photo, find a stored one (see the module docstring)."""

    def __init__(self, folder: str | Path, *, max_bytes: int = DEFAULT_MAX_BYTES,
                 max_side: int = 2560, thumb_side: int = 320) -> None:
        self.folder = Path(folder)
        self.max_bytes = max_bytes
        self.max_side = max_side
        self.thumb_side = thumb_side

    @property
    def max_mb(self) -> int:
        return max(1, round(self.max_bytes / 1024 / 1024))

    def path(self, name: str) -> Path | None:
        """Where a stored file is; None for a name that is not one of ours (or is missing)."""
        match = NAME.match(name or "")
        if match is None:
            return None
        path = self.folder / match.group(1)[:2] / name
        return path if path.is_file() else None

    def keep(self, data: bytes) -> Kept:
        """Check, clean and store one image (blocking: run it in a thread)."""
        if len(data) > self.max_bytes:
            raise MediaProblem("too_big")
        image = _decode(data)
        image = _upright(image)
        alpha = image.mode in ("RGBA", "LA", "PA") or (
            image.mode == "P" and "transparency" in image.info)
        image = image.convert("RGBA" if alpha else "RGB")
        if max(image.size) > self.max_side:
            image.thumbnail((self.max_side, self.max_side))
        # a new image from the pixels alone: no EXIF, XMP, ICC or comment can come along
        from PIL import Image

        clean = Image.frombytes(image.mode, image.size, image.tobytes())
        out = io.BytesIO()
        if alpha:
            clean.save(out, "PNG", optimize=True)
        else:
            clean.save(out, "JPEG", quality=88, optimize=True)
        stored = out.getvalue()
        digest = hashlib.sha256(stored).hexdigest()
        name = f"{digest}.{'png' if alpha else 'jpg'}"
        thumb = clean.convert("RGB") if not alpha else _on_white(clean)
        thumb.thumbnail((self.thumb_side, self.thumb_side))
        small = io.BytesIO()
        thumb.save(small, "JPEG", quality=80)
        self._write(name, stored)
        self._write(thumb_name(name), small.getvalue())
        return Kept(name, len(stored), clean.width, clean.height)

    def forget(self, name: str) -> None:
        """Delete a stored photo and its thumbnail (one no ticket has)."""
        if NAME.match(name or "") is None:
            return
        for each in (name, thumb_name(name)):
            (self.folder / each[:2] / each).unlink(missing_ok=True)

    def _write(self, name: str, data: bytes) -> None:
        folder = self.folder / name[:2]
        target = folder / name
        if target.is_file():
            return  # content-addressed: the same bytes are there already
        folder.mkdir(parents=True, exist_ok=True)
        fd, partial = tempfile.mkstemp(dir=folder, prefix=".partial-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(partial, target)
        except BaseException:
            Path(partial).unlink(missing_ok=True)
            raise


def _decode(data: bytes):
    """The image, fully decoded, or MediaProblem: only real pictures pass."""
    from PIL import Image, UnidentifiedImageError

    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        with Image.open(io.BytesIO(data)) as probe:
            probe.verify()  # a broken or truncated file stops here
        image = Image.open(io.BytesIO(data))
        if image.format not in ("JPEG", "MPO", "PNG", "GIF", "WEBP", "BMP", "TIFF", "HEIF"):
            raise MediaProblem("not_image")
        image.load()
    except Image.DecompressionBombError as exc:
        raise MediaProblem("too_big") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        raise MediaProblem("not_image") from exc
    return image


def _upright(image):
    """Turned the way the camera recorded (the EXIF orientation is about to be dropped)."""
    from PIL import ImageOps

    try:
        return ImageOps.exif_transpose(image) or image
    except Exception:  # a broken EXIF block: the pixels as they are
        return image


def _on_white(image):
    from PIL import Image

    background = Image.new("RGB", image.size, (255, 255, 255))
    background.paste(image, mask=image.getchannel("A"))
    return background


@repository("media")
class Media(Repo):
    """Which stored photos belong to which ticket (rows of ``ticket_attachments``)."""

    async def of_ticket(self, ticket_id: int) -> list[tuple[str, str]]:
        """(stored name, stage) of a ticket's photos in the order they came; stage is "report"
        (sent with or after the report) or "after" (sent when it was resolved)."""
        rows = await self._all(
            "SELECT media, stage FROM ticket_attachments WHERE ticket_id = ? AND media IS NOT NULL "
            "ORDER BY id", (ticket_id,))
        return [(r[0], r[1]) for r in rows]

    async def ticket_of(self, digest: str) -> int | None:
        """The (first) ticket the stored photo ``<digest>.jpg`` (or ``.png``) belongs to, or None:
        nobody's photo."""
        return await self._value(
            "SELECT ticket_id FROM ticket_attachments WHERE media IN (?, ?) ORDER BY id LIMIT 1",
            (f"{digest}.jpg", f"{digest}.png"))
