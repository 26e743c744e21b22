"""Finance tables in the platform schema."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, DateTime, ForeignKey, Index, Integer, String, func
from sqlalchemy.orm import Mapped, mapped_column

from mall.extensions import db

COMMISSION_SCOPES = ("product", "merchant", "category", "default")


class CommissionRule(db.Model):
    """A commission rate for a product, a merchant (a negotiated rate), a category (and its
    sub-categories) or the whole platform, from ``starts_at`` until ``ends_at`` (open-ended when
    None); optionally at least ``min_cents`` and at most ``cap_cents`` per order line.

    Rules are matched when an order is paid and the result is frozen on its lines: editing or
    ending a rule never changes a line already paid.
    """

    __tablename__ = "commission_rules"
    __table_args__ = (
        CheckConstraint(f"scope IN {COMMISSION_SCOPES}", name="scope"),
        CheckConstraint("rate_bp BETWEEN 0 AND 10000", name="rate"),
        CheckConstraint("min_cents IS NULL OR min_cents >= 0", name="min"),
        CheckConstraint("cap_cents IS NULL OR cap_cents >= COALESCE(min_cents, 0)", name="cap"),
        CheckConstraint("ends_at IS NULL OR ends_at > starts_at", name="period"),
        CheckConstraint(
            "(scope = 'product') = (product_id IS NOT NULL)"
            " AND (scope = 'category') = (category_id IS NOT NULL)"
            " AND (scope IN ('product', 'merchant')) = (merchant_id IS NOT NULL)",
            name="target",
        ),
        Index("ix_commission_rules_scope_target", "scope", "merchant_id", "product_id", "category_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    scope: Mapped[str] = mapped_column(String(10))
    merchant_id: Mapped[int | None] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    product_id: Mapped[int | None] = mapped_column(ForeignKey("public_products.id", ondelete="CASCADE"))
    category_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id", ondelete="CASCADE"))
    rate_bp: Mapped[int] = mapped_column(Integer)
    min_cents: Mapped[int | None] = mapped_column(BigInteger)
    cap_cents: Mapped[int | None] = mapped_column(BigInteger)
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    note: Mapped[str | None] = mapped_column(String(200))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


STATEMENT_STATUSES = ("draft", "confirmed", "paid")


class SettlementRun(db.Model):
    """One settlement run: every store's settleable money up to ``cutoff_at`` put on statements."""

    __tablename__ = "settlement_runs"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    cutoff_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    statement_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))  # None: the job
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Statement(db.Model):
    """A store's settlement statement: every ledger movement of its settleable money in the run,
    line by line. Confirming it (the store, or automatically) moves the total to the store's
    withdrawable balance; it is paid once the store's payouts cover it."""

    __tablename__ = "statements"
    __table_args__ = (
        CheckConstraint(f"status IN {STATEMENT_STATUSES}", name="status"),
        CheckConstraint(
            "total_cents = sales_cents - refunds_cents - commission_cents + adjustments_cents", name="total"
        ),
        Index("ix_statements_merchant_created", "merchant_id", "created_at"),
        Index("ix_statements_status_confirm_by", "status", "confirm_by"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("settlement_runs.id", ondelete="RESTRICT"), index=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id", ondelete="RESTRICT"))
    status: Mapped[str] = mapped_column(String(10), default="draft", server_default="draft")
    cutoff_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    sales_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    refunds_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    commission_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    adjustments_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    total_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    # of the sales, what the mall's coupons paid instead of the buyers (credited to the store)
    platform_discount_cents: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    confirm_by: Mapped[datetime] = mapped_column(DateTime(timezone=True))  # confirmed automatically then
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    confirmed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    paid_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    @property
    def number(self) -> str:
        return f"S{self.created_at:%Y%m%d}{self.id:05d}"


class StatementLine(db.Model):
    """One movement of a store's settleable money on a statement; each ledger line is settled once."""

    __tablename__ = "statement_lines"
    __table_args__ = (
        CheckConstraint("net_cents = sales_cents - refunds_cents - commission_cents + adjustments_cents", name="net"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    statement_id: Mapped[int] = mapped_column(ForeignKey("statements.id", ondelete="CASCADE"), index=True)
    journal_line_id: Mapped[int] = mapped_column(ForeignKey("journal_lines.id", ondelete="RESTRICT"), unique=True)
    kind: Mapped[str] = mapped_column(String(40))  # the journal entry's kind
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="RESTRICT"))
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    sales_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    refunds_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    commission_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    adjustments_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    net_cents: Mapped[int] = mapped_column(BigInteger)
    # how the order's discounts split (already out of ``sales_cents``'s buyer price: the store's own
    # discount lowered the sales, the mall's coupon was paid by the platform and is part of them)
    store_discount_cents: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    platform_discount_cents: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    memo: Mapped[str | None] = mapped_column(String(300))


WITHDRAWAL_STATUSES = ("requested", "paying", "paid", "failed", "rejected")


class Withdrawal(db.Model):
    """A store's request to be paid ``amount_cents`` of its balance to its verified bank account
    (less ``fee_cents``). Held from the balance while requested or paying; paid out through the
    payout provider once finance approves."""

    __tablename__ = "withdrawals"
    __table_args__ = (
        CheckConstraint(f"status IN {WITHDRAWAL_STATUSES}", name="status"),
        CheckConstraint("amount_cents > 0 AND fee_cents >= 0 AND fee_cents < amount_cents", name="amounts"),
        Index("ix_withdrawals_merchant_created", "merchant_id", "created_at"),
        Index("ix_withdrawals_status", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id", ondelete="RESTRICT"))
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    fee_cents: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(10), default="requested", server_default="requested")
    account_name: Mapped[str] = mapped_column(String(120))
    bank_name: Mapped[str] = mapped_column(String(120))
    account_number: Mapped[str] = mapped_column(String(40))
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    reject_reason: Mapped[str | None] = mapped_column(String(300))
    payout_ref: Mapped[str | None] = mapped_column(String(40), unique=True)  # the payout provider's id
    failure_reason: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    settled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    @property
    def net_cents(self) -> int:
        return self.amount_cents - self.fee_cents

    @property
    def masked_account(self) -> str:
        return "•" * max(0, len(self.account_number) - 4) + self.account_number[-4:]


class SandboxPayout(db.Model):
    """The sandbox bank's side of a payout: one per withdrawal (a retried request finds it)."""

    __tablename__ = "sandbox_payouts"
    __table_args__ = (CheckConstraint("status IN ('pending', 'succeeded', 'failed')", name="status"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # "sbx_po_…"
    withdrawal_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    account_number: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(10), default="pending", server_default="pending")
    failure_reason: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    settled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
