"""Payment tables in the platform schema: our payments and refunds, the provider notifications we
accepted (each provider event once), and the sandbox gateway's own books (what a real provider
would keep on its side, and report for reconciliation)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, CheckConstraint, DateTime, ForeignKey, Index, String, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from mall.extensions import db

PAYMENT_STATUSES = ("pending", "succeeded", "failed", "cancelled")
REFUND_STATUSES = ("pending", "succeeded", "failed")


class Payment(db.Model):
    """One attempt to pay a checkout through a provider; a failed attempt can be followed by another."""

    __tablename__ = "payments"
    __table_args__ = (CheckConstraint(f"status IN {PAYMENT_STATUSES}", name="status"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    checkout_id: Mapped[int] = mapped_column(ForeignKey("checkouts.id", ondelete="RESTRICT"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    provider: Mapped[str] = mapped_column(String(20))
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    order_ids: Mapped[list[int]] = mapped_column(JSONB)  # the orders this payment pays
    status: Mapped[str] = mapped_column(String(12), default="pending", server_default="pending")
    provider_ref: Mapped[str | None] = mapped_column(String(64), unique=True)  # the provider's transaction id
    failure_reason: Mapped[str | None] = mapped_column(String(300))
    proof_file_id: Mapped[int | None] = mapped_column(
        ForeignKey("stored_objects.id", ondelete="RESTRICT")
    )  # bank transfer
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))  # finance, by hand
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    settled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # succeeded or failed


class Refund(db.Model):
    __tablename__ = "refunds"
    __table_args__ = (
        CheckConstraint(f"status IN {REFUND_STATUSES}", name="status"),
        CheckConstraint("amount_cents > 0", name="amount_positive"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id", ondelete="RESTRICT"), index=True)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="RESTRICT"), index=True)
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    commission_cents: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")  # given back by it
    # the mall coupon's share of the refunded goods: the platform takes its discount back, so the
    # store gives up ``amount_cents + platform_cents``
    platform_cents: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    reason: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(12), default="pending", server_default="pending")
    provider_ref: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    settled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class PaymentEvent(db.Model):
    """A provider notification. Verified ones are unique per (provider, event id): a duplicate is
    recognised and changes nothing. Rejected ones (bad signature) are kept for inspection."""

    __tablename__ = "payment_events"
    __table_args__ = (
        Index(
            "uq_payment_events_provider_event", "provider", "event_id", unique=True, postgresql_where=text("verified")
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    provider: Mapped[str] = mapped_column(String(20))
    event_id: Mapped[str | None] = mapped_column(String(64))
    kind: Mapped[str | None] = mapped_column(String(40))
    verified: Mapped[bool] = mapped_column(Boolean)
    payload: Mapped[str] = mapped_column(String(4000))
    outcome: Mapped[str | None] = mapped_column(String(300))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class SandboxTransaction(db.Model):
    """The sandbox gateway's side: a payment or refund as the provider records it."""

    __tablename__ = "sandbox_transactions"
    __table_args__ = (
        CheckConstraint("kind IN ('payment', 'refund')", name="kind"),
        CheckConstraint("status IN ('pending', 'succeeded', 'failed', 'cancelled')", name="status"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # "sbx_pay_…" / "sbx_ref_…"
    kind: Mapped[str] = mapped_column(String(10))
    merchant_ref: Mapped[str] = mapped_column(String(64))  # the mall's payment or refund id
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("sandbox_transactions.id"))  # a refund's payment
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(12), default="pending", server_default="pending")
    return_url: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    settled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
