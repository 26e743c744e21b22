"""On and off shelf, now or at a scheduled time (M-04, X-02 "scheduled listing").

Only an approved product can be on shelf; an off-shelf product stays approved but invisible.
Schedules are typed in the store's local time (the mall's time zone) and stored in UTC; the
periodic job ``apply_shelf_schedules`` applies the due ones in every active store, one
transaction per store, so one broken store never holds back the others. Every change of the
shelf state rewrites the public copy (``sync_public_product``).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import and_, or_, select

from mall.audit.services import record_audit
from mall.catalog.models import Product
from mall.catalog.product_input import ProductError, ProductInvalid
from mall.catalog.publishing import sync_public_product
from mall.extensions import db
from mall.i18n import _
from mall.jobs import platform_job
from mall.merchants.models import Merchant
from mall.tenancy import tenant
from mall.tenancy.binding import require_merchant_id
from mall.tenancy.models import TenantSchema

log = logging.getLogger(__name__)
LOCAL_FORMAT = "%Y-%m-%dT%H:%M"  # <input type="datetime-local">
NOT_SCHEDULABLE = ("archived", "taken_down")


def _audit(action: str, product: Product, actor, changes: dict) -> None:
    db.session.flush()
    record_audit(
        action,
        area="merchant",
        obj=product,
        object_type="Product",
        merchant_id=require_merchant_id(),
        changes=changes,
        actor=actor,
    )


def set_on_shelf(product: Product, actor, on_shelf: bool) -> None:
    """Put the product on shelf (approved products only) or take it off, now; the public copy follows.
    Doing it by hand replaces the matching pending schedule."""
    if on_shelf and product.status != "approved":
        raise ProductError(_("Only an approved product can be put on shelf."))
    before = product.on_shelf
    product.on_shelf = on_shelf
    if on_shelf:
        product.shelve_at = None
    else:
        product.unshelve_at = None
    db.session.flush()
    sync_public_product(product)
    _audit("product.shelve" if on_shelf else "product.unshelve", product, actor, {"on_shelf": [before, on_shelf]})


def store_timezone() -> ZoneInfo:
    """The store's local time: the mall's time zone (``BABEL_DEFAULT_TIMEZONE``), whoever is looking.
    A zoneinfo zone, since attaching Babel's pytz zone with ``replace(tzinfo=...)`` would use its
    local mean time (+08:06 for Shanghai)."""
    return ZoneInfo(current_app.config.get("BABEL_DEFAULT_TIMEZONE") or "UTC")


def local_input_value(moment: datetime | None) -> str:
    """A stored UTC time as the value of a ``datetime-local`` input in the store's time."""
    return moment.astimezone(store_timezone()).strftime(LOCAL_FORMAT) if moment else ""


def parse_local(value: str | datetime | None) -> datetime | None:
    """``2026-12-01T10:00`` in the store's time → an aware UTC datetime (None when empty)."""
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=store_timezone())
        return moment.astimezone(UTC)
    text = (value or "").strip()
    if not text:
        return None
    try:
        naive = datetime.strptime(text[:16], LOCAL_FORMAT)
    except ValueError:
        try:
            naive = datetime.strptime(text, "%Y-%m-%d %H:%M")
        except ValueError:
            raise ValueError(text) from None
    return naive.replace(tzinfo=store_timezone()).astimezone(UTC)


def schedule_shelf(
    product: Product, actor, shelve_at: str | datetime | None, unshelve_at: str | datetime | None, *, now=None
) -> None:
    """Set (or clear, when empty) the times the product goes on and off shelf by itself. A scheduled
    listing of a product still in review happens once it is approved."""
    if product.status in NOT_SCHEDULABLE:
        raise ProductError(_("This product cannot be scheduled."))
    now = now or datetime.now(UTC)
    errors: dict[str, str] = {}
    moments: dict[str, datetime | None] = {}
    for name, value in (("shelve_at", shelve_at), ("unshelve_at", unshelve_at)):
        try:
            moments[name] = parse_local(value)
        except ValueError:
            errors[name] = _("Enter a date and time, e.g. 2026-12-01 10:00.")
            continue
        if moments[name] is not None and moments[name] <= now:
            errors[name] = _("Choose a time in the future.")
    on, off = moments.get("shelve_at"), moments.get("unshelve_at")
    if not errors and on and off and off <= on:
        errors["unshelve_at"] = _("The product must go off shelf after it goes on shelf.")
    if errors:
        raise ProductInvalid(errors)
    before = {"shelve_at": product.shelve_at, "unshelve_at": product.unshelve_at}
    product.shelve_at = moments["shelve_at"]
    product.unshelve_at = moments["unshelve_at"]
    _audit(
        "product.shelf.schedule",
        product,
        actor,
        {name: [before[name], moments[name]] for name in before if before[name] != moments[name]},
    )


def apply_due_schedules(now: datetime) -> int:
    """Apply the bound store's schedules that are due at ``now`` (in time order when both are);
    returns how many products changed. A due listing of a product not yet approved waits."""
    due_on = and_(Product.shelve_at <= now, Product.status == "approved")
    due_off = Product.unshelve_at <= now
    products = db.session.scalars(
        select(Product).where(or_(due_on, due_off)).order_by(Product.id).with_for_update(skip_locked=True)
    ).all()
    for product in products:
        before = product.on_shelf
        events = []
        if product.shelve_at is not None and product.shelve_at <= now and product.status == "approved":
            events.append((product.shelve_at, True))
        if product.unshelve_at is not None and product.unshelve_at <= now:
            events.append((product.unshelve_at, False))
        for _moment, on_shelf in sorted(events, key=lambda e: e[0]):
            product.on_shelf = on_shelf
            if on_shelf:
                product.shelve_at = None
            else:
                product.unshelve_at = None
        db.session.flush()
        sync_public_product(product)
        _audit("product.shelf.scheduled", product, None, {"on_shelf": [before, product.on_shelf]})
    return len(products)


@platform_job
def apply_shelf_schedules(now: str | None = None) -> int:
    """Periodic: due shelf schedules of every active store (``now`` as ISO text, for tests and replays)."""
    moment = datetime.fromisoformat(now) if now else datetime.now(UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    merchant_ids = db.session.scalars(
        select(Merchant.id)
        .join(TenantSchema, TenantSchema.merchant_id == Merchant.id)
        .where(Merchant.status == "active", TenantSchema.state == "active")
        .order_by(Merchant.id)
    ).all()
    db.session.commit()
    changed = 0
    for merchant_id in merchant_ids:
        try:
            with tenant(merchant_id):
                changed += apply_due_schedules(moment)
            db.session.commit()
        except Exception:  # one store's failure must not hold back the others; its work is rolled back
            db.session.rollback()
            log.exception("shelf schedules of merchant %s failed", merchant_id)
    return changed
