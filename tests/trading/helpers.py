"""Shared set-up for the trading tests: two stores with products, a shopper with an address."""

from __future__ import annotations

from sqlalchemy import select

from mall.catalog.models import Sku
from mall.extensions import db
from mall.merchants.models import StoreProfile
from mall.tenancy import tenant
from mall.trading import addresses as book
from mall.trading import cart as carts
from tests.catalog import browse_helpers as h

HOME = {
    "recipient": "Li Lei",
    "phone": "13800138000",
    "province": "Shanghai",
    "city": "Shanghai",
    "district": "Huangpu",
    "detail": "1 Nanjing East Road",
}


def store_profile(merchant, **values) -> StoreProfile:
    with tenant(merchant.id):
        profile = db.session.scalar(select(StoreProfile)) or StoreProfile()
        for name, value in values.items():
            setattr(profile, name, value)
        db.session.add(profile)
        db.session.flush()
        return profile


def sku_id(merchant, product_row) -> int:
    with tenant(merchant.id):
        return db.session.scalars(select(Sku.id).where(Sku.product_id == product_row.id)).first()


def stock(merchant, product_row) -> int:
    with tenant(merchant.id):
        return db.session.scalar(select(Sku.stock).where(Sku.product_id == product_row.id))


class Mall:
    """Tea House (express ¥10, free from ¥100) and Pottery (express free, or pick-up)."""

    def __init__(self, make_merchant):
        leaf = h.category("Tea", "tea")
        self.tea_house = make_merchant("Tea House", slug="tea-house")
        self.pottery = make_merchant("Pottery", slug="pottery")
        store_profile(self.tea_house, shipping_fee_cents=1000, free_shipping_over_cents=10000)
        store_profile(self.pottery, offers_pickup=True, pickup_address="8 Clay Lane")
        self.green = h.product(self.tea_house, leaf, "Green tea", slug="green-tea", price=3900, stock=10)
        self.black = h.product(self.tea_house, leaf, "Black tea", slug="black-tea", price=4500, stock=2)
        self.cup = h.product(self.pottery, leaf, "Tea cup", slug="tea-cup", price=1200, stock=50)

    def store_of(self, product_row):
        return self.tea_house if product_row.merchant_id == self.tea_house.id else self.pottery

    def fill_cart(self, user_id: int, *items):
        """``items``: (product row, quantity) pairs put in the shopper's cart."""
        cart = carts.get_or_create_cart(user_id=user_id)
        for row, quantity in items:
            carts.add_to_cart(cart, row.id, sku_id(self.store_of(row), row), quantity)
        return cart


def shopper(make_user, username: str | None = None, *, address: bool = True):
    user = make_user(username) if username else make_user()
    if address:
        book.add_address(user.id, HOME)
    return user
