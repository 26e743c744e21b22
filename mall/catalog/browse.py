"""Read services of the mall front: product lists and rankings, categories, brands, the home page.

Everything here reads the platform schema only — the public catalog (``public_products``) and the
taxonomy — never a store's schema, so one query serves products of every store. Only visible
products are listed (approved, on shelf, store open: ``PublicProduct.is_visible``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Select, func, or_, select

from mall.catalog.home import active_slides, home_blocks
from mall.catalog.models import Brand, Category, HomeBlock, PublicProduct
from mall.catalog.money import parse_price
from mall.catalog.paging import Page
from mall.decoration.validation import is_safe_link
from mall.errors import NotFound
from mall.extensions import db
from mall.i18n import L_, _
from mall.merchants.models import Merchant
from mall.storage.models import StoredObject

PER_PAGE = 40
RANKING_SIZE = 100
ZONE_PRODUCTS = 16  # two rows of eight
HOME_PRODUCTS = 10
SORTS = ("sales", "newest", "price_asc", "price_desc")

# The home page when the operator has configured nothing.
DEFAULT_HOME = ("banners", "hot_products", "stores", "brands", "category_zone", "new_arrivals", "offers")
BLOCK_TITLES = {
    "banners": L_("Featured"),
    "hot_products": L_("Hot products"),
    "stores": L_("Recommended stores"),
    "brands": L_("Hot brands"),
    "new_arrivals": L_("New arrivals"),
    "offers": L_("Special offers"),
}


# ---------------------------------------------------------------------------------------------
# Listings: filter, sort, page
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ListingQuery:
    """What a shopper chose on a listing page: sort, price range (cents), brands, page."""

    sort: str = "sales"
    price_min_cents: int | None = None
    price_max_cents: int | None = None
    brand_ids: tuple[int, ...] = ()
    page: int = 1
    per_page: int = PER_PAGE

    @classmethod
    def from_args(cls, args, *, default_sort: str = "sales", per_page: int = PER_PAGE) -> ListingQuery:
        """From the query string; unknown values fall back to the defaults."""
        sort = args.get("sort", default_sort)
        try:
            page = max(1, min(int(args.get("page", 1)), 10_000))
        except (TypeError, ValueError):
            page = 1
        brand_ids = tuple(sorted({int(v) for v in args.getlist("brand") if v.isdigit()}))[:20]
        low, high = parse_price(args.get("min")), parse_price(args.get("max"))
        if low is not None and high is not None and low > high:
            low, high = high, low
        return cls(
            sort=sort if sort in SORTS else default_sort,
            price_min_cents=low,
            price_max_cents=high,
            brand_ids=brand_ids,
            page=page,
            per_page=per_page,
        )


def visible_products() -> Select:
    """The base of every listing: visible public rows, with their store."""
    return select(PublicProduct).where(PublicProduct.is_visible.is_(True))


def _ordered(stmt: Select, sort: str) -> Select:
    if sort == "newest":
        return stmt.order_by(PublicProduct.published_at.desc(), PublicProduct.id.desc())
    if sort == "price_asc":
        return stmt.order_by(PublicProduct.price_min_cents.asc(), PublicProduct.id.asc())
    if sort == "price_desc":
        return stmt.order_by(PublicProduct.price_min_cents.desc(), PublicProduct.id.desc())
    return stmt.order_by(PublicProduct.sales_count.desc(), PublicProduct.id.desc())


def _filtered(stmt: Select, query: ListingQuery, *, brands: bool = True) -> Select:
    if query.price_min_cents is not None:
        stmt = stmt.where(PublicProduct.price_min_cents >= query.price_min_cents)
    if query.price_max_cents is not None:
        stmt = stmt.where(PublicProduct.price_min_cents <= query.price_max_cents)
    if brands and query.brand_ids:
        stmt = stmt.where(PublicProduct.brand_id.in_(query.brand_ids))
    return stmt


def list_products(where: Iterable, query: ListingQuery) -> Page:
    """One page of visible products matching ``where`` and the shopper's filters, with the total."""
    stmt = _filtered(visible_products().where(*where), query)
    total = db.session.scalar(stmt.with_only_columns(func.count(PublicProduct.id)).order_by(None)) or 0
    items = db.session.scalars(
        _ordered(stmt, query.sort).limit(query.per_page).offset((query.page - 1) * query.per_page)
    ).all()
    return Page(list(items), page=query.page, per_page=query.per_page, total=total)


