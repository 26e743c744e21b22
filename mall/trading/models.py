"""Trading tables in the platform schema (what spans stores: a shopper's addresses and cart)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, ForeignKey, Index, String, func, text
from sqlalchemy.orm import Mapped, mapped_column

from mall.extensions import db


class Address(db.Model):
    """One delivery address of a shopper's address book; at most one is the default."""

    __tablename__ = "addresses"
    __table_args__ = (Index("uq_addresses_default", "user_id", unique=True, postgresql_where=text("is_default")),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    recipient: Mapped[str] = mapped_column(String(30))
    phone: Mapped[str] = mapped_column(String(20))
    province: Mapped[str] = mapped_column(String(30))
    city: Mapped[str] = mapped_column(String(30))
    district: Mapped[str | None] = mapped_column(String(30))
    detail: Mapped[str] = mapped_column(String(200))
    postcode: Mapped[str | None] = mapped_column(String(10))
    label: Mapped[str | None] = mapped_column(String(20))  # "home", "office": the shopper's own word
    is_default: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    @property
    def region(self) -> str:
        return " ".join(part for part in (self.province, self.city, self.district) if part)

    def as_text(self) -> str:
        """One line for order pages and packing slips."""
        return f"{self.recipient} {self.phone} · {self.region} {self.detail}"
