"""Uploads: validated by their real content, stored, registered; private reads are checked."""

from __future__ import annotations

import hashlib
import io
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from flask import current_app
from PIL import Image, UnidentifiedImageError

from mall.errors import DomainError
from mall.extensions import db
from mall.i18n import _
from mall.storage.backends import get_storage
from mall.storage.models import StoredObject

IMAGE_FORMATS = {
    "JPEG": ("image/jpeg", "jpg"),
    "PNG": ("image/png", "png"),
    "WEBP": ("image/webp", "webp"),
    "GIF": ("image/gif", "gif"),
}
PDF = ("application/pdf", "pdf")
MAX_IMAGE_PIXELS = 40_000_000


class UploadRejected(DomainError):
    pass


@dataclass
class Photo:
    """A photo a user uploaded with a form (a review, an after-sales request), not yet stored."""

    data: bytes
    filename: str


@dataclass(frozen=True)
class Upload:
    """A file from a form, its bytes already read: services take these, never Werkzeug objects."""

    data: bytes
    filename: str


@dataclass(frozen=True)
class Sniffed:
    content_type: str
    extension: str
    width: int | None = None
    height: int | None = None


def sniff(data: bytes, *, allow_pdf: bool = False) -> Sniffed:
    """Identify the real type from the bytes (never from the name or the client's header)."""
    if allow_pdf and data.startswith(b"%PDF-"):
        return Sniffed(*PDF)
    try:
        with Image.open(io.BytesIO(data)) as img:
            fmt = img.format
            width, height = img.size
            if width * height > MAX_IMAGE_PIXELS:
                raise UploadRejected(_("The image is too large (%(w)s×%(h)s pixels).", w=width, h=height))
            img.verify()
        # verify() checks PNG chunks but does not decode JPEG or GIF data, so a truncated
        # upload would pass: decode it once (JPEG at 1/8 scale, which still reads every byte).
        with Image.open(io.BytesIO(data)) as img:
            if img.format == "JPEG":
                img.draft(img.mode, (max(1, width // 8), max(1, height // 8)))
            img.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        allowed = _("JPEG, PNG, WebP, GIF or PDF") if allow_pdf else _("JPEG, PNG, WebP or GIF")
        raise UploadRejected(_("This file is not a valid image; allowed: %(types)s.", types=allowed)) from exc
    if fmt not in IMAGE_FORMATS:
        raise UploadRejected(_("Images must be JPEG, PNG, WebP or GIF."))
    content_type, ext = IMAGE_FORMATS[fmt]
    return Sniffed(content_type, ext, width, height)


def store_upload(
    data: bytes,
    filename: str,
    *,
    purpose: str,
    private: bool = False,
    allow_pdf: bool = False,
    owner_id: int | None = None,
    merchant_id: int | None = None,
    max_bytes: int | None = None,
) -> StoredObject:
    """Validate and store one upload; the registry row is flushed, the caller commits.

    The object is written before the row, so a committed row always points at
    bytes; a rolled-back request can leave an orphan object, never a dangling row.
    """
    limit = max_bytes or current_app.config["UPLOAD_MAX_BYTES"]
    if not data:
        raise UploadRejected(_("The file is empty."))
    if len(data) > limit:
        raise UploadRejected(_("The file is larger than %(mb)s MB.", mb=round(limit / 1024 / 1024, 1)))
    kind = sniff(data, allow_pdf=allow_pdf)
    now = datetime.now(UTC)
    area = "private" if private else "public"
    key = f"{area}/{purpose}/{now:%Y/%m}/{uuid.uuid4().hex}.{kind.extension}"
    get_storage().save(key, data, content_type=kind.content_type, private=private)
    obj = StoredObject(
        key=key,
        purpose=purpose,
        filename=(filename or f"file.{kind.extension}")[-200:],
        content_type=kind.content_type,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        width=kind.width,
        height=kind.height,
        is_private=private,
        owner_id=owner_id,
        merchant_id=merchant_id,
    )
    db.session.add(obj)
    db.session.flush()
    return obj


def can_read(user, obj: StoredObject) -> bool:
    """Public objects: anyone. Private: the owner, staff of its store, operators allowed to see them."""
    if not obj.is_private:
        return True
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if obj.owner_id is not None and obj.owner_id == user.id:
        return True
    from mall.identity.access import has_operator_permission, is_member_of

    if obj.purpose.startswith("application-"):
        return has_operator_permission(user, "applications.review")  # applicants' documents: reviewers only
    if obj.purpose == "payment-proof":
        return has_operator_permission(user, "finance.view")  # a buyer's bank transfer receipt: finance only
    if obj.merchant_id is not None:
        return is_member_of(user, obj.merchant_id) or has_operator_permission(user, "merchants.view")
    return False  # a private file of a person, not of a store: only its owner
