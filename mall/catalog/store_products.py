"""Products on a store's own pages: the product grids of its decorated home, its category
navigation, its category pages and its search.

Products come from the public catalog, always restricted to the one store (an id of another
store's product or category never shows here); the store's own categories come from its schema,
so the caller binds the store first (``bind_store``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import url_for
from sqlalchemy import BigInteger, cast, func, select
from sqlalchemy.dialects.postgresql import ARRAY, array

from mall.catalog.browse import ListingQuery, Page, list_products, top_products
from mall.catalog.models import PublicProduct, StoreCategory
from mall.catalog.text import words
from mall.errors import NotFound
from mall.extensions import db
from mall.i18n import _

GRID_DEFAULT = 8
GRID_MAX = 24
BEST_SELLERS = 5


@dataclass
class StoreCategoryLink:
    id: int
    name: str
    url: str
    children: list[StoreCategoryLink] = field(default_factory=list)


def _visible_categories() -> list[StoreCategory]:
    """The bound store's visible categories whose parent (if any) is visible too."""
    rows = list(
        db.session.scalars(
            select(StoreCategory)
            .where(StoreCategory.is_visible.is_(True))
            .order_by(StoreCategory.position, StoreCategory.id)
        )
    )
    visible_ids = {row.id for row in rows}
    return [row for row in rows if row.parent_id is None or row.parent_id in visible_ids]


def store_category_nav(slug: str) -> list[StoreCategoryLink]:
    """The bound store's navigation: visible top categories with their visible sub-categories."""
    rows = _visible_categories()

    def link(row: StoreCategory) -> StoreCategoryLink:
        return StoreCategoryLink(
            row.id, row.name, url_for("consumer.store_category", slug=slug, store_category_id=row.id)
        )

    tops = {row.id: link(row) for row in rows if row.parent_id is None}
    for row in rows:
        if row.parent_id in tops:
            tops[row.parent_id].children.append(link(row))
    return list(tops.values())


def visible_store_category(store_category_id: int) -> StoreCategory:
    """One visible category of the bound store (another store's id is simply not found here)."""
    category = db.session.scalar(select(StoreCategory).where(StoreCategory.id == store_category_id))
    if category is None or not category.is_visible:
        raise NotFound(_("This category does not exist in this store."))
    if category.parent_id is not None:
        parent = db.session.scalar(select(StoreCategory).where(StoreCategory.id == category.parent_id))
        if parent is None or not parent.is_visible:
            raise NotFound(_("This category does not exist in this store."))
    return category


def category_ids_with_children(category: StoreCategory) -> list[int]:
    children = db.session.scalars(
        select(StoreCategory.id).where(StoreCategory.parent_id == category.id, StoreCategory.is_visible.is_(True))
    ).all()
    return [category.id, *children]


def in_store(merchant_id: int) -> list:
    return [PublicProduct.merchant_id == merchant_id]


def in_store_categories(merchant_id: int, ids: list[int]) -> list:
    return [*in_store(merchant_id), PublicProduct.store_category_ids.op("&&")(cast(array(ids), ARRAY(BigInteger)))]


def _grid_limit(config: dict) -> int:
    try:
        return max(1, min(int(config.get("limit") or GRID_DEFAULT), GRID_MAX))
    except (TypeError, ValueError):
        return GRID_DEFAULT


def grid_products(merchant_id: int, config: dict) -> list[PublicProduct]:
    """The products of one product-grid module of the bound store: newest, best-sellers, a store
    category (with its sub-categories) or hand-picked ids in the merchant's order."""
    source, limit = config.get("source"), _grid_limit(config)
    if source == "best_sellers":
        return top_products(in_store(merchant_id), sort="sales", limit=limit)
    if source == "category":
        try:
            category = visible_store_category(int(config.get("category_id") or 0))
        except (NotFound, TypeError, ValueError):
            return []
        return top_products(
            in_store_categories(merchant_id, category_ids_with_children(category)), sort="sales", limit=limit
        )
    if source == "picked":
        ids = [int(i) for i in (config.get("product_ids") or []) if str(i).isdigit()]
        if not ids:
            return []
        rows = {p.id: p for p in top_products([*in_store(merchant_id), PublicProduct.id.in_(ids)], limit=len(ids))}
        return [rows[i] for i in ids if i in rows][:limit]
    return top_products(in_store(merchant_id), sort="newest", limit=limit)


def store_best_sellers(merchant_id: int, limit: int = BEST_SELLERS) -> list[PublicProduct]:
    return top_products(in_store(merchant_id), sort="sales", limit=limit)


@dataclass
class StoreSearch:
    text: str
    page: Page
    relaxed: bool  # no product had every word: products with any of them are shown


def _tsquery(terms: list[str], operator: str):
    return func.to_tsquery("simple", f" {operator} ".join(f"{term}:*" for term in terms))


def search_store(merchant_id: int, text: str, query: ListingQuery) -> StoreSearch:
    """The store's visible products matching every word of ``text`` (Chinese segmented like the index,
    other words by prefix); with no such product, those matching any word. Empty text lists all."""
    text = (text or "").strip()[:100]
    terms = list(dict.fromkeys(words(text, for_search=False)))[:10]
    if not terms:
        return StoreSearch(text, list_products(in_store(merchant_id), query), False)
    page = list_products([*in_store(merchant_id), PublicProduct.search_vector.op("@@")(_tsquery(terms, "&"))], query)
    if page.total or len(terms) == 1:
        return StoreSearch(text, page, False)
    page = list_products([*in_store(merchant_id), PublicProduct.search_vector.op("@@")(_tsquery(terms, "|"))], query)
    return StoreSearch(text, page, True)
