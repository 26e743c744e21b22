"""The operator's home page configuration (C-04, P-09): the blocks of the mall home in their order,
and banner slides per slot (``home`` or ``category:<id>``), optionally time-boxed.

Writes are checked first (``TaxonomyInvalid`` per field, nothing written; an image is stored only
when every text field is valid), flushed, audited (area ``platform``) and make cached catalog pages
stale. ``home_blocks`` and ``active_slides`` are what the mall front reads.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import get_timezone
from sqlalchemy import func, or_, select

from mall.audit.services import diff, record_audit
from mall.catalog.fields import TaxonomyError, TaxonomyInvalid, clean_field, flag, store_image_field
from mall.catalog.models import HOME_BLOCK_KINDS, BannerSlide, Category, HomeBlock
from mall.catalog.taxonomy import ancestors_of, renumber, reordered, taxonomy_edited
from mall.decoration.validation import link_problem
from mall.errors import NotFound
from mall.extensions import db
from mall.i18n import L_, _
from mall.storage.services import Upload

BLOCK_KIND_LABELS = {
    "banners": L_("Banner carousel"),
    "hot_products": L_("Hot products"),
    "stores": L_("Recommended stores"),
    "brands": L_("Hot brands"),
    "category_zone": L_("Category zone"),
    "new_arrivals": L_("New arrivals"),
    "offers": L_("Special offers"),
}
# How many items a block shows unless the operator says otherwise (banners show every active slide).
DEFAULT_LIMITS = {
    "hot_products": 10,
    "stores": 8,
    "brands": 12,
    "category_zone": 16,  # two rows of eight
    "new_arrivals": 10,
    "offers": 10,
}
LIMIT_MIN, LIMIT_MAX = 1, 48
BLOCK_TITLE_MAX = 80
SLIDE_TITLE_MAX = 80
SLOT_RE = re.compile(r"^(home|category:[1-9][0-9]{0,18})$")
SLIDE_PURPOSE = "banner"


def _get(model: type, object_id: Any, message: str):
    try:
        key = int(object_id)
    except (TypeError, ValueError):
        key = 0
    row = db.session.get(model, key) if 0 < key < 2**63 else None
    if row is None:
        raise NotFound(message)
    return row


# ---------------------------------------------------------------------------------------------
# Reading (the mall front)
# ---------------------------------------------------------------------------------------------


def _category_shown(category_id: Any) -> bool:
    category = db.session.get(Category, category_id) if isinstance(category_id, int) else None
    return category is not None and all(c.is_enabled for c in ancestors_of(category))


def home_blocks(enabled_only: bool = True) -> list[HomeBlock]:
    """The home page blocks in the operator's order. With ``enabled_only`` (the mall), disabled
    blocks and category zones whose category is missing or hidden are left out."""
    blocks = db.session.scalars(select(HomeBlock).order_by(HomeBlock.position, HomeBlock.id)).all()
    if not enabled_only:
        return list(blocks)
    return [
        b
        for b in blocks
        if b.is_enabled and (b.kind != "category_zone" or _category_shown((b.config or {}).get("category_id")))
    ]


def active_slides(slot: str = "home", now: datetime | None = None) -> list[BannerSlide]:
    """Enabled slides of ``slot`` whose time window holds ``now`` (start inclusive, end exclusive),
    in the operator's order."""
    now = now or datetime.now(UTC)
    return list(
        db.session.scalars(
            select(BannerSlide)
            .where(
                BannerSlide.slot == slot,
                BannerSlide.is_enabled.is_(True),
                or_(BannerSlide.starts_at.is_(None), BannerSlide.starts_at <= now),
                or_(BannerSlide.ends_at.is_(None), BannerSlide.ends_at > now),
            )
            .order_by(BannerSlide.position, BannerSlide.id)
        )
    )


def slides_of(slot: str | None = None) -> list[BannerSlide]:
    """Every slide (the operator's list), by slot then order."""
    query = select(BannerSlide).order_by(BannerSlide.slot, BannerSlide.position, BannerSlide.id)
    if slot:
        query = query.where(BannerSlide.slot == slot)
    return list(db.session.scalars(query))


def used_slots() -> list[str]:
    return list(db.session.scalars(select(BannerSlide.slot).distinct().order_by(BannerSlide.slot)))


# ---------------------------------------------------------------------------------------------
# Blocks
# ---------------------------------------------------------------------------------------------


def get_block(block_id: Any) -> HomeBlock:
    return _get(HomeBlock, block_id, _("This home page block does not exist."))


def _limit(errors: dict[str, str], kind: str, value: Any) -> int | None:
    if kind not in DEFAULT_LIMITS:
        return None
    text = str(value if value is not None else "").strip()
    if not text:
        return DEFAULT_LIMITS[kind]
    if not text.isdigit() or not LIMIT_MIN <= int(text) <= LIMIT_MAX:
        errors["limit"] = _("A whole number from %(min)s to %(max)s.", min=LIMIT_MIN, max=LIMIT_MAX)
        return None
    return int(text)


