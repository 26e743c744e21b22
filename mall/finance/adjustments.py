"""Finance's corrections after an order has completed (P-07): a refund that claws the money back
from the store, and manual adjustments with a reason. Both move the store's settleable money, so
they appear on its next statement and are netted against what it earns (audited, in the ledger)."""

from __future__ import annotations

import re

from sqlalchemy import select

from mall.audit.services import record_audit
from mall.catalog.money import format_cents, parse_yuan
from mall.errors import DomainError, NotFound, PermissionDenied
from mall.extensions import db
from mall.i18n import _
from mall.identity.access import has_operator_permission
from mall.identity.models import User
from mall.ledger.allocation import proportional
from mall.ledger.services import merchant_account, platform_account, post
from mall.merchants.models import Merchant
from mall.payments.models import Refund
from mall.payments.services import payment_of, refund
from mall.trading.models import Order
from mall.trading.orders import lock_order, order_lines


class AdjustmentError(DomainError):
    pass


def reason_text(text: str | None) -> str:
    """A required reason for a money decision, on one line, at most 300 characters."""
    reason = re.sub(r"\s+", " ", text or "").strip()
    if not reason or len(reason) > 300:
        raise AdjustmentError(_("Give a reason (at most 300 characters)."), field="reason")
    return reason


def positive_amount(text: str | None) -> int:
    """A required amount in yuan text above zero, in cents."""
    cents = parse_yuan(text, field="amount")
    if cents <= 0:
        raise AdjustmentError(_("Give an amount above zero."), field="amount")
    return cents


def _finance(actor: User) -> None:
    if not has_operator_permission(actor, "finance.manage"):
        raise PermissionDenied(_("You do not have permission to change stores' money."))


def refund_completed_order(actor: User, order_id: int, amount: str, reason: str | None) -> Refund:
    """Refund part or all of a completed order: the buyer is paid back through the provider; the
    store gives back what it kept of that amount (with the mall coupon's share of it, which the
    platform takes back) and the commission earned on it is returned."""
    _finance(actor)
    reason = reason_text(reason)
    cents = parse_yuan(amount, field="amount")
    order = db.session.get(Order, order_id)
    if order is None:
        raise NotFound(_("This order does not exist."))
    lock_order(order)
    if order.status != "completed":
        raise AdjustmentError(_("Only a completed order is refunded here; before that, use after-sales."))
    left = order.payable_cents - order.refunded_cents
    if not 0 < cents <= left:
        raise AdjustmentError(
            _("The refund must be more than zero and at most ¥%(max)s.", max=format_cents(left)), field="amount"
        )
    commission = sum(line.commission_cents or 0 for line in order_lines(order))
    earlier = list(db.session.scalars(select(Refund).where(Refund.order_id == order.id)))
    earned = commission - sum(r.commission_cents for r in earlier)  # what the platform kept as commission
    coupon_left = order.platform_discount_cents - sum(r.platform_cents for r in earlier)  # the mall coupon's
    # both in proportion to what is refunded of what the buyer has left paid
    share = proportional(cents, left, earned)
    platform = proportional(cents, left, coupon_left)
    row = refund(payment_of(order), cents, f"after completion: {reason}", order)
    row.commission_cents, row.platform_cents = share, platform
    order.refunded_cents += cents
    post(
        "clawback",
        f"order:{order.id}",
        [
            (merchant_account(order.merchant_id, "available"), cents + platform - share),
            (platform_account("commission_revenue"), share),
            (platform_account("discount_expense"), -platform),
            (platform_account("refunds_due"), -cents),
        ],
        idempotency_key=f"refund:{row.id}:clawback",
        memo=reason,
        actor_id=actor.id,
    )
    record_audit(
        "order.refund_after_completion",
        area="platform",
        merchant_id=order.merchant_id,
        obj=order,
        changes={"refunded_cents": [order.refunded_cents - cents, order.refunded_cents], "reason": [None, reason]},
    )
    return row


def adjust(actor: User, merchant_id: int, amount: str, direction: str, reason: str | None) -> None:
    """A manual credit (``direction="credit"``) to a store, or a deduction, with a reason."""
    _finance(actor)
    reason = reason_text(reason)
    cents = positive_amount(amount)
    if direction not in ("credit", "deduct"):
        raise AdjustmentError(_("Choose a credit or a deduction."), field="direction")
    merchant = db.session.get(Merchant, merchant_id)
    if merchant is None:
        raise NotFound(_("This store does not exist."))
    signed = cents if direction == "credit" else -cents
    entry = post(
        "adjustment",
        f"merchant:{merchant.id}",
        [(platform_account("merchant_adjustments"), signed), (merchant_account(merchant.id, "available"), -signed)],
        memo=reason,
        actor_id=actor.id,
    )
    record_audit(
        "merchant.adjust_money",
        area="platform",
        merchant_id=merchant.id,
        object_type="JournalEntry",
        object_id=entry.id,
        changes={"amount_cents": [None, signed], "reason": [None, reason]},
    )
