"""Inventory in the merchant centre (M-05, C-19, M-04 batch work): the SKU list with bulk edits and
thresholds, one SKU's page (adjust, count, its log), the store's movement log, "notify me" requests,
stocktaking sessions, and CSV/XLSX import and export.

Every route needs ``products.manage``. Ids in URLs and forms are looked up in the bound store only,
so another store's ids are 404s. The rules live in ``mall.catalog.inventory``, ``stock_edits``,
``stocktaking``, ``restock`` and ``transfer``; these views parse the request, call one service,
commit once, and show refusals as flashes (answered 400/404/409).
"""

from __future__ import annotations

import json
import secrets
from datetime import date

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from mall.catalog import restock, stock_edits, stocktaking, transfer
from mall.catalog.inventory import REASON_LABELS, parse_count
from mall.catalog.models import Product
from mall.catalog.money import format_yuan
from mall.errors import DomainError, NotFound
from mall.extensions import db, redis_store
from mall.i18n import _
from mall.merchant.access import require
from mall.merchant.views import blueprint
from mall.tenancy import cache_key

PERMISSION = "products.manage"
REPORT_TTL = 3600


def _render(template: str, status: int = 200, **context):
    return render_template(
        f"merchant/inventory/{template}", format_yuan=format_yuan, reason_labels=REASON_LABELS, **context
    ), status


def _int_arg(name: str, default: int | None = None) -> int | None:
    value = (request.args.get(name) or "").strip()
    return int(value) if value.isdigit() and len(value) < 19 else default


def _date_arg(name: str) -> date | None:
    try:
        return date.fromisoformat(request.args.get(name) or "")
    except ValueError:
        return None


def _refused(error: DomainError, *, page=None):
    """A refusal: nothing of this request is kept; 404 for what is not the store's."""
    db.session.rollback()
    if isinstance(error, NotFound):
        abort(404)
    flash(error.message, "error")
    if page is not None:
        return page(error.status_code)
    return redirect(request.referrer or url_for("merchant.inventory"))


# ---------------------------------------------------------------------------------------------
# The SKU list and bulk edits
# ---------------------------------------------------------------------------------------------


def _inventory_page(status: int = 200):
    filters = {
        "q": (request.values.get("q") or "").strip()[:100],
        "product": _int_arg("product"),
        "stock": request.values.get("stock") if request.values.get("stock") in ("low", "out") else None,
    }
    page = stock_edits.inventory_page(
        q=filters["q"] or None, product_id=filters["product"], stock=filters["stock"], page=_int_arg("page", 1)
    )
    return _render(
        "list.html",
        status,
        page=page,
        filters=filters,
        actions=stock_edits.BULK_ACTIONS,
        selected={int(i) for i in request.form.getlist("sku_ids") if i.isdigit()},
    )


@blueprint.get("/inventory")
@require(PERMISSION)
def inventory():
    return _inventory_page()


@blueprint.post("/inventory/bulk")
@require(PERMISSION)
def inventory_bulk():
    ids = request.form.getlist("sku_ids")
    if any(not i.isdigit() for i in ids):
        abort(404)
    try:
        changed = stock_edits.bulk_edit(
            current_user,
            [int(i) for i in ids],
            request.form.get("action", ""),
            request.form.get("value", ""),
            request.form.get("note"),
        )
    except DomainError as error:
        return _refused(error, page=_inventory_page)
    db.session.commit()
    flash(_("%(n)s SKUs changed.", n=changed), "success")
    return redirect(url_for("merchant.inventory", **_list_args()))


def _list_args() -> dict:
    return {k: v for k in ("q", "product", "stock", "page") if (v := request.form.get(k) or request.args.get(k))}


@blueprint.post("/inventory/sku/<int:sku_id>/threshold")
@require(PERMISSION)
def inventory_threshold(sku_id: int):
    text = (request.form.get("threshold") or "").strip()
    try:
        threshold = parse_count(text, field="threshold") if text else None
        sku = stock_edits.set_threshold(current_user, sku_id, threshold)
    except DomainError as error:
        return _refused(error)
    db.session.commit()
    flash(_("Low-stock threshold saved for %(sku)s.", sku=stock_edits.sku_label(sku)), "success")
    if request.form.get("back") == "sku":
        return redirect(url_for("merchant.inventory_sku", sku_id=sku_id))
    return redirect(url_for("merchant.inventory", **_list_args()))


# ---------------------------------------------------------------------------------------------
# One SKU: adjust, count, its movement log
# ---------------------------------------------------------------------------------------------


