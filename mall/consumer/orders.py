"""My orders (C-12): the list by status tab, an order's detail, a placed checkout, cancelling an
order before payment. Rules in ``mall.trading.orders``."""

from __future__ import annotations

from flask import flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from mall.consumer.views import blueprint
from mall.errors import DomainError
from mall.extensions import csrf, db
from mall.i18n import _
from mall.trading import cancellation, fulfilment
from mall.trading import orders as order_service


def _page_number() -> int:
    value = request.args.get("page", "1")
    return int(value) if value.isdigit() and 0 < int(value) < 10_000 else 1


@blueprint.get("/orders")
@login_required
def my_orders():
    tab = request.args.get("tab", "all")
    if tab not in order_service.BUYER_TABS:
        tab = "all"
    return render_template(
        "consumer/orders.html",
        tab=tab,
        tabs=order_service.TAB_LABELS,
        counts=order_service.buyer_tab_counts(current_user.id),
        page=order_service.buyer_orders(current_user.id, tab, _page_number()),
        status_label=order_service.status_label,
    )


@blueprint.get("/orders/<int:order_id>")
@login_required
def my_order(order_id: int):
    order = order_service.get_buyer_order(current_user.id, order_id)
    return render_template(
        "consumer/order.html",
        order=order,
        lines=order_service.order_lines(order),
        shipments=fulfilment.shipments_of(order),
        status_label=order_service.status_label,
    )


@blueprint.post("/orders/<int:order_id>/confirm")
@login_required
def confirm_receipt(order_id: int):
    try:
        order = fulfilment.confirm_receipt(current_user.id, order_id)
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(url_for("consumer.my_order", order_id=order_id))
    db.session.commit()
    flash(_("Thank you for confirming that order %(number)s arrived.", number=order.number), "success")
    return redirect(url_for("consumer.my_order", order_id=order_id))


@blueprint.post("/orders/<int:order_id>/request-cancel")
@login_required
def request_cancel(order_id: int):
    try:
        cancellation.request_cancellation(current_user.id, order_id, request.form.get("reason"))
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
    else:
        db.session.commit()
        flash(_("Your request was sent to the store."), "success")
    return redirect(url_for("consumer.my_order", order_id=order_id))


@blueprint.post("/webhooks/tracking/<int:merchant_id>/<int:shipment_id>/<token>")
@csrf.exempt
def carrier_webhook(merchant_id: int, shipment_id: int, token: str):
    """Carriers report a parcel's progress here (the URL given when subscribing the parcel)."""
    try:
        added = fulfilment.record_carrier_events(merchant_id, shipment_id, token, request.get_json(silent=True) or {})
    except DomainError as error:
        db.session.rollback()
        return jsonify(error=str(error.message)), error.status_code
    db.session.commit()
    return jsonify(added=added)


@blueprint.get("/checkouts/<int:checkout_id>")
@login_required
def checkout_placed(checkout_id: int):
    checkout = order_service.get_buyer_checkout(current_user.id, checkout_id)
    return render_template("consumer/checkout_placed.html", checkout=checkout, status_label=order_service.status_label)


@blueprint.post("/orders/<int:order_id>/cancel")
@login_required
def cancel_order(order_id: int):
    try:
        order = order_service.cancel_unpaid_order(current_user.id, order_id, request.form.get("reason"))
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(url_for("consumer.my_order", order_id=order_id))
    db.session.commit()
    flash(_("Order %(number)s cancelled. Its items are back in your cart.", number=order.number), "info")
    return redirect(url_for("consumer.my_order", order_id=order_id))
