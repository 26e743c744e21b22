"""Checkout (C-10): the selected cart lines become one checkout, paid once, split into one order per
store; placing it is one transaction across the platform schema and every store's schema.

``plan_checkout`` reads everything live (prices, stock, each store's delivery options and express
fee) and is what the checkout page shows. ``place_order`` plans again and then, all or nothing,
writes the checkout, one order per store in the order index, takes the stock with conditional
updates (``reserve_stock``: never below zero, logged as sales), writes each store's order lines and
removes the bought lines from the cart. The checkout page's idempotency key makes a second submit
(double click, network retry) return the first checkout, never a second set of orders; the total
the shopper saw must still be the total, otherwise nothing is placed and the page shows the new one.

A mall coupon (``mall.marketing.coupons``: the best public one unless the shopper picks another or
none) comes off the goods of the whole checkout; its discount is split over every store's lines to
the cent and frozen on the lines and orders, so each store's order says what the platform pays of it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import select

from mall.catalog.inventory import InsufficientStock, reserve_stock
from mall.catalog.models import PublicProduct
from mall.errors import DomainError
from mall.extensions import db
from mall.i18n import _
from mall.marketing import coupons
from mall.marketing.models import PlatformCoupon
from mall.merchants.models import Merchant
from mall.merchants.settings import ShippingRule, get_store_profile, shipping_rule
from mall.tenancy import tenant
from mall.trading import addresses as address_book
from mall.trading.cart import CartItem, remove_lines, view_cart
from mall.trading.models import Address, Cart, Checkout, Order, OrderLine

KEY_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
NOTE_MAX = 200


class CheckoutError(DomainError):
    pass


class TotalChanged(CheckoutError):
    """Prices or fees changed since the page was shown: nothing was placed."""

    status_code = 409


@dataclass
class CheckoutStore:
    merchant: Merchant
    items: list[CartItem]
    offers_express: bool
    offers_pickup: bool
    pickup_address: str | None
    rule: ShippingRule
    delivery: str = "express"
    note: str = ""
    coupon_shares: list[int] = field(default_factory=list)  # the mall coupon's share of each item

    @property
    def platform_discount_cents(self) -> int:
        return sum(self.coupon_shares)

    @property
    def payable_cents(self) -> int:
        return self.total_cents - self.platform_discount_cents

    @property
    def goods_cents(self) -> int:
        return sum(item.subtotal_cents for item in self.items)

    @property
    def express_fee_cents(self) -> int:
        """What express delivery would cost this store order (shown beside the choice)."""
        return self.rule.fee_for(self.goods_cents)

    @property
    def shipping_cents(self) -> int:
        return self.express_fee_cents if self.delivery == "express" else 0

    @property
    def total_cents(self) -> int:
        return self.goods_cents + self.shipping_cents


@dataclass
class CheckoutPlan:
    stores: list[CheckoutStore] = field(default_factory=list)
    address: Address | None = None
    coupon: PlatformCoupon | None = None
    coupon_code: str = ""  # what the shopper typed or picked ("": no coupon)
    coupon_error: str | None = None  # why the code cannot be used (the plan then has no coupon)
    offers: list[coupons.Offer] = field(default_factory=list)  # public coupons the shopper may pick

    @property
    def goods_cents(self) -> int:
        return sum(store.goods_cents for store in self.stores)

    @property
    def typed_code(self) -> str:
        """The code the shopper typed, when it is none of the offered coupons (the code field shows it)."""
        offered = {offer.coupon.code for offer in self.offers}
        return self.coupon_code if self.coupon_code not in offered else ""

    @property
    def line_count(self) -> int:
        return sum(len(store.items) for store in self.stores)

    @property
    def platform_discount_cents(self) -> int:
        return sum(store.platform_discount_cents for store in self.stores)

    @property
    def payable_cents(self) -> int:
        """What the shopper pays: every store's total less the mall coupon."""
        return self.total_cents - self.platform_discount_cents

    def apply_coupon(self, user_id: int, code: str | None) -> None:
        """Take the coupon ``code`` off (None: the best public one; "": none) and split it over
        the lines. A code that cannot be used leaves the plan without a coupon and says why."""
        self.offers = coupons.offers_for(user_id, self.goods_cents, self.line_count)
        if code is None:
            code = self.offers[0].coupon.code if self.offers else ""
        self.coupon_code = coupons.normal_code(code)
        if not self.coupon_code:
            return
        coupon = coupons.find_coupon(self.coupon_code)
        try:
            discount = coupons.check_usable(coupon, user_id, self.goods_cents, self.line_count)
        except coupons.CouponError as error:
            self.coupon_error = error.message
            return
        self.coupon = coupon
        items = [item for store in self.stores for item in store.items]
        shares = iter(coupons.spread(discount, [item.subtotal_cents for item in items]))
        for store in self.stores:
            store.coupon_shares = [next(shares) for _item in store.items]

    @property
    def needs_address(self) -> bool:
        return any(store.delivery == "express" for store in self.stores)

    @property
    def total_cents(self) -> int:
        return sum(store.total_cents for store in self.stores)

    @property
    def item_count(self) -> int:
        return sum(item.line.quantity for store in self.stores for item in store.items)


