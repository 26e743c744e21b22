"""What the product page shows: the public row says whether the product can be shown; the live
content (images, SKUs with price and stock, attributes, description) is read from its store's schema.

The store is bound only inside ``load_product_page`` (``with tenant``), so the rest of the request
never runs against it by accident; every value the template needs is copied out while bound.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from mall.catalog.browse import breadcrumb, top_products
from mall.catalog.inventory import sku_availability
from mall.catalog.models import Category, CategoryAttribute, Product, PublicProduct
from mall.catalog.money import format_cents
from mall.catalog.restock import waiting_sku_ids
from mall.catalog.store_products import store_best_sellers, store_category_nav
from mall.decoration.rendering import StoreHeader, store_header
from mall.decoration.validation import sanitize_html
from mall.errors import NotFound
from mall.extensions import db
from mall.i18n import _
from mall.merchants.models import Merchant
from mall.storage.models import StoredObject
from mall.tenancy import tenant

RELATED = 10


class ProductUnavailable(NotFound):
    """The product exists (it has a public row) but is not on sale now; the page says so."""

    def __init__(self, row: PublicProduct):
        super().__init__(_("This product is not available at the moment."))
        self.row = row


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
    row: PublicProduct
    merchant: Merchant
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
    store: StoreHeader
    store_categories: list = field(default_factory=list)
    store_best_sellers: list[PublicProduct] = field(default_factory=list)
    related: list[PublicProduct] = field(default_factory=list)
    breadcrumb: list[Category] = field(default_factory=list)

    @property
    def in_stock(self) -> bool:
        return any(sku.in_stock for sku in self.skus)

    @property
    def sku_json(self) -> Markup:
        """The SKUs for the picker script, safe inside ``<script type="application/json">``."""
        text = json.dumps([sku.as_json() for sku in self.skus], ensure_ascii=False)
        return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


def _keys(ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = db.session.execute(
        select(StoredObject.id, StoredObject.key).where(StoredObject.id.in_(ids), StoredObject.is_private.is_(False))
    ).all()
    return dict(rows)


def _attributes(product: Product) -> list[tuple[str, str]]:
    """Attribute id → value on the product, as (name, shown value) in the template's order."""
    values = {int(k): v for k, v in (product.attributes or {}).items() if str(k).isdigit() and v not in (None, "", [])}
    if not values:
        return []
    attributes = db.session.scalars(
        select(CategoryAttribute)
        .where(CategoryAttribute.id.in_(values))
        .order_by(CategoryAttribute.position, CategoryAttribute.id)
    ).all()
    shown = []
    for attribute in attributes:
        value = values[attribute.id]
        text = "、".join(str(v) for v in value) if isinstance(value, list) else str(value)
        shown.append((attribute.name, f"{text} {attribute.unit}" if attribute.unit else text))
    return shown


def _axes(product: Product, skus: list[SkuView]) -> list[SpecAxis]:
    """The product's spec axes, with only the values some active SKU uses (in the merchant's order)."""
    used: dict[str, set] = {}
    for sku in skus:
        for name, value in sku.spec_values.items():
            used.setdefault(name, set()).add(value)
    axes = []
    for spec in product.specs or []:
        name = spec.get("name") if isinstance(spec, dict) else None
        if name in used:
            values = [v for v in spec.get("values") or [] if v in used[name]]
            values += sorted(v for v in used[name] if v not in values)
            axes.append(SpecAxis(name, values))
    return axes


def load_product_page(product_id: int, user_id: int | None = None) -> ProductPage:
    """The product page of a visible product; ``ProductUnavailable`` when it has a public row but is
    not on sale, ``NotFound`` when there is no such product at all. With ``user_id``, the SKUs this
    shopper waits for (out-of-stock registration) are marked."""
    row = db.session.get(PublicProduct, product_id)
    if row is None:
        raise NotFound(_("This product does not exist."))
    merchant = row.merchant
    if not row.is_visible or not merchant.is_open:
        raise ProductUnavailable(row)
    with tenant(merchant.id):
        product = db.session.scalar(
            select(Product)
            .where(Product.id == product_id)
            .options(selectinload(Product.images), selectinload(Product.skus))
        )
        if product is None or product.status != "approved" or not product.on_shelf:
            raise ProductUnavailable(row)
        waiting = waiting_sku_ids(user_id, product.id) if user_id is not None else set()
        skus = [
            SkuView(
                sku.id,
                dict(sku.spec_values or {}),
                sku.price_cents,
                sku.market_price_cents,
                sku.stock,
                label=str(sku_availability(sku)["label"]),
                waiting=sku.id in waiting,
            )
            for sku in product.skus
            if sku.is_active
        ]
        if not skus:
            raise ProductUnavailable(row)
        header = store_header(merchant)
        categories = store_category_nav(merchant.slug)
        page_data = {
            "title": product.title,
            "subtitle": product.subtitle,
            "attributes": _attributes(product),
            "description": Markup(sanitize_html(product.description_html)),
            "after_sales": product.after_sales,
            "axes": _axes(product, skus),
        }
        image_ids = [(image.file_id, image.thumb_file_id) for image in product.images]
        video_id = product.video_file_id
    keys = _keys({i for pair in image_ids for i in pair if i} | ({video_id} if video_id else set()))
    images = [Image(keys[main], keys.get(thumb) or keys[main]) for main, thumb in image_ids if main in keys]
    selected = next((sku for sku in skus if sku.in_stock), skus[0])
    category = db.session.get(Category, row.category_id)
    return ProductPage(
        row=row,
        merchant=merchant,
        images=images,
        video_key=keys.get(video_id) if video_id else None,
        skus=skus,
        selected=selected,
        store=header,
        store_categories=categories,
        store_best_sellers=store_best_sellers(merchant.id),
        related=top_products([PublicProduct.category_id == row.category_id, PublicProduct.id != row.id], limit=RELATED),
        breadcrumb=breadcrumb(category) if category else [],
        **page_data,
    )