def top_products(where: Iterable = (), *, sort: str = "sales", limit: int = HOME_PRODUCTS) -> list[PublicProduct]:
    """The first ``limit`` visible products matching ``where`` (home blocks, rankings, side lists)."""
    return list(db.session.scalars(_ordered(visible_products().where(*where), sort).limit(limit)))


def brand_facets(where: Iterable, query: ListingQuery, limit: int = 30) -> list[tuple[Brand, int]]:
    """Brands among the listed products (price filter applied, brand filter not), most products first."""
    stmt = _filtered(
        select(Brand, func.count(PublicProduct.id))
        .join(PublicProduct, PublicProduct.brand_id == Brand.id)
        .where(PublicProduct.is_visible.is_(True), Brand.is_enabled.is_(True), *where),
        query,
        brands=False,
    )
    rows = db.session.execute(
        stmt.group_by(Brand.id).order_by(func.count(PublicProduct.id).desc(), Brand.name).limit(limit)
    ).all()
    return [(brand, count) for brand, count in rows]


# ---------------------------------------------------------------------------------------------
# Categories
# ---------------------------------------------------------------------------------------------


def top_categories() -> list[Category]:
    return list(
        db.session.scalars(
            select(Category)
            .where(Category.parent_id.is_(None), Category.is_enabled.is_(True))
            .order_by(Category.position, Category.id)
        )
    )


def sub_categories(category: Category) -> list[Category]:
    return list(
        db.session.scalars(
            select(Category)
            .where(Category.parent_id == category.id, Category.is_enabled.is_(True))
            .order_by(Category.position, Category.id)
        )
    )


def breadcrumb(category: Category) -> list[Category]:
    """The category's ancestors from the root down, itself last."""
    rows = {c.id: c for c in db.session.scalars(select(Category).where(Category.id.in_(category.ancestor_ids)))}
    return [rows[i] for i in category.ancestor_ids if i in rows]


def enabled_category(slug: str) -> Category:
    """The category named by ``slug`` if it and all its ancestors are enabled."""
    category = db.session.scalar(select(Category).where(Category.slug == slug))
    if category is None or not category.is_enabled or not all(c.is_enabled for c in breadcrumb(category)):
        raise NotFound(_("This category does not exist."))
    return category


def in_category(category: Category) -> list:
    """Conditions for "products of the whole subtree", leaving out disabled sub-trees."""
    disabled = db.session.scalars(
        select(Category.path).where(Category.path.like(category.path + "%"), Category.is_enabled.is_(False))
    ).all()
    return [
        PublicProduct.category_path.like(category.path + "%"),
        *(~PublicProduct.category_path.like(path + "%") for path in disabled),
    ]


# ---------------------------------------------------------------------------------------------
# Brands
# ---------------------------------------------------------------------------------------------


@dataclass
class BrandHall:
    featured: list[Brand]
    groups: list[tuple[str, list[Brand]]]  # initial → brands, A to Z then "#"
    initials: list[str]  # every initial that has brands (for the index, before filtering)
    logos: dict[int, str]


def enabled_brand(slug: str) -> Brand:
    brand = db.session.scalar(select(Brand).where(Brand.slug == slug, Brand.is_enabled.is_(True)))
    if brand is None:
        raise NotFound(_("This brand does not exist."))
    return brand


def _initial_of(brand: Brand) -> str:
    letter = (brand.initial or "").upper()
    return letter if "A" <= letter <= "Z" else "#"


def _sorted_initials(letters: Iterable[str]) -> list[str]:
    return sorted(set(letters), key=lambda c: (c == "#", c))


