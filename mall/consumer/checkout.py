"""The checkout page (C-10): address, delivery and a note per store, the total, one submit that
places one order per store. Rules in ``mall.trading.checkout``."""

from __future__ import annotations

import secrets

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy.exc import IntegrityError

from mall.consumer.cart import current_cart
from mall.consumer.views import blueprint
from mall.errors import DomainError
from mall.extensions import db
from mall.marketing import coupons
from mall.trading import addresses as address_book
from mall.trading import checkout as checkouts


def _choices() -> dict[int, tuple[str | None, str | None]]:
    """Delivery and note per store from the form (``delivery-<merchant id>``, ``note-<merchant id>``)."""
    choices: dict[int, tuple[str | None, str | None]] = {}
    for key, value in request.form.items():
        if key.startswith("delivery-") and key[9:].isdigit():
            merchant_id = int(key[9:])
            choices[merchant_id] = (value, request.form.get(f"note-{merchant_id}"))
    return choices


def _coupon_code() -> str | None:
    """The mall coupon chosen: a typed code, else the picked one ("": none), else None (the best)."""
    typed = request.form.get("coupon_code", "").strip()
    return typed or request.form.get("coupon")


def _address_id() -> int | None:
    value = request.values.get("address_id", "")
    return int(value) if value.isdigit() else None


def _page(plan, *, key: str | None = None, status: int = 200, error: DomainError | None = None):
    return render_template(
        "consumer/checkout.html",
        plan=plan,
        addresses=address_book.addresses_of(current_user.id),
        key=key or secrets.token_urlsafe(24),
        error=error,
        coupon_text=coupons.describe,
    ), status


@blueprint.get("/checkout")
@login_required
def checkout():
    try:
        plan = checkouts.plan_checkout(current_user.id, current_cart(), address_id=_address_id())
    except DomainError as error:
        flash(error.message, "error")
        return redirect(url_for("consumer.cart"))
    return _page(plan)


@blueprint.post("/checkout")
@login_required
def place_order():
    cart, key = current_cart(), request.form.get("key", "")
    if request.form.get("action") != "place":  # "update totals": the same page with the new choices
        try:
            plan = checkouts.plan_checkout(
                current_user.id, cart, address_id=_address_id(), choices=_choices(), coupon_code=_coupon_code()
            )
        except DomainError as error:
            flash(error.message, "error")
            return redirect(url_for("consumer.cart"))
        return _page(plan, key=key if checkouts.KEY_RE.match(key) else None)
    expected = request.form.get("total_cents", "")
    try:
        placed = checkouts.place_order(
            current_user.id,
            cart,
            idempotency_key=key,
            address_id=_address_id(),
            choices=_choices(),
            coupon_code=_coupon_code(),
            expected_total_cents=int(expected) if expected.isdigit() else None,
        )
        db.session.commit()
    except IntegrityError:  # the same form submitted twice at once: the first one placed it
        db.session.rollback()
        placed = checkouts.find_checkout(current_user.id, key)
        if placed is None:
            raise
    except DomainError as error:
        db.session.rollback()
        try:
            plan = checkouts.plan_checkout(
                current_user.id,
                current_cart(),
                address_id=_address_id(),
                choices=_choices(),
                coupon_code=_coupon_code(),
            )
        except DomainError as again:  # the cart itself changed: show it there
            flash(again.message, "error")
            return redirect(url_for("consumer.cart"))
        return _page(plan, status=error.status_code, error=error)
    return redirect(url_for("consumer.checkout_placed", checkout_id=placed.id))
