"""Cancelling a paid order (C-12, M-06): the buyer asks before it ships, the store accepts (the
order is cancelled, its stock returns, the whole amount is refunded through the provider and taken
back from the store's pending money and the deferred commission) or declines with a reason."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from mall.audit.services import record_audit
from mall.catalog.inventory import release_stock
from mall.catalog.money import format_cents
from mall.errors import DomainError
from mall.extensions import db
from mall.i18n import L_, _
from mall.identity.models import User
from mall.merchants.services import notify_staff, require_staff_permission
from mall.notifications.services import notify
from mall.payments.services import refund_order
from mall.tenancy import tenant
from mall.trading.fulfilment import store_order
from mall.trading.models import Order
from mall.trading.orders import IllegalTransition, get_buyer_order, lock_order, order_lines, transition


class CancellationError(DomainError):
    pass


def _reason(text: str | None, *, required: bool) -> str | None:
    text = re.sub(r"\s+", " ", text or "").strip()
    if required and not text:
        raise CancellationError(_("Give a reason."), field="reason")
    if len(text) > 300:
        raise CancellationError(_("At most %(n)d characters.", n=300), field="reason")
    return text or None


def cancel_paid_order(order: Order, reason: str | None, actor_id: int) -> Order:
    """Cancel a paid order that has not shipped: its stock returns and what the buyer paid is refunded
    (taken back from the store's pending money and the deferred commission; the platform takes its
    coupon share back)."""
    transition(order, "cancelled", reason=reason)
    order.cancel_requested_at = None
    lines = order_lines(order)
    with tenant(order.merchant_id):
        release_stock(
            [(line.sku_id, line.quantity) for line in lines],
            reason="cancel",
            ref=f"order:{order.number}",
            actor_id=actor_id,
        )
    commission = sum(line.commission_cents or 0 for line in lines)
    refund_order(
        order,
        order.payable_cents,
        f"cancelled: {reason}",
        commission_cents=commission,
        platform_cents=order.platform_discount_cents,
    )
    return order


def request_cancellation(user_id: int, order_id: int, reason: str | None) -> Order:
    """The buyer asks to cancel a paid order that has not shipped yet."""
    order = get_buyer_order(user_id, order_id)
    reason = _reason(reason, required=True)
    lock_order(order)
    if order.status != "paid":
        raise IllegalTransition(_("Only a paid order that has not shipped can be cancelled."))
    if order.cancel_requested_at is not None:
        raise CancellationError(_("You asked to cancel this order already; the store will answer soon."))
    order.cancel_requested_at, order.cancel_request_reason = datetime.now(UTC), reason
    notify_staff(
        order.merchant_id,
        "orders.manage",
        L_("Cancellation requested for order %(number)s", number=order.number),
        L_("The buyer asks to cancel order %(number)s: %(reason)s", number=order.number, reason=reason),
    )
    db.session.flush()
    return order


def answer_cancellation(actor: User, order_id: int, accept: bool, reason: str | None = None) -> Order:
    """The store accepts (cancel, restock, refund in full) or declines (with a reason) the request."""
    require_staff_permission(actor, "orders.manage")
    order = store_order(order_id)
    lock_order(order)
    if order.cancel_requested_at is None or order.status != "paid":
        raise IllegalTransition(_("This order has no cancellation request waiting."))
    if not accept:
        reason = _reason(reason, required=True)
        order.cancel_requested_at = order.cancel_request_reason = None
        record_audit(
            "order.cancel_declined",
            area="merchant",
            merchant_id=order.merchant_id,
            obj=order,
            changes={"reason": [None, reason]},
        )
        notify(
            order.user_id,
            L_("Cancellation of order %(number)s declined", number=order.number),
            L_("The store declined to cancel order %(number)s: %(reason)s", number=order.number, reason=reason),
        )
        db.session.flush()
        return order
    buyer_reason = order.cancel_request_reason
    cancel_paid_order(order, buyer_reason, actor.id)
    record_audit("order.cancel_accepted", area="merchant", merchant_id=order.merchant_id, obj=order)
    notify(
        order.user_id,
        L_("Order %(number)s cancelled", number=order.number),
        L_(
            "The store accepted your cancellation. ¥%(amount)s is on its way back to you.",
            amount=format_cents(order.payable_cents),
        ),
    )
    db.session.flush()
    return order
