"""Trading tables in the platform schema (what spans stores: a shopper's addresses and cart)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

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


class Cart(db.Model):
    """A shopper's cart (``user_id``) or a guest's (``token``, kept in a cookie); lines of many stores."""

    __tablename__ = "carts"
    __table_args__ = (CheckConstraint("(user_id IS NULL) <> (token IS NULL)", name="owner"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    token: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    lines: Mapped[list[CartLine]] = relationship(
        back_populates="cart", order_by="CartLine.id", cascade="all, delete-orphan"
    )


class CartLine(db.Model):
    """One SKU in a cart. ``price_cents_added`` is the price when it was put in, so the cart can say
    when the price changed since."""

    __tablename__ = "cart_lines"
    __table_args__ = (
        UniqueConstraint("cart_id", "sku_id"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    cart_id: Mapped[int] = mapped_column(ForeignKey("carts.id", ondelete="CASCADE"))
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("public_products.id", ondelete="CASCADE"))
    sku_id: Mapped[int] = mapped_column(BigInteger)  # the store's SKU row (ids are unique across stores)
    quantity: Mapped[int] = mapped_column(Integer)
    is_selected: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    price_cents_added: Mapped[int] = mapped_column(BigInteger)
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    cart: Mapped[Cart] = relationship(back_populates="lines")
