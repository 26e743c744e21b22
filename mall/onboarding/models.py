"""Merchant applications ("open a store") and their history, in the platform schema."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    ARRAY,
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    String,
    Text,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mall.extensions import db

STATUSES = ("draft", "submitted", "needs_info", "approved", "rejected", "withdrawn")


class MerchantApplication(db.Model):
    __tablename__ = "merchant_applications"
    __table_args__ = (
        CheckConstraint(
            "status IN ('draft', 'submitted', 'needs_info', 'approved', 'rejected', 'withdrawn')", name="status"
        ),
        CheckConstraint("kind IN ('company', 'individual')", name="kind"),
        Index("ix_merchant_applications_status_submitted", "status", "submitted_at"),
        # One open application per applicant.
        Index(
            "uq_merchant_applications_open_per_user",
            "applicant_id",
            unique=True,
            postgresql_where="status IN ('draft', 'submitted', 'needs_info')",
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    applicant_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="draft", server_default="draft")
    kind: Mapped[str] = mapped_column(String(16), default="company", server_default="company")
    legal_name: Mapped[str | None] = mapped_column(String(120))
    contact_name: Mapped[str | None] = mapped_column(String(60))
    contact_phone: Mapped[str | None] = mapped_column(String(20))
    contact_email: Mapped[str | None] = mapped_column(String(254))
    phone_verified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    licence_number: Mapped[str | None] = mapped_column(String(40))
    licence_file_id: Mapped[int | None] = mapped_column(ForeignKey("stored_objects.id"))
    id_front_file_id: Mapped[int | None] = mapped_column(ForeignKey("stored_objects.id"))
    id_back_file_id: Mapped[int | None] = mapped_column(ForeignKey("stored_objects.id"))
    bank_account_name: Mapped[str | None] = mapped_column(String(120))
    bank_name: Mapped[str | None] = mapped_column(String(120))
    bank_account_number: Mapped[str | None] = mapped_column(String(40))
    main_categories: Mapped[list[str]] = mapped_column(ARRAY(String(40)), default=list, server_default="{}")
    store_name: Mapped[str | None] = mapped_column(String(80))
    store_slug: Mapped[str | None] = mapped_column(String(40))
    agreement_version: Mapped[str | None] = mapped_column(String(20))
    agreement_accepted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    deposit_due_cents: Mapped[int | None] = mapped_column(BigInteger)
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decision_reason: Mapped[str | None] = mapped_column(Text)
    merchant_id: Mapped[int | None] = mapped_column(ForeignKey("merchants.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )

    events: Mapped[list[ApplicationEvent]] = relationship(
        back_populates="application", order_by="ApplicationEvent.id", cascade="all, delete-orphan"
    )

    @property
    def is_editable(self) -> bool:
        return self.status in ("draft", "needs_info")

    @property
    def masked_account(self) -> str:
        number = self.bank_account_number or ""
        return ("•" * max(0, len(number) - 4) + number[-4:]) if number else ""


class ApplicationEvent(db.Model):
    """One transition or message in an application's history: who, when, why."""

    __tablename__ = "merchant_application_events"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("merchant_applications.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)

    application: Mapped[MerchantApplication] = relationship(back_populates="events")
