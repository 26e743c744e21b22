"""Operators' oversight of orders (P-06): search across every store, and status adjustments with a
reason, audited. Adjustments go through the same rules as everyone's: an unpaid order can be
cancelled (stock back), a paid unshipped one cancelled with a full refund, a shipped one marked
received, a received one completed (the store's money becomes available)."""

from __future__ import annotations

import re

from sqlalchemy import or_, select

from mall.audit.services import record_audit
from mall.catalog.paging import Page, paged
from mall.errors import DomainError, NotFound, PermissionDenied
from mall.extensions import db
from mall.i18n import L_, _
from mall.identity.access import has_operator_permission
from mall.identity.models import User
from mall.ledger.models import JournalEntry
from mall.merchants.models import Merchant
from mall.payments.models import Payment, Refund
from mall.trading import after_sales, fulfilment
from mall.trading.cancellation import cancel_paid_order
from mall.trading.models import ORDER_STATUSES, Order, order_id_from_number
from mall.trading.orders import IllegalTransition, cancel_unpaid_order, order_lines, transition

ADJUSTMENTS = {  # from → the statuses an operator may set
    "awaiting_payment": ("cancelled",),
    "paid": ("cancelled",),
    "shipped": ("received",),
    "received": ("completed",),
}
ADJUSTMENT_LABELS = {
    "cancelled": L_("Cancel (a paid order is refunded in full)"),
    "received": L_("Mark as received"),
    "completed": L_("Complete (the store's money becomes available)"),
}


def search_orders(query: str = "", status: str | None = None, merchant_id: int | None = None, page: int = 1) -> Page:
    """Orders of every store: by order number, buyer (username, email or phone) or store name."""
    stmt = select(Order).join(Merchant, Merchant.id == Order.merchant_id).join(User, User.id == Order.user_id)
    if status in ORDER_STATUSES:
        stmt = stmt.where(Order.status == status)
    if merchant_id:
        stmt = stmt.where(Order.merchant_id == merchant_id)
    query = (query or "").strip()[:100]
    if query:
        like = f"%{query}%"
        clauses = [User.username.ilike(like), User.email.ilike(like), User.phone.ilike(like), Merchant.name.ilike(like)]
        order_id = order_id_from_number(query)
        if order_id is not None:
            clauses.append(Order.id == order_id)
        stmt = stmt.where(or_(*clauses))
    result = paged(stmt.order_by(Order.created_at.desc(), Order.id.desc()), page, 50)
    result.items = [row[0] for row in result.items]
    return result


def order_record(order_id: int) -> dict:
    """Everything about one order for the operator: lines, parcels, payments, refunds, ledger entries."""
    order = db.session.get(Order, order_id)
    if order is None:
        raise NotFound(_("This order does not exist."))
    payments = list(
        db.session.scalars(select(Payment).where(Payment.checkout_id == order.checkout_id).order_by(Payment.id))
    )
    references = [f"order:{order.id}"] + [f"payment:{p.id}" for p in payments]
    refunds = list(db.session.scalars(select(Refund).where(Refund.order_id == order.id).order_by(Refund.id)))
    references += [f"refund:{r.id}" for r in refunds]
    entries = list(
        db.session.scalars(select(JournalEntry).where(JournalEntry.reference.in_(references)).order_by(JournalEntry.id))
    )
    lines = order_lines(order)
    return {
        "order": order,
        "buyer": db.session.get(User, order.user_id),
        "lines": lines,
        "shipments": fulfilment.shipments_of(order),
        "payments": payments,
        "refunds": refunds,
        "entries": entries,
        "cases": after_sales.cases_of_order(order),
        "splits": after_sales.line_splits(order, lines),
    }


def adjust_status(actor: User, order_id: int, to: str, reason: str | None) -> Order:
    """An operator's status change with a reason (audited; the buyer is told)."""
    if not has_operator_permission(actor, "orders.manage"):
        raise PermissionDenied(_("You do not have permission to adjust orders."))
    reason = re.sub(r"\s+", " ", reason or "").strip()
    if not reason or len(reason) > 300:
        raise DomainError(_("Give a reason (at most 300 characters)."), field="reason")
    order = db.session.get(Order, order_id)
    if order is None:
        raise NotFound(_("This order does not exist."))
    before = order.status
    if to not in ADJUSTMENTS.get(before, ()):
        raise IllegalTransition(_("An operator cannot change this order from its current status to that one."))
    note = f"operator: {reason}"
    if before == "awaiting_payment":
        cancel_unpaid_order(order.user_id, order.id, note)
    elif to == "cancelled":
        cancel_paid_order(order, note, actor.id)
    elif to == "completed":
        fulfilment.complete(order)
    else:
        transition(order, to, reason=note)
    record_audit(
        "order.adjust",
        area="platform",
        merchant_id=order.merchant_id,
        obj=order,
        changes={"status": [before, to], "reason": [None, reason]},
    )
    return order
