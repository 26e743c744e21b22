"""The merchant registry (platform) and each store's staff (tenant)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mall.extensions import db
from mall.identity.models import User
from mall.tenancy.models import TenantModel


class Merchant(db.Model):
    __tablename__ = "merchants"
    __table_args__ = (CheckConstraint("status IN ('active', 'suspended', 'closed')", name="status"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    slug: Mapped[str] = mapped_column(String(40), unique=True)
    subdomain: Mapped[str | None] = mapped_column(String(40), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="active", server_default="active")
    status_reason: Mapped[str | None] = mapped_column(String(500))
    status_changed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    deposit_due_cents: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    score: Mapped[int | None] = mapped_column()
    # Operators may trust a store: its product edits publish without review (audited).
    catalog_trusted: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    # Buyers' reviews of the store's products, rolled up (average stars, how many).
    rating: Mapped[Decimal | None] = mapped_column(Numeric(3, 2))
    review_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    @property
    def schema_name(self) -> str:
        return f"m_{self.id}"

    @property
    def is_open(self) -> bool:
        return self.status == "active"

    def __str__(self) -> str:
        return self.name


class MerchantNote(db.Model):
    """Supervision record on a merchant: a warning, a score with its reason, or a plain note."""

    __tablename__ = "merchant_notes"
    __table_args__ = (CheckConstraint("kind IN ('warning', 'score', 'note')", name="kind"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    score: Mapped[int | None] = mapped_column()
    body: Mapped[str] = mapped_column(String(2000))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class StoreChangeRequest(db.Model):
    """A change of store name or address (slug) that the platform reviews before it applies."""

    __tablename__ = "store_change_requests"
    __table_args__ = (
        CheckConstraint("field IN ('name', 'slug')", name="field"),
        CheckConstraint("status IN ('pending', 'approved', 'rejected', 'cancelled')", name="status"),
        Index(
            "uq_store_change_requests_pending",
            "merchant_id",
            "field",
            unique=True,
            postgresql_where="status = 'pending'",
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"), index=True)
    field: Mapped[str] = mapped_column(String(16))
    old_value: Mapped[str] = mapped_column(String(80))
    new_value: Mapped[str] = mapped_column(String(80))
    status: Mapped[str] = mapped_column(String(16), default="pending", server_default="pending")
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class MerchantMembership(db.Model):
    """Platform index of which users are staff of which store (the role lives in the store)."""

    __tablename__ = "merchant_memberships"
    __table_args__ = (UniqueConstraint("merchant_id", "user_id"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    merchant: Mapped[Merchant] = relationship(lazy="joined")
    user: Mapped[User] = relationship()


class StaffRole(TenantModel):
    """A store's custom staff role (built-in roles live in code)."""

    __tablename__ = "staff_roles"

    name: Mapped[str] = mapped_column(String(60), unique=True)
    permissions: Mapped[list[str]] = mapped_column(ARRAY(String(40)), default=list, server_default="{}")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    def __str__(self) -> str:
        return self.name


class StaffMember(TenantModel):
    """A user working in this store, with a built-in role code or a custom role."""

    __tablename__ = "staff_members"
    __table_args__ = (CheckConstraint("num_nonnulls(role_code, role_id) = 1", name="one_role"),)

    # Plain id, no foreign key: tenant tables reference only small platform reference tables.
    user_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    role_code: Mapped[str | None] = mapped_column(String(40))
    role_id: Mapped[int | None] = mapped_column(ForeignKey("staff_roles.id", ondelete="RESTRICT"))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    created_by_id: Mapped[int | None] = mapped_column(BigInteger)

    role: Mapped[StaffRole | None] = relationship(lazy="joined")

    __mapper_args__ = {"eager_defaults": True}


Index("ix_staff_members_role_id", StaffMember.role_id)


class StaffInvitation(TenantModel):
    """An invitation to join the store's staff, sent by email or SMS; accepted once by its token."""

    __tablename__ = "staff_invitations"
    __table_args__ = (CheckConstraint("num_nonnulls(role_code, role_id) = 1", name="one_role"),)

    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(20))
    role_code: Mapped[str | None] = mapped_column(String(40))
    role_id: Mapped[int | None] = mapped_column(ForeignKey("staff_roles.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    invited_by_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    accepted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    accepted_user_id: Mapped[int | None] = mapped_column(BigInteger)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class StoreProfile(TenantModel):
    """The store's own settings (one row per store). Name and slug live on the platform's Merchant."""

    __tablename__ = "store_profile"

    logo_file_id: Mapped[int | None] = mapped_column(BigInteger)
    banner_file_id: Mapped[int | None] = mapped_column(BigInteger)
    intro: Mapped[str | None] = mapped_column(Text)
    province: Mapped[str | None] = mapped_column(String(40))
    city: Mapped[str | None] = mapped_column(String(40))
    district: Mapped[str | None] = mapped_column(String(40))
    address: Mapped[str | None] = mapped_column(String(200))
    latitude: Mapped[Decimal | None] = mapped_column(Numeric(9, 6))
    longitude: Mapped[Decimal | None] = mapped_column(Numeric(9, 6))
    service_phone: Mapped[str | None] = mapped_column(String(30))
    service_hours: Mapped[str | None] = mapped_column(String(100))
    offers_express: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    offers_pickup: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    pickup_address: Mapped[str | None] = mapped_column(String(200))
    # Express shipping fee rule: a flat fee per order, free from an order value on (None: never free).
    shipping_fee_cents: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    free_shipping_over_cents: Mapped[int | None] = mapped_column(BigInteger)
    return_contact: Mapped[str | None] = mapped_column(String(60))
    return_phone: Mapped[str | None] = mapped_column(String(30))
    return_address: Mapped[str | None] = mapped_column(String(200))
    notice: Mapped[str | None] = mapped_column(String(500))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
