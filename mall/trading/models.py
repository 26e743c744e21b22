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
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mall.extensions import db
from mall.merchants.models import Merchant
from mall.tenancy.models import TenantModel


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


ORDER_STATUSES = (
    "awaiting_payment",
    "paid",  # awaiting shipment
    "partially_shipped",
    "shipped",
    "received",
    "completed",
    "cancelled",
    "closed",  # not paid in time
)
CHECKOUT_STATUSES = ("awaiting_payment", "paid", "closed")


class Checkout(db.Model):
    """One checkout: what the shopper pays once for the orders of several stores.

    ``idempotency_key`` comes from the checkout page: submitting it again (a double click, a retried
    request) finds this checkout instead of placing the orders twice.
    """

    __tablename__ = "checkouts"
    __table_args__ = (
        UniqueConstraint("user_id", "idempotency_key"),
        CheckConstraint(f"status IN {CHECKOUT_STATUSES}", name="status"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), index=True)
    idempotency_key: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20), default="awaiting_payment", server_default="awaiting_payment")
    total_cents: Mapped[int] = mapped_column(BigInteger)
    pay_by: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    paid_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    orders: Mapped[list[Order]] = relationship(back_populates="checkout", order_by="Order.id")


class Order(db.Model):
    """The order index: one row per store per checkout, for buyers', merchants' and operators' lists.
    The lines (what was bought, at what price) live in the store's schema (``OrderLine``)."""

    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint(f"status IN {ORDER_STATUSES}", name="status"),
        CheckConstraint("delivery IN ('express', 'pickup')", name="delivery"),
        CheckConstraint("total_cents = goods_cents + shipping_cents - discount_cents", name="total"),
        Index("ix_orders_user_created", "user_id", "created_at"),
        Index("ix_orders_merchant_status_created", "merchant_id", "status", "created_at"),
        Index("ix_orders_status_created", "status", "created_at"),
        CheckConstraint("case_status IN ('open', 'disputed', 'closed')", name="case_status"),
        CheckConstraint("refunded_cents BETWEEN 0 AND total_cents - platform_discount_cents", name="refunded"),
        CheckConstraint("platform_discount_cents BETWEEN 0 AND total_cents", name="platform_discount"),
        Index("ix_orders_case_due", "case_due_at", postgresql_where=text("case_due_at IS NOT NULL")),
        Index("ix_orders_case_status", "case_status", "updated_at", postgresql_where=text("case_status IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    checkout_id: Mapped[int] = mapped_column(ForeignKey("checkouts.id", ondelete="RESTRICT"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id", ondelete="RESTRICT"))
    status: Mapped[str] = mapped_column(String(20), default="awaiting_payment", server_default="awaiting_payment")
    delivery: Mapped[str] = mapped_column(String(10))
    goods_cents: Mapped[int] = mapped_column(BigInteger)
    shipping_cents: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    discount_cents: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")  # store-funded
    total_cents: Mapped[int] = mapped_column(BigInteger)  # what the order is worth to the store
    # The order's share of a mall coupon (platform-funded): the buyer pays ``payable_cents``, the
    # platform the rest, and the store is credited the whole ``total_cents``.
    platform_discount_cents: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    item_count: Mapped[int] = mapped_column(Integer)
    summary: Mapped[str] = mapped_column(String(200))  # "Green tea and 2 more", for lists
    buyer_note: Mapped[str | None] = mapped_column(String(200))
    merchant_note: Mapped[str | None] = mapped_column(String(500))  # the store's own, never shown to the buyer
    address: Mapped[dict | None] = mapped_column(JSONB)  # snapshot for express delivery
    pickup_address: Mapped[str | None] = mapped_column(String(200))  # snapshot for store pick-up
    pickup_code: Mapped[str | None] = mapped_column(String(8))  # given once paid
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    paid_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    shipped_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    received_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # cancelled or closed
    close_reason: Mapped[str | None] = mapped_column(String(300))
    # A cancellation the buyer asked for after paying, waiting for the store (None: none pending).
    cancel_requested_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancel_request_reason: Mapped[str | None] = mapped_column(String(300))
    reviews_closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # default reviews given
    # After-sales (the cases live in the store's schema; these keep lists and jobs off the store schemas):
    # None: never had a case; "open": a case waits for someone; "disputed": one waits for the platform;
    # "closed": all cases ended. ``case_due_at``: the earliest deadline among its open cases.
    case_status: Mapped[str | None] = mapped_column(String(10))
    case_due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    refunded_cents: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    # A replacement sent for an exchange: the order it replaces goods of (its price is zero).
    replaces_order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="RESTRICT"))

    checkout: Mapped[Checkout] = relationship(back_populates="orders")
    merchant: Mapped[Merchant] = relationship(lazy="joined")

    @property
    def payable_cents(self) -> int:
        """What the buyer pays for the order (the mall coupon's share taken off)."""
        return self.total_cents - self.platform_discount_cents

    @property
    def number(self) -> str:
        """What buyers and merchants quote: the day it was placed and the id (``20261130000123``)."""
        return f"{self.created_at:%Y%m%d}{self.id:06d}"


