"""Orders (C-12, M-06, P-06): one state machine for buyers, merchants and operators.

::

    awaiting_payment → paid → partially_shipped → shipped → received → completed
          │              └────────────→ shipped
          ├→ cancelled (by the buyer, or the merchant, before payment)
          └→ closed (not paid in time)

Every change goes through ``transition``, which refuses an illegal one with a message the user can
read. An order that ends before payment gives its stock back (logged as a cancellation) and its
lines return to the buyer's cart, so nothing chosen is lost.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from mall.catalog.inventory import release_stock
from mall.catalog.paging import Page, paged
from mall.errors import DomainError, NotFound
from mall.extensions import db
from mall.i18n import L_, _
from mall.jobs.core import platform_job
from mall.marketing import coupons
from mall.notifications.services import notify
from mall.tenancy import tenant
from mall.trading import cart as carts
from mall.trading.models import Checkout, Order, OrderLine

TRANSITIONS: dict[str, tuple[str, ...]] = {
    "awaiting_payment": ("paid", "cancelled", "closed"),
    "paid": ("partially_shipped", "shipped", "received", "cancelled"),  # received: a pick-up handed over;
    # cancelled: the store accepted the buyer's request, the money goes back
    "partially_shipped": ("shipped",),
    "shipped": ("received",),  # confirmed by the buyer, or automatically
    "received": ("completed",),
    "completed": (),
    "cancelled": (),
    "closed": (),
}
STATUS_LABELS = {
    "awaiting_payment": L_("Awaiting payment"),
    "paid": L_("Awaiting shipment"),
    "partially_shipped": L_("Partly shipped"),
    "shipped": L_("Shipped"),
    "received": L_("Received"),
    "completed": L_("Completed"),
    "cancelled": L_("Cancelled"),
    "closed": L_("Closed"),
}
# The buyer's tabs on "My orders": tab → statuses.
BUYER_TABS: dict[str, tuple[str, ...]] = {
    "all": (),
    "unpaid": ("awaiting_payment",),
    "to_ship": ("paid",),
    "shipped": ("partially_shipped", "shipped"),
    "done": ("received", "completed"),
    "closed": ("cancelled", "closed"),
    "after_sales": (),  # orders with an after-sales case (any status)
}
TAB_LABELS = {
    "all": L_("All"),
    "unpaid": L_("Awaiting payment"),
    "to_ship": L_("Awaiting shipment"),
    "shipped": L_("Shipped"),
    "done": L_("Completed"),
    "closed": L_("Closed"),
    "after_sales": L_("After-sales"),
}


class IllegalTransition(DomainError):
    status_code = 409


def status_label(status: str) -> str:
    return str(STATUS_LABELS.get(status, status))


def lock_order(order: Order) -> Order:
    """Lock the order's index row for this transaction and reload it: every change of an order
    (and of its store-side lines and cases) starts here, so concurrent changes queue up.

    Locks ``select(Order.id)``, never ``select(Order)``: ``Order.merchant`` is joined eagerly, and
    FOR UPDATE would then lock the merchant row too."""
    db.session.execute(select(Order.id).where(Order.id == order.id).with_for_update())
    db.session.refresh(order)
    return order


def transition(order: Order, to: str, *, reason: str | None = None) -> Order:
    """Move ``order`` to ``to`` (locking its row first), or refuse with a message if not allowed."""
    lock_order(order)
    if to not in TRANSITIONS.get(order.status, ()):
        raise IllegalTransition(
            _(
                "Order %(number)s is %(status)s: it cannot become %(to)s.",
                number=order.number,
                status=status_label(order.status),
                to=status_label(to),
            )
        )
    now = datetime.now(UTC)
    order.status = to
    order.updated_at = now
    stamp = {"paid": "paid_at", "shipped": "shipped_at", "received": "received_at", "completed": "completed_at"}
    if to in stamp:
        setattr(order, stamp[to], now)
    if to in ("cancelled", "closed"):
        order.closed_at = now
        order.close_reason = reason
    db.session.flush()
    return order


# ---------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------


def buyer_orders(user_id: int, tab: str = "all", page: int = 1) -> Page:
    statuses = BUYER_TABS.get(tab, ())
    stmt = select(Order).where(Order.user_id == user_id)
    if statuses:
        stmt = stmt.where(Order.status.in_(statuses))
    elif tab == "after_sales":
        stmt = stmt.where(Order.case_status.is_not(None))
    result = paged(stmt.order_by(Order.created_at.desc(), Order.id.desc()), page, 10)
    result.items = [row[0] for row in result.items]
    return result


def buyer_tab_counts(user_id: int) -> dict[str, int]:
    counts = dict(
        db.session.execute(
            select(Order.status, func.count()).where(Order.user_id == user_id).group_by(Order.status)
        ).all()
    )
    result = {tab: sum(counts.get(s, 0) for s in statuses) for tab, statuses in BUYER_TABS.items() if statuses}
    result["after_sales"] = db.session.scalar(
        select(func.count()).where(Order.user_id == user_id, Order.case_status.in_(("open", "disputed")))
    )
    return result


def get_buyer_order(user_id: int, order_id: int) -> Order:
    order = db.session.scalar(select(Order).where(Order.id == order_id, Order.user_id == user_id))
    if order is None:
        raise NotFound(_("This order does not exist."))
    return order


def get_buyer_checkout(user_id: int, checkout_id: int) -> Checkout:
    checkout = db.session.scalar(select(Checkout).where(Checkout.id == checkout_id, Checkout.user_id == user_id))
    if checkout is None:
        raise NotFound(_("This order does not exist."))
    return checkout


def order_lines(order: Order) -> list[OrderLine]:
    """The order's lines, read from its store's schema."""
    with tenant(order.merchant_id):
        lines = list(db.session.scalars(select(OrderLine).where(OrderLine.order_id == order.id).order_by(OrderLine.id)))
        for line in lines:
            db.session.expunge(line)  # plain values from here on: never lazy-load against another store
    return lines


# ---------------------------------------------------------------------------------------------
# Ending an order before payment
# ---------------------------------------------------------------------------------------------


def _end_unpaid(order: Order, to: str, reason: str | None, actor_id: int | None) -> Order:
    transition(order, to, reason=reason)
    lines = order_lines(order)
    with tenant(order.merchant_id):
        release_stock(
            [(line.sku_id, line.quantity) for line in lines],
            reason="cancel",
            ref=f"order:{order.number}",
            actor_id=actor_id,
        )
    _return_to_cart(order, lines)
    checkout = db.session.get(Checkout, order.checkout_id)
    if checkout.status == "awaiting_payment" and all(o.status in ("cancelled", "closed") for o in checkout.orders):
        checkout.status = "closed"
        coupons.release(checkout.id)  # nothing of it was paid: the buyer may use the coupon again
    db.session.flush()
    return order


def _return_to_cart(order: Order, lines: list[OrderLine]) -> None:
    """Put what an unpaid order held back in the buyer's cart (lines already there keep theirs)."""
    cart = carts.get_or_create_cart(user_id=order.user_id)
    present = {line.sku_id for line in cart.lines}
    for line in lines:
        if line.sku_id not in present:
            db.session.add(
                carts.CartLine(
                    cart_id=cart.id,
                    merchant_id=order.merchant_id,
                    product_id=line.product_id,
                    sku_id=line.sku_id,
                    quantity=min(line.quantity, carts.MAX_QUANTITY),
                    price_cents_added=line.unit_price_cents,
                )
            )
            present.add(line.sku_id)


