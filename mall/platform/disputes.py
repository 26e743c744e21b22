"""Operator arbitration of after-sales disputes (P-06): the cases waiting for the platform (or every
open case, to intervene early), one case with both sides' statements and evidence, and the binding
decision. Rules in ``mall.trading.after_sales``."""

from __future__ import annotations

from flask import redirect, request, url_for
from flask_admin import BaseView, expose
from flask_login import current_user
from flask_wtf import FlaskForm

from mall.i18n import _
from mall.identity.access import has_operator_permission
from mall.platform.views import Secured
from mall.trading import after_sales
from mall.trading.orders import order_lines, status_label
from mall.web.forms import page_number, run_step


class DisputesView(Secured, BaseView):
    permission = "orders.view"

    @expose("/")
    def index(self):
        include_open = request.args.get("open") == "1"
        page = after_sales.disputed_orders(page_number(), include_open=include_open)
        return self.render(
            "platform/disputes/list.html",
            page=page,
            cases=after_sales.cases_of_orders(page.items),
            include_open=include_open,
            status_label=status_label,
            **after_sales.template_context(),
        )

    @expose("/<int:order_id>/<int:case_id>")
    def detail(self, order_id: int, case_id: int):
        order, case = after_sales.platform_case(order_id, case_id)
        return self.render(
            "platform/disputes/detail.html",
            order=order,
            case=case,
            lines_by_id={line.id: line for line in order_lines(order)},
            can_decide=has_operator_permission(current_user, "orders.manage"),
            form=FlaskForm(),
            **after_sales.template_context(),
        )

    @expose("/<int:order_id>/<int:case_id>/decide", methods=["POST"])
    def decide(self, order_id: int, case_id: int):
        form = FlaskForm()
        if form.validate_on_submit():
            run_step(
                lambda: after_sales.decide(
                    current_user,
                    order_id,
                    case_id,
                    request.form.get("decision") == "buyer",
                    request.form.get("note"),
                    request.form.get("amount"),
                ),
                _("Decision recorded. Both sides have been told."),
            )
        return redirect(url_for(".detail", order_id=order_id, case_id=case_id))