def order_id_from_number(number: str) -> int | None:
    number = (number or "").strip()
    return int(number[8:]) if len(number) > 8 and number.isdigit() else None


class OrderLine(TenantModel):
    """What one line of an order bought, frozen when the order was placed (in the store's schema)."""

    __tablename__ = "order_lines"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("total_cents = unit_price_cents * quantity", name="total"),
        CheckConstraint("platform_discount_cents BETWEEN 0 AND total_cents", name="platform_discount"),
        CheckConstraint(
            "refunded_cents BETWEEN 0 AND total_cents AND returned_quantity BETWEEN 0 AND quantity", name="after_sales"
        ),
    )

    order_id: Mapped[int] = mapped_column(BigInteger, index=True)  # public.orders (no cross-schema key)
    product_id: Mapped[int] = mapped_column(BigInteger)
    sku_id: Mapped[int] = mapped_column(BigInteger)
    title: Mapped[str] = mapped_column(String(120))
    specs: Mapped[str] = mapped_column(String(255), default="", server_default="")
    image_key: Mapped[str | None] = mapped_column(String(300))
    category_id: Mapped[int] = mapped_column(BigInteger)
    unit_price_cents: Mapped[int] = mapped_column(BigInteger)
    quantity: Mapped[int] = mapped_column(Integer)
    total_cents: Mapped[int] = mapped_column(BigInteger)
    platform_discount_cents: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")  # mall coupon
    commission_bp: Mapped[int | None] = mapped_column(Integer)  # frozen when paid
    commission_cents: Mapped[int | None] = mapped_column(BigInteger)
    shipped_quantity: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    refunded_cents: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")  # by after-sales
    returned_quantity: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # back in stock
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    @property
    def to_ship(self) -> int:
        return self.quantity - self.shipped_quantity


class Shipment(TenantModel):
    """One parcel of an order: carrier and tracking number, which lines and how many."""

    __tablename__ = "shipments"

    order_id: Mapped[int] = mapped_column(BigInteger, index=True)  # public.orders
    carrier: Mapped[str] = mapped_column(String(40))
    tracking_number: Mapped[str] = mapped_column(String(40))
    shipped_by_id: Mapped[int | None] = mapped_column(BigInteger)
    shipped_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    lines: Mapped[list[ShipmentLine]] = relationship(order_by="ShipmentLine.id", cascade="all, delete-orphan")
    events: Mapped[list[TrackingEvent]] = relationship(
        order_by="TrackingEvent.occurred_at", cascade="all, delete-orphan"
    )


class ShipmentLine(TenantModel):
    __tablename__ = "shipment_lines"
    __table_args__ = (CheckConstraint("quantity > 0", name="quantity_positive"),)

    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipments.id", ondelete="CASCADE"), index=True)
    order_line_id: Mapped[int] = mapped_column(ForeignKey("order_lines.id", ondelete="RESTRICT"))
    quantity: Mapped[int] = mapped_column(Integer)


class TrackingEvent(TenantModel):
    """A step of a parcel's journey: entered by the store, or reported by the carrier's webhook."""

    __tablename__ = "tracking_events"
    __table_args__ = (UniqueConstraint("shipment_id", "external_id"),)

    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipments.id", ondelete="CASCADE"), index=True)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    description: Mapped[str] = mapped_column(String(300))
    location: Mapped[str | None] = mapped_column(String(100))
    source: Mapped[str] = mapped_column(String(10), default="store", server_default="store")  # store | carrier
    external_id: Mapped[str | None] = mapped_column(String(64))  # the carrier's event id: each kept once
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Review(TenantModel):
    """A buyer's review of one order line (in the store's schema): stars, text, photos, the store's
    reply. ``is_default``: given by the mall when the buyer did not review in time."""

    __tablename__ = "reviews"
    __table_args__ = (
        UniqueConstraint("order_line_id"),
        CheckConstraint("stars BETWEEN 1 AND 5", name="stars"),
        Index("ix_reviews_product_created", "product_id", "created_at"),
    )

    order_id: Mapped[int] = mapped_column(BigInteger, index=True)
    order_line_id: Mapped[int] = mapped_column(ForeignKey("order_lines.id", ondelete="RESTRICT"))
    product_id: Mapped[int] = mapped_column(BigInteger)
    user_id: Mapped[int] = mapped_column(BigInteger)  # public.users
    specs: Mapped[str] = mapped_column(String(255), default="", server_default="")
    stars: Mapped[int] = mapped_column(Integer)
    text: Mapped[str | None] = mapped_column(String(1000))
    photo_keys: Mapped[list[str]] = mapped_column(JSONB, default=list, server_default="[]")
    is_default: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    edit_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    reply: Mapped[str | None] = mapped_column(String(1000))
    replied_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


