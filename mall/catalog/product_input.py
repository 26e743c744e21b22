"""What a merchant types into the product editor, checked field by field.

``clean_product_input`` turns the editor's raw values (strings as a form sends them, or the same
shape built by a test or an import) into the canonical *content* that
``mall.catalog.products.apply_content`` writes, or raises ``ProductInvalid`` with one translated
message per field (keys are the editor's field names). Nothing is written here.

The raw shape::

    {"title", "subtitle", "slug", "category_id", "brand_id", "tag_ids": [...], "store_category_ids": [...],
     "attributes": {attribute id: value or [values]},
     "specs": [{"name": "颜色", "values": ["红", "蓝"] or "红, 蓝"}, ...],          # at most 3 axes
     "skus": {spec_key: {"price", "market_price", "stock", "code", "weight", "is_active"}},
     "images": [stored object ids, in order], "video_file_id", "description_html", "after_sales"}

The SKU matrix is the cartesian product of the spec axes (axis order as given, values in order);
each cell's canonical key is ``"颜色:红|尺码:M"`` (``""`` when the product has no specs).
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select

from mall.catalog.fields import clean_list, flag
from mall.catalog.inventory import MAX_STOCK, parse_count
from mall.catalog.models import Brand, Product, Sku, StoreCategory, Tag
from mall.catalog.money import format_yuan, parse_yuan
from mall.catalog.taxonomy import category_is_selectable, inherited_attributes
from mall.decoration.validation import clean_text, has_visible_content, sanitize_html
from mall.errors import DomainError
from mall.extensions import db
from mall.i18n import _
from mall.storage.models import StoredObject
from mall.tenancy.binding import require_merchant_id

TITLE_MAX = 120
SUBTITLE_MAX = 200
SLUG_MAX = 120
MAX_SPECS = 3
MAX_SPEC_VALUES = 20
SPEC_NAME_MAX = 20
SPEC_VALUE_MAX = 30
MAX_SKUS = 400
MAX_IMAGES = 10
MAX_TAGS = 10
MAX_STORE_CATEGORIES = 10
CODE_MAX = 64
MAX_WEIGHT_GRAMS = 1_000_000
ATTRIBUTE_TEXT_MAX = 100
DESCRIPTION_MAX = 60_000
AFTER_SALES_MAX = 2_000
IMAGE_PURPOSE = "product-image"
VIDEO_TYPES = ("video/mp4", "video/webm")
SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")
SPEC_FORBIDDEN = (":", "|")  # the separators of the canonical key


class ProductError(DomainError):
    pass


class ProductInvalid(ProductError):
    """Several fields are wrong at once: ``errors`` maps each editor field to its (translated) message."""

    def __init__(self, errors: dict[str, str]):
        super().__init__(_("Please correct the marked fields."), field=next(iter(errors), None))
        self.errors = errors


# ---------------------------------------------------------------------------------------------
# The SKU matrix
# ---------------------------------------------------------------------------------------------


def spec_key(values: Iterable[tuple[str, str]]) -> str:
    """The canonical key of one matrix cell: ``"颜色:红|尺码:M"`` in axis order."""
    return "|".join(f"{name}:{value}" for name, value in values)


def sku_matrix(specs: list[dict]) -> list[tuple[str, dict[str, str]]]:
    """``(spec_key, {axis: value})`` for every cell of the cartesian product, in order; one cell with
    key ``""`` when there are no specs."""
    if not specs:
        return [("", {})]
    names = [spec["name"] for spec in specs]
    cells = []
    for combination in itertools.product(*(spec["values"] for spec in specs)):
        pairs = list(zip(names, combination, strict=True))
        cells.append((spec_key(pairs), dict(pairs)))
    return cells


def preview_specs(raw_specs: Any) -> list[dict]:
    """The axes a form describes, leniently (for redrawing the SKU table before anything is valid):
    empty and malformed axes are skipped, at most 3 axes of 20 values each."""
    axes: list[dict] = []
    seen: set[str] = set()
    for raw in list(raw_specs or [])[: MAX_SPECS * 2]:
        name = clean_text(str((raw or {}).get("name") or ""))
        values = [v for v in clean_list((raw or {}).get("values")) if _spec_text_ok(v, SPEC_VALUE_MAX)]
        if not name or not values or not _spec_text_ok(name, SPEC_NAME_MAX) or name.casefold() in seen:
            continue
        seen.add(name.casefold())
        axes.append({"name": name, "values": values[:MAX_SPEC_VALUES]})
        if len(axes) == MAX_SPECS:
            break
    return axes


def _spec_text_ok(text: str, limit: int) -> bool:
    return 0 < len(text) <= limit and not any(ch in text for ch in SPEC_FORBIDDEN)


# ---------------------------------------------------------------------------------------------
# Small parsers
# ---------------------------------------------------------------------------------------------


def _id(value: Any) -> int | None:
    text = str(value if value is not None else "").strip()
    return int(text) if text.isdigit() and 0 < int(text) < 2**63 else None


def _ids(values: Any) -> list[int] | None:
    """Distinct positive ids in order; None when one of them is malformed."""
    if isinstance(values, str | int):
        values = [values]
    ids: list[int] = []
    for value in values or ():
        if str(value).strip() == "":
            continue
        parsed = _id(value)
        if parsed is None:
            return None
        if parsed not in ids:
            ids.append(parsed)
    return ids


def _plain(errors: dict, name: str, value: Any, limit: int, *, required=False, multiline=False) -> str | None:
    text = clean_text(unicodedata.normalize("NFC", str(value or "")), multiline=multiline)
    if required and not text:
        errors[name] = _("This field is required.")
    elif len(text) > limit:
        errors[name] = _("At most %(max)s characters (now %(n)s).", max=limit, n=len(text))
    return text or None


def auto_slug(title: str) -> str:
    """The Latin words of the title as a readable slug (empty for a title without any)."""
    ascii_text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode().lower()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text).strip("-")
    return slug[:80].rstrip("-")


def _optional_count(errors: dict, name: str, value: Any, maximum: int) -> int | None:
    if str(value if value is not None else "").strip() == "":
        return None
    try:
        return parse_count(value, field=name, maximum=maximum)
    except DomainError as error:
        errors[name] = error.message
        return None


def format_number(value: Decimal) -> str:
    """``12.50`` → ``"12.5"``, ``1E+2`` → ``"100"`` (attribute numbers are stored as exact text)."""
    return format(value.normalize(), "f")


# ---------------------------------------------------------------------------------------------
# Field groups
# ---------------------------------------------------------------------------------------------


def _basics(raw: Mapping, errors: dict, content: dict) -> None:
    content["title"] = _plain(errors, "title", raw.get("title"), TITLE_MAX, required=True)
    content["subtitle"] = _plain(errors, "subtitle", raw.get("subtitle"), SUBTITLE_MAX)
    slug = unicodedata.normalize("NFKC", str(raw.get("slug") or "")).strip().lower()
    if slug and (len(slug) > SLUG_MAX or not SLUG_RE.match(slug)):
        errors["slug"] = _(
            "Use lower-case letters, digits and single hyphens only, e.g. %(example)s.", example="tea-set"
        )
    content["slug"] = slug or auto_slug(content["title"] or "")
    content["after_sales"] = _plain(errors, "after_sales", raw.get("after_sales"), AFTER_SALES_MAX, multiline=True)
    description = sanitize_html(str(raw.get("description_html") or ""))
    if len(description) > DESCRIPTION_MAX:
        errors["description_html"] = _("The description is too long (at most %(n)s characters).", n=DESCRIPTION_MAX)
    content["description_html"] = description if has_visible_content(description) else None


def _taxonomy(raw: Mapping, errors: dict, content: dict) -> None:
    category_id = _id(raw.get("category_id"))
    if category_id is None:
        errors["category_id"] = _("Choose a category.")
    elif not category_is_selectable(category_id):
        errors["category_id"] = _("Choose an enabled category of the lowest level.")
        category_id = None
    content["category_id"] = category_id
    brand_id = _id(raw.get("brand_id")) if str(raw.get("brand_id") or "").strip() else None
    if str(raw.get("brand_id") or "").strip() and brand_id is None:
        errors["brand_id"] = _("This brand does not exist.")
    elif brand_id is not None:
        brand = db.session.get(Brand, brand_id)
        if brand is None or not brand.is_enabled:
            errors["brand_id"] = _("This brand does not exist or is no longer available.")
    content["brand_id"] = brand_id
    tag_ids = _ids(raw.get("tag_ids"))
    known_tags = set(db.session.scalars(select(Tag.id).where(Tag.id.in_(tag_ids)))) if tag_ids else set()
    if tag_ids is None or len(known_tags) != len(tag_ids):
        errors["tag_ids"] = _("One of the tags does not exist.")
    elif len(tag_ids) > MAX_TAGS:
        errors["tag_ids"] = _("Choose at most %(n)s tags.", n=MAX_TAGS)
    content["tag_ids"] = tag_ids or []
    # Store categories are read in the bound store's schema: another store's ids are simply not there.
    store_category_ids = _ids(raw.get("store_category_ids"))
    found = (
        set(db.session.scalars(select(StoreCategory.id).where(StoreCategory.id.in_(store_category_ids))))
        if store_category_ids
        else set()
    )
    if store_category_ids is None or len(found) != len(store_category_ids):
        errors["store_category_ids"] = _("One of the store categories does not exist in your store.")
    elif len(store_category_ids) > MAX_STORE_CATEGORIES:
        errors["store_category_ids"] = _("Choose at most %(n)s store categories.", n=MAX_STORE_CATEGORIES)
    content["store_category_ids"] = store_category_ids or []


def _attribute_value(attribute, value: Any) -> tuple[Any, str | None]:
    """(cleaned value or None when empty, error message or None) by the template's input kind."""
    values = value if isinstance(value, list | tuple) else [value]
    texts = [clean_text(str(v or "")) for v in values]
    texts = [t for t in texts if t]
    if attribute.input == "multi":
        options = list(attribute.options or [])
        unknown = [t for t in texts if t not in options]
        if unknown:
            return None, _("Choose among the listed options.")
        chosen = [o for o in options if o in texts]
        return (chosen or None), None
    text = texts[0] if texts else ""
    if not text:
        return None, None
    if attribute.input == "select":
        return (text, None) if text in (attribute.options or []) else (None, _("Choose one of the listed options."))
    if attribute.input == "number":
        try:
            number = Decimal(unicodedata.normalize("NFKC", text).replace(",", ""))
        except InvalidOperation:
            return None, _("Enter a number, e.g. 12.5.")
        if not number.is_finite() or abs(number) >= Decimal("1e12"):
            return None, _("Enter a number, e.g. 12.5.")
        return format_number(number), None
    if len(text) > ATTRIBUTE_TEXT_MAX:
        return None, _("At most %(max)s characters (now %(n)s).", max=ATTRIBUTE_TEXT_MAX, n=len(text))
    return text, None


