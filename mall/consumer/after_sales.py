"""After-sales for the buyer (C-14): request a return, a refund or an exchange on a shipped order,
send the goods back, withdraw, escalate a refusal to the platform and add statements and evidence.
Rules in ``mall.trading.after_sales``."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from mall.consumer.views import blueprint
from mall.errors import DomainError
from mall.extensions import db
from mall.i18n import _
from mall.trading import after_sales
from mall.trading import orders as order_service
from mall.web.forms import run_step, uploaded_photos


def _quantities() -> dict[int, int]:
    quantities = {}
    for key, value in request.form.items():
        if key.startswith("qty-") and key[4:].isdigit():
            try:
                quantities[int(key[4:])] = max(0, int(value or 0))
            except ValueError:
                quantities[int(key[4:])] = 0
    return quantities


@blueprint.route("/orders/<int:order_id>/after-sales/new", methods=["GET", "POST"])
@login_required
def request_after_sales(order_id: int):
    order = order_service.get_buyer_order(current_user.id, order_id)
    error = None
    if request.method == "POST":
        try:
            case = after_sales.request_case(
                current_user.id,
                order.id,
                request.form.get("kind", ""),
                _quantities(),
                request.form.get("reason", ""),
                request.form.get("description"),
                request.form.get("amount"),
                uploaded_photos(),
                request.form.get("exchange_sku", type=int),
            )
        except DomainError as failure:
            db.session.rollback()
            error = failure
        else:
            db.session.commit()
            flash(_("Your request was sent to the store."), "success")
            return redirect(url_for("consumer.after_sales_case", order_id=order.id, case_id=case.id))
    return render_template(
        "consumer/after_sales_form.html",
        order=order,
        options=after_sales.request_options(order),
        can_request=after_sales.can_request(order),
        error=error,
        form=request.form,
        line_id=request.args.get("line", type=int),
        **after_sales.template_context(),
    ), (error.status_code if error else 200)


@blueprint.get("/orders/<int:order_id>/after-sales/<int:case_id>")
@login_required
def after_sales_case(order_id: int, case_id: int):
    order, case = after_sales.buyer_case(current_user.id, order_id, case_id)
    return render_template(
        "consumer/after_sales_case.html",
        order=order,
        case=case,
        lines_by_id={line.id: line for line in order_service.order_lines(order)},
        **after_sales.template_context(),
    )


@blueprint.post("/orders/<int:order_id>/after-sales/<int:case_id>/<action>")
@login_required
def after_sales_action(order_id: int, case_id: int, action: str):
    form = request.form
    steps = {
        "withdraw": (lambda: after_sales.withdraw(current_user.id, order_id, case_id), _("Request withdrawn.")),
        "ship-back": (
            lambda: after_sales.ship_back(
                current_user.id, order_id, case_id, form.get("carrier", ""), form.get("tracking_number", "")
            ),
            _("Thank you: the store will confirm when the parcel arrives."),
        ),
        "escalate": (
            lambda: after_sales.escalate(current_user.id, order_id, case_id, form.get("statement"), uploaded_photos()),
            _("The platform will look at your case and decide."),
        ),
        "statement": (
            lambda: after_sales.buyer_statement(
                current_user.id, order_id, case_id, form.get("statement"), uploaded_photos()
            ),
            _("Your statement was added."),
        ),
    }
    if action not in steps:
        return redirect(url_for("consumer.after_sales_case", order_id=order_id, case_id=case_id))
    run_step(*steps[action])
    return redirect(url_for("consumer.after_sales_case", order_id=order_id, case_id=case_id))
