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