def media_keys(file_ids: Iterable[int | None]) -> dict[int, str]:
    """Stored object id → key of public objects (logos, banners), in one query."""
    ids = {i for i in file_ids if i}
    if not ids:
        return {}
    rows = db.session.execute(
        select(StoredObject.id, StoredObject.key).where(StoredObject.id.in_(ids), StoredObject.is_private.is_(False))
    ).all()
    return dict(rows)


def brand_hall(*, initial: str | None = None, category: Category | None = None) -> BrandHall:
    """Featured brands on top, then every enabled brand by initial; optionally only one initial, or only
    brands with visible products in a category."""
    stmt = select(Brand).where(Brand.is_enabled.is_(True)).order_by(Brand.position, Brand.name)
    if category is not None:
        stmt = stmt.where(
            Brand.id.in_(
                select(PublicProduct.brand_id).where(PublicProduct.is_visible.is_(True), *in_category(category))
            )
        )
    brands = list(db.session.scalars(stmt))
    initials = _sorted_initials(_initial_of(b) for b in brands)
    featured = [b for b in brands if b.is_featured]
    wanted = (initial or "").upper()[:1]
    listed = [b for b in brands if not wanted or _initial_of(b) == wanted]
    groups = [
        (letter, sorted((b for b in listed if _initial_of(b) == letter), key=lambda b: b.name.lower()))
        for letter in _sorted_initials(_initial_of(b) for b in listed)
    ]
    return BrandHall(featured, groups, initials, media_keys(b.logo_file_id for b in brands))


def hot_brands(limit: int = 12) -> list[Brand]:
    """Featured brands first, then by sales of their visible products; brands with nothing on sale
    only when featured."""
    sales = (
        select(PublicProduct.brand_id, func.sum(PublicProduct.sales_count).label("sales"))
        .where(PublicProduct.is_visible.is_(True), PublicProduct.brand_id.is_not(None))
        .group_by(PublicProduct.brand_id)
        .subquery()
    )
    stmt = (
        select(Brand)
        .outerjoin(sales, sales.c.brand_id == Brand.id)
        .where(Brand.is_enabled.is_(True), or_(Brand.is_featured.is_(True), sales.c.brand_id.is_not(None)))
        .order_by(Brand.is_featured.desc(), func.coalesce(sales.c.sales, 0).desc(), Brand.position, Brand.name)
        .limit(limit)
    )
    return list(db.session.scalars(stmt))


# ---------------------------------------------------------------------------------------------
# Stores
# ---------------------------------------------------------------------------------------------


@dataclass
class StoreTile:
    merchant: Merchant
    product_count: int
    products: list[PublicProduct] = field(default_factory=list)


def recommended_stores(limit: int = 8, products_each: int = 3) -> list[StoreTile]:
    """Open stores with visible products, best-selling first, each with its top products."""
    totals = db.session.execute(
        select(Merchant, func.count(PublicProduct.id), func.sum(PublicProduct.sales_count))
        .join(PublicProduct, PublicProduct.merchant_id == Merchant.id)
        .where(Merchant.status == "active", PublicProduct.is_visible.is_(True))
        .group_by(Merchant.id)
        .order_by(func.sum(PublicProduct.sales_count).desc(), Merchant.id)
        .limit(limit)
    ).all()
    tiles = {merchant.id: StoreTile(merchant, count) for merchant, count, _sales in totals}
    if tiles and products_each:
        ranked = (
            select(
                PublicProduct.id,
                func.row_number()
                .over(
                    partition_by=PublicProduct.merchant_id,
                    order_by=(PublicProduct.sales_count.desc(), PublicProduct.id.desc()),
                )
                .label("rank"),
            )
            .where(PublicProduct.is_visible.is_(True), PublicProduct.merchant_id.in_(tiles))
            .subquery()
        )
        rows = db.session.scalars(
            select(PublicProduct)
            .join(ranked, ranked.c.id == PublicProduct.id)
            .where(ranked.c.rank <= products_each)
            .order_by(PublicProduct.merchant_id, ranked.c.rank)
        )
        for row in rows:
            tiles[row.merchant_id].products.append(row)
    return list(tiles.values())


# ---------------------------------------------------------------------------------------------
# Rankings and special lists
# ---------------------------------------------------------------------------------------------


