"""Keeping the public catalog in step with the stores' products.

``sync_public_product`` is the only writer of ``public_products``. Call it (inside the request's or
job's transaction, with the product's store bound) after anything that changes what the mall
shows: approval of a product or a revision, take-down, shelf on/off, price or stock changes,
sales. The store's status counts too: ``resync_store`` after suspension, reinstatement or closure.
A product that was never approved has no public row; one that was and is no longer sellable keeps
its row with ``is_visible`` false, so favourites and history still name it.

Every change sends ``public_product_changed`` (product id, merchant id) after the write, for caches.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from blinker import Namespace
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import selectinload

from mall.catalog.models import Brand, Category, CategoryAttribute, Product, PublicProduct, Sku, Tag
from mall.catalog.search_terms import TERM_KINDS, apply_term_changes, product_terms, rebuild_search_terms, terms_of_row
from mall.catalog.text import index_text
from mall.extensions import db
from mall.merchants.models import Merchant
from mall.storage.models import StoredObject
from mall.tenancy.binding import require_merchant_id, tenant
from mall.tenancy.models import TenantSchema

signals = Namespace()
public_product_changed = signals.signal("public-product-changed")


def is_sellable(product: Product, merchant: Merchant) -> bool:
    """Approved, on shelf, in an open store, with at least one active SKU."""
    return (
        product.status == "approved"
        and product.on_shelf
        and merchant.is_open
        and any(sku.is_active for sku in product.skus)
    )


def _attribute_values(product: Product) -> dict[str, object]:
    """Attribute id → value on the product becomes attribute name → value on the public row."""
    ids = [int(key) for key in (product.attributes or {}) if str(key).isdigit()]
    if not ids:
        return {}
    names = dict(
        db.session.execute(
            select(CategoryAttribute.id, CategoryAttribute.name).where(CategoryAttribute.id.in_(ids))
        ).all()
    )
    return {
        names[int(k)]: v
        for k, v in product.attributes.items()
        if str(k).isdigit() and int(k) in names and v not in (None, "", [])
    }


def _main_image_key(product: Product) -> str | None:
    if not product.images:
        return None
    return db.session.scalar(select(StoredObject.key).where(StoredObject.id == product.images[0].file_id))


def search_text_of(
    product: Product, merchant: Merchant, category: Category, brand: Brand | None, attributes: dict
) -> str:
    """Title, subtitle, brand, the category and its ancestors, attribute and spec values, tags and the
    store. The title comes twice: its words weigh more in the ranking than a store's or a tag's."""
    ancestors = db.session.scalars(select(Category.name).where(Category.id.in_(category.ancestor_ids))).all()
    tags = (
        db.session.scalars(select(Tag.name).where(Tag.id.in_(product.tag_ids or []))).all() if product.tag_ids else []
    )
    values = []
    for value in attributes.values():
        values.extend(value if isinstance(value, list) else [value])
    for spec in product.specs or []:
        if isinstance(spec, dict) and isinstance(spec.get("values"), list):
            values.extend(spec["values"])
    return index_text(
        product.title,
        product.title,
        product.subtitle,
        brand.name if brand else None,
        *ancestors,
        *(str(v) for v in values),
        *tags,
        merchant.name,
    )


def sync_public_product(product: Product) -> PublicProduct | None:
    """Write the public copy of ``product`` (of the bound store) from its approved content."""
    merchant_id = require_merchant_id()
    merchant = db.session.get(Merchant, merchant_id)
    row = db.session.get(PublicProduct, product.id)
    terms_before = terms_of_row(row)
    if product.approved_at is None:
        if row is not None:  # never approved (e.g. its first approval was revoked): no public trace
            apply_term_changes(terms_before, {})
            db.session.delete(row)
            db.session.flush()
            public_product_changed.send(product.id, merchant_id=merchant_id)
        return None
    if row is not None and product.status != "approved":
        # Taken down, rejected after a take-down, archived...: its columns may now hold edits nobody
        # reviewed, so the public row keeps its last reviewed content and only stops selling.
        row.is_visible = False
        row.stock_total = sum(s.stock for s in product.skus if s.is_active)
        row.sales_count = product.sales_count
        row.updated_at = datetime.now(UTC)
        db.session.flush()
        apply_term_changes(terms_before, terms_of_row(row))
        public_product_changed.send(product.id, merchant_id=merchant_id)
        return row
    active = [sku for sku in product.skus if sku.is_active]
    category = db.session.get(Category, product.category_id)
    brand = db.session.get(Brand, product.brand_id) if product.brand_id else None
    attributes = _attribute_values(product)
    cheapest = min(active, key=lambda sku: sku.price_cents) if active else None
    values = {
        "merchant_id": merchant_id,
        "slug": product.slug,
        "title": product.title,
        "subtitle": product.subtitle,
        "category_id": product.category_id,
        "category_path": category.path if category else "/",
        "brand_id": product.brand_id,
        "tag_ids": list(product.tag_ids or []),
        "store_category_ids": list(product.store_category_ids or []),
        "attributes": attributes,
        "main_image_key": _main_image_key(product),
        "price_min_cents": min((s.price_cents for s in active), default=0),
        "price_max_cents": max((s.price_cents for s in active), default=0),
        "market_price_cents": cheapest.market_price_cents if cheapest else None,
        "is_on_offer": any(s.market_price_cents is not None and s.price_cents < s.market_price_cents for s in active),
        "stock_total": sum(s.stock for s in active),
        "sales_count": product.sales_count,
        "is_visible": is_sellable(product, merchant),
        "search_text": search_text_of(product, merchant, category, brand, attributes) if category else "",
        "updated_at": datetime.now(UTC),
    }
    if row is None:
        row = PublicProduct(id=product.id, published_at=product.approved_at, **values)
        db.session.add(row)
    else:
        for key, value in values.items():
            setattr(row, key, value)
    db.session.flush()
    terms_after = product_terms(
        title=row.title,
        brand_id=row.brand_id,
        category_path=row.category_path,
        merchant_id=merchant_id,
        visible=row.is_visible,
    )
    apply_term_changes(terms_before, terms_after)
    public_product_changed.send(product.id, merchant_id=merchant_id)
    return row


def sync_stock_totals(sku_ids: list[int]) -> None:
    """After stock changes only (sales, cancellations, counts) of these SKUs of the bound store: the
    public rows' stock totals, one UPDATE per product (the rest of the public copy is unchanged)."""
    merchant_id = require_merchant_id()
    totals = db.session.execute(
        select(Sku.product_id, func.coalesce(func.sum(Sku.stock).filter(Sku.is_active.is_(True)), 0))
        .where(Sku.product_id.in_(select(Sku.product_id).where(Sku.id.in_(sku_ids))))
        .group_by(Sku.product_id)
    ).all()
    now = datetime.now(UTC)
    for product_id, total in totals:
        changed = db.session.execute(
            update(PublicProduct)
            .where(PublicProduct.id == product_id, PublicProduct.merchant_id == merchant_id)
            .values(stock_total=total, updated_at=now)
            .execution_options(synchronize_session="fetch")
        ).rowcount
        if changed:
            public_product_changed.send(product_id, merchant_id=merchant_id)


