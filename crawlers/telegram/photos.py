"""The pictures of Telegram posts: read into memory within a size cap, OCR'd, hashed; their text joins the post.

Shops post price lists as pictures. For each photo, and each image sent as a file (JPEG, PNG, WebP, BMP, TIFF;
not stickers, not GIFs), of a watched channel's message or of an export's `photo`/`file`:

- the bytes are read into memory, never to disk: a Telegram photo at its largest size within
  `max_bytes` (Telegram stores each photo in several sizes), an image file only when it is within the cap;
  an export's file only from inside the export folder;
- OCR (`crawlers.ocr`) reads the text and a pHash is taken; the text is pseudonymised at once, like a post's;
- the post's text becomes the caption, then for each picture with text a line `[text read from an image]`
  and the text (`compose`), so the extractor reads both and an analyst sees which part came from a picture;
  `post.extra["images"]` counts the pictures and those with text;
- what is kept of each picture is its `storage.images.ImageRow`: the pHash, the OCR text, the size in pixels,
  and the Telegram file id or the sha256 of the file (so the same file is read once: a forward, a reconcile
  or a re-import reuses the text read before, from memory or from the database).

Albums (`grouped_id`) are one post: `albums()` groups the messages of history reads, the listener takes them
from Telethon's `events.Album`; the post's id is the album's first message.

>>> compose("Прайс в канале", [PostImage(0, 5, "Мефедрон 1г - 4500 руб", None), PostImage(1, 6, "", None)])
'Прайс в канале\\n\\n[text read from an image]\\nМефедрон 1г - 4500 руб'
"""
from __future__ import annotations

import asyncio
import hashlib
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from telethon import types

from npswatch.crawlers.ocr import ImageRejected, Ocr
from npswatch.pipelines.privacy import Pseudonymiser
from npswatch.storage.images import ImageRow, known_files

__all__ = ["MARKER", "PostImage", "ImageReader", "compose", "picture_of", "albums"]

log = logging.getLogger("npswatch.telegram")

MARKER = "[text read from an image]"
_IMAGE_MIME = frozenset({"image/jpeg", "image/png", "image/webp", "image/bmp", "image/tiff", "image/jpg"})
_EXPORT_MISSING = "(File not included"  # Telegram Desktop's note for a file it did not export


@dataclass(frozen=True)
class PostImage:
    position: int
    phash: int
    text: str  # pseudonymised OCR text ("" when none)
    file_key: str | None
    width: int | None = None
    height: int | None = None


def compose(caption: str, images: Sequence[PostImage]) -> str:
    """The post's text: the caption, then the text of each picture under a marker line."""
    parts = [caption.strip()] if caption and caption.strip() else []
    parts += [f"{MARKER}\n{im.text}" for im in images if im.text]
    return "\n\n".join(parts)


def _size_bytes(size: Any) -> int | None:
    if isinstance(size, types.PhotoSize):
        return size.size
    if isinstance(size, types.PhotoSizeProgressive):
        return max(size.sizes) if size.sizes else None
    if isinstance(size, types.PhotoCachedSize):
        return len(size.bytes)
    return None  # stripped (a blurred preview), path (an outline) or empty sizes: nothing to read


def picture_of(msg: Any, max_bytes: int) -> tuple[str, Any, int] | str | None:
    """(file key, the Telethon `thumb` to download, bytes) of a message's picture; a reason (str) when it has one
    that is not read (too large); None when it has none."""
    media = getattr(msg, "media", None)
    if isinstance(media, types.MessageMediaPhoto) and isinstance(media.photo, types.Photo):
        sizes = [(n, s) for s in media.photo.sizes if (n := _size_bytes(s))]
        fitting = [(n, s) for n, s in sizes if n <= max_bytes]
        if not fitting:
            return f"photo over the {max_bytes / 1e6:.1f} MB limit" if sizes else None
        n, best = max(fitting, key=lambda x: x[0])
        return f"tg-photo:{media.photo.id}", best, n
    if isinstance(media, types.MessageMediaDocument) and isinstance(media.document, types.Document):
        doc = media.document
        if (doc.mime_type or "").lower() not in _IMAGE_MIME:
            return None
        if any(isinstance(a, (types.DocumentAttributeSticker, types.DocumentAttributeAnimated))
               for a in doc.attributes or ()):
            return None
        if doc.size > max_bytes:
            return f"image file over the {max_bytes / 1e6:.1f} MB limit"
        return f"tg-doc:{doc.id}", None, doc.size
    return None


async def albums(messages: AsyncIterator[Any]) -> AsyncIterator[list[Any]]:
    """Messages of a history read in groups: an album's parts (same `grouped_id`, adjacent) together, every
    other message alone; each group in id order."""
    pending: list[Any] = []
    async for msg in messages:
        gid = getattr(msg, "grouped_id", None)
        if pending and gid != pending[0].grouped_id:
            yield sorted(pending, key=lambda m: m.id)
            pending = []
        if gid is not None:
            pending.append(msg)
        else:
            yield [msg]
    if pending:
        yield sorted(pending, key=lambda m: m.id)


