"""What the product page shows: the public row says whether the product can be shown; the live
content (images, SKUs with price and stock, attributes, description) is read from its store's schema.

The store is bound only inside ``load_product_page`` (``with tenant``), so the rest of the request
never runs against it by accident; every value the template needs is copied out while bound.

A product page is the mall's most viewed page, so it is read without ORM objects: statements built
once (the public row with its store and brand; the live product with its SKUs and image ids; the
pictures' keys, when it has any), run on the session's connection, where the bound store's schema
applies (``mall.extensions.read``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal

from markupsafe import Markup
from sqlalchemy import ARRAY, BigInteger, Select, any_, bindparam, func, select
from sqlalchemy.dialects.postgresql import aggregate_order_by

from mall.catalog.browse import breadcrumb, top_products
from mall.catalog.inventory import stock_availability
from mall.catalog.models import Brand, Category, CategoryAttribute, Product, ProductImage, PublicProduct, Sku
from mall.catalog.money import format_cents
from mall.catalog.restock import waiting_sku_ids
from mall.catalog.store_products import store_best_sellers, store_category_nav
from mall.decoration.rendering import StoreHeader, store_header
from mall.decoration.validation import sanitize_html
from mall.errors import NotFound
from mall.extensions import db, read
from mall.i18n import _
from mall.merchants.models import Merchant
from mall.storage.models import StoredObject
from mall.tenancy import tenant

RELATED = 10


class ProductUnavailable(NotFound):
    """The product exists (it has a public row) but is not on sale now; the page says so."""

    def __init__(self, product_id: int):
        super().__init__(_("This product is not available at the moment."))
        self.product_id = product_id


@dataclass(frozen=True)
class BrandLink:
    slug: str
    name: str
    is_enabled: bool


@dataclass(frozen=True)
class StoreLink:
    id: int
    slug: str
    name: str
    is_open: bool


@dataclass(frozen=True)
class ProductHead:
    """What the public row says about a product page: where it lives, whether it may be shown, and
    the counts shown on it."""

    id: int
    slug: str
    category_id: int | None
    store: StoreLink
    brand: BrandLink | None
    sales_count: int
    review_count: int
    rating: Decimal | None
    is_visible: bool


HEAD = (
    select(
        PublicProduct.id,
        PublicProduct.slug,
        PublicProduct.category_id,
        PublicProduct.sales_count,
        PublicProduct.review_count,
        PublicProduct.rating,
        PublicProduct.is_visible,
        Merchant.id.label("store_id"),
        Merchant.slug.label("store_slug"),
        Merchant.name.label("store_name"),
        Merchant.status.label("store_status"),
        Brand.slug.label("brand_slug"),
        Brand.name.label("brand_name"),
        Brand.is_enabled.label("brand_enabled"),
    )
    .join(Merchant, Merchant.id == PublicProduct.merchant_id)
    .outerjoin(Brand, Brand.id == PublicProduct.brand_id)
    .where(PublicProduct.id == bindparam("product_id"))
)


def product_head(product_id: int) -> ProductHead | None:
    """The public row of ``product_id`` (``None``: there is no such product)."""
    r = read(HEAD, {"product_id": product_id}).one_or_none()
    if r is None:
        return None
    return ProductHead(
        id=r.id,
        slug=r.slug,
        category_id=r.category_id,
        store=StoreLink(r.store_id, r.store_slug, r.store_name, r.store_status == "active"),
        brand=BrandLink(r.brand_slug, r.brand_name, r.brand_enabled) if r.brand_slug is not None else None,
        sales_count=r.sales_count,
        review_count=r.review_count,
        rating=r.rating,
        is_visible=r.is_visible,
    )


@dataclass
class Image:
    key: str
    thumb_key: str


@dataclass
class SkuView:
    id: int
    spec_values: dict
    price_cents: int
    market_price_cents: int | None
    stock: int
    label: str = ""
    waiting: bool = False  # this shopper asked to be told when it is back

    @property
    def in_stock(self) -> bool:
        return self.stock > 0

    def as_json(self) -> dict:
        return {
            "id": self.id,
            "specs": self.spec_values,
            "price": format_cents(self.price_cents),
            "price_cents": self.price_cents,
            "market_price": format_cents(self.market_price_cents) if self.market_price_cents else None,
            "market_price_cents": self.market_price_cents,
            "stock": self.stock,
            "label": self.label,
            "waiting": self.waiting,
        }


@dataclass
class SpecAxis:
    name: str
    values: list[str]


@dataclass
class ProductPage:
    row: ProductHead
    title: str
    subtitle: str | None
    images: list[Image]
    video_key: str | None
    axes: list[SpecAxis]
    skus: list[SkuView]
    selected: SkuView | None
    attributes: list[tuple[str, str]]
    description: Markup
    after_sales: str | None

    @property
    def merchant(self) -> StoreLink:
        return self.row.store

    @property
    def in_stock(self) -> bool:
        return any(sku.in_stock for sku in self.skus)

    @property
    def sku_json(self) -> Markup:
        """The SKUs for the picker script, safe inside ``<script type="application/json">``."""
        text = json.dumps([sku.as_json() for sku in self.skus], ensure_ascii=False)
        return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


def _live_product() -> Select:
    """The bound store's product ``:product_id`` with its active SKUs ``[id, specs, price, market
    price, stock]`` and images ``[file id, thumbnail id]`` in their order, as one row (one round trip,
    no ORM objects). Built once: building it costs more than running it. The files' keys are read
    apart (``FILE_KEYS``): joining the platform's files here costs PostgreSQL more to plan for every
    store's schema than a second, prepared statement costs."""
    skus = (
        select(
            func.json_agg(
                aggregate_order_by(
                    func.json_build_array(Sku.id, Sku.spec_values, Sku.price_cents, Sku.market_price_cents, Sku.stock),
                    Sku.position,
                    Sku.id,
                )
            )
        )
        .where(Sku.product_id == Product.id, Sku.is_active.is_(True))
        .scalar_subquery()
    )
    images = (
        select(
            func.json_agg(
                aggregate_order_by(
                    func.json_build_array(ProductImage.file_id, ProductImage.thumb_file_id),
                    ProductImage.position,
                    ProductImage.id,
                )
            )
        )
        .where(ProductImage.product_id == Product.id)
        .scalar_subquery()
    )
    return select(
        Product.status,
        Product.on_shelf,
        Product.title,
        Product.subtitle,
        Product.specs,
        Product.attributes,
        Product.description_html,
        Product.after_sales,
        Product.video_file_id,
        skus.label("skus"),
        images.label("images"),
    ).where(Product.id == bindparam("product_id"))