CASE_KINDS = ("return_refund", "refund_only", "exchange")
CASE_STATUSES = (
    "requested",  # waiting for the store
    "approved",  # the goods are to be sent back (return and refund, exchange)
    "returning",  # sent back, waiting for the store to receive them
    "rejected",  # the store refused: the buyer may escalate to the platform
    "disputed",  # waiting for the platform's decision
    "refunded",
    "replaced",
    "closed",  # withdrawn, refused for good, or the buyer did not send the goods back in time
)
OPEN_CASE_STATUSES = ("requested", "approved", "returning", "rejected", "disputed")
WITHDRAWABLE_CASE_STATUSES = ("requested", "approved", "rejected")  # before the goods are on their way back


class AfterSalesCase(TenantModel):
    """A buyer's after-sales request on some lines of one order (C-14, M-07), in the store's schema.

    ``due_at`` is when the step waiting now ends by itself (see ``mall.trading.after_sales``).
    """

    __tablename__ = "after_sales_cases"
    __table_args__ = (
        CheckConstraint(f"kind IN {CASE_KINDS}", name="kind"),
        CheckConstraint(f"status IN {CASE_STATUSES}", name="status"),
        CheckConstraint("requested_cents >= 0 AND refund_cents >= 0", name="amounts"),
        Index("ix_after_sales_cases_status_updated", "status", "updated_at"),
    )

    order_id: Mapped[int] = mapped_column(BigInteger, index=True)  # public.orders
    user_id: Mapped[int] = mapped_column(BigInteger)  # public.users: the buyer
    kind: Mapped[str] = mapped_column(String(15))
    status: Mapped[str] = mapped_column(String(10), default="requested", server_default="requested")
    reason: Mapped[str] = mapped_column(String(30))  # a code of REASONS
    description: Mapped[str | None] = mapped_column(String(1000))
    photo_keys: Mapped[list[str]] = mapped_column(JSONB, default=list, server_default="[]")
    requested_cents: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")  # what the buyer asks
    refund_cents: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")  # what was refunded
    refund_id: Mapped[int | None] = mapped_column(BigInteger)  # public.refunds
    exchange_sku_id: Mapped[int | None] = mapped_column(BigInteger)  # what the buyer wants instead
    replacement_order_id: Mapped[int | None] = mapped_column(BigInteger)  # public.orders
    return_address: Mapped[str | None] = mapped_column(String(300))  # where to send the goods back
    return_carrier: Mapped[str | None] = mapped_column(String(40))
    return_tracking: Mapped[str | None] = mapped_column(String(40))
    returned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    received_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    quality_passed: Mapped[bool | None] = mapped_column(Boolean)
    quality_note: Mapped[str | None] = mapped_column(String(500))
    store_reason: Mapped[str | None] = mapped_column(String(300))  # why the store refused
    escalated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decision: Mapped[str | None] = mapped_column(String(10))  # the platform's: "buyer" | "store"
    decision_note: Mapped[str | None] = mapped_column(String(1000))
    decided_by_id: Mapped[int | None] = mapped_column(BigInteger)  # public.users: the operator
    outcome: Mapped[str | None] = mapped_column(String(20))  # why a closed case closed
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    lines: Mapped[list[AfterSalesLine]] = relationship(order_by="AfterSalesLine.id", cascade="all, delete-orphan")
    events: Mapped[list[AfterSalesEvent]] = relationship(order_by="AfterSalesEvent.id", cascade="all, delete-orphan")

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_CASE_STATUSES

    @property
    def can_withdraw(self) -> bool:
        return self.status in WITHDRAWABLE_CASE_STATUSES

    @property
    def needs_goods(self) -> bool:
        return self.kind in ("return_refund", "exchange")


class AfterSalesLine(TenantModel):
    __tablename__ = "after_sales_lines"
    __table_args__ = (CheckConstraint("quantity > 0", name="quantity_positive"),)

    case_id: Mapped[int] = mapped_column(ForeignKey("after_sales_cases.id", ondelete="CASCADE"), index=True)
    order_line_id: Mapped[int] = mapped_column(ForeignKey("order_lines.id", ondelete="RESTRICT"), index=True)
    quantity: Mapped[int] = mapped_column(Integer)
    refund_cents: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")  # this line's share


class AfterSalesEvent(TenantModel):
    """One step of a case's history, with who took it: the timeline both sides and the platform see.
    Statements and evidence for an arbitration are events too (``statement``)."""

    __tablename__ = "after_sales_events"

    case_id: Mapped[int] = mapped_column(ForeignKey("after_sales_cases.id", ondelete="CASCADE"), index=True)
    actor: Mapped[str] = mapped_column(String(10))  # buyer | store | platform | system
    actor_id: Mapped[int | None] = mapped_column(BigInteger)
    action: Mapped[str] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(String(1000))
    photo_keys: Mapped[list[str]] = mapped_column(JSONB, default=list, server_default="[]")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
