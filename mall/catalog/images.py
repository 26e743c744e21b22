"""Product images and video: validated uploads in public storage, thumbnails made by a job.

An upload is sniffed and registered by ``mall.storage`` (purpose ``product-image``, public, owned
by the store); the product names it by the stored object's id in ``ProductImage.file_id``. After
the commit a tenant job (``make_thumbnail``) writes a 400 px copy and records ``thumb_file_id``;
until then ``product_image_url`` serves the original.
"""

from __future__ import annotations

import io
from collections.abc import Iterable

from flask import url_for
from PIL import Image, ImageOps
from sqlalchemy import select

from mall.catalog.models import Product, ProductImage
from mall.catalog.product_input import IMAGE_PURPOSE
from mall.decoration import media
from mall.extensions import db
from mall.jobs import enqueue, tenant_job
from mall.storage.backends import get_storage
from mall.storage.models import StoredObject
from mall.storage.services import Upload, store_upload
from mall.tenancy.binding import require_merchant_id

THUMB_PURPOSE = "product-thumb"
THUMB_SIZE = 400
_THUMB_FORMATS = {"JPEG": ("JPEG", "jpg"), "WEBP": ("WEBP", "webp")}  # anything else becomes PNG


def store_product_image(upload: Upload, actor_id: int | None) -> StoredObject:
    """Validate and store one product image of the bound store (public); flushed, not committed."""
    return store_upload(
        upload.data, upload.filename, purpose=IMAGE_PURPOSE, owner_id=actor_id, merchant_id=require_merchant_id()
    )


def store_product_video(upload: Upload, actor_id: int | None) -> StoredObject:
    """MP4 or WebM by its magic bytes, with the decoration module's size limit and checks."""
    return media.store_video(upload.data, upload.filename, merchant_id=require_merchant_id(), owner_id=actor_id)


def schedule_thumbnails(images: Iterable[ProductImage]) -> None:
    """Ask for thumbnails of images that have none (after the commit; one job per image)."""
    for image in images:
        if image.thumb_file_id is None and image.id is not None:
            enqueue(make_thumbnail, image.id, job_id=f"product-thumb-{image.id}")


@tenant_job
def make_thumbnail(image_id: int) -> int | None:
    """Write the 400 px thumbnail of one product image (idempotent: done or gone → nothing)."""
    image = db.session.get(ProductImage, image_id)
    if image is None or image.thumb_file_id is not None:
        return None
    original = db.session.get(StoredObject, image.file_id)
    if original is None:
        return None
    data, extension = _thumbnail_bytes(get_storage().read(original.key))
    thumb = store_upload(
        data,
        f"thumb.{extension}",
        purpose=THUMB_PURPOSE,
        owner_id=original.owner_id,
        merchant_id=require_merchant_id(),
    )
    image.thumb_file_id = thumb.id
    db.session.flush()
    return thumb.id


def _thumbnail_bytes(data: bytes) -> tuple[bytes, str]:
    with Image.open(io.BytesIO(data)) as img:
        fmt, extension = _THUMB_FORMATS.get(img.format, ("PNG", "png"))
        img.seek(0)  # the first frame of an animation
        picture = ImageOps.exif_transpose(img)
        picture.thumbnail((THUMB_SIZE, THUMB_SIZE))
        if fmt == "JPEG" and picture.mode not in ("RGB", "L"):
            picture = picture.convert("RGB")
        elif fmt == "PNG" and picture.mode not in ("RGB", "RGBA", "L", "LA", "P"):
            picture = picture.convert("RGBA")
        out = io.BytesIO()
        picture.save(out, format=fmt)
    return out.getvalue(), extension


def file_keys(file_ids: Iterable[int | None]) -> dict[int, str]:
    """Stored object id → storage key, for public objects (one query)."""
    ids = {i for i in file_ids if i}
    if not ids:
        return {}
    rows = db.session.execute(
        select(StoredObject.id, StoredObject.key).where(StoredObject.id.in_(ids), StoredObject.is_private.is_(False))
    )
    return dict(rows.all())


def media_url(key: str | None) -> str | None:
    return url_for("web.media", key=key, _external=False) if key else None


def file_urls(file_ids: Iterable[int | None]) -> dict[int, str]:
    """Stored object id → its public ``/media/…`` URL."""
    return {file_id: media_url(key) for file_id, key in file_keys(file_ids).items()}


def product_image_url(image: ProductImage, thumb: bool = True) -> str | None:
    """The thumbnail's URL when asked for and made, otherwise the original's."""
    keys = file_keys([image.file_id, image.thumb_file_id])
    key = keys.get(image.thumb_file_id) if thumb and image.thumb_file_id else None
    return media_url(key or keys.get(image.file_id))


def cover_urls(products: Iterable[Product]) -> dict[int, str]:
    """Product id → URL of its main image's thumbnail (or original), for lists (two queries)."""
    ids = [p.id for p in products]
    if not ids:
        return {}
    covers: dict[int, ProductImage] = {}
    for image in db.session.scalars(
        select(ProductImage).where(ProductImage.product_id.in_(ids)).order_by(ProductImage.position, ProductImage.id)
    ):
        covers.setdefault(image.product_id, image)
    keys = file_keys([i.file_id for i in covers.values()] + [i.thumb_file_id for i in covers.values()])
    out = {}
    for product_id, image in covers.items():
        key = keys.get(image.thumb_file_id) or keys.get(image.file_id)
        if key:
            out[product_id] = media_url(key)
    return out
