"""Paying by bank transfer (C-11): the buyer transfers to the mall's account quoting the payment's
reference and uploads the receipt; finance checks the bank statement and confirms the amount
received (the payment is then captured like any other) or rejects it with a reason. Refunds of
such payments are paid back by finance by hand and then marked as paid."""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime, timedelta

from flask import current_app, url_for
from sqlalchemy import select

from mall.audit.services import record_audit
from mall.catalog.money import parse_yuan
from mall.errors import DomainError, NotFound, PermissionDenied
from mall.extensions import db
from mall.i18n import L_, _
from mall.identity.access import has_operator_permission
from mall.identity.models import User
from mall.ledger.services import platform_account, post
from mall.notifications.services import notify
from mall.payments.models import Payment, Refund
from mall.payments.providers import BadSignature, register_provider
from mall.storage.services import UploadRejected, store_upload
from mall.trading.models import Checkout


class BankTransferProvider:
    code = "bank_transfer"

    def start_payment(self, payment: Payment, return_url: str) -> str:
        payment.provider_ref = f"BT{secrets.token_hex(5).upper()}"
        db.session.flush()
        return url_for("consumer.bank_transfer", payment_id=payment.id)

    def parse_notification(self, body, headers):
        raise BadSignature("bank transfers are confirmed by finance, not notified")

    def start_refund(self, refund: Refund, payment: Payment) -> None:
        refund.provider_ref = f"BTR{secrets.token_hex(5).upper()}"  # paid back by finance, by hand
        db.session.flush()


register_provider(BankTransferProvider())


class BankTransferError(DomainError):
    pass


def _payment_of(user_id: int, payment_id: int) -> Payment:
    payment = db.session.scalar(
        select(Payment).where(Payment.id == payment_id, Payment.user_id == user_id, Payment.provider == "bank_transfer")
    )
    if payment is None:
        raise NotFound(_("This payment does not exist."))
    return payment


def upload_proof(user_id: int, payment_id: int, data: bytes, filename: str) -> Payment:
    """The buyer's transfer receipt (image or PDF, private): finance can now check it, and the orders
    wait ``MALL_BANK_TRANSFER_DAYS`` for that."""
    payment = _payment_of(user_id, payment_id)
    if payment.status != "pending":
        raise BankTransferError(_("This payment is settled already."))
    try:
        proof = store_upload(data, filename, purpose="payment-proof", private=True, allow_pdf=True, owner_id=user_id)
    except UploadRejected as error:
        raise BankTransferError(error.message, field="proof") from error
    payment.proof_file_id = proof.id
    checkout = db.session.scalar(select(Checkout).where(Checkout.id == payment.checkout_id).with_for_update())
    checkout.pay_by = max(
        checkout.pay_by, datetime.now(UTC) + timedelta(days=current_app.config["MALL_BANK_TRANSFER_DAYS"])
    )
    db.session.flush()
    return payment


def _require_finance(actor: User) -> None:
    if not has_operator_permission(actor, "finance.manage"):
        raise PermissionDenied(_("You do not have permission to confirm payments."))


def waiting_transfers() -> list[Payment]:
    return list(
        db.session.scalars(
            select(Payment)
            .where(Payment.provider == "bank_transfer", Payment.status == "pending", Payment.proof_file_id.is_not(None))
            .order_by(Payment.created_at)
        )
    )


def confirm_transfer(actor: User, payment_id: int, received: str) -> Payment:
    """Finance saw ``received`` yuan arrive for this payment: capture it (orders paid, ledger)."""
    from mall.payments.services import capture

    _require_finance(actor)
    payment = db.session.scalar(select(Payment).where(Payment.id == payment_id).with_for_update())
    if payment is None or payment.provider != "bank_transfer":
        raise NotFound(_("This payment does not exist."))
    if payment.status != "pending":
        raise BankTransferError(_("This payment is settled already."))
    amount = parse_yuan(received, field="received")
    if amount <= 0:
        raise BankTransferError(_("Enter the amount that arrived."), field="received")
    payment.decided_by_id = actor.id
    capture(payment, amount)
    record_audit(
        "payment.bank_transfer_confirmed", area="platform", obj=payment, changes={"received_cents": [None, amount]}
    )
    return payment


def reject_transfer(actor: User, payment_id: int, reason: str) -> Payment:
    _require_finance(actor)
    reason = re.sub(r"\s+", " ", reason or "").strip()
    if not reason or len(reason) > 300:
        raise BankTransferError(_("Give a reason (at most 300 characters)."), field="reason")
    payment = db.session.scalar(select(Payment).where(Payment.id == payment_id).with_for_update())
    if payment is None or payment.provider != "bank_transfer" or payment.status != "pending":
        raise BankTransferError(_("This payment is settled already."))
    payment.status, payment.failure_reason = "failed", reason
    payment.settled_at, payment.decided_by_id = datetime.now(UTC), actor.id
    record_audit("payment.bank_transfer_rejected", area="platform", obj=payment, changes={"reason": [None, reason]})
    notify(
        payment.user_id,
        L_("Bank transfer not confirmed"),
        L_(
            "Finance could not confirm your transfer %(reference)s: %(reason)s",
            reference=payment.provider_ref,
            reason=reason,
        ),
    )
    db.session.flush()
    return payment


def manual_refunds() -> list[Refund]:
    """Refunds of bank transfer payments waiting for finance to pay them back."""
    return list(
        db.session.scalars(
            select(Refund)
            .join(Payment, Payment.id == Refund.payment_id)
            .where(Payment.provider == "bank_transfer", Refund.status == "pending")
            .order_by(Refund.created_at)
        )
    )


def mark_refund_paid(actor: User, refund_id: int) -> Refund:
    """Finance paid a bank transfer refund back: it leaves refunds due for the bank."""
    _require_finance(actor)
    refund = db.session.scalar(select(Refund).where(Refund.id == refund_id).with_for_update())
    payment = db.session.get(Payment, refund.payment_id) if refund else None
    if refund is None or payment.provider != "bank_transfer" or refund.status != "pending":
        raise BankTransferError(_("This refund is not waiting to be paid back."))
    refund.status, refund.settled_at = "succeeded", datetime.now(UTC)
    post(
        "refund_paid",
        f"refund:{refund.id}",
        [
            (platform_account("refunds_due"), refund.amount_cents),
            (platform_account("bank"), -refund.amount_cents),
        ],
        idempotency_key=f"refund:{refund.id}:paid",
    )
    record_audit("refund.paid_by_hand", area="platform", obj=refund)
    return refund
