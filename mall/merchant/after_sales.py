"""The store's after-sales (M-07): requests by what waits for whom, one case with its history,
approve (a refund amount, where to send the goods) or refuse with a reason, receive returned goods
with the quality check, and statements with evidence while the platform decides. Rules in
``mall.trading.after_sales``."""

from __future__ import annotations

from flask import redirect, render_template, request, url_for
from flask_login import current_user

from mall.i18n import _
from mall.merchant.access import require
from mall.merchant.views import blueprint
from mall.trading import after_sales
from mall.trading.orders import order_lines
from mall.web.forms import page_number, run_step, uploaded_photos


@blueprint.get("/after-sales")
@require("service.manage")
def after_sales_cases():
    status = request.args.get("status", "to_handle")
    if status not in after_sales.STORE_FILTERS:
        status = "to_handle"
    return render_template(
        "merchant/after_sales/list.html",
        page=after_sales.store_cases(status, page_number()),
        status=status,
        filters=after_sales.STORE_FILTER_LABELS,
        **after_sales.template_context(),
    )


@blueprint.get("/after-sales/<int:case_id>")
@require("service.manage")
def after_sales_case(case_id: int):
    order, case = after_sales.store_case(case_id)
    return render_template(
        "merchant/after_sales/detail.html",
        order=order,
        case=case,
        lines_by_id={line.id: line for line in order_lines(order)},
        default_return_address=after_sales.default_return_address(order.merchant_id),
        **after_sales.template_context(),
    )


@blueprint.post("/after-sales/<int:case_id>/<action>")
@require("service.manage")
def after_sales_action(case_id: int, action: str):
    form = request.form
    steps = {
        "approve": (
            lambda: after_sales.approve(current_user, case_id, form.get("amount"), form.get("return_address")),
            _("Request approved. The buyer has been told."),
        ),
        "reject": (
            lambda: after_sales.reject(current_user, case_id, form.get("reason")),
            _("Request refused. The buyer has been told."),
        ),
        "receive": (
            lambda: after_sales.receive(
                current_user, case_id, form.get("quality") == "passed", form.get("note"), form.get("amount")
            ),
            _("Receipt recorded. The buyer has been told."),
        ),
        "statement": (
            lambda: after_sales.store_statement(current_user, case_id, form.get("statement"), uploaded_photos()),
            _("Your statement was added."),
        ),
    }
    if action in steps:
        run_step(*steps[action])
    return redirect(url_for("merchant.after_sales_case", case_id=case_id))
