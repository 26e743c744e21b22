"""The cart pages (C-09). A guest's cart lives under a random token in the ``mall_cart`` cookie and
joins the shopper's cart at log-in or registration; rules are in ``mall.trading.cart``."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import abort, current_app, flash, g, redirect, render_template, request, url_for
from flask_login import current_user, user_logged_in

from mall.catalog.models import PublicProduct
from mall.consumer.browse import product_url
from mall.consumer.views import blueprint
from mall.errors import DomainError
from mall.extensions import csrf, db
from mall.i18n import _
from mall.identity.login import safe_next
from mall.trading import cart as carts

CART_COOKIE = "mall_cart"
CART_COOKIE_DAYS = 30


def _guest_token() -> str | None:
    token = request.cookies.get(CART_COOKIE)
    return token if token and len(token) <= 64 else None


def current_cart(create: bool = False):
    """This visitor's cart: the shopper's, or the guest cart of the cookie (made, with its cookie,
    when ``create``)."""
    if current_user.is_authenticated:
        if create:
            return carts.get_or_create_cart(user_id=current_user.id)
        return carts.find_cart(user_id=current_user.id)
    token = _guest_token()
    cart = carts.find_cart(token=token) if token else None
    if cart is None and create:
        token = carts.new_guest_token()
        cart = carts.get_or_create_cart(token=token)
        g.set_cart_cookie = token
    return cart


@user_logged_in.connect
def _merge_guest_cart(app, user, **_extra) -> None:
    """At log-in the guest cart joins the shopper's (committed with the log-in) and its cookie goes."""
    token = _guest_token()
    if token:
        carts.merge_guest_cart(token, user.id)
        g.forget_cart_cookie = True


@blueprint.after_app_request
def _cart_cookie(response):
    token = g.pop("set_cart_cookie", None)
    if token:
        response.set_cookie(
            CART_COOKIE,
            token,
            max_age=CART_COOKIE_DAYS * 86400,
            httponly=True,
            samesite="Lax",
            secure=current_app.config["SESSION_COOKIE_SECURE"],
        )
    if g.pop("forget_cart_cookie", False):
        response.delete_cookie(CART_COOKIE)
    return response


def _back(default: str):
    return redirect(safe_next(request.form.get("next"), default))


def _same_site_post() -> bool:
    """Adding to the cart needs no CSRF token (anonymous product pages are cached without one): a
    browser's Origin or Referer must then name this host."""
    source = request.headers.get("Origin") or request.headers.get("Referer")
    return source is None or urlsplit(source).netloc == request.host


@blueprint.post("/cart/add")
@csrf.exempt
def add_to_cart():
    if not _same_site_post():
        abort(403)
    try:
        product_id, sku_id = int(request.form.get("product_id", "")), int(request.form.get("sku_id", ""))
    except ValueError:
        abort(400)
    row = db.session.get(PublicProduct, product_id)
    if row is None:
        abort(404)
    try:
        cart = current_cart(create=True)
        carts.add_to_cart(cart, product_id, sku_id, request.form.get("quantity", "1"))
    except DomainError as error:
        db.session.rollback()
        g.pop("set_cart_cookie", None)
        flash(error.message, "error")
        return redirect(product_url(row))
    db.session.commit()
    flash(_("Added to your cart."), "success")
    return _back(product_url(row))


@blueprint.get("/cart")
def cart():
    view = carts.view_cart(current_cart())
    return render_template("consumer/cart.html", view=view)


@blueprint.post("/cart/lines/<int:line_id>/quantity")
def cart_quantity(line_id: int):
    cart = current_cart()
    if cart is None:
        return redirect(url_for("consumer.cart"))
    try:
        carts.set_quantity(cart, line_id, request.form.get("quantity"))
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
    else:
        db.session.commit()
    return redirect(url_for("consumer.cart"))


@blueprint.post("/cart/lines/<int:line_id>/remove")
def cart_remove(line_id: int):
    cart = current_cart()
    if cart is not None and carts.remove_lines(cart, [line_id]):
        db.session.commit()
        flash(_("Removed from your cart."), "info")
    return redirect(url_for("consumer.cart"))


@blueprint.post("/cart/selection")
def cart_selection():
    """The cart's checkboxes: ticked lines are selected for checkout, the others not; or remove the
    ticked ones."""
    cart = current_cart()
    if cart is None:
        return redirect(url_for("consumer.cart"))
    ticked = [int(v) for v in request.form.getlist("line") if v.isdigit()]
    if request.form.get("action") == "remove":
        removed = carts.remove_lines(cart, ticked)
        if removed:
            flash(_("Removed %(n)d items from your cart.", n=removed), "info")
    else:
        carts.select_lines(cart, None, False)
        carts.select_lines(cart, ticked, True)
    db.session.commit()
    return redirect(url_for("consumer.cart"))