def hot_ranking(category: Category | None = None, limit: int = RANKING_SIZE) -> list[PublicProduct]:
    """Best-sellers by sales count (ties: newest id first), overall or within a category's subtree."""
    return top_products(in_category(category) if category else (), sort="sales", limit=limit)


def offers_condition() -> list:
    return [PublicProduct.is_on_offer.is_(True)]


# ---------------------------------------------------------------------------------------------
# The home page
# ---------------------------------------------------------------------------------------------


@dataclass
class Slide:
    title: str | None
    link: str | None
    image_key: str


@dataclass
class Zone:
    category: Category
    children: list[Category]
    products: list[PublicProduct]


@dataclass
class HomeSection:
    """One block of the home page, ready to render (empty blocks are never built)."""

    kind: str
    title: str
    items: list
    logos: dict[int, str] = field(default_factory=dict)


def banner_slides(slot: str = "home", now: datetime | None = None) -> list[Slide]:
    """The slot's active slides (``home.active_slides``) with their image keys; unsafe links dropped."""
    slides = active_slides(slot, now)
    keys = media_keys(slide.image_file_id for slide in slides)
    return [
        Slide(slide.title, slide.link if is_safe_link(slide.link) else None, keys[slide.image_file_id])
        for slide in slides
        if slide.image_file_id in keys
    ]


def _limit(config: dict, default: int, maximum: int = 48) -> int:
    try:
        return max(1, min(int(config.get("limit") or default), maximum))
    except (TypeError, ValueError):
        return default


def _zones(config: dict) -> list[Zone]:
    """One zone per top category, or only the configured category."""
    if config.get("category_id"):
        category = db.session.get(Category, config["category_id"])
        if category is None or not category.is_enabled or not all(c.is_enabled for c in breadcrumb(category)):
            return []
        categories = [category]
    else:
        categories = top_categories()
    limit = _limit(config, ZONE_PRODUCTS)
    zones = []
    for category in categories:
        products = top_products(in_category(category), limit=limit)
        if products:
            zones.append(Zone(category, sub_categories(category), products))
    return zones


def _section(kind: str, title: str | None, config: dict, now: datetime | None) -> list[HomeSection]:
    default_title = str(BLOCK_TITLES.get(kind, ""))
    if kind == "banners":
        items: list = banner_slides(config.get("slot") or "home", now)
    elif kind == "hot_products":
        items = top_products(limit=_limit(config, HOME_PRODUCTS))
    elif kind == "new_arrivals":
        items = top_products(sort="newest", limit=_limit(config, HOME_PRODUCTS))
    elif kind == "offers":
        items = top_products(offers_condition(), limit=_limit(config, HOME_PRODUCTS))
    elif kind == "stores":
        items = recommended_stores(limit=_limit(config, 8))
    elif kind == "brands":
        brands = hot_brands(limit=_limit(config, 12))
        return (
            [HomeSection(kind, title or default_title, brands, media_keys(b.logo_file_id for b in brands))]
            if brands
            else []
        )
    elif kind == "category_zone":
        return [HomeSection(kind, title or zone.category.name, [zone]) for zone in _zones(config)]
    else:
        return []
    return [HomeSection(kind, title or default_title, items)] if items else []


def home_sections(now: datetime | None = None) -> list[HomeSection]:
    """The operator's home blocks in their order (the default layout when none are configured); a
    block with nothing to show is left out."""
    if db.session.scalar(select(HomeBlock.id).limit(1)) is not None:
        blocks = [(b.kind, b.title, dict(b.config or {})) for b in home_blocks(enabled_only=True)]
    else:
        blocks = [(kind, None, {}) for kind in DEFAULT_HOME]
    sections: list[HomeSection] = []
    for kind, title, config in blocks:
        sections.extend(_section(kind, title, config, now))
    return sections


def products_by_ids(ids: Iterable[int]) -> dict[int, PublicProduct]:
    """Public rows by id (visible or not), for lists that keep their own order."""
    ids = list(ids)
    if not ids:
        return {}
    return {row.id: row for row in db.session.scalars(select(PublicProduct).where(PublicProduct.id.in_(ids)))}