def _attributes(raw: Mapping, errors: dict, content: dict, *, strict: bool) -> None:
    """Values for the category's inherited attribute templates; anything else (e.g. left over from
    another category) is dropped. Required ones are enforced only at submit (``strict``)."""
    content["attributes"] = {}
    if content["category_id"] is None:
        return
    given = {str(k): v for k, v in (raw.get("attributes") or {}).items()}
    for attribute in inherited_attributes(content["category_id"]):
        key = str(attribute.id)
        value, problem = _attribute_value(attribute, given.get(key))
        if problem:
            errors[f"attr-{key}"] = problem
        elif value is None and strict and attribute.is_required:
            errors[f"attr-{key}"] = _("%(name)s is required.", name=attribute.name)
        elif value is not None:
            content["attributes"][key] = value


def _specs(raw: Mapping, errors: dict) -> list[dict] | None:
    """Up to 3 named axes with 1 to 20 distinct values each; None when any axis is wrong."""
    axes: list[dict] = []
    names: set[str] = set()
    ok = True
    raw_specs = list(raw.get("specs") or [])
    for index, spec in enumerate(raw_specs):
        spec = spec or {}
        name = clean_text(unicodedata.normalize("NFC", str(spec.get("name") or "")))
        values = clean_list(spec.get("values"))
        if not name and not values:
            continue
        problem_name = problem_values = None
        if not name:
            problem_name = _("Name this spec, e.g. colour or size.")
        elif len(name) > SPEC_NAME_MAX:
            problem_name = _("At most %(max)s characters (now %(n)s).", max=SPEC_NAME_MAX, n=len(name))
        elif any(ch in name for ch in SPEC_FORBIDDEN):
            problem_name = _("Spec names cannot contain “:” or “|”.")
        elif name.casefold() in names:
            problem_name = _("Two specs have the same name.")
        if not values:
            problem_values = _("Give at least one value.")
        elif len(values) > MAX_SPEC_VALUES:
            problem_values = _("At most %(n)s values per spec.", n=MAX_SPEC_VALUES)
        elif any(len(v) > SPEC_VALUE_MAX for v in values):
            problem_values = _("Each value can have at most %(n)s characters.", n=SPEC_VALUE_MAX)
        elif any(ch in v for v in values for ch in SPEC_FORBIDDEN):
            problem_values = _("Spec values cannot contain “:” or “|”.")
        if problem_name:
            errors[f"spec-{index}-name"] = problem_name
        else:
            names.add(name.casefold())
        if problem_values:
            errors[f"spec-{index}-values"] = problem_values
        if problem_name or problem_values:
            ok = False
            continue
        axes.append({"name": name, "values": values})
    if len(axes) > MAX_SPECS:
        errors["specs"] = _("At most %(n)s specs.", n=MAX_SPECS)
        return None
    if not ok:
        return None
    cells = 1
    for axis in axes:
        cells *= len(axis["values"])
    if cells > MAX_SKUS:
        errors["specs"] = _("These specs make %(n)s SKUs; at most %(max)s are allowed.", n=cells, max=MAX_SKUS)
        return None
    return axes


