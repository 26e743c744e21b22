"""Helpers of the inventory, stocktaking, restock and import/export tests: a leaf category, products
with SKUs made directly in a store's schema (stock given through an ``initial`` movement, so the
movement log sums to the stock from the start), and a store whose owner is logged in."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from mall.catalog.inventory import adjust_stock
from mall.catalog.models import Category, Product, Sku, StockMovement
from mall.catalog.publishing import sync_public_product
from mall.extensions import db
from mall.identity.models import User
from mall.merchants.models import Merchant, MerchantMembership
from mall.notifications.models import SiteMessage
from mall.tenancy import tenant
from tests.conftest import csrf_token
from tests.merchant.helpers import add_staff_member, area_client

_codes = itertools.count(1)


def leaf_category(slug: str = "tea") -> Category:
    category = db.session.scalar(select(Category).where(Category.slug == slug))
    if category is None:
        category = Category(name=slug.title(), slug=slug, path="/")
        db.session.add(category)
        db.session.flush()
        category.path = f"/{category.id}/"
        db.session.flush()
    return category


def make_product(
    merchant_id: int,
    skus: list[tuple[str, int, int]] | None = None,
    *,
    title: str = "Longjing tea",
    approved: bool = True,
    category: Category | None = None,
    codes: bool = False,
) -> Product:
    """A product of the store with SKUs ``(spec_key, price_cents, stock)``; approved ones are published."""
    category = category or leaf_category()
    skus = skus if skus is not None else [("", 5000, 10)]
    with tenant(merchant_id):
        product = Product(
            title=title,
            slug="longjing-tea",
            category_id=category.id,
            status="approved" if approved else "draft",
            on_shelf=approved,
            approved_at=datetime.now(UTC) if approved else None,
            specs=_axes(skus),
            skus=[
                Sku(
                    spec_key=key,
                    spec_values=dict(part.split(":", 1) for part in key.split("|")) if key else {},
                    price_cents=price,
                    stock=0,
                    position=position,
                    code=f"C{next(_codes):05d}" if codes else None,
                )
                for position, (key, price, _stock) in enumerate(skus)
            ],
        )
        db.session.add(product)
        db.session.flush()
        for sku, (_key, _price, stock) in zip(product.skus, skus, strict=True):
            if stock:
                adjust_stock(sku.id, stock, "initial")
        if approved:
            sync_public_product(product)
    return product


def _axes(skus) -> list[dict]:
    axes: dict[str, list[str]] = {}
    for key, _price, _stock in skus:
        for part in key.split("|") if key else []:
            name, value = part.split(":", 1)
            if value not in axes.setdefault(name, []):
                axes[name].append(value)
    return [{"name": n, "values": v} for n, v in axes.items()]


def stock_of(merchant_id: int, sku_id: int) -> int:
    with tenant(merchant_id):
        return db.session.scalar(select(Sku.stock).where(Sku.id == sku_id))


def movements_of(merchant_id: int, sku_id: int) -> list[tuple[str, int, int]]:
    """``(reason, delta, stock_after)`` of a SKU, oldest first."""
    with tenant(merchant_id):
        return [
            tuple(row)
            for row in db.session.execute(
                select(StockMovement.reason, StockMovement.delta, StockMovement.stock_after)
                .where(StockMovement.sku_id == sku_id)
                .order_by(StockMovement.id)
            )
        ]


def count_movements(merchant_id: int) -> int:
    with tenant(merchant_id):
        return db.session.scalar(select(func.count()).select_from(StockMovement))


def messages_to(user_id: int) -> list[SiteMessage]:
    return list(db.session.scalars(select(SiteMessage).where(SiteMessage.user_id == user_id).order_by(SiteMessage.id)))


def flashes(page: str) -> list[str]:
    import html

    return [html.unescape(m) for m in re.findall(r'<p class="flash flash-\w+" role="status">([^<]+)</p>', page)]


@dataclass
class Shop:
    merchant: Merchant
    owner: User
    client: object

    def token(self, path: str = "/merchant/inventory") -> str:
        return csrf_token(self.client, path)

    def post(self, path: str, data: dict | None = None, **kw):
        return self.client.post(path, data={**(data or {}), "csrf_token": self.token()}, **kw)

    def get(self, path: str, **kw):
        return self.client.get(path, **kw)


@pytest.fixture()
def make_shop(app, db, make_user, make_merchant):
    """Factory: a store whose owner is logged in to the merchant centre (in English)."""

    def make_shop(name: str | None = None, slug: str | None = None) -> Shop:
        owner = make_user()
        merchant = make_merchant(name, slug=slug, owner=owner)
        return Shop(merchant, owner, area_client(app, owner, "merchant"))

    return make_shop


@pytest.fixture()
def shop(make_shop) -> Shop:
    return make_shop("Tea House", "tea-house")


def add_staff(app, db, make_user, merchant: Merchant, role_code: str) -> tuple[User, object]:
    """A staff member of ``merchant`` with a built-in role, logged in on a client of their own."""
    user = make_user()
    add_staff_member(db, merchant, user, role_code=role_code)
    return user, area_client(app, user, "merchant")


def owner_id(merchant: Merchant) -> int:
    return db.session.scalar(select(MerchantMembership.user_id).where(MerchantMembership.merchant_id == merchant.id))