def clean_block(data: dict[str, Any]) -> dict[str, Any]:
    """Checked kind, title, enabled flag and config (``limit``; ``category_id`` for a category zone)."""
    errors: dict[str, str] = {}
    kind = str(data.get("kind") or "")
    if kind not in HOME_BLOCK_KINDS:
        errors["kind"] = _("Choose what the block shows.")
    values: dict[str, Any] = {
        "kind": kind,
        "title": clean_field(errors, "title", data.get("title"), BLOCK_TITLE_MAX),
        "is_enabled": flag(data.get("is_enabled", True)),
    }
    config: dict[str, Any] = {}
    limit = _limit(errors, kind, data.get("limit"))
    if limit is not None:
        config["limit"] = limit
    if kind == "category_zone":
        raw = str(data.get("category_id") or "").strip()
        category = db.session.get(Category, int(raw)) if raw.isdigit() and int(raw) < 2**63 else None
        if category is None:
            errors["category_id"] = _("Choose the category the zone shows.")
        else:
            config["category_id"] = category.id
    values["config"] = config
    if errors:
        raise TaxonomyInvalid(errors)
    return values


def _block_values(block: HomeBlock) -> dict[str, Any]:
    return {"kind": block.kind, "title": block.title, "is_enabled": block.is_enabled, "config": block.config}


def add_block(data: dict[str, Any]) -> HomeBlock:
    """A new block at the end of the home page."""
    values = clean_block(data)
    last = db.session.scalar(select(func.max(HomeBlock.position)))
    block = HomeBlock(position=(last if last is not None else -1) + 1, **values)
    db.session.add(block)
    db.session.flush()
    record_audit("home_block.create", area="platform", obj=block, changes=diff({}, _block_values(block)))
    taxonomy_edited("home", block_id=block.id)
    return block


def update_block(block: HomeBlock, data: dict[str, Any]) -> HomeBlock:
    """Change what a block shows, its title and whether it is shown."""
    before = _block_values(block)
    for key, value in clean_block(data).items():
        setattr(block, key, value)
    db.session.flush()
    changes = diff(before, _block_values(block))
    if changes:
        record_audit("home_block.edit", area="platform", obj=block, changes=changes)
        taxonomy_edited("home", block_id=block.id)
    return block


def set_block_enabled(block: HomeBlock, enabled: bool) -> HomeBlock:
    enabled = flag(enabled)
    if block.is_enabled != enabled:
        block.is_enabled = enabled
        db.session.flush()
        record_audit(
            "home_block.enable" if enabled else "home_block.disable",
            area="platform",
            obj=block,
            changes={"is_enabled": [not enabled, enabled]},
        )
        taxonomy_edited("home", block_id=block.id)
    return block


def move_block(block: HomeBlock, *, direction: str | None = None, position: int | None = None) -> HomeBlock:
    """One place up or down, or to ``position`` (0 = top of the page)."""
    blocks = list(db.session.scalars(select(HomeBlock).order_by(HomeBlock.position, HomeBlock.id).with_for_update()))
    before = [b.id for b in blocks]
    ordered = reordered(blocks, block, direction, position)
    renumber(ordered)
    db.session.flush()
    after = [b.id for b in ordered]
    if after != before:
        record_audit("home_block.reorder", area="platform", obj=block, changes={"order": [before, after]})
        taxonomy_edited("home", block_id=block.id)
    return block


def delete_block(block: HomeBlock) -> None:
    record_audit("home_block.delete", area="platform", obj=block, changes=diff(_block_values(block), {}))
    db.session.delete(block)
    db.session.flush()
    renumber(list(db.session.scalars(select(HomeBlock).order_by(HomeBlock.position, HomeBlock.id))))
    db.session.flush()
    taxonomy_edited("home", block_id=block.id)


# ---------------------------------------------------------------------------------------------
# Banner slides
# ---------------------------------------------------------------------------------------------


def get_slide(slide_id: Any) -> BannerSlide:
    return _get(BannerSlide, slide_id, _("This banner slide does not exist."))


def display_zone() -> ZoneInfo:
    """The mall's display time zone (Flask-Babel's may be a pytz zone, whose ``replace`` gives LMT)."""
    return ZoneInfo(str(get_timezone()))


