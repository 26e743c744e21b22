"""Factories for the browsing tests: categories, brands and published products of real stores.

Products are created in the store's schema (approved, on shelf) and published with the real
``sync_public_product``, exactly as the review gate does.
"""

from __future__ import annotations

import io
import itertools
from datetime import UTC, datetime, timedelta

from PIL import Image

from mall.catalog.models import Brand, Category, Product, ProductImage, PublicProduct, Sku, StoreCategory
from mall.catalog.publishing import sync_public_product
from mall.extensions import db
from mall.storage.services import store_upload
from mall.tenancy import tenant

EN = {"Accept-Language": "en"}
_counter = itertools.count(1)


def category(name: str, slug: str | None = None, parent: Category | None = None, **kw) -> Category:
    row = Category(
        name=name,
        slug=slug or f"cat-{next(_counter)}",
        parent_id=parent.id if parent else None,
        depth=(parent.depth + 1) if parent else 0,
        path="/",
        **kw,
    )
    db.session.add(row)
    db.session.flush()
    row.path = f"{parent.path if parent else '/'}{row.id}/"
    db.session.flush()
    return row


def brand(name: str, slug: str | None = None, **kw) -> Brand:
    row = Brand(name=name, slug=slug or name.lower().replace(" ", "-"), **kw)
    db.session.add(row)
    db.session.flush()
    return row


def png(color=(200, 40, 60)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 40), color).save(buffer, "PNG")
    return buffer.getvalue()


def image(merchant_id: int | None = None, purpose: str = "product-image"):
    return store_upload(png(), "picture.png", purpose=purpose, merchant_id=merchant_id)


def product(
    merchant,
    cat: Category,
    title: str = "Product",
    *,
    price: int = 10000,
    market: int | None = None,
    stock: int = 5,
    sales: int = 0,
    brand_row: Brand | None = None,
    skus: list[Sku] | None = None,
    specs: list | None = None,
    store_category_ids: list[int] | None = None,
    published_days_ago: int = 0,
    slug: str | None = None,
    images: int = 0,
    **kw,
) -> PublicProduct:
    """An approved, on-shelf product of ``merchant`` published to the public catalog."""
    with tenant(merchant.id):
        row = Product(
            title=title,
            slug=slug or f"product-{next(_counter)}",
            category_id=cat.id,
            brand_id=brand_row.id if brand_row else None,
            status="approved",
            on_shelf=True,
            approved_at=datetime.now(UTC) - timedelta(days=published_days_ago),
            sales_count=sales,
            specs=specs or [],
            store_category_ids=store_category_ids or [],
            skus=skus or [Sku(spec_values={}, spec_key="", price_cents=price, market_price_cents=market, stock=stock)],
            **kw,
        )
        db.session.add(row)
        db.session.flush()
        for position in range(images):
            db.session.add(ProductImage(product_id=row.id, file_id=image(merchant.id).id, position=position))
        if images:
            db.session.flush()
            db.session.refresh(row)
        return sync_public_product(row)


def store_category(merchant, name: str, parent: StoreCategory | None = None, **kw) -> StoreCategory:
    with tenant(merchant.id):
        row = StoreCategory(name=name, parent_id=parent.id if parent else None, **kw)
        db.session.add(row)
        db.session.flush()
        return row


def live_product(merchant, product_id: int) -> Product:
    """The store's product (for edits followed by ``sync_public_product``), inside ``tenant``."""
    return db.session.get(Product, product_id)
