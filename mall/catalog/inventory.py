"""Stock of each SKU (M-05): every change is one conditional UPDATE plus one ``StockMovement`` row.

The rules this module keeps:

* Stock never goes below zero, whatever the concurrency: a change is
  ``UPDATE skus SET stock = stock + :delta WHERE id = :id AND stock + :delta >= 0 RETURNING stock``.
  PostgreSQL re-checks the condition on the newest row version after waiting for a concurrent
  writer, so two buyers racing for the last unit get one success and one ``InsufficientStock``.
  (The ``stock >= 0`` check constraint is the last line of defence.)
* Per SKU, the movements' deltas sum to the current stock (``movement_sum_matches``): the movement
  is written in the same transaction as the UPDATE, with the stock after it, who, why and a ref.
* After any change (``after_stock_change``): the public catalog copy is refreshed (``sync_stock_totals``), the
  low-stock alert fires once per crossing of the threshold (``low_stock_alerted_at`` remembers it
  until the stock rises above the threshold again), and a SKU that went from 0 to positive wakes
  its "notify me" registrants (``mall.catalog.restock``).

Several SKUs at once (an order, a cancellation) go through ``reserve_stock`` / ``release_stock``
in ascending id order (no deadlocks between two orders sharing SKUs), all or nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from mall.catalog.models import STOCK_REASONS, Product, Sku, StockMovement
from mall.catalog.publishing import sync_stock_totals
from mall.catalog.restock import on_restocked
from mall.errors import DomainError, NotFound
from mall.extensions import db
from mall.i18n import L_, _
from mall.jobs import enqueue, tenant_job
from mall.merchants.models import Merchant
from mall.merchants.services import staff_with_permission
from mall.notifications.services import notify
from mall.tenancy import current_schema, require_merchant_id
from mall.web.urls import external_url

MAX_STOCK = 10_000_000
LOW_STOCK_LABEL_AT = 5  # "only N left" on the product page at or below this

REASON_LABELS = {
    "initial": L_("Initial stock"),
    "sale": L_("Sale"),
    "cancel": L_("Order cancelled"),
    "return": L_("Return"),
    "adjustment": L_("Manual adjustment"),
    "stocktake": L_("Stocktake"),
    "import": L_("Import"),
}


class InsufficientStock(DomainError):
    """A decrement was refused: the SKU has only ``available`` left."""

    status_code = 409

    def __init__(self, sku_id: int, available: int, message: str | None = None, *, requested: int | None = None):
        super().__init__(message or _("Only %(n)s left.", n=available), field="stock")
        self.sku_id = sku_id
        self.available = available
        self.requested = requested


@dataclass(frozen=True)
class StockChange:
    sku_id: int
    before: int
    after: int


# ---------------------------------------------------------------------------------------------
# Parsing what people type
# ---------------------------------------------------------------------------------------------


def parse_count(text: object, *, field: str | None = None, signed: bool = False, maximum: int = MAX_STOCK) -> int:
    """A whole number of units (``signed`` allows ``-3`` / ``+3``), within ±``maximum``."""
    value = str(text if text is not None else "").strip()
    pattern = r"^[+-]?\d{1,9}$" if signed else r"^\d{1,9}$"
    if not re.match(pattern, value):
        message = _("Enter a whole number, e.g. -3 or 5.") if signed else _("Enter a whole number (0 or more).")
        raise DomainError(message, field=field)
    number = int(value)
    if abs(number) > maximum:
        raise DomainError(_("Enter at most %(n)s.", n=maximum), field=field)
    return number


# ---------------------------------------------------------------------------------------------
# Changing stock (the API order handling uses too)
# ---------------------------------------------------------------------------------------------


def _check_reason(reason: str) -> None:
    if reason not in STOCK_REASONS:
        raise ValueError(f"unknown stock reason {reason!r}")


def _loaded_sku(sku_id: int) -> Sku | None:
    """The SKU object of the bound store if this session already holds it (no query)."""
    return db.session.identity_map.get(identity_key(Sku, sku_id, identity_token=current_schema()))


def apply_stock_change(
    sku_id: int,
    delta: int,
    reason: str,
    *,
    actor_id: int | None = None,
    note: str | None = None,
    ref: str | None = None,
) -> StockChange:
    """The conditional UPDATE and its movement row, without the follow-up work: callers that change
    several SKUs call ``after_stock_change`` once with all the changes."""
    _check_reason(reason)
    new_stock = db.session.execute(
        update(Sku)
        .where(Sku.id == sku_id, Sku.stock + delta >= 0, Sku.stock + delta <= MAX_STOCK)
        .values(stock=Sku.stock + delta)
        .returning(Sku.stock)
        .execution_options(synchronize_session=False)
    ).scalar()
    if new_stock is None:
        available = db.session.scalar(select(Sku.stock).where(Sku.id == sku_id))
        if available is None:
            raise NotFound(_("This SKU does not exist in your store."))
        if delta > 0:
            raise DomainError(_("Stock cannot exceed %(n)s.", n=MAX_STOCK), field="stock")
        raise InsufficientStock(sku_id, available, requested=-delta)
    loaded = _loaded_sku(sku_id)
    if loaded is not None:  # keep the object this session holds in step with the row
        set_committed_value(loaded, "stock", new_stock)
    db.session.add(
        StockMovement(
            sku_id=sku_id,
            delta=delta,
            stock_after=new_stock,
            reason=reason,
            actor_id=actor_id,
            note=(note or None) and note[:500],
            ref=(ref or None) and str(ref)[:64],
        )
    )
    return StockChange(sku_id, new_stock - delta, new_stock)


def _lock_stock(sku_id: int) -> int:
    stock = db.session.scalar(select(Sku.stock).where(Sku.id == sku_id).with_for_update())
    if stock is None:
        raise NotFound(_("This SKU does not exist in your store."))
    return stock


def adjust_stock(
    sku_id: int,
    delta: int,
    reason: str,
    *,
    actor_id: int | None = None,
    note: str | None = None,
    ref: str | None = None,
) -> int:
    """Add ``delta`` (may be negative) to the SKU's stock and log it; returns the new stock.

    Atomic and never negative: a decrement larger than the stock raises ``InsufficientStock``
    ("Only N left") and changes nothing.
    """
    if delta == 0:
        raise DomainError(_("Enter a change other than zero."), field="delta")
    change = apply_stock_change(sku_id, delta, reason, actor_id=actor_id, note=note, ref=ref)
    after_stock_change([change])
    return change.after


def set_stock(
    sku_id: int,
    counted: int,
    reason: str,
    *,
    actor_id: int | None = None,
    note: str | None = None,
    ref: str | None = None,
) -> int:
    """Set an absolute stock (a count, an import): the difference to the locked current stock is
    written as the movement, so the log still sums to the stock. No movement when nothing changes."""
    if counted < 0 or counted > MAX_STOCK:
        raise DomainError(_("Enter a whole number (0 or more)."), field="stock")
    current = _lock_stock(sku_id)
    if counted == current:
        return current
    change = apply_stock_change(sku_id, counted - current, reason, actor_id=actor_id, note=note, ref=ref)
    after_stock_change([change])
    return change.after


def _merged(lines: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    quantities: dict[int, int] = {}
    for sku_id, quantity in lines:
        if quantity <= 0:
            raise ValueError("quantities must be positive")
        quantities[int(sku_id)] = quantities.get(int(sku_id), 0) + int(quantity)
    return sorted(quantities.items())  # ascending ids: two orders sharing SKUs lock them in one order


def reserve_stock(
    lines: Iterable[tuple[int, int]],
    *,
    reason: str = "sale",
    ref: str | None = None,
    actor_id: int | None = None,
    note: str | None = None,
) -> list[StockChange]:
    """Take ``(sku_id, quantity)`` lines at once (an order): all or nothing.

    SKUs are decremented in ascending id order so concurrent orders cannot deadlock. When one line
    cannot be served, the lines already taken are rolled back (savepoint) and ``InsufficientStock``
    names the failing ``sku_id`` with what is ``available`` and what was ``requested``.
    """
    merged = _merged(lines)
    changes: list[StockChange] = []
    try:
        with db.session.begin_nested():
            for sku_id, quantity in merged:
                changes.append(apply_stock_change(sku_id, -quantity, reason, actor_id=actor_id, note=note, ref=ref))
    except DomainError:
        for sku_id, _quantity in merged:  # the savepoint undid the rows: forget what we told loaded objects
            loaded = _loaded_sku(sku_id)
            if loaded is not None:
                db.session.expire(loaded, ["stock"])
        raise
    after_stock_change(changes)
    return changes


def release_stock(
    lines: Iterable[tuple[int, int]],
    *,
    reason: str = "cancel",
    ref: str | None = None,
    actor_id: int | None = None,
    note: str | None = None,
) -> list[StockChange]:
    """Give ``(sku_id, quantity)`` lines back (a cancelled order, a return), in ascending id order."""
    if reason not in ("cancel", "return", "adjustment"):
        raise ValueError(f"stock is released for a cancellation or a return, not {reason!r}")
    changes = [
        apply_stock_change(sku_id, quantity, reason, actor_id=actor_id, note=note, ref=ref)
        for sku_id, quantity in _merged(lines)
    ]
    after_stock_change(changes)
    return changes


def after_stock_change(changes: list[StockChange]) -> None:
    """Public copy, low-stock alert and restock notices, once per batch of changes."""
    if not changes:
        return
    first: dict[int, int] = {}
    last: dict[int, int] = {}
    for change in changes:
        first.setdefault(change.sku_id, change.before)
        last[change.sku_id] = change.after
    sku_ids = sorted(last)
    db.session.flush()
    sync_stock_totals(sku_ids)
    check_low_stock(sku_ids)
    restocked = [sku_id for sku_id in sku_ids if first[sku_id] == 0 and last[sku_id] > 0]
    if restocked:
        on_restocked(restocked)


def movement_sum_matches(sku_id: int) -> bool:
    """The invariant of the movement log: the deltas of a SKU sum to its stock."""
    db.session.flush()
    total = db.session.scalar(
        select(func.coalesce(func.sum(StockMovement.delta), 0)).where(StockMovement.sku_id == sku_id)
    )
    return int(total) == db.session.scalar(select(Sku.stock).where(Sku.id == sku_id))


def sku_availability(sku: Sku) -> dict:
    """What the product page shows for a SKU; ``in_stock`` false disables buying it."""
    if not sku.is_active:
        return {"in_stock": False, "stock": 0, "label": _("Unavailable")}
    return stock_availability(sku.stock)


def stock_availability(stock: int | None) -> dict:
    """What the product page shows for an active SKU with ``stock`` units."""
    stock = max(int(stock or 0), 0)
    if stock == 0:
        return {"in_stock": False, "stock": 0, "label": _("Out of stock")}
    if stock <= LOW_STOCK_LABEL_AT:
        return {"in_stock": True, "stock": stock, "label": _("Only %(n)s left", n=stock)}
    return {"in_stock": True, "stock": stock, "label": _("In stock")}


# ---------------------------------------------------------------------------------------------
# Low-stock alert
# ---------------------------------------------------------------------------------------------


def check_low_stock(sku_ids: list[int]) -> list[int]:
    """Arm or re-arm the alert of these SKUs; enqueue one alert for those that just became low.

    ``low_stock_alerted_at`` is set by a conditional UPDATE, so two concurrent sales crossing the
    threshold still send one alert; it is cleared when the stock rises above the threshold.
    """
    if not sku_ids:
        return []
    now_low = list(
        db.session.scalars(
            update(Sku)
            .where(
                Sku.id.in_(sku_ids),
                Sku.low_stock_threshold.is_not(None),
                Sku.stock <= Sku.low_stock_threshold,
                Sku.low_stock_alerted_at.is_(None),
                Sku.is_active.is_(True),
            )
            .values(low_stock_alerted_at=func.now())
            .returning(Sku.id)
            .execution_options(synchronize_session=False)
        )
    )
    db.session.execute(
        update(Sku)
        .where(
            Sku.id.in_(sku_ids),
            Sku.low_stock_alerted_at.is_not(None),
            or_(Sku.low_stock_threshold.is_(None), Sku.stock > Sku.low_stock_threshold),
        )
        .values(low_stock_alerted_at=None)
        .execution_options(synchronize_session=False)
    )
    for sku_id in sku_ids:
        loaded = _loaded_sku(sku_id)
        if loaded is not None:
            db.session.expire(loaded, ["low_stock_alerted_at"])
    if now_low:
        enqueue(send_low_stock_alert, sorted(now_low))
    return sorted(now_low)


class _Lines:
    """Lazy lines joined when the message is rendered (in the recipient's language)."""

    def __init__(self, lines: list) -> None:
        self.lines = lines

    def __str__(self) -> str:
        return "\n".join(str(line) for line in self.lines)


def product_managers() -> list[int]:
    """User ids of the bound store's active staff whose role grants ``products.manage``."""
    return staff_with_permission("products.manage")


def inventory_link(**values) -> str | None:
    """An absolute link to the merchant centre's inventory page (for messages and emails)."""

    try:
        return external_url("merchant.inventory", **values)
    except RuntimeError:  # a worker without MALL_BASE_URL or SERVER_NAME cannot build URLs
        return None


@tenant_job
def send_low_stock_alert(sku_ids: list[int]) -> int:
    """Tell the store's product managers (in-site + email) which SKUs are low; returns recipients.

    SKUs that were restocked before the job ran are left out; nothing is sent if none is left.
    """

    rows = db.session.execute(
        select(Sku, Product.title)
        .join(Product, Product.id == Sku.product_id)
        .where(Sku.id.in_(sku_ids), Sku.low_stock_threshold.is_not(None), Sku.stock <= Sku.low_stock_threshold)
        .order_by(Sku.id)
    ).all()
    if not rows:
        return 0
    merchant = db.session.get(Merchant, require_merchant_id())
    lines = [
        L_(
            "%(title)s %(spec)s: %(stock)s left (alert at %(threshold)s)",
            title=title,
            spec=sku.spec_key.replace("|", " / ") if sku.spec_key else "",
            stock=sku.stock,
            threshold=sku.low_stock_threshold,
        )
        for sku, title in rows
    ]
    subject = L_("Low stock in %(store)s", store=merchant.name)
    body = L_("These SKUs are at or below their low-stock threshold:\n%(lines)s", lines=_Lines(lines))

    recipients = product_managers()
    link = inventory_link(stock="low")
    for user_id in recipients:
        notify(user_id, subject, body, link)
    return len(recipients)
