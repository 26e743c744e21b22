"""Marketing tables in the platform schema."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, CheckConstraint, DateTime, ForeignKey, Index, Integer, String, func
from sqlalchemy.orm import Mapped, mapped_column

from mall.extensions import db

COUPON_KINDS = ("amount", "percent")


class PlatformCoupon(db.Model):
    """A coupon the mall funds: ``amount_off_cents`` off, or ``percent_bp`` off (at most
    ``max_discount_cents``), on checkouts whose goods reach ``min_spend_cents``, between
    ``starts_at`` and ``ends_at``. ``total_quantity`` uses in all (None: no limit), at most
    ``per_user_limit`` per buyer. Public coupons are offered on the checkout page; the others work
    by their code only."""

    __tablename__ = "platform_coupons"
    __table_args__ = (
        CheckConstraint(f"kind IN {COUPON_KINDS}", name="kind"),
        CheckConstraint(
            "(kind = 'amount' AND amount_off_cents > 0 AND percent_bp IS NULL)"
            " OR (kind = 'percent' AND percent_bp BETWEEN 1 AND 9999 AND amount_off_cents IS NULL)",
            name="value",
        ),
        CheckConstraint("max_discount_cents IS NULL OR max_discount_cents > 0", name="max_discount"),
        CheckConstraint("min_spend_cents >= 0", name="min_spend"),
        CheckConstraint("ends_at > starts_at", name="period"),
        CheckConstraint("total_quantity IS NULL OR total_quantity > 0", name="quantity"),
        CheckConstraint("per_user_limit > 0", name="per_user"),
        CheckConstraint("used_count >= 0 AND (total_quantity IS NULL OR used_count <= total_quantity)", name="used"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)  # upper case
    name: Mapped[str] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(10))
    amount_off_cents: Mapped[int | None] = mapped_column(BigInteger)
    percent_bp: Mapped[int | None] = mapped_column(Integer)  # 1000 = 10 % off
    max_discount_cents: Mapped[int | None] = mapped_column(BigInteger)
    min_spend_cents: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    total_quantity: Mapped[int | None] = mapped_column(Integer)
    per_user_limit: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    used_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    is_public: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class CouponRedemption(db.Model):
    """One use of a platform coupon by one checkout: ``discount_cents`` split over its lines.
    Released (the use given back) when every order of the checkout ends unpaid."""

    __tablename__ = "coupon_redemptions"
    __table_args__ = (
        CheckConstraint("status IN ('used', 'released')", name="status"),
        CheckConstraint("discount_cents > 0", name="discount"),
        Index("ix_coupon_redemptions_coupon_user", "coupon_id", "user_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    coupon_id: Mapped[int] = mapped_column(ForeignKey("platform_coupons.id", ondelete="RESTRICT"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    checkout_id: Mapped[int] = mapped_column(ForeignKey("checkouts.id", ondelete="CASCADE"), unique=True)
    discount_cents: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(10), default="used", server_default="used")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    released_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