def _sku_page(sku_id: int, status: int = 200):
    try:
        sku = stock_edits.get_sku(sku_id)
    except NotFound:
        abort(404)
    movements = stock_edits.movement_page(sku_id=sku.id, page=_int_arg("page", 1))
    return _render("sku.html", status, sku=sku, product=sku.product, movements=movements, form=request.form)


@blueprint.get("/inventory/sku/<int:sku_id>")
@require(PERMISSION)
def inventory_sku(sku_id: int):
    return _sku_page(sku_id)


@blueprint.post("/inventory/sku/<int:sku_id>/adjust")
@require(PERMISSION)
def inventory_adjust(sku_id: int):
    mode = request.form.get("mode", "delta")
    try:
        if mode == "count":
            counted = parse_count(request.form.get("value"), field="value")
            stock = stock_edits.manual_count(current_user, sku_id, counted, request.form.get("note"))
        else:
            delta = parse_count(request.form.get("value"), field="value", signed=True)
            stock = stock_edits.manual_adjust(current_user, sku_id, delta, request.form.get("note"))
    except DomainError as error:
        return _refused(error, page=lambda status: _sku_page(sku_id, status))
    db.session.commit()
    flash(_("Stock is now %(n)s.", n=stock), "success")
    return redirect(url_for("merchant.inventory_sku", sku_id=sku_id))


@blueprint.get("/inventory/movements")
@require(PERMISSION)
def stock_movements():
    filters = {
        "reason": request.args.get("reason") if request.args.get("reason") in REASON_LABELS else "",
        "product": _int_arg("product"),
        "sku": _int_arg("sku"),
        "from": _date_arg("from"),
        "to": _date_arg("to"),
    }
    page = stock_edits.movement_page(
        sku_id=filters["sku"],
        product_id=filters["product"],
        reason=filters["reason"] or None,
        date_from=filters["from"],
        date_to=filters["to"],
        page=_int_arg("page", 1),
    )
    product = db.session.get(Product, filters["product"]) if filters["product"] else None
    return _render("movements.html", page=page, filters=filters, product=product)


@blueprint.get("/inventory/restock")
@require(PERMISSION)
def restock_requests():
    return _render("restock.html", page=restock.waiting_page(page=_int_arg("page", 1)))


# ---------------------------------------------------------------------------------------------
# Stocktaking
# ---------------------------------------------------------------------------------------------


def _stocktakes_page(status: int = 200):
    return _render(
        "stocktakes.html",
        status,
        current=stocktaking.open_stocktake_of_store(),
        history=stocktaking.stocktake_history(page=_int_arg("page", 1)),
        products=stocktaking.countable_products(),
    )


@blueprint.get("/inventory/stocktakes")
@require(PERMISSION)
def stocktakes():
    return _stocktakes_page()


@blueprint.post("/inventory/stocktakes")
@require(PERMISSION)
def stocktake_open():
    scope = request.form.get("scope", "all")
    ids = request.form.getlist("product_ids")
    if any(not i.isdigit() for i in ids):
        abort(404)
    try:
        stocktake = stocktaking.open_stocktake(
            current_user,
            product_ids=None if scope == "all" else [int(i) for i in ids],
            note=request.form.get("note"),
        )
    except DomainError as error:
        return _refused(error, page=_stocktakes_page)
    db.session.commit()
    flash(_("Stocktake opened: enter the counts, then confirm."), "success")
    return redirect(url_for("merchant.stocktake", stocktake_id=stocktake.id))


def _stocktake_page(stocktake_id: int, status: int = 200, errors: dict | None = None):
    try:
        stocktake = stocktaking.get_stocktake(stocktake_id)
    except NotFound:
        abort(404)
    only = request.args.get("only") if request.args.get("only") in ("counted", "uncounted", "different") else None
    return _render(
        "stocktake.html",
        status,
        stocktake=stocktake,
        lines=stocktaking.stocktake_lines(stocktake.id, only=only, page=_int_arg("page", 1)),
        progress=stocktaking.progress(stocktake.id),
        only=only,
        errors=errors or {},
        entered=request.form if errors else {},
    )


@blueprint.get("/inventory/stocktakes/<int:stocktake_id>")
@require(PERMISSION)
def stocktake(stocktake_id: int):
    return _stocktake_page(stocktake_id)


