"""Fulfilment (M-06, C-12): the store ships (whole or in several parcels), hands pick-up orders
over against their code, records tracking; the buyer confirms receipt (or it is confirmed for
them ``MALL_AUTO_CONFIRM_DAYS`` after shipping); an order is completed ``MALL_AFTER_SALES_DAYS``
after receipt, and only then does its store's money move from pending to available in the ledger.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import UTC, datetime, timedelta

from flask import current_app, url_for
from sqlalchemy import func, or_, select

from mall.audit.services import record_audit
from mall.catalog.money import format_cents
from mall.catalog.paging import Page, paged
from mall.errors import DomainError, NotFound
from mall.extensions import db
from mall.i18n import L_, _
from mall.identity.models import User
from mall.jobs.core import platform_job
from mall.ledger.services import merchant_account, platform_account, post
from mall.merchants.services import notify_staff, require_staff_permission
from mall.notifications.services import notify
from mall.payments.models import Refund
from mall.tenancy import tenant
from mall.tenancy.binding import require_merchant_id
from mall.trading.models import Order, OrderLine, Shipment, ShipmentLine, TrackingEvent, order_id_from_number
from mall.trading.orders import IllegalTransition, lock_order, order_lines, transition

CARRIER_MAX, TRACKING_RE = 40, re.compile(r"^[A-Za-z0-9-]{4,40}$")
MERCHANT_FILTERS: dict[str, tuple[str, ...]] = {
    "all": (),
    "to_ship": ("paid", "partially_shipped"),
    "unpaid": ("awaiting_payment",),
    "shipped": ("shipped",),
    "done": ("received", "completed"),
    "closed": ("cancelled", "closed"),
}
FILTER_LABELS = {
    "all": L_("All"),
    "to_ship": L_("To ship"),
    "unpaid": L_("Awaiting payment"),
    "shipped": L_("Shipped"),
    "done": L_("Completed"),
    "closed": L_("Closed"),
}


class FulfilmentError(DomainError):
    pass


# ---------------------------------------------------------------------------------------------
# The store's orders
# ---------------------------------------------------------------------------------------------


def store_orders(status: str = "all", query: str = "", page: int = 1) -> Page:
    """The bound store's orders, newest first, by status filter; ``query`` finds an order number."""
    stmt = select(Order).where(Order.merchant_id == require_merchant_id())
    statuses = MERCHANT_FILTERS.get(status, ())
    if statuses:
        stmt = stmt.where(Order.status.in_(statuses))
    query = (query or "").strip()
    if query:
        order_id = order_id_from_number(query)
        stmt = stmt.where(or_(Order.id == order_id, Order.summary.ilike(f"%{query[:50]}%")))
    result = paged(stmt.order_by(Order.created_at.desc(), Order.id.desc()), page, 20)
    result.items = [row[0] for row in result.items]
    return result


def store_order(order_id: int) -> Order:
    """One order of the bound store (another store's order is not found)."""
    stmt = select(Order).where(Order.id == order_id, Order.merchant_id == require_merchant_id())
    order = db.session.scalar(stmt)
    if order is None:
        raise NotFound(_("This order does not exist in your store."))
    return order


def shipments_of(order: Order) -> list[Shipment]:
    with tenant(order.merchant_id):
        shipments = list(
            db.session.scalars(select(Shipment).where(Shipment.order_id == order.id).order_by(Shipment.id))
        )
        for shipment in shipments:
            shipment.lines, shipment.events  # noqa: B018  (loaded while the store is bound)
    return shipments


# ---------------------------------------------------------------------------------------------
# Shipping and hand-over
# ---------------------------------------------------------------------------------------------