LIVE_PRODUCT = _live_product()
FILE_KEYS = select(StoredObject.id, StoredObject.key).where(
    StoredObject.id == any_(bindparam("ids", type_=ARRAY(BigInteger))), StoredObject.is_private.is_(False)
)


def _attributes(attribute_values: dict | None) -> list[tuple[str, str]]:
    """Attribute id → value on the product, as (name, shown value) in the template's order."""
    values = {int(k): v for k, v in (attribute_values or {}).items() if str(k).isdigit() and v not in (None, "", [])}
    if not values:
        return []
    attributes = read(
        select(CategoryAttribute.id, CategoryAttribute.name, CategoryAttribute.unit)
        .where(CategoryAttribute.id.in_(values))
        .order_by(CategoryAttribute.position, CategoryAttribute.id)
    ).all()
    shown = []
    for attribute in attributes:
        value = values[attribute.id]
        text = "、".join(str(v) for v in value) if isinstance(value, list) else str(value)
        shown.append((attribute.name, f"{text} {attribute.unit}" if attribute.unit else text))
    return shown


def _axes(specs: list | None, skus: list[SkuView]) -> list[SpecAxis]:
    """The product's spec axes, with only the values some active SKU uses (in the merchant's order)."""
    used: dict[str, set] = {}
    for sku in skus:
        for name, value in sku.spec_values.items():
            used.setdefault(name, set()).add(value)
    axes = []
    for spec in specs or []:
        name = spec.get("name") if isinstance(spec, dict) else None
        if name in used:
            values = [v for v in spec.get("values") or [] if v in used[name]]
            values += sorted(v for v in used[name] if v not in values)
            axes.append(SpecAxis(name, values))
    return axes


def load_product_page(head: ProductHead, user_id: int | None = None) -> ProductPage:
    """The product page of the product ``head`` describes (see ``product_head``);
    ``ProductUnavailable`` when it is not on sale. With ``user_id``, the SKUs this shopper waits for
    (out-of-stock registration) are marked."""
    if not head.is_visible or not head.store.is_open:
        raise ProductUnavailable(head.id)
    with tenant(head.store.id):
        product = read(LIVE_PRODUCT, {"product_id": head.id}).one_or_none()
        if product is None or product.status != "approved" or not product.on_shelf:
            raise ProductUnavailable(head.id)
        waiting = waiting_sku_ids(user_id, head.id) if user_id is not None else set()
    skus = [
        SkuView(
            sku_id,
            dict(spec_values or {}),
            price,
            market_price,
            stock,
            label=str(stock_availability(stock)["label"]),
            waiting=sku_id in waiting,
        )
        for sku_id, spec_values, price, market_price, stock in product.skus or ()
    ]
    if not skus:
        raise ProductUnavailable(head.id)
    image_ids = [tuple(pair) for pair in product.images or ()]
    file_ids = {i for pair in image_ids for i in pair if i} | {product.video_file_id} - {None}
    keys = dict(read(FILE_KEYS, {"ids": sorted(file_ids)}).all()) if file_ids else {}
    return ProductPage(
        row=head,
        title=product.title,
        subtitle=product.subtitle,
        images=[Image(keys[main], keys.get(thumb) or keys[main]) for main, thumb in image_ids if main in keys],
        video_key=keys.get(product.video_file_id),
        axes=_axes(product.specs, skus),
        skus=skus,
        selected=next((sku for sku in skus if sku.in_stock), skus[0]),
        attributes=_attributes(product.attributes),
        description=Markup(sanitize_html(product.description_html)),
        after_sales=product.after_sales,
    )


# The parts of the page shared with other products' pages, cached as fragments by the view.


@dataclass
class StoreCard:
    merchant: Merchant
    store: StoreHeader
    categories: list
    best_sellers: list[PublicProduct]


def store_card(merchant: Merchant) -> StoreCard:
    """The store card beside every product of ``merchant``: header, store categories, best-sellers."""
    with tenant(merchant.id):
        header = store_header(merchant)
        categories = store_category_nav(merchant.slug)
    return StoreCard(merchant, header, categories, store_best_sellers(merchant.id))


def category_trail(category_id: int | None) -> list[Category]:
    """The breadcrumb of a product in ``category_id``: its category's ancestors, root first."""
    category = db.session.get(Category, category_id) if category_id else None
    return breadcrumb(category) if category else []


def related_products(category_id: int | None) -> list[PublicProduct]:
    """The best-sellers of the category, one more than a page shows (the page leaves out its own)."""
    return top_products([PublicProduct.category_id == category_id], limit=RELATED + 1)
