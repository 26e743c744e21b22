"""Decoration fixtures: a store with its logged-in owner, and real media files (images, MP4, WebM)."""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass

import pytest
from PIL import Image

from mall.decoration import services
from mall.decoration.modules import Upload
from mall.tenancy import tenant
from tests.conftest import csrf_token, login

EN = {"Accept-Language": "en"}


@pytest.fixture(autouse=True)
def _english(english):
    """Every decoration test reads English messages (the shared ``english`` fixture)."""
    yield


def png_bytes(width: int = 300, height: int = 100, color=(200, 40, 60)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, "PNG")
    return buffer.getvalue()


def mp4_bytes() -> bytes:
    """The start of a real MP4: an ``ftyp`` box (brand isom) followed by an empty ``mdat`` box."""
    ftyp = b"ftyp" + b"isom" + struct.pack(">I", 512) + b"isomiso2avc1mp41"
    return struct.pack(">I", len(ftyp) + 4) + ftyp + struct.pack(">I", 8) + b"mdat"


def webm_bytes() -> bytes:
    """An EBML header whose DocType is ``webm`` (as every WebM file starts)."""
    doctype = b"\x42\x82\x84webm"
    body = b"\x42\x86\x81\x01" + b"\x42\xf7\x81\x01" + doctype
    return b"\x1a\x45\xdf\xa3" + bytes([0x80 | len(body)]) + body + b"\x18\x53\x80\x67\x01\x00\x00\x00\x00\x00\x00\x00"


@dataclass
class Store:
    merchant: object
    owner: object
    client: object

    def token(self) -> str:
        return csrf_token(self.client, "/merchant/decoration")

    def post(self, path: str, data: dict | None = None, **kw):
        return self.client.post(path, data={**(data or {}), "csrf_token": self.token()}, headers=EN, **kw)

    def page(self, path: str | None = None) -> str:
        response = self.client.get(path or f"/shop/{self.merchant.slug}/", headers=EN)
        assert response.status_code == 200, response.status_code
        return response.get_data(as_text=True)


@pytest.fixture()
def make_store(app, db, make_user, make_merchant):
    """Factory: a store whose owner is logged in to the merchant centre on a client of its own."""

    def make_store(name: str | None = None, slug: str | None = None) -> Store:
        owner = make_user()
        merchant = make_merchant(name, slug=slug, owner=owner)
        client = app.test_client()
        assert login(client, owner.username, area="merchant").status_code == 302
        return Store(merchant, owner, client)

    return make_store


@pytest.fixture()
def store(make_store) -> Store:
    return make_store("Decor Store", "decor-store")


def image_upload(name: str = "banner.png", **kw) -> Upload:
    return Upload(png_bytes(**kw), name)


def add_modules(merchant_id: int, actor, modules: list[tuple[str, dict, dict]], slot: str | None = None) -> list[dict]:
    """Add ``(type, form, files)`` modules to a store's draft through the service."""
    with tenant(merchant_id):
        return [services.add_module(actor, kind, form, files, slot=slot) for kind, form, files in modules]


def every_module(prefix: str = "") -> list[tuple[str, dict, dict]]:
    """One module of every type, with recognisable text (``prefix`` tells stores apart)."""
    return [
        (
            "banner",
            {"slides-new-link": "/shop/elsewhere/", "slides-new-alt": f"{prefix}Banner alt", "aspect": "standard"},
            {"slides-new-image": image_upload()},
        ),
        ("product_grid", {"title": f"{prefix}Our picks", "source": "newest", "limit": "8"}, {}),
        ("coupon_strip", {"title": f"{prefix}Coupons today"}, {}),
        ("rich_text", {"html": f"<h2>{prefix}Story</h2><p>{prefix}Made by hand.</p>"}, {}),
        (
            "image",
            {"alt": f"{prefix}Workshop", "link": "https://example.com/about", "caption": f"{prefix}Our workshop"},
            {"image": image_upload("workshop.png")},
        ),
        ("video", {"title": f"{prefix}How we make it"}, {"video": Upload(mp4_bytes(), "film.mp4")}),
        ("notice", {"text": f"{prefix}Closed on Sunday", "style": "promo"}, {}),
    ]