@blueprint.post("/inventory/stocktakes/<int:stocktake_id>")
@require(PERMISSION)
def stocktake_save(stocktake_id: int):
    counts = {}
    for key, value in request.form.items():
        if key.startswith("count-"):
            line_id = key.removeprefix("count-")
            if not line_id.isdigit():
                abort(404)
            counts[int(line_id)] = value
    try:
        changed = stocktaking.save_counts(current_user, stocktake_id, counts)
    except stocktaking.CountsInvalid as invalid:
        db.session.rollback()
        flash(invalid.message, "error")
        return _stocktake_page(stocktake_id, 400, errors=invalid.errors)
    except DomainError as error:
        return _refused(error)
    db.session.commit()
    flash(_("%(n)s counts saved.", n=changed), "success")
    if request.form.get("then") == "confirm":
        return redirect(url_for("merchant.stocktake", stocktake_id=stocktake_id, only="different"))
    return redirect(request.referrer or url_for("merchant.stocktake", stocktake_id=stocktake_id))


@blueprint.post("/inventory/stocktakes/<int:stocktake_id>/confirm")
@require(PERMISSION)
def stocktake_confirm(stocktake_id: int):
    try:
        result = stocktaking.confirm_stocktake(current_user, stocktake_id)
    except DomainError as error:
        return _refused(error, page=lambda status: _stocktake_page(stocktake_id, status))
    db.session.commit()
    flash(
        _(
            "Stocktake confirmed: %(changed)s of %(counted)s counted SKUs changed (net %(net)s).",
            changed=result.changed,
            counted=result.counted,
            net=result.net,
        ),
        "success",
    )
    return redirect(url_for("merchant.stocktake", stocktake_id=stocktake_id))


@blueprint.post("/inventory/stocktakes/<int:stocktake_id>/cancel")
@require(PERMISSION)
def stocktake_cancel(stocktake_id: int):
    try:
        stocktaking.cancel_stocktake(current_user, stocktake_id)
    except DomainError as error:
        return _refused(error)
    db.session.commit()
    flash(_("Stocktake cancelled: no stock was changed."), "info")
    return redirect(url_for("merchant.stocktakes"))


# ---------------------------------------------------------------------------------------------
# Import and export
# ---------------------------------------------------------------------------------------------


def _transfer_page(status: int = 200, **context):
    return _render(
        "transfer.html",
        status,
        columns=transfer.COLUMNS,
        max_rows=transfer.MAX_ROWS,
        **context,
    )


@blueprint.get("/inventory/transfer")
@require(PERMISSION)
def inventory_transfer():
    return _transfer_page()


@blueprint.get("/inventory/export.<fmt>")
@require(PERMISSION)
def inventory_export(fmt: str):
    stamp = date.today().isoformat()
    if fmt == "csv":
        body, mimetype = transfer.export_csv(), "text/csv; charset=utf-8"
    elif fmt == "xlsx":
        body, mimetype = (
            transfer.export_xlsx(),
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    else:
        abort(404)
    return Response(
        body,
        mimetype=mimetype,
        headers={"Content-Disposition": f'attachment; filename="products-{stamp}.{fmt}"'},
    )


def _report_key(token: str) -> str:
    return cache_key("inventory-import-report", token)


@blueprint.post("/inventory/import")
@require(PERMISSION)
def inventory_import():
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash(_("Choose a .csv or .xlsx file."), "error")
        return _transfer_page(400)
    data = upload.stream.read(transfer.MAX_BYTES + 1)
    try:
        result = transfer.import_file(current_user, data, upload.filename)
    except transfer.ImportInvalid as invalid:
        db.session.rollback()
        token = secrets.token_urlsafe(16)
        rows = [[e.row, e.column, e.message] for e in invalid.errors]
        redis_store.client.set(_report_key(token), json.dumps(rows), ex=REPORT_TTL)
        flash(invalid.message, "error")
        return _transfer_page(400, errors=invalid.errors, report_token=token, file_name=upload.filename)
    except DomainError as error:
        return _refused(error, page=_transfer_page)
    db.session.commit()
    if result.changed:
        flash(
            _(
                "Imported %(rows)s rows: %(updated)s SKUs updated, %(stock)s stock changes, "
                "%(products)s new draft products.",
                rows=result.rows,
                updated=result.updated_skus,
                stock=result.stock_changes,
                products=result.created_products,
            ),
            "success",
        )
    else:
        flash(_("The file matches your store: nothing needed to change."), "info")
    return redirect(url_for("merchant.inventory_transfer"))


@blueprint.get("/inventory/import/report/<token>.csv")
@require(PERMISSION)
def inventory_import_report(token: str):
    raw = redis_store.client.get(_report_key(token)) if token.replace("-", "").replace("_", "").isalnum() else None
    if raw is None:
        abort(404)
    errors = [transfer.RowError(row, column, message) for row, column, message in json.loads(raw)]
    return Response(
        transfer.error_report_csv(errors),
        mimetype="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="import-problems.csv"'},
    )
