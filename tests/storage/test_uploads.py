"""Uploads are judged by their bytes: real images (and PDF where allowed) are stored and registered."""

from __future__ import annotations

import hashlib
import io

import pytest
from PIL import Image
from sqlalchemy import func, select

from mall.storage import get_storage
from mall.storage.models import StoredObject
from mall.storage.services import UploadRejected, store_upload
from tests.storage.conftest import image_bytes

PDF_BYTES = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


@pytest.fixture(autouse=True)
def _english_request(app, db):
    """Rejection messages are translated, which needs a request (its locale): an English one."""
    with app.test_request_context("/", headers={"Accept-Language": "en"}):
        yield


def _count(db) -> int:
    return db.session.scalar(select(func.count(StoredObject.id)))


def _keys_on_disk(app) -> set[str]:
    root = get_storage().root
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def test_a_real_png_is_stored_and_registered(app, db):
    data = image_bytes("PNG", (120, 80))
    obj = store_upload(data, "shirt.png", purpose="products", owner_id=7, merchant_id=3)

    assert obj.id is not None
    assert (obj.content_type, obj.width, obj.height) == ("image/png", 120, 80)
    assert obj.size == len(data) and obj.sha256 == hashlib.sha256(data).hexdigest()
    assert obj.filename == "shirt.png" and obj.purpose == "products"
    assert (obj.owner_id, obj.merchant_id, obj.is_private) == (7, 3, False)
    assert obj.key.startswith("public/products/") and obj.key.endswith(".png")

    db.session.expire_all()
    row = db.session.scalar(select(StoredObject).where(StoredObject.key == obj.key))
    assert row is not None and row.content_type == "image/png" and (row.width, row.height) == (120, 80)
    assert get_storage().read(obj.key) == data


@pytest.mark.parametrize(
    ("fmt", "content_type", "ext"),
    [("JPEG", "image/jpeg", "jpg"), ("GIF", "image/gif", "gif"), ("WEBP", "image/webp", "webp")],
)
def test_other_image_formats_get_their_real_type_whatever_the_name(app, db, fmt, content_type, ext):
    obj = store_upload(image_bytes(fmt), "photo.png", purpose="products")
    assert obj.content_type == content_type and obj.key.endswith(f".{ext}")
    assert (obj.width, obj.height) == (64, 48)


def test_private_uploads_go_under_the_private_area(app, db):
    obj = store_upload(image_bytes(), "licence.png", purpose="licence", private=True, owner_id=1)
    assert obj.is_private and obj.key.startswith("private/licence/")


def _rejected(app, db, data: bytes, filename: str = "upload.png", **kw) -> UploadRejected:
    before_rows, before_files = _count(db), _keys_on_disk(app)
    with pytest.raises(UploadRejected) as excinfo:
        store_upload(data, filename, purpose="products", **kw)
    # Nothing registered, nothing written.
    assert _count(db) == before_rows
    assert _keys_on_disk(app) == before_files
    return excinfo.value


def test_a_text_file_renamed_png_is_rejected(app, db):
    error = _rejected(app, db, b"just some text, not an image at all\n" * 10, "notes.png")
    assert "not a valid image" in error.message


def test_html_pretending_to_be_an_image_is_rejected(app, db):
    _rejected(app, db, b"<html><script>alert(1)</script></html>", "x.gif")


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "WEBP"])
@pytest.mark.parametrize("keep", [0.5, 0.95])
def test_a_truncated_image_is_rejected(app, db, fmt, keep):
    data = image_bytes(fmt, (96, 96))
    _rejected(app, db, data[: int(len(data) * keep)], f"cut.{fmt.lower()}")


def test_a_png_with_corrupted_data_is_rejected(app, db):
    data = bytearray(image_bytes("PNG", (96, 96)))
    middle = len(data) // 2
    data[middle : middle + 16] = bytes(b ^ 0xFF for b in data[middle : middle + 16])
    _rejected(app, db, bytes(data))


def test_only_a_header_is_rejected(app, db):
    _rejected(app, db, image_bytes("PNG")[:40])


def test_an_empty_file_is_rejected(app, db):
    assert "empty" in _rejected(app, db, b"").message


def test_an_oversize_file_is_rejected(app, db):
    data = image_bytes("PNG", (64, 64))
    error = _rejected(app, db, data, max_bytes=len(data) - 1)
    assert "larger than" in error.message
    assert store_upload(data, "fits.png", purpose="products", max_bytes=len(data)).size == len(data)


def test_the_configured_limit_applies_without_max_bytes(app, db, monkeypatch):
    data = image_bytes("PNG")
    monkeypatch.setitem(app.config, "UPLOAD_MAX_BYTES", len(data) - 1)
    _rejected(app, db, data)


def test_too_many_pixels_are_rejected_before_decoding(app, db):
    buf = io.BytesIO()
    Image.new("1", (8000, 6000)).save(buf, "PNG")  # 48 Mpx, a few KB compressed
    assert "too large" in _rejected(app, db, buf.getvalue()).message


def test_other_image_formats_are_rejected(app, db):
    buf = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buf, "BMP")
    assert "JPEG, PNG, WebP or GIF" in _rejected(app, db, buf.getvalue(), "pic.bmp").message


def test_pdf_is_accepted_only_where_allowed(app, db):
    error = _rejected(app, db, PDF_BYTES, "licence.pdf")
    assert "PDF" not in error.message  # the list of allowed types does not offer PDF here

    obj = store_upload(PDF_BYTES, "licence.pdf", purpose="licence", allow_pdf=True, private=True)
    assert (obj.content_type, obj.width, obj.height) == ("application/pdf", None, None)
    assert obj.key.endswith(".pdf") and get_storage().read(obj.key) == PDF_BYTES


def test_allow_pdf_still_rejects_non_pdf_non_images(app, db):
    error = _rejected(app, db, b"PK\x03\x04 a zip file", "licence.pdf", allow_pdf=True)
    assert "PDF" in error.message