def ship(
    actor: User, order_id: int, carrier: str, tracking_number: str, quantities: dict[int, int] | None = None
) -> Shipment:
    """Ship a parcel of an express order: ``quantities`` (order line id → how many; None: all that
    is left). The order becomes shipped when nothing is left, partly shipped otherwise."""
    require_staff_permission(actor, "orders.manage")
    order = store_order(order_id)
    if order.delivery != "express":
        raise FulfilmentError(_("A pick-up order is handed over in the store, not shipped."))
    if order.status not in ("paid", "partially_shipped"):
        raise IllegalTransition(_("Only a paid order that is not fully shipped can be shipped."))
    carrier = re.sub(r"\s+", " ", carrier or "").strip()
    tracking_number = (tracking_number or "").strip().upper()
    errors = {}
    if not carrier or len(carrier) > CARRIER_MAX:
        errors["carrier"] = _("Give the carrier (at most %(n)d characters).", n=CARRIER_MAX)
    if not TRACKING_RE.match(tracking_number):
        errors["tracking_number"] = _("A tracking number has 4 to 40 letters, digits or dashes.")
    if errors:
        raise FulfilmentError(next(iter(errors.values())), field=next(iter(errors)))
    lock_order(order)
    with tenant(order.merchant_id):
        lines = {line.id: line for line in db.session.scalars(select(OrderLine).where(OrderLine.order_id == order.id))}
        wanted = {line_id: line.to_ship for line_id, line in lines.items()} if quantities is None else quantities
        parcel = {}
        for line_id, quantity in wanted.items():
            line = lines.get(int(line_id))
            if line is None:
                raise NotFound(_("This item is not in the order."))
            if quantity < 0 or quantity > line.to_ship:
                raise FulfilmentError(_("%(item)s: at most %(n)d left to ship.", item=line.title, n=line.to_ship))
            if quantity:
                parcel[line.id] = quantity
        if not parcel:
            raise FulfilmentError(_("Choose what goes in this parcel."))
        shipment = Shipment(order_id=order.id, carrier=carrier, tracking_number=tracking_number, shipped_by_id=actor.id)
        db.session.add(shipment)
        db.session.flush()
        for line_id, quantity in parcel.items():
            db.session.add(ShipmentLine(shipment_id=shipment.id, order_line_id=line_id, quantity=quantity))
            lines[line_id].shipped_quantity += quantity
        db.session.flush()
        complete = all(line.to_ship == 0 for line in lines.values())
    if complete:
        transition(order, "shipped")
    elif order.status == "paid":
        transition(order, "partially_shipped")
    order.cancel_requested_at = order.cancel_request_reason = None  # shipped: after-sales from here on
    record_audit(
        "order.ship",
        area="merchant",
        merchant_id=order.merchant_id,
        obj=order,
        changes={"carrier": [None, carrier], "tracking_number": [None, tracking_number]},
    )
    notify(
        order.user_id,
        L_("Order %(number)s shipped", number=order.number),
        L_("%(carrier)s, tracking number %(tracking)s.", carrier=carrier, tracking=tracking_number),
    )
    return shipment


def hand_over(actor: User, order_id: int, code: str) -> Order:
    """A pick-up order is handed over when the buyer shows its code: it is then received."""
    require_staff_permission(actor, "orders.manage")
    order = store_order(order_id)
    if order.delivery != "pickup" or order.status != "paid":
        raise IllegalTransition(_("Only a paid pick-up order can be handed over."))
    if not order.pickup_code or (code or "").strip() != order.pickup_code:
        raise FulfilmentError(_("This is not the order's pick-up code."), field="code")
    with tenant(order.merchant_id):
        for line in db.session.scalars(select(OrderLine).where(OrderLine.order_id == order.id)):
            line.shipped_quantity = line.quantity
    transition(order, "shipped")
    transition(order, "received")
    record_audit("order.hand_over", area="merchant", merchant_id=order.merchant_id, obj=order)
    return order


def add_tracking_event(
    actor: User, order_id: int, shipment_id: int, description: str, location: str | None = None
) -> TrackingEvent:
    require_staff_permission(actor, "orders.manage")
    order = store_order(order_id)
    description = re.sub(r"\s+", " ", description or "").strip()
    if not description or len(description) > 300:
        raise FulfilmentError(_("Describe the step (at most 300 characters)."), field="description")
    with tenant(order.merchant_id):
        shipment = db.session.scalar(select(Shipment).where(Shipment.id == shipment_id, Shipment.order_id == order.id))
        if shipment is None:
            raise NotFound(_("This parcel is not in the order."))
        event = TrackingEvent(
            shipment_id=shipment.id,
            occurred_at=datetime.now(UTC),
            description=description,
            location=(location or "").strip()[:100] or None,
        )
        db.session.add(event)
        db.session.flush()
    return event


# ---------------------------------------------------------------------------------------------
# Receipt and completion
# ---------------------------------------------------------------------------------------------


def confirm_receipt(user_id: int, order_id: int) -> Order:
    """The buyer received a shipped order."""
    order = db.session.scalar(select(Order).where(Order.id == order_id, Order.user_id == user_id))
    if order is None:
        raise NotFound(_("This order does not exist."))
    if order.status != "shipped":
        raise IllegalTransition(_("Only a shipped order can be confirmed as received."))
    return transition(order, "received")