def cancel_unpaid_order(user_id: int, order_id: int, reason: str | None = None) -> Order:
    """The buyer cancels an order not yet paid: its stock returns, its lines go back to the cart."""
    order = get_buyer_order(user_id, order_id)
    if order.status != "awaiting_payment":
        raise IllegalTransition(_("Only an order awaiting payment can be cancelled here."))
    return _end_unpaid(order, "cancelled", (reason or "").strip()[:300] or None, user_id)


@platform_job(queue="default")
def close_unpaid_orders(limit: int = 500) -> int:
    """Close orders whose checkout was not paid in time (periodic); each order in its own
    transaction, so one failure does not hold back the others. Returns how many were closed."""
    now = datetime.now(UTC)
    ids = list(
        db.session.scalars(
            select(Order.id)
            .join(Checkout, Checkout.id == Order.checkout_id)
            .where(Order.status == "awaiting_payment", Checkout.pay_by < now)
            .order_by(Order.id)
            .limit(limit)
        )
    )
    db.session.rollback()
    closed = 0
    for order_id in ids:
        order = db.session.get(Order, order_id)
        if order is None or order.status != "awaiting_payment":
            db.session.rollback()
            continue
        _end_unpaid(order, "closed", "not paid in time", None)
        notify(
            order.user_id,
            L_("Order %(number)s closed", number=order.number),
            L_(
                "Order %(number)s was not paid in time and is closed. Its items are back in your cart.",
                number=order.number,
            ),
        )
        db.session.commit()
        closed += 1
    return closed