def _note(text: str | None) -> str:
    text = re.sub(r"\s+", " ", text or "").strip()
    if len(text) > NOTE_MAX:
        raise CheckoutError(_("A note to the store can have at most %(n)d characters.", n=NOTE_MAX), field="note")
    return text


def plan_checkout(
    user_id: int,
    cart: Cart | None,
    *,
    address_id: int | None = None,
    choices: dict[int, tuple[str | None, str | None]] | None = None,
    coupon_code: str | None = None,
) -> CheckoutPlan:
    """The checkout of the cart's selected lines: per store its items, delivery (``choices``: merchant
    id → (delivery, note); express when offered, unless chosen otherwise) and fees; the address
    chosen, else the default one; the mall coupon (see ``CheckoutPlan.apply_coupon``). Refuses when a
    selected line cannot be bought as it is."""
    view = view_cart(cart)
    if view.problems:
        raise CheckoutError(_("Some selected items cannot be bought as they are: see the marked lines."))
    if not view.selected:
        raise CheckoutError(_("Select the items you want to buy in your cart first."))
    choices = choices or {}
    plan = CheckoutPlan()
    for store in view.stores:
        items = [item for item in store.items if item.line.is_selected and item.buyable]
        if not items:
            continue
        with tenant(store.merchant.id):
            profile = get_store_profile()
            rule = shipping_rule(profile)
        express = profile.offers_express if profile is not None else True
        pickup = bool(profile is not None and profile.offers_pickup and profile.pickup_address)
        delivery, note = choices.get(store.merchant.id, (None, None))
        delivery = delivery or ("express" if express else "pickup")
        if (
            (delivery == "express" and not express)
            or (delivery == "pickup" and not pickup)
            or delivery
            not in (
                "express",
                "pickup",
            )
        ):
            raise CheckoutError(_("%(store)s does not offer this delivery.", store=store.merchant.name))
        plan.stores.append(
            CheckoutStore(
                merchant=store.merchant,
                items=items,
                offers_express=express,
                offers_pickup=pickup,
                pickup_address=profile.pickup_address if pickup else None,
                rule=rule,
                delivery=delivery,
                note=_note(note),
            )
        )
    if address_id is not None:
        plan.address = address_book.get_address(user_id, address_id)
    else:
        plan.address = address_book.default_address(user_id)
    plan.apply_coupon(user_id, coupon_code)
    return plan


def find_checkout(user_id: int, idempotency_key: str) -> Checkout | None:
    return db.session.scalar(
        select(Checkout).where(Checkout.user_id == user_id, Checkout.idempotency_key == idempotency_key)
    )


def _address_snapshot(address: Address) -> dict:
    return {
        "recipient": address.recipient,
        "phone": address.phone,
        "province": address.province,
        "city": address.city,
        "district": address.district,
        "detail": address.detail,
        "postcode": address.postcode,
    }