def _sku_row(index: int, key: str, row: Mapping, existing: Mapping[str, Sku], errors: dict) -> dict:
    prefix = f"sku-{index}-"
    cleaned: dict[str, Any] = {"spec_key": key, "is_active": flag(row.get("is_active", True))}
    price_text = str(row.get("price") if row.get("price") is not None else "").strip()
    price = None
    if not price_text:
        errors[prefix + "price"] = _("Give the sale price.")
    else:
        try:
            price = parse_yuan(price_text)
        except DomainError as error:
            errors[prefix + "price"] = error.message
        else:
            if price < 1:
                errors[prefix + "price"] = _("The sale price must be at least 0.01.")
    cleaned["price_cents"] = price
    market = None
    market_text = str(row.get("market_price") or "").strip()
    if market_text:
        try:
            market = parse_yuan(market_text)
        except DomainError as error:
            errors[prefix + "market_price"] = error.message
        else:
            if price is not None and market < price:
                errors[prefix + "market_price"] = _("The market price cannot be lower than the sale price.")
    cleaned["market_price_cents"] = market
    code = clean_text(str(row.get("code") or "")) or None
    if code and (len(code) > CODE_MAX or not CODE_RE.match(code)):
        errors[prefix + "code"] = _("Codes use letters, digits, “-”, “_”, “.” and “/” (at most %(n)s).", n=CODE_MAX)
    cleaned["code"] = code
    cleaned["weight_grams"] = _optional_count(errors, prefix + "weight", row.get("weight"), MAX_WEIGHT_GRAMS)
    current = existing.get(key)
    if "low_stock_threshold" in row:
        cleaned["low_stock_threshold"] = _optional_count(
            errors, prefix + "low_stock_threshold", row.get("low_stock_threshold"), MAX_STOCK
        )
    else:  # not an editor field: keep what inventory set
        cleaned["low_stock_threshold"] = current.low_stock_threshold if current is not None else None
    if current is None:  # stock is given once, when the SKU is created; later changes are inventory's
        stock = _optional_count(errors, prefix + "stock", row.get("stock"), MAX_STOCK)
        if stock:
            cleaned["stock"] = stock
    return cleaned


