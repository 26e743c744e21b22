"""The store's orders (M-06): lists by status with search, detail, shipping (whole or in parcels),
pick-up hand-over, tracking steps, the packing slip and CSV/XLSX export. Rules in
``mall.trading.fulfilment``."""

from __future__ import annotations

from flask import Response, flash, g, redirect, render_template, request, url_for
from flask_login import current_user

from mall.catalog.money import format_yuan
from mall.errors import DomainError
from mall.exports import csv_bytes, xlsx_bytes
from mall.extensions import db
from mall.i18n import _
from mall.merchant.access import require
from mall.merchant.views import blueprint
from mall.trading import after_sales, cancellation, fulfilment
from mall.trading.orders import order_lines, status_label
from mall.web.forms import page_number


def _filter() -> str:
    value = request.args.get("status", "all")
    return value if value in fulfilment.MERCHANT_FILTERS else "all"


@blueprint.get("/orders")
@require("orders.manage")
def orders():
    return render_template(
        "merchant/orders/list.html",
        page=fulfilment.store_orders(_filter(), request.args.get("q", ""), page_number()),
        status=_filter(),
        filters=fulfilment.FILTER_LABELS,
        q=request.args.get("q", ""),
        status_label=status_label,
    )


@blueprint.get("/orders/<int:order_id>")
@require("orders.manage")
def order(order_id: int):
    order = fulfilment.store_order(order_id)
    lines = order_lines(order)
    return render_template(
        "merchant/orders/detail.html",
        order=order,
        lines=lines,
        shipments=fulfilment.shipments_of(order),
        status_label=status_label,
        webhook_url=fulfilment.tracking_webhook_url,
        cases=after_sales.cases_of_order(order),
        splits=after_sales.line_splits(order, lines),
        **after_sales.template_context(),
    )


@blueprint.get("/orders/<int:order_id>/packing-slip")
@require("orders.manage")
def packing_slip(order_id: int):
    order = fulfilment.store_order(order_id)
    return render_template("merchant/orders/packing_slip.html", order=order, lines=order_lines(order))


def _done(order_id: int, message: str):
    db.session.commit()
    flash(message, "success")
    return redirect(url_for("merchant.order", order_id=order_id))


def _failed(order_id: int, error: DomainError):
    db.session.rollback()
    flash(error.message, "error")
    return redirect(url_for("merchant.order", order_id=order_id))


@blueprint.post("/orders/<int:order_id>/ship")
@require("orders.manage")
def ship_order(order_id: int):
    quantities = None
    if request.form.get("split"):
        quantities = {}
        for key, value in request.form.items():
            if key.startswith("qty-") and key[4:].isdigit():
                quantities[int(key[4:])] = int(value) if value.strip().isdigit() else 0
    try:
        fulfilment.ship(
            current_user, order_id, request.form.get("carrier", ""), request.form.get("tracking_number", ""), quantities
        )
    except DomainError as error:
        return _failed(order_id, error)
    return _done(order_id, _("Parcel shipped. The buyer has been told."))


@blueprint.post("/orders/<int:order_id>/hand-over")
@require("orders.manage")
def hand_over(order_id: int):
    try:
        fulfilment.hand_over(current_user, order_id, request.form.get("code", ""))
    except DomainError as error:
        return _failed(order_id, error)
    return _done(order_id, _("Handed over to the buyer."))


@blueprint.post("/orders/<int:order_id>/cancellation")
@require("orders.manage")
def answer_cancellation(order_id: int):
    accept = request.form.get("answer") == "accept"
    try:
        cancellation.answer_cancellation(current_user, order_id, accept, request.form.get("reason"))
    except DomainError as error:
        return _failed(order_id, error)
    return _done(order_id, _("Order cancelled and refunded.") if accept else _("Cancellation declined."))


@blueprint.post("/orders/<int:order_id>/price")
@require("orders.manage")
def change_price(order_id: int):
    try:
        fulfilment.change_price(
            current_user, order_id, request.form.get("shipping", ""), request.form.get("discount", "")
        )
    except DomainError as error:
        return _failed(order_id, error)
    return _done(order_id, _("Price changed. The buyer has been told."))


@blueprint.post("/orders/<int:order_id>/note")
@require("orders.manage")
def order_note(order_id: int):
    try:
        fulfilment.set_merchant_note(current_user, order_id, request.form.get("note"))
    except DomainError as error:
        return _failed(order_id, error)
    return _done(order_id, _("Note saved."))


@blueprint.post("/orders/<int:order_id>/shipments/<int:shipment_id>/events")
@require("orders.manage")
def tracking_event(order_id: int, shipment_id: int):
    try:
        fulfilment.add_tracking_event(
            current_user, order_id, shipment_id, request.form.get("description", ""), request.form.get("location")
        )
    except DomainError as error:
        return _failed(order_id, error)
    return _done(order_id, _("Tracking step added."))


EXPORT_COLUMNS = (
    "order_number",
    "created_at",
    "status",
    "delivery",
    "items",
    "goods",
    "shipping",
    "total",
    "store_discount",
    "mall_coupon",
    "buyer_pays",
    "recipient",
    "phone",
    "address",
    "note",
)


def _export_rows():
    page = fulfilment.store_orders(_filter(), request.args.get("q", ""), 1)
    total_pages = page.pages
    for number in range(1, total_pages + 1):
        if number > 1:
            page = fulfilment.store_orders(_filter(), request.args.get("q", ""), number)
        for order in page.items:
            address = order.address or {}
            yield [
                order.number,
                order.created_at.isoformat(timespec="seconds"),
                status_label(order.status),
                order.delivery,
                order.item_count,
                format_yuan(order.goods_cents),
                format_yuan(order.shipping_cents),
                format_yuan(order.total_cents),
                format_yuan(order.discount_cents),
                format_yuan(order.platform_discount_cents),
                format_yuan(order.payable_cents),
                address.get("recipient", ""),
                address.get("phone", ""),
                " ".join(str(address.get(k) or "") for k in ("province", "city", "district", "detail")).strip()
                or (order.pickup_address or ""),
                order.buyer_note or "",
            ]


@blueprint.get("/orders/export.<fmt>")
@require("orders.manage")
def export_orders(fmt: str):
    name = f"orders-{g.merchant.slug}"
    if fmt == "xlsx":
        data, mimetype = (
            xlsx_bytes("orders", EXPORT_COLUMNS, _export_rows()),
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    elif fmt == "csv":
        data, mimetype = csv_bytes(EXPORT_COLUMNS, _export_rows()), "text/csv"
    else:
        return redirect(url_for("merchant.orders"))
    return Response(data, mimetype=mimetype, headers={"Content-Disposition": f"attachment; filename={name}.{fmt}"})
