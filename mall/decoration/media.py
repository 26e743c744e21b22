"""Videos for the video module: checked by size and by the container's magic bytes (MP4, WebM).

Images go through ``mall.storage.services.store_upload`` (sniffed with Pillow); videos are
not images, so they get this small validator and are registered the same way.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime

from flask import current_app
from sqlalchemy import select

from mall.errors import DomainError
from mall.extensions import db
from mall.i18n import _
from mall.storage.backends import get_storage
from mall.storage.models import StoredObject

VIDEO_PURPOSE = "decoration-video"
DEFAULT_VIDEO_MAX_BYTES = 30 * 1024 * 1024
# ISO base media "major brands" of MP4 files (QuickTime .mov and 3GP are refused).
MP4_BRANDS = {b"isom", b"iso2", b"iso4", b"iso5", b"iso6", b"mp41", b"mp42", b"avc1", b"dash", b"M4V ", b"mmp4"}
EBML_MAGIC = b"\x1a\x45\xdf\xa3"
WEBM_DOCTYPE = b"\x42\x82\x84webm"  # EBML DocType element, 4 bytes long, "webm"


class VideoRejected(DomainError):
    pass


def sniff_video(data: bytes) -> tuple[str, str] | None:
    """``(content type, extension)`` from the container's first bytes, or None if not MP4/WebM."""
    if len(data) >= 12 and data[4:8] == b"ftyp" and data[8:12] in MP4_BRANDS:
        return "video/mp4", "mp4"
    if data.startswith(EBML_MAGIC) and WEBM_DOCTYPE in data[:64]:
        return "video/webm", "webm"
    return None


def video_max_bytes() -> int:
    return int(current_app.config.get("DECORATION_VIDEO_MAX_BYTES", DEFAULT_VIDEO_MAX_BYTES))


def store_video(data: bytes, filename: str, *, merchant_id: int, owner_id: int | None) -> StoredObject:
    """Validate and store one public video; the registry row is flushed, the caller commits."""
    limit = video_max_bytes()
    if not data:
        raise VideoRejected(_("The file is empty."))
    if len(data) > limit:
        raise VideoRejected(_("The video is larger than %(mb)s MB.", mb=round(limit / 1024 / 1024, 1)))
    kind = sniff_video(data)
    if kind is None:
        raise VideoRejected(_("This file is not an MP4 or WebM video."))
    content_type, extension = kind
    key = f"public/{VIDEO_PURPOSE}/{datetime.now(UTC):%Y/%m}/{uuid.uuid4().hex}.{extension}"
    get_storage().save(key, data, content_type=content_type, private=False)
    obj = StoredObject(
        key=key,
        purpose=VIDEO_PURPOSE,
        filename=(filename or f"video.{extension}")[-200:],
        content_type=content_type,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        is_private=False,
        owner_id=owner_id,
        merchant_id=merchant_id,
    )
    db.session.add(obj)
    db.session.flush()
    return obj


def media_video_problem(key: str, merchant_id: int) -> str | None:
    """Why ``/media/<key>`` cannot be used as this store's video (None when it can)."""
    obj = db.session.scalar(select(StoredObject).where(StoredObject.key == key))
    if obj is None or obj.is_private or obj.merchant_id != merchant_id:
        return _("This video was not uploaded by this store.")
    if obj.content_type not in ("video/mp4", "video/webm"):
        return _("This file is not an MP4 or WebM video.")
    return None
