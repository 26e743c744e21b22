"""What a reviewer reads: a product's content made readable (names instead of ids, prices, SKUs,
sanitised description) and, for a revision, what changed between the live content and the
submitted one — field by field, and SKU by SKU (matched by their spec key).

Content is the dict the products service saves (``product_content`` / ``ProductRevision.data``);
it is read tolerantly, so a field the editor adds later still shows up in the diff under its key.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from markupsafe import Markup
from sqlalchemy import select

from mall.catalog.models import Brand, Category, CategoryAttribute, Product, StoreCategory, Tag
from mall.catalog.money import format_price
from mall.catalog.products import product_content
from mall.decoration.validation import sanitize_html
from mall.extensions import db
from mall.i18n import _, ngettext
from mall.storage.models import StoredObject

KNOWN_FIELDS = {
    "title",
    "subtitle",
    "slug",
    "category_id",
    "brand_id",
    "tag_ids",
    "store_category_ids",
    "specs",
    "attributes",
    "description_html",
    "after_sales",
    "video_file_id",
    "images",
    "skus",
}


@dataclass
class SkuLine:
    spec_key: str
    label: str
    code: str
    market_price_cents: int | None
    price_cents: int | None
    stock: int | None
    weight_grams: int | None
    is_active: bool


@dataclass
class Presented:
    title: str = ""
    subtitle: str = ""
    slug: str = ""
    category_names: list[str] = field(default_factory=list)
    brand: str = ""
    tags: list[str] = field(default_factory=list)
    store_categories: list[str] = field(default_factory=list)
    attributes: list[tuple[str, str]] = field(default_factory=list)
    specs: list[tuple[str, str]] = field(default_factory=list)
    skus: list[SkuLine] = field(default_factory=list)
    image_keys: list[str] = field(default_factory=list)
    video_key: str | None = None
    description_html: str = ""
    after_sales: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def description(self) -> Markup:
        return Markup(sanitize_html(self.description_html))  # cleaned again when shown

    @property
    def category(self) -> str:
        return " › ".join(self.category_names)


@dataclass
class Change:
    label: str
    before: str
    after: str


@dataclass
class SkuChange:
    kind: str  # added, removed, changed
    label: str
    details: list[Change] = field(default_factory=list)


def present_product(product: Product) -> Presented:
    """The product as it is in its store, with each SKU's current stock (stock is not content)."""
    shown = present(product_content(product))
    stock = {sku.spec_key: sku.stock for sku in product.skus}
    for line in shown.skus:
        line.stock = stock.get(line.spec_key, line.stock)
    return shown


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return ", ".join(_text(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_text(v)}" for k, v in value.items())
    return str(value)


def _ids(values) -> list[int]:
    out = []
    for value in values or []:
        if isinstance(value, dict):
            value = value.get("file_id", value.get("id"))
        try:
            out.append(int(value))
        except (TypeError, ValueError):
            continue
    return out


def _int(value) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _sku_line(sku: dict) -> SkuLine:
    values = sku.get("spec_values") or {}
    label = " / ".join(f"{name}: {value}" for name, value in values.items()) if values else _("Single SKU")
    return SkuLine(
        spec_key=str(sku.get("spec_key") or ""),
        label=label,
        code=str(sku.get("code") or ""),
        market_price_cents=_int(sku.get("market_price_cents")),
        price_cents=_int(sku.get("price_cents")),
        stock=_int(sku.get("stock")),
        weight_grams=_int(sku.get("weight_grams")),
        is_active=bool(sku.get("is_active", True)),
    )


def _keys_of(file_ids: list[int]) -> dict[int, str]:
    if not file_ids:
        return {}
    return dict(
        db.session.execute(select(StoredObject.id, StoredObject.key).where(StoredObject.id.in_(file_ids))).all()
    )


def present(content: dict) -> Presented:
    """Names for ids, prices and SKU lines for display (store categories need the store bound)."""
    content = content or {}
    out = Presented(
        title=_text(content.get("title")),
        subtitle=_text(content.get("subtitle")),
        slug=_text(content.get("slug")),
        description_html=content.get("description_html") or "",
        after_sales=_text(content.get("after_sales")),
    )
    category = db.session.get(Category, _int(content.get("category_id"))) if _int(content.get("category_id")) else None
    if category is not None:
        names = dict(
            db.session.execute(select(Category.id, Category.name).where(Category.id.in_(category.ancestor_ids))).all()
        )
        out.category_names = [names[i] for i in category.ancestor_ids if i in names]
    brand = db.session.get(Brand, _int(content.get("brand_id"))) if _int(content.get("brand_id")) else None
    out.brand = brand.name if brand else ""
    tag_ids = _ids(content.get("tag_ids"))
    if tag_ids:
        out.tags = list(db.session.scalars(select(Tag.name).where(Tag.id.in_(tag_ids)).order_by(Tag.name)))
    store_category_ids = _ids(content.get("store_category_ids"))
    if store_category_ids:
        out.store_categories = list(
            db.session.scalars(select(StoreCategory.name).where(StoreCategory.id.in_(store_category_ids)))
        )
    attributes = content.get("attributes") or {}
    attribute_ids = [int(k) for k in attributes if str(k).isdigit()]
    attribute_names = (
        dict(
            db.session.execute(
                select(CategoryAttribute.id, CategoryAttribute.name).where(CategoryAttribute.id.in_(attribute_ids))
            ).all()
        )
        if attribute_ids
        else {}
    )
    out.attributes = [
        (attribute_names.get(int(k), str(k)) if str(k).isdigit() else str(k), _text(v))
        for k, v in attributes.items()
        if v not in (None, "", [])
    ]
    out.specs = [
        (str(spec.get("name", "")), _text(spec.get("values")))
        for spec in content.get("specs") or []
        if isinstance(spec, dict)
    ]
    out.skus = [_sku_line(sku) for sku in content.get("skus") or [] if isinstance(sku, dict)]
    image_ids = _ids(content.get("images"))
    video_id = _int(content.get("video_file_id"))
    keys = _keys_of([*image_ids, *([video_id] if video_id else [])])
    out.image_keys = [keys[i] for i in image_ids if i in keys]
    out.video_key = keys.get(video_id) if video_id else None
    out.extra = {str(k): _text(v) for k, v in content.items() if k not in KNOWN_FIELDS}
    return out


def _price(cents: int | None) -> str:
    return format_price(cents) if cents is not None else "—"


def content_changes(live: Presented, proposed: Presented) -> list[Change]:
    """Field-by-field differences (SKUs apart), in the order the editor shows the fields."""
    fields = [
        (_("Title"), live.title, proposed.title),
        (_("Subtitle"), live.subtitle, proposed.subtitle),
        (_("Address (slug)"), live.slug, proposed.slug),
        (_("Category"), live.category, proposed.category),
        (_("Brand"), live.brand, proposed.brand),
        (_("Tags"), ", ".join(live.tags), ", ".join(proposed.tags)),
        (_("Store categories"), ", ".join(live.store_categories), ", ".join(proposed.store_categories)),
    ]
    changes = [Change(label, before, after) for label, before, after in fields if before != after]
    for group, before_pairs, after_pairs in (
        (_("Attribute"), live.attributes, proposed.attributes),
        (_("Spec"), live.specs, proposed.specs),
    ):
        before_map, after_map = dict(before_pairs), dict(after_pairs)
        for name in [*before_map, *(n for n in after_map if n not in before_map)]:
            if before_map.get(name, "") != after_map.get(name, ""):
                changes.append(Change(f"{group}: {name}", before_map.get(name, ""), after_map.get(name, "")))
    if live.image_keys != proposed.image_keys:
        changes.append(
            Change(
                _("Images"),
                ngettext("%(num)d image", "%(num)d images", len(live.image_keys)),
                ngettext("%(num)d image", "%(num)d images", len(proposed.image_keys))
                if len(live.image_keys) != len(proposed.image_keys)
                else ngettext(
                    "%(num)d image (order or files changed)",
                    "%(num)d images (order or files changed)",
                    len(proposed.image_keys),
                ),
            )
        )
    if live.video_key != proposed.video_key:
        changes.append(
            Change(_("Video"), _("yes") if live.video_key else _("none"), _("yes") if proposed.video_key else _("none"))
        )
    if sanitize_html(live.description_html) != sanitize_html(proposed.description_html):
        changes.append(Change(_("Description"), _("(previous text)"), _("(changed: see below)")))
    if live.after_sales != proposed.after_sales:
        changes.append(Change(_("After-sales notes"), live.after_sales, proposed.after_sales))
    for key in sorted(set(live.extra) | set(proposed.extra)):
        if live.extra.get(key, "") != proposed.extra.get(key, ""):
            changes.append(Change(key, live.extra.get(key, ""), proposed.extra.get(key, "")))
    return changes


def sku_changes(live: list[SkuLine], proposed: list[SkuLine]) -> list[SkuChange]:
    """SKUs added, removed, or changed (prices, code, weight, on/off). Stock is left out for SKUs
    that exist on both sides: it moves with sales and is not part of the review."""
    before = {sku.spec_key: sku for sku in live}
    after = {sku.spec_key: sku for sku in proposed}
    out: list[SkuChange] = []
    for key, sku in after.items():
        if key not in before:
            out.append(
                SkuChange(
                    "added",
                    sku.label,
                    [Change(_("Price"), "", _price(sku.price_cents)), Change(_("Stock"), "", _text(sku.stock))],
                )
            )
    for key, sku in before.items():
        if key not in after:
            out.append(SkuChange("removed", sku.label, [Change(_("Price"), _price(sku.price_cents), "")]))
    for key, old in before.items():
        new = after.get(key)
        if new is None:
            continue
        details = [
            Change(label, a, b)
            for label, a, b in (
                (_("Price"), _price(old.price_cents), _price(new.price_cents)),
                (_("Market price"), _price(old.market_price_cents), _price(new.market_price_cents)),
                (_("Code"), old.code, new.code),
                (_("Weight (g)"), _text(old.weight_grams), _text(new.weight_grams)),
                (
                    _("On sale"),
                    _("yes") if old.is_active else _("no"),
                    _("yes") if new.is_active else _("no"),
                ),
            )
            if a != b
        ]
        if details:
            out.append(SkuChange("changed", new.label, details))
    return out
