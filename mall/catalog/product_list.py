"""The merchant centre's product list: status tabs with their counts, search by title or SKU code,
pages of rows with price range, stock, pending changes and cover image (a few batched queries)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import and_, exists, func, or_, select

from mall.catalog import images as product_images
from mall.catalog.models import Product, ProductRevision, Sku
from mall.catalog.paging import Page
from mall.catalog.products import OPEN_REVISION
from mall.extensions import db
from mall.i18n import L_

PER_PAGE = 20
TABS = {
    "all": L_("All"),
    "draft": L_("Drafts"),
    "review": L_("In review"),
    "live": L_("On sale"),
    "off": L_("Off shelf"),
    "rejected": L_("Rejected"),
    "archived": L_("Archived"),
}


@dataclass
class ProductRow:
    product: Product
    price_min_cents: int | None
    price_max_cents: int | None
    stock_total: int
    revision_status: str | None
    cover_url: str | None


def _submitted_revision():
    return exists().where(ProductRevision.product_id == Product.id, ProductRevision.status == "submitted")


def _tab_condition(tab: str):
    approved = Product.status == "approved"
    return {
        "all": Product.status != "archived",
        "draft": Product.status == "draft",
        "review": or_(Product.status == "submitted", and_(approved, _submitted_revision())),
        "live": and_(approved, Product.on_shelf.is_(True)),
        "off": and_(approved, Product.on_shelf.is_(False)),
        "rejected": Product.status.in_(("rejected", "taken_down")),
        "archived": Product.status == "archived",
    }[tab if tab in TABS else "all"]


def tab_counts() -> dict[str, int]:
    """How many products each tab of the list shows (one query)."""
    row = db.session.execute(select(*(func.count().filter(_tab_condition(tab)) for tab in TABS))).one()
    return dict(zip(TABS, row, strict=True))


def list_products(tab: str = "all", q: str = "", page: int = 1, per_page: int = PER_PAGE) -> Page:
    """One page of the store's products in a tab, newest first; ``q`` matches titles and SKU codes."""
    stmt = select(Product).where(_tab_condition(tab))
    q = (q or "").strip()
    if q:
        code_match = exists().where(Sku.product_id == Product.id, Sku.code.icontains(q, autoescape=True))
        stmt = stmt.where(or_(Product.title.icontains(q, autoescape=True), code_match))
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    page = max(1, page)
    products = db.session.scalars(
        stmt.order_by(Product.updated_at.desc(), Product.id.desc()).limit(per_page).offset((page - 1) * per_page)
    ).all()
    return Page(_rows(products), page, per_page, total)


def _rows(products: Sequence[Product]) -> list[ProductRow]:
    ids = [p.id for p in products]
    if not ids:
        return []
    stats = {
        product_id: (low, high, total)
        for product_id, low, high, total in db.session.execute(
            select(Sku.product_id, func.min(Sku.price_cents), func.max(Sku.price_cents), func.sum(Sku.stock))
            .where(Sku.product_id.in_(ids), Sku.is_active.is_(True))
            .group_by(Sku.product_id)
        )
    }
    revisions = dict(
        db.session.execute(
            select(ProductRevision.product_id, ProductRevision.status).where(
                ProductRevision.product_id.in_(ids), ProductRevision.status.in_(OPEN_REVISION)
            )
        ).all()
    )
    covers = product_images.cover_urls(products)
    return [
        ProductRow(
            product=p,
            price_min_cents=stats.get(p.id, (None, None, 0))[0],
            price_max_cents=stats.get(p.id, (None, None, 0))[1],
            stock_total=int(stats.get(p.id, (None, None, 0))[2] or 0),
            revision_status=revisions.get(p.id),
            cover_url=covers.get(p.id),
        )
        for p in products
    ]
