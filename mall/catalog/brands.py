"""Brands (with logo, story and the brand hall's featured flag and A to Z index) and tags (P-03).

Names are unique ignoring case; addresses (slugs) are lower-case letters, digits and hyphens and are
derived from a Latin name when left empty. The brand hall's index letter is A to Z or "#": derived from
a Latin name, "#" otherwise; the operator sets it for Chinese names (no pinyin table is shipped).
Every write is checked first (``TaxonomyInvalid`` per field, nothing written), flushed and audited.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from sqlalchemy import func, or_, select

from mall.audit.services import diff, record_audit
from mall.catalog.fields import TaxonomyError, TaxonomyInvalid, clean_field, clean_slug, flag, store_image_field
from mall.catalog.models import Brand, PublicProduct, Tag
from mall.catalog.paging import Page
from mall.catalog.taxonomy import carries_tag, flush_unique, resync_products_later, taxonomy_edited
from mall.errors import NotFound
from mall.extensions import db
from mall.i18n import _
from mall.storage.models import StoredObject
from mall.storage.services import Upload

BRAND_NAME_MAX = 80
BRAND_SLUG_MAX = 80
BRAND_STORY_MAX = 5000
POSITION_MAX = 1_000_000
TAG_NAME_MAX = 40
TAG_SLUG_MAX = 60
LOGO_PURPOSE = "brand-logo"
INITIALS = tuple("ABCDEFGHIJKLMNOPQRSTUVWXYZ#")


def latin_slug(name: str | None) -> str:
    """``"Li-Ning Sports"`` → ``"li-ning-sports"``; "" when the name has no Latin letters or digits."""
    ascii_text = unicodedata.normalize("NFKD", name or "").encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


def derived_initial(name: str | None) -> str:
    """A to Z from the first character of a Latin name, "#" for anything else (Chinese, digits…)."""
    first = unicodedata.normalize("NFKD", (name or "").strip()[:1]).encode("ascii", "ignore").decode().upper()
    return first if first in INITIALS[:-1] else "#"


def media_keys(file_ids) -> dict[int, str]:
    """Storage keys of public objects by id (for ``url_for("web.media", key=...)``)."""
    ids = {i for i in file_ids if i}
    if not ids:
        return {}
    rows = db.session.execute(
        select(StoredObject.id, StoredObject.key).where(StoredObject.id.in_(ids), StoredObject.is_private.is_(False))
    )
    return dict(rows.all())


def _get(model: type, object_id: Any, message: str):
    try:
        key = int(object_id)
    except (TypeError, ValueError):
        key = 0
    row = db.session.get(model, key) if 0 < key < 2**63 else None
    if row is None:
        raise NotFound(message)
    return row


def _unique_name(errors: dict[str, str], model: type, name: str | None, own_id: int | None, message: str) -> None:
    if name and "name" not in errors:
        clash = select(model.id).where(func.lower(model.name) == name.lower(), model.id != (own_id or 0))
        if db.session.scalar(clash):
            errors["name"] = message


def _unique_slug(errors: dict[str, str], model: type, slug: str | None, own_id: int | None, message: str) -> None:
    clash = select(model.id).where(model.slug == slug, model.id != (own_id or 0))
    if slug and "slug" not in errors and db.session.scalar(clash):
        errors["slug"] = message


def _slug(errors: dict[str, str], value: Any, name: str | None, max_length: int) -> str | None:
    """The typed address, or one derived from a Latin name when none was typed."""
    typed = str(value or "").strip()
    if not typed and name:
        typed = latin_slug(name)[:max_length].strip("-")
    return clean_slug(errors, typed, max_length)


# ---------------------------------------------------------------------------------------------
# Brands
# ---------------------------------------------------------------------------------------------


def get_brand(brand_id: Any) -> Brand:
    return _get(Brand, brand_id, _("This brand does not exist."))


def list_brands(
    *, search: str | None = None, featured: bool | None = None, enabled: bool | None = None, page: int = 1, per_page=50
) -> Page:
    """Brands for the operator's list: by position then name, filtered by a search on name or
    address, the featured flag and the enabled flag."""
    query = select(Brand)
    text = (search or "").strip()
    if text:
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(or_(Brand.name.ilike(pattern, escape="\\"), Brand.slug.ilike(pattern, escape="\\")))
    if featured is not None:
        query = query.where(Brand.is_featured.is_(featured))
    if enabled is not None:
        query = query.where(Brand.is_enabled.is_(enabled))
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    page = max(1, page)
    items = db.session.scalars(
        query.order_by(Brand.position, Brand.name, Brand.id).limit(per_page).offset((page - 1) * per_page)
    ).all()
    return Page(list(items), page=page, per_page=per_page, total=total)


def _brand_values(brand: Brand) -> dict[str, Any]:
    keys = ("name", "slug", "initial", "story", "is_featured", "is_enabled", "position", "logo_file_id")
    return {key: getattr(brand, key) for key in keys}


def _position(errors: dict[str, str], value: Any) -> int:
    text = unicodedata.normalize("NFKC", str(value if value is not None else "")).strip()
    if not text:
        return 0
    if not text.isdigit() or int(text) > POSITION_MAX:
        errors["position"] = _("A whole number from 0 to %(max)s.", max=POSITION_MAX)
        return 0
    return int(text)


def clean_brand(data: dict[str, Any], brand_id: int | None = None) -> dict[str, Any]:
    """Checked values of a brand, or ``TaxonomyInvalid`` (nothing written)."""
    errors: dict[str, str] = {}
    name = clean_field(errors, "name", data.get("name"), BRAND_NAME_MAX, required=True)
    values: dict[str, Any] = {
        "name": name,
        "slug": _slug(errors, data.get("slug"), name, BRAND_SLUG_MAX),
        "story": clean_field(errors, "story", data.get("story"), BRAND_STORY_MAX, multiline=True),
        "is_featured": flag(data.get("is_featured")),
        "is_enabled": flag(data.get("is_enabled", True)),
        "position": _position(errors, data.get("position")),
    }
    initial = unicodedata.normalize("NFKC", str(data.get("initial") or "")).strip().upper()
    if initial and initial not in INITIALS:
        errors["initial"] = _("One letter from A to Z, or # for the rest.")
    values["initial"] = initial or derived_initial(name)
    _unique_name(errors, Brand, name, brand_id, _("A brand with this name exists already."))
    _unique_slug(errors, Brand, values["slug"], brand_id, _("Another brand has this address already."))
    if errors:
        raise TaxonomyInvalid(errors)
    return values


def create_brand(data: dict[str, Any], *, logo: Upload | None = None) -> Brand:
    """A new brand; the logo (a public image) is stored only when every text field is valid."""
    values = clean_brand(data)
    if logo is not None:
        values["logo_file_id"] = store_image_field(logo, purpose=LOGO_PURPOSE, field="logo")
    brand = Brand(**values)
    db.session.add(brand)
    flush_unique({"name": _("A brand with this name or address exists already.")})
    record_audit("brand.create", area="platform", obj=brand, changes=diff({}, _brand_values(brand)))
    taxonomy_edited("brand", brand_id=brand.id)
    return brand


def update_brand(brand: Brand, data: dict[str, Any], *, logo: Upload | None = None, remove_logo: bool = False) -> Brand:
    """Change a brand (a new logo replaces the old; ``remove_logo`` drops it)."""
    before = _brand_values(brand)
    values = clean_brand(data, brand.id)
    if logo is not None:
        values["logo_file_id"] = store_image_field(logo, purpose=LOGO_PURPOSE, field="logo")
    elif remove_logo:
        values["logo_file_id"] = None
    for key, value in values.items():
        setattr(brand, key, value)
    flush_unique({"name": _("A brand with this name or address exists already.")})
    changes = diff(before, _brand_values(brand))
    if changes:
        record_audit("brand.edit", area="platform", obj=brand, changes=changes)
        if "name" in changes:
            resync_products_later("brand", brand.id)  # the brand name is in the products' search text
        taxonomy_edited("brand", brand_id=brand.id)
    return brand


def delete_brand(brand: Brand) -> None:
    """Delete a brand no product of the mall uses (disable it otherwise)."""
    if db.session.scalar(select(PublicProduct.id).where(PublicProduct.brand_id == brand.id).limit(1)):
        raise TaxonomyError(_("Products of the mall carry this brand: disable it instead."))
    record_audit("brand.delete", area="platform", obj=brand, changes=diff(_brand_values(brand), {}))
    db.session.delete(brand)
    db.session.flush()
    taxonomy_edited("brand", brand_id=brand.id)


# ---------------------------------------------------------------------------------------------
# Tags
# ---------------------------------------------------------------------------------------------


def get_tag(tag_id: Any) -> Tag:
    return _get(Tag, tag_id, _("This tag does not exist."))


def list_tags(search: str | None = None) -> list[Tag]:
    query = select(Tag).order_by(Tag.name, Tag.id)
    text = (search or "").strip()
    if text:
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(or_(Tag.name.ilike(pattern, escape="\\"), Tag.slug.ilike(pattern, escape="\\")))
    return list(db.session.scalars(query))


def clean_tag(data: dict[str, Any], tag_id: int | None = None) -> dict[str, Any]:
    errors: dict[str, str] = {}
    name = clean_field(errors, "name", data.get("name"), TAG_NAME_MAX, required=True)
    values = {"name": name, "slug": _slug(errors, data.get("slug"), name, TAG_SLUG_MAX)}
    _unique_name(errors, Tag, name, tag_id, _("A tag with this name exists already."))
    _unique_slug(errors, Tag, values["slug"], tag_id, _("Another tag has this address already."))
    if errors:
        raise TaxonomyInvalid(errors)
    return values


def create_tag(data: dict[str, Any]) -> Tag:
    tag = Tag(**clean_tag(data))
    db.session.add(tag)
    flush_unique({"name": _("A tag with this name or address exists already.")})
    record_audit("tag.create", area="platform", obj=tag, changes={"name": [None, tag.name], "slug": [None, tag.slug]})
    taxonomy_edited("tag", tag_id=tag.id)
    return tag


def update_tag(tag: Tag, data: dict[str, Any]) -> Tag:
    before = {"name": tag.name, "slug": tag.slug}
    for key, value in clean_tag(data, tag.id).items():
        setattr(tag, key, value)
    flush_unique({"name": _("A tag with this name or address exists already.")})
    changes = diff(before, {"name": tag.name, "slug": tag.slug})
    if changes:
        record_audit("tag.edit", area="platform", obj=tag, changes=changes)
        if "name" in changes:
            resync_products_later("tag", tag.id)  # tag names are in the products' search text
        taxonomy_edited("tag", tag_id=tag.id)
    return tag


def delete_tag(tag: Tag) -> None:
    """Delete a tag no product of the mall carries."""
    if db.session.scalar(select(PublicProduct.id).where(carries_tag(tag.id)).limit(1)):
        raise TaxonomyError(_("Products of the mall carry this tag: remove it from them first."))
    record_audit("tag.delete", area="platform", obj=tag, changes={"name": [tag.name, None], "slug": [tag.slug, None]})
    db.session.delete(tag)
    db.session.flush()
    taxonomy_edited("tag", tag_id=tag.id)