def place_order(
    user_id: int,
    cart: Cart | None,
    *,
    idempotency_key: str,
    address_id: int | None = None,
    choices: dict[int, tuple[str | None, str | None]] | None = None,
    coupon_code: str | None = "",
    expected_total_cents: int | None = None,
) -> Checkout:
    """Place the checkout's orders (see the module doc); the same key again returns the same checkout."""
    if not KEY_RE.match(idempotency_key or ""):
        raise CheckoutError(_("The checkout form expired. Please check your order and submit it again."))
    existing = find_checkout(user_id, idempotency_key)
    if existing is not None:
        return existing
    # The checkout row first: a concurrent second submit of the same key waits here for this
    # transaction and then fails on the unique key, before touching any stock.
    now = datetime.now(UTC)
    checkout = Checkout(
        user_id=user_id,
        idempotency_key=idempotency_key,
        total_cents=0,
        pay_by=now + timedelta(minutes=current_app.config["MALL_PAY_WITHIN_MINUTES"]),
    )
    db.session.add(checkout)
    db.session.flush()
    plan = plan_checkout(user_id, cart, address_id=address_id, choices=choices, coupon_code=coupon_code)
    if plan.needs_address and plan.address is None:
        raise CheckoutError(_("Choose a delivery address."), field="address")
    if plan.coupon_error:
        raise CheckoutError(plan.coupon_error, field="coupon")
    if expected_total_cents is not None and plan.payable_cents != expected_total_cents:
        raise TotalChanged(
            _("Prices or fees changed since you opened this page. Check the new total and submit again.")
        )
    if plan.coupon is not None:  # locks the coupon: its quantity and the buyer's limit hold
        redemption = coupons.redeem(plan.coupon_code, user_id, checkout.id, plan.goods_cents, plan.line_count)
        if redemption.discount_cents != plan.platform_discount_cents:
            raise TotalChanged(
                _("The coupon changed since you opened this page. Check the new total and submit again.")
            )
    checkout.total_cents = plan.payable_cents
    for store in sorted(plan.stores, key=lambda s: s.merchant.id):
        _place_store_order(checkout, store, plan.address, user_id)
    remove_lines(cart, [item.line.id for store in plan.stores for item in store.items])
    db.session.flush()
    return checkout


def _place_store_order(checkout: Checkout, store: CheckoutStore, address: Address | None, user_id: int) -> Order:
    order = Order(
        checkout_id=checkout.id,
        user_id=user_id,
        merchant_id=store.merchant.id,
        delivery=store.delivery,
        goods_cents=store.goods_cents,
        shipping_cents=store.shipping_cents,
        discount_cents=0,
        total_cents=store.total_cents,
        platform_discount_cents=store.platform_discount_cents,
        item_count=sum(item.line.quantity for item in store.items),
        summary=store.items[0].title[:200],
        buyer_note=store.note or None,
        address=_address_snapshot(address) if store.delivery == "express" and address is not None else None,
        pickup_address=store.pickup_address if store.delivery == "pickup" else None,
    )
    db.session.add(order)
    db.session.flush()
    db.session.refresh(order, ["created_at"])
    categories = dict(
        db.session.execute(
            select(PublicProduct.id, PublicProduct.category_id).where(
                PublicProduct.id.in_({item.line.product_id for item in store.items})
            )
        ).all()
    )
    with tenant(store.merchant.id):
        try:
            reserve_stock(
                [(item.line.sku_id, item.line.quantity) for item in store.items],
                reason="sale",
                ref=f"order:{order.number}",
                actor_id=user_id,
            )
        except InsufficientStock as short:
            title = next((item.title for item in store.items if item.line.sku_id == short.sku_id), "")
            raise CheckoutError(
                _("%(item)s: only %(n)d left. Change the quantity in your cart.", item=title, n=short.available)
            ) from short
        for item, share in zip(store.items, store.coupon_shares or [0] * len(store.items), strict=True):
            db.session.add(
                OrderLine(
                    order_id=order.id,
                    product_id=item.line.product_id,
                    sku_id=item.line.sku_id,
                    title=item.title,
                    specs=item.specs[:255],
                    image_key=item.image_key,
                    category_id=categories[item.line.product_id],
                    unit_price_cents=item.price_cents,
                    quantity=item.line.quantity,
                    total_cents=item.subtotal_cents,
                    platform_discount_cents=share,
                )
            )
        db.session.flush()
    return order