def _skus(raw: Mapping, specs: list[dict], product: Product | None, errors: dict, content: dict) -> None:
    existing = {sku.spec_key: sku for sku in product.skus} if product is not None else {}
    rows = raw.get("skus") or {}
    skus = []
    for index, (key, values) in enumerate(sku_matrix(specs)):
        cleaned = _sku_row(index, key, rows.get(key) or {}, existing, errors)
        skus.append({"spec_values": values, **cleaned})
    _check_codes(skus, product, errors)
    content["skus"] = skus


def _check_codes(skus: list[dict], product: Product | None, errors: dict) -> None:
    """Codes are unique in the store: twice in this form, or on another product, is refused."""
    seen: dict[str, int] = {}
    for index, sku in enumerate(skus):
        code = sku["code"]
        if code is None:
            continue
        if code in seen:
            errors.setdefault(f"sku-{index}-code", _("Two SKUs have the code %(code)s.", code=code))
        seen[code] = index
    if not seen:
        return
    stmt = select(Sku.code).where(Sku.code.in_(list(seen)))
    if product is not None and product.id is not None:
        stmt = stmt.where(Sku.product_id != product.id)
    for code in db.session.scalars(stmt):
        errors.setdefault(
            f"sku-{seen[code]}-code",
            _("The code %(code)s is already used by another product of your store.", code=code),
        )