def parse_local_datetime(value: Any, field: str, errors: dict[str, str]) -> datetime | None:
    """A date and time as typed in a form (``2026-12-01T09:30`` or with a space), read in the mall's
    display time zone; an aware ``datetime`` passes through. Empty means "no limit"."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=display_zone())
    text = str(value or "").strip()
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace(" ", "T", 1))
    except ValueError:
        errors[field] = _("Enter a date and time like 2026-12-01 09:30.")
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=display_zone())


def clean_slot(errors: dict[str, str], value: Any) -> str:
    slot = str(value or "home").strip()
    if not SLOT_RE.match(slot):
        errors["slot"] = _("Choose the home page or a category.")
    elif slot.startswith("category:") and db.session.get(Category, int(slot[9:])) is None:
        errors["slot"] = _("This category does not exist.")
    return slot


def clean_slide(data: dict[str, Any]) -> dict[str, Any]:
    """Checked slot, title, link, time window and enabled flag of a slide."""
    errors: dict[str, str] = {}
    values: dict[str, Any] = {
        "slot": clean_slot(errors, data.get("slot")),
        "title": clean_field(errors, "title", data.get("title"), SLIDE_TITLE_MAX),
        "is_enabled": flag(data.get("is_enabled", True)),
        "starts_at": parse_local_datetime(data.get("starts_at"), "starts_at", errors),
        "ends_at": parse_local_datetime(data.get("ends_at"), "ends_at", errors),
    }
    link = str(data.get("link") or "").strip()
    problem = link_problem(link) if link else None
    if problem:
        errors["link"] = problem
    values["link"] = link or None
    if values["starts_at"] and values["ends_at"] and values["ends_at"] <= values["starts_at"]:
        errors["ends_at"] = _("The end must come after the start.")
    if errors:
        raise TaxonomyInvalid(errors)
    return values


def _slide_values(slide: BannerSlide) -> dict[str, Any]:
    keys = ("slot", "title", "link", "is_enabled", "starts_at", "ends_at", "position", "image_file_id")
    return {key: getattr(slide, key) for key in keys}


def _last_position(slot: str) -> int:
    last = db.session.scalar(select(func.max(BannerSlide.position)).where(BannerSlide.slot == slot))
    return last if last is not None else -1


def add_slide(data: dict[str, Any], image: Upload | None) -> BannerSlide:
    """A new slide at the end of its slot; the image is required and stored only when the rest is valid."""
    values = clean_slide(data)
    if image is None or not image.data:
        raise TaxonomyInvalid({"image": _("Upload the banner image.")})
    slide = BannerSlide(
        image_file_id=store_image_field(image, purpose=SLIDE_PURPOSE, field="image"),
        position=_last_position(values["slot"]) + 1,
        **values,
    )
    db.session.add(slide)
    db.session.flush()
    record_audit("banner_slide.create", area="platform", obj=slide, changes=diff({}, _slide_values(slide)))
    taxonomy_edited("home", slide_id=slide.id)
    return slide


def update_slide(slide: BannerSlide, data: dict[str, Any], image: Upload | None = None) -> BannerSlide:
    """Change a slide; a new image replaces the old one. Moving it to another slot puts it last there."""
    before = _slide_values(slide)
    values = clean_slide(data)
    if image is not None and image.data:
        values["image_file_id"] = store_image_field(image, purpose=SLIDE_PURPOSE, field="image")
    if values["slot"] != slide.slot:
        values["position"] = _last_position(values["slot"]) + 1
    for key, value in values.items():
        setattr(slide, key, value)
    db.session.flush()
    changes = diff(before, _slide_values(slide))
    if changes:
        record_audit("banner_slide.edit", area="platform", obj=slide, changes=changes)
        taxonomy_edited("home", slide_id=slide.id)
    return slide


def move_slide(slide: BannerSlide, *, direction: str | None = None, position: int | None = None) -> BannerSlide:
    """One place up or down within its slot, or to ``position``."""
    slides = list(
        db.session.scalars(
            select(BannerSlide)
            .where(BannerSlide.slot == slide.slot)
            .order_by(BannerSlide.position, BannerSlide.id)
            .with_for_update()
        )
    )
    before = [s.id for s in slides]
    ordered = reordered(slides, slide, direction, position)
    renumber(ordered)
    db.session.flush()
    after = [s.id for s in ordered]
    if after != before:
        record_audit("banner_slide.reorder", area="platform", obj=slide, changes={"order": [before, after]})
        taxonomy_edited("home", slide_id=slide.id)
    return slide


def delete_slide(slide: BannerSlide) -> None:
    record_audit("banner_slide.delete", area="platform", obj=slide, changes=diff(_slide_values(slide), {}))
    db.session.delete(slide)
    db.session.flush()
    taxonomy_edited("home", slide_id=slide.id)


def slot_label(slot: str, categories: dict[int, str] | None = None) -> str:
    """The slot as operators read it: "Home page" or "Category: <name>"."""
    if slot == "home":
        return _("Home page")
    if slot.startswith("category:") and slot[9:].isdigit():
        name = (categories or {}).get(int(slot[9:]))
        if name is None:
            category = db.session.get(Category, int(slot[9:]))
            name = category.name if category is not None else slot
        return _("Category: %(name)s", name=name)
    return slot


def check_slot(slot: str) -> str:
    """A valid slot or ``TaxonomyError`` (for filters given in URLs)."""
    errors: dict[str, str] = {}
    clean_slot(errors, slot)
    if errors:
        raise TaxonomyError(errors["slot"], field="slot")
    return slot
