"""My orders (C-12): the list by status tab, an order's detail, a placed checkout, cancelling an
order before payment. Rules in ``mall.trading.orders``."""

from __future__ import annotations

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from mall.consumer.views import blueprint
from mall.errors import DomainError
from mall.extensions import csrf, db
from mall.i18n import _
from mall.trading import after_sales, cancellation, fulfilment, reviews
from mall.trading import orders as order_service
from mall.web.forms import page_number, uploaded_photos


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
        page=order_service.buyer_orders(current_user.id, tab, page_number()),
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
        reviews=reviews.reviews_of_order(order),
        can_review=reviews.can_review(order),
        status_label=order_service.status_label,
        cases=after_sales.cases_of_order(order),
        can_request_after_sales=after_sales.can_request(order),
        **after_sales.template_context(),
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


# ---------------------------------------------------------------------------------------------
# Reviews
# ---------------------------------------------------------------------------------------------


@blueprint.route("/orders/<int:order_id>/lines/<int:line_id>/review", methods=["GET", "POST"])
@login_required
def write_review(order_id: int, line_id: int):
    order = order_service.get_buyer_order(current_user.id, order_id)
    line = next((line for line in order_service.order_lines(order) if line.id == line_id), None)
    if line is None:
        abort(404)
    error = None
    if request.method == "POST":
        try:
            reviews.write_review(
                current_user.id,
                order.id,
                line.id,
                request.form.get("stars"),
                request.form.get("text"),
                uploaded_photos(),
            )
        except DomainError as failure:
            db.session.rollback()
            error = failure
        else:
            db.session.commit()
            flash(_("Thank you for your review."), "success")
            return redirect(url_for("consumer.my_order", order_id=order.id))
    return render_template(
        "consumer/review_form.html", order=order, line=line, review=None, error=error, form=request.form
    ), (error.status_code if error else 200)


@blueprint.route("/orders/<int:order_id>/reviews/<int:review_id>/edit", methods=["GET", "POST"])
@login_required
def edit_review(order_id: int, review_id: int):
    order = order_service.get_buyer_order(current_user.id, order_id)
    review = next((r for r in reviews.reviews_of_order(order).values() if r.id == review_id), None)
    if review is None:
        abort(404)
    line = next(line for line in order_service.order_lines(order) if line.id == review.order_line_id)
    error = None
    if request.method == "POST":
        try:
            reviews.edit_review(
                current_user.id, order.merchant_id, review.id, request.form.get("stars"), request.form.get("text")
            )
        except DomainError as failure:
            db.session.rollback()
            error = failure
        else:
            db.session.commit()
            flash(_("Your review was changed."), "success")
            return redirect(url_for("consumer.my_order", order_id=order.id))
    form = request.form if request.method == "POST" else {"stars": str(review.stars), "text": review.text or ""}
    return render_template(
        "consumer/review_form.html", order=order, line=line, review=review, error=error, form=form
    ), (error.status_code if error else 200)
