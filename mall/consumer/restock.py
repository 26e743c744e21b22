"""Out-of-stock registration from the product page (C-19): "notify me when it is back"."""

from __future__ import annotations

from flask import abort, flash, redirect, request, url_for
from flask_login import current_user, login_required

from mall.catalog import restock
from mall.catalog.models import PublicProduct
from mall.consumer.views import blueprint
from mall.errors import DomainError, NotFound
from mall.extensions import db
from mall.i18n import _
from mall.tenancy import tenant


def _product_or_404(product_id: int) -> PublicProduct:
    row = db.session.get(PublicProduct, product_id)
    if row is None:
        abort(404)
    return row


def _sku_id() -> int:
    value = (request.form.get("sku_id") or "").strip()
    if not value.isdigit():
        abort(400)
    return int(value)


@blueprint.post("/p/<int:product_id>/notify-me")
def notify_me(product_id: int):
    row = _product_or_404(product_id)
    back = restock.product_path(row.id, row.slug)
    if not row.is_visible:
        abort(404)
    if not current_user.is_authenticated:
        flash(_("Log in to be told when it is back in stock."), "info")
        return redirect(url_for("consumer.login", next=back))
    sku_id = _sku_id()
    try:
        with tenant(row.merchant_id):
            if restock.sku_product_id(sku_id) != row.id:
                raise NotFound(_("This product is not on sale."))
            restock.register_restock(current_user.id, sku_id)
    except NotFound:
        abort(404)
    except DomainError as error:
        flash(error.message, "error")
        return redirect(back)
    db.session.commit()
    flash(_("We will tell you when it is back in stock."), "success")
    return redirect(back)


@blueprint.post("/p/<int:product_id>/notify-me/cancel")
@login_required
def cancel_notify_me(product_id: int):
    row = _product_or_404(product_id)
    sku_id = _sku_id()
    with tenant(row.merchant_id):
        if restock.sku_product_id(sku_id) != row.id:
            abort(404)
        cancelled = restock.cancel_restock(current_user.id, sku_id)
    if cancelled:
        db.session.commit()
        flash(_("You will not be told about this item."), "info")
    return redirect(restock.product_path(row.id, row.slug))
