"""What the sitemaps list: visible products (paged, in id order, with their last change), enabled
categories (whose ancestors are enabled too), enabled brands, the mall's lists and open stores."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from mall.catalog.models import Brand, Category, PublicProduct
from mall.extensions import db
from mall.merchants.models import Merchant

PAGE_SIZE = 5000  # the sitemap protocol allows 50,000; smaller files are fetched and parsed faster
LIST_ENDPOINTS = (
    "consumer.home",
    "consumer.brands",
    "consumer.new_arrivals",
    "consumer.ranking",
    "consumer.offers",
)


@dataclass(frozen=True)
class SitemapPage:
    number: int
    lastmod: datetime | None


def product_pages(size: int = PAGE_SIZE) -> list[SitemapPage]:
    """One entry per product sitemap, with the latest change among its products."""
    numbered = (
        select(
            ((func.row_number().over(order_by=PublicProduct.id) - 1) // size + 1).label("page"),
            PublicProduct.updated_at,
        )
        .where(PublicProduct.is_visible.is_(True))
        .subquery()
    )
    rows = db.session.execute(
        select(numbered.c.page, func.max(numbered.c.updated_at)).group_by(numbered.c.page).order_by(numbered.c.page)
    ).all()
    return [SitemapPage(int(page), lastmod) for page, lastmod in rows]


def product_page(number: int, size: int = PAGE_SIZE) -> list:
    """``(id, slug, updated_at)`` of the visible products of sitemap page ``number`` (from 1)."""
    if number < 1:
        return []
    return list(
        db.session.execute(
            select(PublicProduct.id, PublicProduct.slug, PublicProduct.updated_at)
            .where(PublicProduct.is_visible.is_(True))
            .order_by(PublicProduct.id)
            .limit(size)
            .offset((number - 1) * size)
        )
    )


def category_slugs() -> list[str]:
    """Slugs of enabled categories none of whose ancestors is disabled, in tree order."""
    rows = db.session.execute(select(Category.id, Category.slug, Category.path, Category.is_enabled)).all()
    disabled = {row.id for row in rows if not row.is_enabled}
    visible = [row for row in rows if not disabled.intersection(int(p) for p in row.path.strip("/").split("/") if p)]
    return [row.slug for row in sorted(visible, key=lambda row: row.path)]


def brand_slugs() -> list[str]:
    return list(db.session.scalars(select(Brand.slug).where(Brand.is_enabled.is_(True)).order_by(Brand.slug)))


def store_entries() -> list[tuple[str, datetime | None]]:
    """Open stores with the last change of their visible products."""
    rows = db.session.execute(
        select(Merchant.slug, func.max(PublicProduct.updated_at))
        .outerjoin(PublicProduct, (PublicProduct.merchant_id == Merchant.id) & PublicProduct.is_visible.is_(True))
        .where(Merchant.status == "active")
        .group_by(Merchant.id)
        .order_by(Merchant.id)
    ).all()
    return [(slug, lastmod) for slug, lastmod in rows]