def _media(raw: Mapping, errors: dict, content: dict, *, new_images: int) -> None:
    """Kept images and video must be this store's public uploads of the right kind."""
    merchant_id = require_merchant_id()
    image_ids = _ids(raw.get("images"))
    if image_ids is None:
        errors["images"] = _("One of the images is not an image of your store.")
        image_ids = []
    elif image_ids:
        found = set(
            db.session.scalars(
                select(StoredObject.id).where(
                    StoredObject.id.in_(image_ids),
                    StoredObject.merchant_id == merchant_id,
                    StoredObject.purpose == IMAGE_PURPOSE,
                    StoredObject.is_private.is_(False),
                )
            )
        )
        if len(found) != len(image_ids):
            errors["images"] = _("One of the images is not an image of your store.")
            image_ids = [i for i in image_ids if i in found]
    if len(image_ids) + new_images > MAX_IMAGES:
        errors["new_images"] = _("At most %(n)s images.", n=MAX_IMAGES)
    content["images"] = image_ids
    video_id = None
    if str(raw.get("video_file_id") or "").strip() and not flag(raw.get("remove_video")):
        video_id = _id(raw.get("video_file_id"))
        video = db.session.get(StoredObject, video_id) if video_id else None
        ours = video is not None and video.merchant_id == merchant_id and not video.is_private
        if not ours or video.content_type not in VIDEO_TYPES:
            errors["video"] = _("This video was not uploaded by this store.")
            video_id = None
    content["video_file_id"] = video_id


# ---------------------------------------------------------------------------------------------
# The whole editor
# ---------------------------------------------------------------------------------------------


def clean_product_input(
    raw: Mapping[str, Any], *, product: Product | None = None, strict: bool = False, new_images: int = 0
) -> dict:
    """The canonical content of the editor's ``raw`` values (for ``product``, None when new).

    ``strict`` adds the rules of a submission: required attributes, 1 to 10 images, one active SKU.
    ``new_images`` counts uploads that will be added to the kept images. Raises ``ProductInvalid``.
    """
    errors: dict[str, str] = {}
    content: dict[str, Any] = {}
    _basics(raw, errors, content)
    _taxonomy(raw, errors, content)
    _attributes(raw, errors, content, strict=strict)
    specs = _specs(raw, errors)
    content["specs"] = specs or []
    if specs is not None:
        _skus(raw, specs, product, errors, content)
    else:
        content["skus"] = []
    _media(raw, errors, content, new_images=new_images)
    if strict:
        if not content["images"] and not new_images:
            errors.setdefault("new_images", _("Add at least one image."))
        if specs is not None and not any(sku["is_active"] for sku in content["skus"]):
            errors.setdefault("skus", _("Keep at least one SKU on sale."))
    if errors:
        raise ProductInvalid(errors)
    return content


def content_to_raw(content: Mapping[str, Any], *, with_stock: bool = True) -> dict:
    """The editor's raw values of saved content (prices back to "199.00"): what the form shows, and
    what a submission checks again with ``strict``."""
    skus = {}
    for sku in content.get("skus") or []:
        row = {
            "price": format_yuan(sku.get("price_cents")),
            "market_price": format_yuan(sku.get("market_price_cents")),
            "code": sku.get("code") or "",
            "weight": "" if sku.get("weight_grams") is None else str(sku["weight_grams"]),
            "low_stock_threshold": "" if sku.get("low_stock_threshold") is None else str(sku["low_stock_threshold"]),
            "is_active": bool(sku.get("is_active", True)),
        }
        if with_stock and sku.get("stock"):
            row["stock"] = str(sku["stock"])
        skus[sku["spec_key"]] = row
    return {
        "title": content.get("title") or "",
        "subtitle": content.get("subtitle") or "",
        "slug": content.get("slug") or "",
        "category_id": str(content.get("category_id") or ""),
        "brand_id": str(content.get("brand_id") or ""),
        "tag_ids": [str(i) for i in content.get("tag_ids") or []],
        "store_category_ids": [str(i) for i in content.get("store_category_ids") or []],
        "attributes": dict(content.get("attributes") or {}),
        "specs": [{"name": s["name"], "values": list(s["values"])} for s in content.get("specs") or []],
        "skus": skus,
        "images": list(content.get("images") or []),
        "video_file_id": content.get("video_file_id") or "",
        "description_html": content.get("description_html") or "",
        "after_sales": content.get("after_sales") or "",
    }