class ImageReader:
    """Reads pictures with one `Ocr` in a pool of `workers` threads (each OCR runs its own Tesseract process).
    `engine`: the database whose `image_hash` rows tell which files were read before."""

    def __init__(self, ocr: Ocr, pseudonymiser: Pseudonymiser, *, engine: Any = None, workers: int = 2,
                 cache_size: int = 20_000) -> None:
        self.ocr = ocr
        self.pseudonymiser = pseudonymiser
        self.engine = engine
        self.max_bytes = ocr.max_bytes
        self._pool = ThreadPoolExecutor(max(1, workers), thread_name_prefix="npswatch-ocr")
        self._cache: OrderedDict[str, tuple[str, int, int | None, int | None]] = OrderedDict()
        self._cache_size = cache_size
        self.read = 0  # pictures OCR'd
        self.reused = 0  # pictures whose text was known (same file seen before)
        self.skipped: dict[str, int] = {}  # reason -> pictures not read

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1

    def _known(self, key: str | None) -> tuple[str, int, int | None, int | None] | None:
        if key is None:
            return None
        hit = self._cache.get(key)
        if hit is None and self.engine is not None:
            row = known_files(self.engine, [key]).get(key)
            if row is not None:
                hit = (row[0] or "", row[1], row[2], row[3])
        if hit is not None:
            self._remember(key, hit)
        return hit

    def _remember(self, key: str, value: tuple[str, int, int | None, int | None]) -> None:
        self._cache[key] = value
        self._cache.move_to_end(key)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    def _image(self, data: bytes, position: int, key: str | None, region: str | None) -> PostImage | None:
        try:
            got = self.ocr.read(data)
        except ImageRejected as exc:
            self._skip(str(exc).split(" (")[0] if "limit" in str(exc) else "not a readable image")
            log.info("picture %s not read: %s", key or position, exc)
            return None
        text = self.pseudonymiser.scrub(got.text, region) if got.text else ""
        self.read += 1
        if key:
            self._remember(key, (text, got.phash, got.width, got.height))
        return PostImage(position, got.phash, text, key, got.width, got.height)

    def _reuse(self, position: int, key: str) -> PostImage | None:
        hit = self._known(key)
        if hit is None:
            return None
        self.reused += 1
        return PostImage(position, hit[1], hit[0], key, hit[2], hit[3])

    # -- Telegram messages ----------------------------------------------------------------------------------
    async def from_messages(self, client: Any, msgs: Sequence[Any], region: str | None = None) -> list[PostImage]:
        """The pictures of one post's messages (an album: every part), downloaded into memory."""
        out: list[PostImage] = []
        loop = asyncio.get_running_loop()
        for msg in msgs:
            pic = picture_of(msg, self.max_bytes)
            if pic is None:
                continue
            if isinstance(pic, str):
                self._skip(pic)
                continue
            key, thumb, _n = pic
            position = len(out)
            known = self._reuse(position, key)
            if known is not None:
                out.append(known)
                continue
            try:
                data = await client.download_media(msg, file=bytes, thumb=thumb)
            except Exception as exc:  # noqa: BLE001 - a picture that cannot be fetched never stops the post
                self._skip("download failed")
                log.warning("picture of message %s not downloaded: %s: %s", msg.id, type(exc).__name__, exc)
                continue
            if not data:
                continue
            if len(data) > self.max_bytes:
                self._skip(f"over the {self.max_bytes / 1e6:.1f} MB limit")
                continue
            img = await loop.run_in_executor(self._pool, self._image, data, position, key, region)
            if img is not None:
                out.append(img)
        return out

    # -- export files ---------------------------------------------------------------------------------------
    def from_export(self, folder: Path, msg: dict, region: str | None = None) -> list[PostImage]:
        """The picture an export message names (`photo`, or an image `file`), read from inside `folder`."""
        rel = msg.get("photo")
        if (not isinstance(rel, str) or not rel) and msg.get("media_type") is None:  # not a sticker, GIF, video
            rel = msg.get("file") if str(msg.get("mime_type", "")).lower() in _IMAGE_MIME else None
        if not isinstance(rel, str) or not rel or rel.startswith(_EXPORT_MISSING):
            return []
        base = folder.resolve()
        path = (base / rel).resolve()
        if base not in path.parents:
            self._skip("path outside the export folder")
            return []
        try:
            size = path.stat().st_size
        except OSError:
            self._skip("file missing")
            return []
        if size > self.max_bytes:
            self._skip(f"over the {self.max_bytes / 1e6:.1f} MB limit")
            return []
        data = path.read_bytes()
        key = "sha256:" + hashlib.sha256(data).hexdigest()[:40]
        known = self._reuse(0, key)
        if known is not None:
            return [known]
        img = self._image(data, 0, key, region)
        return [img] if img is not None else []

    @staticmethod
    def rows(src: str, external_id: str, images: Sequence[PostImage], seen_at: datetime | None) -> list[ImageRow]:
        return [ImageRow(src, external_id, im.position, im.phash, im.file_key, im.text or None, im.width, im.height,
                         seen_at) for im in images]