def sync_stock(sku_ids: list[int]) -> None:
    """After changes of these SKUs (of the bound store) that touch more than stock, e.g. prices:
    refresh their products' whole public rows."""
    product_ids = set(db.session.scalars(select(Sku.product_id).where(Sku.id.in_(sku_ids))).all())
    for product in db.session.scalars(select(Product).where(Product.id.in_(product_ids))):
        sync_public_product(product)


def resync_store(merchant_id: int) -> int:
    """After the store's status changed: hide all its products, or show again those that sell.
    Runs without a tenant binding of its own; returns how many public rows changed."""
    from mall.tenancy import tenant

    merchant = db.session.get(Merchant, merchant_id)
    if not merchant.is_open:
        shown = db.session.scalars(
            select(PublicProduct).where(PublicProduct.merchant_id == merchant_id, PublicProduct.is_visible.is_(True))
        ).all()
        for row in shown:  # their suggestion terms leave with them
            apply_term_changes(terms_of_row(row), {})
        result = db.session.execute(
            update(PublicProduct)
            .where(PublicProduct.merchant_id == merchant_id, PublicProduct.is_visible.is_(True))
            .values(is_visible=False)
        )
        public_product_changed.send(None, merchant_id=merchant_id)
        return result.rowcount
    changed = 0
    with tenant(merchant_id):
        ids = db.session.scalars(select(PublicProduct.id).where(PublicProduct.merchant_id == merchant_id)).all()
        for product in db.session.scalars(select(Product).where(Product.id.in_(ids))):
            sync_public_product(product)
            changed += 1
    return changed


def remove_public_product(product_id: int) -> None:
    """The product is deleted from its store: its public row (and favourites, history) go too."""
    apply_term_changes(terms_of_row(db.session.get(PublicProduct, product_id)), {})
    db.session.execute(delete(PublicProduct).where(PublicProduct.id == product_id))
    public_product_changed.send(product_id, merchant_id=require_merchant_id())


def resync_public_products(merchant_id: int) -> int:
    """Rewrite the public rows of one store from its products (e.g. after the store was renamed:
    its name is part of every row's search text). Binds the store itself; returns the count."""
    with tenant(merchant_id):
        ids = db.session.scalars(select(PublicProduct.id).where(PublicProduct.merchant_id == merchant_id)).all()
        products = db.session.scalars(
            select(Product)
            .where(Product.id.in_(ids))
            .options(selectinload(Product.skus), selectinload(Product.images))
            .order_by(Product.id)
        ).all()
        for product in products:
            sync_public_product(product)
    return len(products)


def reindex_public_catalog(progress: Callable[[str], None] | None = None) -> int:
    """Rewrite every public row from its store's product (search text and vector included, with
    the names of brands, categories and stores as they are now), then recount the suggestion terms.
    Commits once per store, so a rerun after an interruption simply does the work again."""
    done = 0
    merchant_ids = db.session.scalars(select(PublicProduct.merchant_id).distinct().order_by(PublicProduct.merchant_id))
    for merchant_id in list(merchant_ids):
        schema = db.session.get(TenantSchema, merchant_id)
        if schema is None or schema.state != "active":
            if progress:
                progress(f"store {merchant_id}: schema not available, skipped")
            continue
        count = resync_public_products(merchant_id)
        done += count
        db.session.commit()
        db.session.expunge_all()  # a large catalog must not pile up in the identity map
        if progress:
            progress(f"store {merchant_id}: {count} products")
    terms = rebuild_search_terms(TERM_KINDS)
    db.session.commit()
    if progress:
        progress(f"{terms} search terms")
    return done
