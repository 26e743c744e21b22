"""Fixtures of the merchant-centre tests: stores with their owner."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from mall.identity.models import User
from mall.merchants.models import MerchantMembership
from tests.merchant.helpers import Store


@pytest.fixture()
def make_store(db, make_merchant):
    """Factory: a store (schema provisioned, rolled back with the test) and its owner."""

    def make_store(name: str | None = None, *, slug: str | None = None) -> Store:
        merchant = make_merchant(name, slug=slug)
        owner_id = db.session.scalar(
            select(MerchantMembership.user_id).where(MerchantMembership.merchant_id == merchant.id)
        )
        return Store(merchant, db.session.get(User, owner_id))

    return make_store


@pytest.fixture()
def store(make_store) -> Store:
    return make_store("Tea House", slug="tea-house")
