"""Operator order oversight (P-06): search all stores' orders, one order's whole record, status
adjustments with a reason. Rules in ``mall.trading.oversight``."""

from __future__ import annotations

from flask import flash, redirect, request, url_for
from flask_admin import BaseView, expose
from flask_login import current_user
from flask_wtf import FlaskForm

from mall.errors import DomainError
from mall.extensions import db
from mall.identity.access import has_operator_permission
from mall.platform.views import Secured
from mall.trading import oversight
from mall.trading.models import ORDER_STATUSES
from mall.trading.orders import status_label


class OrdersView(Secured, BaseView):
    permission = "orders.view"

    @expose("/")
    def index(self):
        status = request.args.get("status") if request.args.get("status") in ORDER_STATUSES else None
        page = max(1, request.args.get("page", 1, type=int))
        return self.render(
            "platform/orders/list.html",
            page=oversight.search_orders(request.args.get("q", ""), status, request.args.get("store", type=int), page),
            q=request.args.get("q", ""),
            status=status,
            statuses=ORDER_STATUSES,
            status_label=status_label,
        )

    @expose("/<int:order_id>")
    def detail(self, order_id: int):
        record = oversight.order_record(order_id)
        order = record["order"]
        return self.render(
            "platform/orders/detail.html",
            **record,
            adjustments={to: oversight.ADJUSTMENT_LABELS[to] for to in oversight.ADJUSTMENTS.get(order.status, ())},
            can_adjust=has_operator_permission(current_user, "orders.manage"),
            status_label=status_label,
            form=FlaskForm(),
        )

    @expose("/<int:order_id>/adjust", methods=["POST"])
    def adjust(self, order_id: int):
        form = FlaskForm()
        if form.validate_on_submit():
            try:
                order = oversight.adjust_status(
                    current_user, order_id, request.form.get("to", ""), request.form.get("reason")
                )
            except DomainError as error:
                db.session.rollback()
                flash(error.message, "error")
            else:
                db.session.commit()
                flash(status_label(order.status), "success")
        return redirect(url_for(".detail", order_id=order_id))