@platform_job(queue="default")
def confirm_overdue_receipts(limit: int = 500) -> int:
    """Orders shipped ``MALL_AUTO_CONFIRM_DAYS`` ago and not confirmed count as received (periodic)."""
    cutoff = datetime.now(UTC) - timedelta(days=current_app.config["MALL_AUTO_CONFIRM_DAYS"])
    ids = list(
        db.session.scalars(
            select(Order.id).where(Order.status == "shipped", Order.shipped_at < cutoff).order_by(Order.id).limit(limit)
        )
    )
    done = 0
    for order_id in ids:
        order = db.session.get(Order, order_id)
        if order is not None and order.status == "shipped":
            transition(order, "received", reason="confirmed automatically")
            notify(
                order.user_id,
                L_("Order %(number)s marked as received", number=order.number),
                L_(
                    "Order %(number)s shipped %(days)d days ago and counts as received. If something is wrong, "
                    "you can still ask the store for after-sales help.",
                    number=order.number,
                    days=current_app.config["MALL_AUTO_CONFIRM_DAYS"],
                ),
            )
            db.session.commit()
            done += 1
    return done


def complete(order: Order) -> Order:
    """End the order's after-sales window: what the store keeps of it (less commission and what
    after-sales refunded) becomes available, the commission left is earned. Not while an
    after-sales case is open."""
    lock_order(order)
    if order.case_status in ("open", "disputed"):
        raise IllegalTransition(
            _(
                "Order %(number)s has an after-sales request in progress: it completes once that ends.",
                number=order.number,
            )
        )
    transition(order, "completed")
    lines = order_lines(order)
    refunds = db.session.execute(
        select(
            func.coalesce(func.sum(Refund.amount_cents + Refund.platform_cents), 0),
            func.coalesce(func.sum(Refund.commission_cents), 0),
        ).where(Refund.order_id == order.id)
    ).one()
    commission = sum(line.commission_cents or 0 for line in lines) - int(refunds[1])
    payable = order.total_cents - int(refunds[0]) - commission
    postings = [
        (merchant_account(order.merchant_id, "pending"), payable),
        (merchant_account(order.merchant_id, "available"), -payable),
        (platform_account("commission_deferred"), commission),
        (platform_account("commission_revenue"), -commission),
    ]
    if payable or commission:  # a replacement or a fully refunded order moves nothing
        post("order_completed", f"order:{order.id}", postings, idempotency_key=f"order:{order.id}:completed")
    if not payable:
        return order
    notify_staff(
        order.merchant_id,
        "finance.view",
        L_("Order %(number)s completed", number=order.number),
        L_(
            "¥%(amount)s from order %(number)s is now available to your store.",
            amount=format_cents(payable),
            number=order.number,
        ),
    )
    return order


@platform_job(queue="default")
def complete_due_orders(limit: int = 500) -> int:
    """Received orders whose after-sales window (``MALL_AFTER_SALES_DAYS``) has closed are completed
    (periodic), each in its own transaction."""
    cutoff = datetime.now(UTC) - timedelta(days=current_app.config["MALL_AFTER_SALES_DAYS"])
    ids = list(
        db.session.scalars(
            select(Order.id)
            .where(
                Order.status == "received",
                Order.received_at < cutoff,
                or_(Order.case_status.is_(None), Order.case_status == "closed"),
            )
            .order_by(Order.id)
            .limit(limit)
        )
    )
    done = 0
    for order_id in ids:
        order = db.session.get(Order, order_id)
        if order is not None and order.status == "received":
            complete(order)
            db.session.commit()
            done += 1
    return done


# ---------------------------------------------------------------------------------------------
# Before payment: the price; any time: the store's own note
# ---------------------------------------------------------------------------------------------


