"""Helpers of the merchant-centre tests: clients logged in to an area, staff rows, images, page errors."""

from __future__ import annotations

import html
import io
import re
from dataclasses import dataclass

from PIL import Image

from mall.identity.models import User
from mall.merchants.models import Merchant, MerchantMembership, StaffMember
from mall.tenancy import tenant
from tests.conftest import login


@dataclass
class Store:
    merchant: Merchant
    owner: User


def english(client):
    """Every request of ``client`` asks for English, so assertions read the msgids."""
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def add_staff_member(db, merchant: Merchant, user: User, role_code: str | None = None, role_id: int | None = None):
    db.session.add(MerchantMembership(merchant_id=merchant.id, user_id=user.id))
    with tenant(merchant.id):
        db.session.add(StaffMember(user_id=user.id, role_code=role_code, role_id=role_id))
    db.session.flush()


def area_client(app, user: User, area: str):
    """A new browser (its own cookies), in English, logged in to ``area`` as ``user``."""
    client = english(app.test_client())
    response = login(client, user.username, area=area)
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


def png(width: int = 240, height: int = 240, color: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, format="PNG")
    return buffer.getvalue()


def field_errors(page: str) -> list[str]:
    """The field error messages shown on a page, unescaped."""
    return [html.unescape(m) for m in re.findall(r'<p class="error" role="alert">([^<]+)</p>', page)]
