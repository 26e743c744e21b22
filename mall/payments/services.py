"""Paying checkouts, handling provider notifications, refunding — and posting all of it to the ledger.

Money in (``payment.succeeded``), one balanced entry: the provider holds the amount
(``provider_clearing``) and the platform pays the orders' share of a mall coupon
(``discount_expense``); each order it pays is owed to its store in full less the commission frozen
on its lines now (``merchant:<id>:pending``), the commission waits (``commission_deferred``); money that
pays nothing — an order cancelled or closed meanwhile, or a checkout already paid by another
payment — is owed back to the buyer (``refunds_due``) and refunded at once through the provider.
Refunds leave ``refunds_due`` for the provider when the provider confirms them.

Notifications are verified (a bad signature is kept as rejected and answered 400) and applied once:
each provider event id is stored once, so a duplicate changes nothing; a late "failed" after a
success changes nothing either.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime

from flask import url_for
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from mall.catalog.money import format_cents
from mall.errors import DomainError, NotFound
from mall.extensions import db
from mall.finance import commission as commission_rules
from mall.i18n import L_, _
from mall.ledger.services import merchant_account, platform_account, post
from mall.merchants.services import notify_staff
from mall.notifications.services import notify
from mall.payments.models import Payment, PaymentEvent, Refund
from mall.payments.providers import BadSignature, Notification, get_provider
from mall.trading.models import Checkout, Order
from mall.trading.orders import transition
from mall.web.urls import external_url

log = logging.getLogger(__name__)

CLEARING = platform_account("provider_clearing")
DEFERRED = platform_account("commission_deferred")
REFUNDS_DUE = platform_account("refunds_due")
DISCOUNT_EXPENSE = platform_account("discount_expense")


class PaymentError(DomainError):
    pass


def clearing_account(provider: str) -> str:
    """Where a provider's money sits: bank transfers arrive in the mall's bank account, the
    others are held by the provider until it pays out."""
    return platform_account("bank") if provider == "bank_transfer" else CLEARING


# ---------------------------------------------------------------------------------------------
# Starting a payment
# ---------------------------------------------------------------------------------------------


def payable_orders(checkout: Checkout) -> list[Order]:
    return [order for order in checkout.orders if order.status == "awaiting_payment"]


def start_payment(user_id: int, checkout_id: int, provider_code: str) -> tuple[Payment, str]:
    """Open a payment of what the checkout still owes; returns it and the provider page to go to."""
    checkout = db.session.scalar(
        select(Checkout).where(Checkout.id == checkout_id, Checkout.user_id == user_id).with_for_update()
    )
    if checkout is None:
        raise NotFound(_("This order does not exist."))
    provider = get_provider(provider_code)
    if provider is None:
        raise PaymentError(_("Choose a way to pay."))
    orders = payable_orders(checkout)
    if checkout.status != "awaiting_payment" or not orders:
        raise PaymentError(_("Nothing is left to pay here."))
    if checkout.pay_by <= datetime.now(UTC):
        raise PaymentError(_("The time to pay has passed; the orders are being closed."))
    payment = Payment(
        checkout_id=checkout.id,
        user_id=user_id,
        provider=provider_code,
        amount_cents=sum(order.payable_cents for order in orders),
        order_ids=[order.id for order in orders],
    )
    db.session.add(payment)
    db.session.flush()
    return payment, provider.start_payment(payment, url_for("consumer.payment_return", payment_id=payment.id))


# ---------------------------------------------------------------------------------------------
# Notifications
# ---------------------------------------------------------------------------------------------


def handle_notification(provider_code: str, body: bytes, headers: Mapping[str, str]) -> str:
    """Verify and apply one provider notification; returns what happened (kept on the event).
    Raises ``BadSignature`` (after recording the rejected notification) when it does not verify."""
    provider = get_provider(provider_code)
    if provider is None:
        raise NotFound(_("This page does not exist."))
    try:
        event = provider.parse_notification(body, headers)
    except BadSignature as exc:
        log.warning("payment notification from %s rejected: %s", provider_code, exc)
        db.session.add(
            PaymentEvent(
                provider=provider_code,
                verified=False,
                payload=body[:4000].decode(errors="replace"),
                outcome=f"rejected: {exc}",
            )
        )
        raise
    stored = db.session.scalar(
        pg_insert(PaymentEvent)
        .values(
            provider=provider_code,
            event_id=event.event_id,
            kind=event.kind,
            verified=True,
            payload=body[:4000].decode(errors="replace"),
        )
        .on_conflict_do_nothing(index_elements=["provider", "event_id"], index_where=PaymentEvent.verified)
        .returning(PaymentEvent.id)
    )
    if stored is None:
        return "duplicate: already applied"
    outcome = _apply(provider_code, event)
    db.session.get(PaymentEvent, stored).outcome = outcome
    db.session.flush()
    return outcome


def _apply(provider_code: str, event: Notification) -> str:
    if event.kind.startswith("payment."):
        payment = db.session.scalar(
            select(Payment)
            .where(Payment.provider == provider_code, Payment.provider_ref == event.transaction_id)
            .with_for_update()
        )
        if payment is None:
            return "ignored: unknown payment"
        if event.kind == "payment.succeeded":
            return capture(payment, event.amount_cents)
        if payment.status != "pending":
            return f"ignored: payment already {payment.status}"
        payment.status = "failed" if event.kind == "payment.failed" else "cancelled"
        payment.failure_reason = (event.reason or "")[:300] or None
        payment.settled_at = datetime.now(UTC)
        return f"payment {payment.status}"
    refund = db.session.scalar(select(Refund).where(Refund.provider_ref == event.transaction_id).with_for_update())
    if refund is None:
        return "ignored: unknown refund"
    if refund.status != "pending":
        return f"ignored: refund already {refund.status}"
    refund.settled_at = datetime.now(UTC)
    if event.kind == "refund.succeeded":
        refund.status = "succeeded"
        post(
            "refund_paid",
            f"refund:{refund.id}",
            [(REFUNDS_DUE, refund.amount_cents), (CLEARING, -refund.amount_cents)],
            idempotency_key=f"refund:{refund.id}:paid",
        )
        return "refund succeeded"
    refund.status = "failed"  # the money stays owed to the buyer in refunds_due: finance follows up
    log.error("refund %s failed at the provider: %s", refund.id, event.reason)
    return "refund failed"


def capture(payment: Payment, amount_cents: int) -> str:
    """The provider took the money: pay the orders still waiting, refund what pays nothing."""
    if payment.status == "succeeded":
        return "ignored: already captured"
    if amount_cents != payment.amount_cents:
        log.error("payment %s: provider captured %s, expected %s", payment.id, amount_cents, payment.amount_cents)
    now = datetime.now(UTC)
    payment.status, payment.settled_at, payment.failure_reason = "succeeded", now, None
    checkout = db.session.scalar(select(Checkout).where(Checkout.id == payment.checkout_id).with_for_update())
    postings: list[tuple[str, int]] = [(clearing_account(payment.provider), amount_cents)]
    allocated = 0
    paid: list[Order] = []
    for order in sorted(checkout.orders, key=lambda o: o.id):
        if order.id not in payment.order_ids or order.status != "awaiting_payment":
            continue
        if allocated + order.payable_cents > amount_cents:
            break
        commission = commission_rules.freeze(order)
        transition(order, "paid")
        if order.delivery == "pickup":
            order.pickup_code = f"{secrets.randbelow(10**6):06d}"
        postings += [
            (merchant_account(order.merchant_id, "pending"), -(order.total_cents - commission)),
            (DEFERRED, -commission),
            (DISCOUNT_EXPENSE, order.platform_discount_cents),
        ]
        allocated += order.payable_cents
        paid.append(order)
    unallocated = amount_cents - allocated
    if unallocated:
        postings.append((REFUNDS_DUE, -unallocated))
    post("payment_captured", f"payment:{payment.id}", postings, idempotency_key=f"payment:{payment.id}:captured")
    if paid:
        checkout.status, checkout.paid_at = "paid", now
    if unallocated:
        refund(payment, unallocated, "paid for orders that were no longer awaiting payment")
    _tell_paid(checkout, paid)
    return f"captured: {len(paid)} orders paid" + (f", {unallocated} cents refunded" if unallocated else "")


def refund(payment: Payment, amount_cents: int, reason: str, order: Order | None = None) -> Refund:
    """Refund ``amount_cents`` of a captured payment through its provider; the amount must already be
    owed to the buyer in ``refunds_due``. The outcome arrives by notification."""
    row = Refund(payment_id=payment.id, order_id=order.id if order else None, amount_cents=amount_cents, reason=reason)
    db.session.add(row)
    db.session.flush()
    get_provider(payment.provider).start_refund(row, payment)
    return row


def _tell_paid(checkout: Checkout, orders: list[Order]) -> None:
    if not orders:
        return
    numbers = ", ".join(order.number for order in orders)
    notify(
        checkout.user_id,
        L_("Payment received"),
        L_("We received your payment for order(s) %(numbers)s. The stores will ship soon.", numbers=numbers),
        _link("consumer.my_orders"),
    )
    for order in orders:
        notify_staff(
            order.merchant_id,
            "orders.manage",
            L_("New order %(number)s", number=order.number),
            L_(
                "Order %(number)s is paid (¥%(total)s): please ship it.",
                number=order.number,
                total=format_cents(order.total_cents),
            ),
        )


def _link(endpoint: str, **values) -> str | None:
    try:
        return external_url(endpoint, **values)
    except RuntimeError:
        return None


# ---------------------------------------------------------------------------------------------
# Refunding a paid order
# ---------------------------------------------------------------------------------------------


def payment_of(order: Order) -> Payment:
    """The captured payment that paid ``order``."""
    payment = db.session.scalar(
        select(Payment)
        .where(Payment.status == "succeeded", Payment.order_ids.contains([order.id]))
        .order_by(Payment.id)
        .limit(1)
    )
    if payment is None:
        raise PaymentError(_("No payment was captured for this order."))
    return payment


def refund_order(
    order: Order, amount_cents: int, reason: str, *, commission_cents: int = 0, platform_cents: int = 0
) -> Refund:
    """Give back ``amount_cents`` of a paid order (not yet completed): the buyer is owed the amount
    and the provider is asked to pay it back; the platform takes back ``platform_cents`` of its
    coupon; the store's pending payable goes down by both, less the deferred commission given back
    (``commission_cents``). Both shares are kept on the refund."""
    if (
        amount_cents <= 0
        or commission_cents < 0
        or platform_cents < 0
        or commission_cents > amount_cents + platform_cents
    ):
        raise PaymentError(_("This refund amount is not possible."))
    payment = payment_of(order)
    # Every refund counts, a failed one too: its amount stays owed to the buyer (refunds_due) until
    # finance pays it another way, so it must never be taken from the store a second time.
    refunded = sum(r.amount_cents for r in db.session.scalars(select(Refund).where(Refund.order_id == order.id)))
    if refunded + amount_cents > order.payable_cents:
        raise PaymentError(_("More than was paid for this order cannot be refunded."))
    postings = [
        (merchant_account(order.merchant_id, "pending"), amount_cents + platform_cents - commission_cents),
        (DEFERRED, commission_cents),
        (DISCOUNT_EXPENSE, -platform_cents),
        (REFUNDS_DUE, -amount_cents),
    ]
    row = refund(payment, amount_cents, reason, order)
    row.commission_cents, row.platform_cents = commission_cents, platform_cents
    order.refunded_cents += amount_cents
    post("refund_owed", f"refund:{row.id}", postings, idempotency_key=f"refund:{row.id}:owed")
    return row