def change_price(actor: User, order_id: int, shipping: str, discount: str) -> Order:
    """Set an unpaid order's shipping fee and the store's discount (yuan text); the order and its
    checkout totals follow. Audited; the buyer is told. A payment already started for the old
    amount cannot pay the new one: if it succeeds anyway, it is refunded."""
    from mall.catalog.money import parse_yuan

    require_staff_permission(actor, "orders.manage")
    order = store_order(order_id)
    lock_order(order)
    if order.status != "awaiting_payment":
        raise IllegalTransition(_("The price can only be changed before the buyer pays."))
    shipping_cents = parse_yuan(shipping or "0", field="shipping")
    discount_cents = parse_yuan(discount or "0", field="discount")
    total = order.goods_cents + shipping_cents - discount_cents
    # with a mall coupon the buyer still pays a cent of each line (see ``after_sales.paid_for_lines``)
    least = len(order_lines(order)) if order.platform_discount_cents else 1
    if total - order.platform_discount_cents < least:
        raise FulfilmentError(
            _("The discount cannot take what the buyer pays below ¥%(least)s.", least=format_cents(least)),
            field="discount",
        )
    before = {
        "shipping_cents": order.shipping_cents,
        "discount_cents": order.discount_cents,
        "total_cents": order.total_cents,
    }
    order.shipping_cents, order.discount_cents, order.total_cents = shipping_cents, discount_cents, total
    checkout = order.checkout
    checkout.total_cents = sum(o.payable_cents for o in checkout.orders if o.status == "awaiting_payment")
    db.session.flush()
    record_audit(
        "order.price",
        area="merchant",
        merchant_id=order.merchant_id,
        obj=order,
        changes={k: [v, getattr(order, k)] for k, v in before.items() if v != getattr(order, k)},
    )
    notify(
        order.user_id,
        L_("New price for order %(number)s", number=order.number),
        L_(
            "The store changed the price of order %(number)s: it is now ¥%(total)s.",
            number=order.number,
            total=format_cents(order.payable_cents),
        ),
    )
    return order


def set_merchant_note(actor: User, order_id: int, note: str | None) -> Order:
    require_staff_permission(actor, "orders.manage")
    order = store_order(order_id)
    note = (note or "").strip()
    if len(note) > 500:
        raise FulfilmentError(_("At most %(n)d characters.", n=500), field="note")
    order.merchant_note = note or None
    db.session.flush()
    return order


# ---------------------------------------------------------------------------------------------
# Carrier webhooks
# ---------------------------------------------------------------------------------------------
#
# A carrier is subscribed to a parcel with a callback URL that names the store and the parcel and
# carries a token (HMAC of both with the mall's secret): ``tracking_webhook_url``. The carrier POSTs
# ``{"events": [{"id", "time" (ISO 8601), "description", "location"}]}`` there; each event id is kept
# once per parcel, so repeated deliveries add nothing.


def _webhook_token(merchant_id: int, shipment_id: int) -> str:
    key = (current_app.config.get("CARRIER_WEBHOOK_SECRET") or current_app.config["SECRET_KEY"]).encode()
    return hmac.new(key, f"tracking:{merchant_id}:{shipment_id}".encode(), hashlib.sha256).hexdigest()


def tracking_webhook_url(merchant_id: int, shipment_id: int) -> str:
    return url_for(
        "consumer.carrier_webhook",
        merchant_id=merchant_id,
        shipment_id=shipment_id,
        token=_webhook_token(merchant_id, shipment_id),
        _external=True,
    )


class WebhookRejected(DomainError):
    status_code = 403


def record_carrier_events(merchant_id: int, shipment_id: int, token: str, payload: dict) -> int:
    """Apply a carrier's tracking report; returns how many events were new."""
    if not hmac.compare_digest(_webhook_token(merchant_id, shipment_id), token or ""):
        raise WebhookRejected(_("This page does not exist."))
    events = payload.get("events") if isinstance(payload, dict) else None
    if not isinstance(events, list) or len(events) > 200:
        raise FulfilmentError("events: a list of at most 200")
    added = 0
    with tenant(merchant_id):
        shipment = db.session.get(Shipment, shipment_id)
        if shipment is None:
            raise NotFound(_("This parcel is not in the order."))
        known = {e.external_id for e in shipment.events if e.external_id}
        for event in events:
            try:
                external_id = str(event["id"])[:64]
                occurred_at = datetime.fromisoformat(str(event["time"]))
                description = re.sub(r"\s+", " ", str(event["description"])).strip()[:300]
            except (KeyError, TypeError, ValueError):
                raise FulfilmentError("each event needs id, time (ISO 8601) and description") from None
            if occurred_at.tzinfo is None:
                occurred_at = occurred_at.replace(tzinfo=UTC)
            if external_id in known or not description:
                continue
            db.session.add(
                TrackingEvent(
                    shipment_id=shipment.id,
                    occurred_at=occurred_at,
                    description=description,
                    location=(str(event.get("location") or "").strip()[:100] or None),
                    source="carrier",
                    external_id=external_id,
                )
            )
            known.add(external_id)
            added += 1
        db.session.flush()
    return added
