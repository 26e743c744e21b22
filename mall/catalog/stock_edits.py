"""The merchant centre's inventory work: the SKU list, the movement log, hand adjustments, low-stock
thresholds and bulk edits. Every write goes through ``mall.catalog.inventory`` (conditional
UPDATE + movement row) and leaves an audit row for the store's operation log.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask_babel import get_timezone
from sqlalchemy import or_, select

from mall.audit.services import record_audit
from mall.catalog.inventory import (
    MAX_STOCK,
    InsufficientStock,
    StockChange,
    adjust_stock,
    after_stock_change,
    apply_stock_change,
    check_low_stock,
    parse_count,
    set_stock,
)
from mall.catalog.models import STOCK_REASONS, Product, Sku, StockMovement
from mall.catalog.money import parse_yuan
from mall.catalog.paging import Page, paged
from mall.catalog.publishing import sync_stock
from mall.errors import DomainError, NotFound
from mall.extensions import db
from mall.i18n import L_, _
from mall.identity.models import User
from mall.tenancy import require_merchant_id

# ---------------------------------------------------------------------------------------------
# Lists for the merchant centre
# ---------------------------------------------------------------------------------------------


def inventory_page(
    *, q: str | None = None, product_id: int | None = None, stock: str | None = None, page: int = 1, per_page: int = 50
) -> Page:
    """SKUs with their product, newest products first; ``stock`` filters ``low`` or ``out``."""
    stmt = select(Sku, Product).join(Product, Product.id == Sku.product_id).where(Product.status != "archived")
    if q:
        stmt = stmt.where(or_(Product.title.icontains(q, autoescape=True), Sku.code.icontains(q, autoescape=True)))
    if product_id:
        stmt = stmt.where(Product.id == product_id)
    if stock == "low":
        stmt = stmt.where(Sku.low_stock_threshold.is_not(None), Sku.stock <= Sku.low_stock_threshold)
    elif stock == "out":
        stmt = stmt.where(Sku.stock == 0)
    return paged(stmt.order_by(Product.id.desc(), Sku.position, Sku.id), page, per_page)


def _local_day_start(day: date) -> datetime:
    # A zoneinfo zone: Babel's pytz zone attached directly would give local mean time (+08:06).
    return datetime.combine(day, time.min, tzinfo=ZoneInfo(str(get_timezone()))).astimezone(UTC)


def movement_page(
    *,
    sku_id: int | None = None,
    product_id: int | None = None,
    reason: str | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    page: int = 1,
    per_page: int = 50,
) -> Page:
    """The store's movement log, newest first, with actor names; dates are the mall's local days."""
    stmt = (
        select(StockMovement, Sku, Product)
        .join(Sku, Sku.id == StockMovement.sku_id)
        .join(Product, Product.id == Sku.product_id)
    )
    if sku_id:
        stmt = stmt.where(StockMovement.sku_id == sku_id)
    if product_id:
        stmt = stmt.where(Product.id == product_id)
    if reason in STOCK_REASONS:
        stmt = stmt.where(StockMovement.reason == reason)
    if date_from:
        stmt = stmt.where(StockMovement.created_at >= _local_day_start(date_from))
    if date_to:
        stmt = stmt.where(StockMovement.created_at < _local_day_start(date_to + timedelta(days=1)))
    result = paged(stmt.order_by(StockMovement.id.desc()), page, per_page)
    actor_ids = {m.actor_id for m, _s, _p in result.items if m.actor_id}
    if actor_ids:
        result.extra["actors"] = dict(
            db.session.execute(select(User.id, User.username).where(User.id.in_(actor_ids))).all()
        )
    else:
        result.extra["actors"] = {}
    return result


def get_sku(sku_id: int) -> Sku:
    """A SKU of the bound store (another store's id is simply not found: 404)."""
    sku = db.session.get(Sku, sku_id)
    if sku is None:
        raise NotFound(_("This SKU does not exist in your store."))
    return sku


def sku_label(sku: Sku, title: str | None = None) -> str:
    title = title if title is not None else sku.product.title
    return f"{title} {sku.spec_key.replace('|', ' / ')}".strip() if sku.spec_key else title


# ---------------------------------------------------------------------------------------------
# Merchant-centre edits (audited)
# ---------------------------------------------------------------------------------------------


def _require_note(note: str | None) -> str:
    note = (note or "").strip()
    if not note:
        raise DomainError(_("Say why the stock changes."), field="note")
    if len(note) > 500:
        raise DomainError(_("Keep the note under 500 characters."), field="note")
    return note


def manual_adjust(actor, sku_id: int, delta: int, note: str | None) -> int:
    """A staff member adds or removes units by hand (with a reason); audited."""
    note = _require_note(note)
    sku = get_sku(sku_id)
    before = sku.stock
    after = adjust_stock(sku.id, delta, "adjustment", actor_id=actor.id, note=note)
    record_audit(
        "inventory.adjust", area="merchant", merchant_id=require_merchant_id(), obj=sku,
        changes={"stock": [before, after], "note": [None, note]},
    )  # fmt: skip
    return after


def manual_count(actor, sku_id: int, counted: int, note: str | None) -> int:
    """A staff member sets the stock to what is on the shelf (with a reason); audited."""
    note = _require_note(note)
    sku = get_sku(sku_id)
    before = sku.stock
    after = set_stock(sku.id, counted, "adjustment", actor_id=actor.id, note=note)
    if after != before:
        record_audit(
            "inventory.adjust", area="merchant", merchant_id=require_merchant_id(), obj=sku,
            changes={"stock": [before, after], "note": [None, note]},
        )  # fmt: skip
    return after


def set_threshold(actor, sku_id: int, threshold: int | None) -> Sku:
    """Change a SKU's low-stock threshold (None: no alert); the alert is re-armed or fired at once."""
    sku = get_sku(sku_id)
    if threshold is not None and not 0 <= threshold <= MAX_STOCK:
        raise DomainError(_("Enter a whole number (0 or more)."), field="threshold")
    before = sku.low_stock_threshold
    if before == threshold:
        return sku
    sku.low_stock_threshold = threshold
    db.session.flush()
    check_low_stock([sku.id])
    record_audit(
        "inventory.threshold", area="merchant", merchant_id=require_merchant_id(), obj=sku,
        changes={"low_stock_threshold": [before, threshold]},
    )  # fmt: skip
    return sku


BULK_ACTIONS = {
    "set_price": L_("Set the price (yuan)"),
    "add_stock": L_("Add to stock (negative removes)"),
    "set_stock": L_("Set stock to"),
    "set_threshold": L_("Set the low-stock threshold (blank: none)"),
}


def bulk_edit(actor, sku_ids: list[int], action: str, value: str, note: str | None = None) -> int:
    """Apply one change to every selected SKU of the bound store, all or nothing; returns how many
    SKUs changed. Any id that is not this store's makes the whole edit a 404."""
    if action not in BULK_ACTIONS:
        raise DomainError(_("Choose what to change."), field="action")
    ids = sorted({int(i) for i in sku_ids})
    if not ids:
        raise DomainError(_("Select at least one SKU."), field="sku_ids")
    if len(ids) > 1000:
        raise DomainError(_("Select at most 1000 SKUs at a time."), field="sku_ids")
    skus = {s.id: s for s in db.session.scalars(select(Sku).where(Sku.id.in_(ids)).order_by(Sku.id).with_for_update())}
    if len(skus) != len(ids):
        raise NotFound(_("This SKU does not exist in your store."))
    value = (value or "").strip()
    changed: dict[int, list] = {}
    changes: list[StockChange] = []
    if action == "set_price":
        cents = parse_yuan(value, field="value")
        for sku in skus.values():
            if sku.price_cents != cents:
                changed[sku.id] = [sku.price_cents, cents]
                sku.price_cents = cents
    elif action == "set_threshold":
        threshold = parse_count(value, field="value") if value else None
        for sku in skus.values():
            if sku.low_stock_threshold != threshold:
                changed[sku.id] = [sku.low_stock_threshold, threshold]
                sku.low_stock_threshold = threshold
    else:
        note = _require_note(note)
        number = parse_count(value, field="value", signed=action == "add_stock")
        if action == "add_stock" and number == 0:
            raise DomainError(_("Enter a change other than zero."), field="value")
        for sku in skus.values():
            delta = number if action == "add_stock" else number - sku.stock
            if delta == 0:
                continue
            try:
                change = apply_stock_change(sku.id, delta, "adjustment", actor_id=actor.id, note=note)
            except InsufficientStock as error:
                raise InsufficientStock(
                    sku.id, error.available, _("%(sku)s: only %(n)s left.", sku=sku_label(sku), n=error.available)
                ) from None
            changes.append(change)
            changed[sku.id] = [change.before, change.after]
    db.session.flush()
    if changes:
        after_stock_change(changes)
    else:
        sync_stock(ids)  # prices are part of the public copy
        check_low_stock(ids)
    if changed:
        record_audit(
            f"inventory.bulk.{action}", area="merchant", merchant_id=require_merchant_id(),
            object_type="Sku", object_id=",".join(str(i) for i in sorted(changed))[:200],
            changes={str(k): v for k, v in changed.items()},
        )  # fmt: skip
    return len(changed)
