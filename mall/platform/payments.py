"""Finance's payment desk (C-11): bank transfers waiting for confirmation (with the buyer's
receipt), and refunds of bank transfers to pay back by hand. Rules in ``mall.payments.bank_transfer``."""

from __future__ import annotations

from flask import redirect, request, url_for
from flask_admin import BaseView, expose
from flask_login import current_user
from flask_wtf import FlaskForm

from mall.i18n import _
from mall.identity.access import has_operator_permission
from mall.payments import bank_transfer
from mall.platform.views import Secured
from mall.web.forms import run_step


class PaymentDeskView(Secured, BaseView):
    permission = "finance.view"

    @expose("/")
    def index(self):
        return self.render(
            "platform/payments/desk.html",
            transfers=bank_transfer.waiting_transfers(),
            refunds=bank_transfer.manual_refunds(),
            can_act=has_operator_permission(current_user, "finance.manage"),
            form=FlaskForm(),
        )

    def _act(self, action, message: str):
        if FlaskForm().validate_on_submit():
            run_step(action, message)
        return redirect(url_for(".index"))

    @expose("/transfers/<int:payment_id>/confirm", methods=["POST"])
    def confirm(self, payment_id: int):
        return self._act(
            lambda: bank_transfer.confirm_transfer(current_user, payment_id, request.form.get("received", "")),
            _("Transfer confirmed: the orders are paid."),
        )

    @expose("/transfers/<int:payment_id>/reject", methods=["POST"])
    def reject(self, payment_id: int):
        return self._act(
            lambda: bank_transfer.reject_transfer(current_user, payment_id, request.form.get("reason", "")),
            _("Transfer rejected; the buyer has been told."),
        )

    @expose("/refunds/<int:refund_id>/paid", methods=["POST"])
    def refund_paid(self, refund_id: int):
        return self._act(
            lambda: bank_transfer.mark_refund_paid(current_user, refund_id), _("Refund marked as paid back.")
        )
