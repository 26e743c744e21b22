"""Operator finance pages (P-07): commission rules with a preview of what a change would do.
Rules in ``mall.finance``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import Response, flash, redirect, request, url_for
from flask_admin import BaseView, expose
from flask_login import current_user
from flask_wtf import FlaskForm

from mall.errors import DomainError
from mall.exports import csv_bytes
from mall.extensions import db
from mall.finance import adjustments, commission, deposits, reconciliation, reports, settlement, withdrawals
from mall.i18n import L_, _
from mall.identity.access import has_operator_permission
from mall.platform.views import Secured
from mall.trading.models import order_id_from_number
from mall.web.forms import page_number, run_step


def _rule_form() -> commission.RuleForm:
    fields = ("scope", "target", "rate", "min_yuan", "cap_yuan", "starts_at", "ends_at", "note")
    return commission.RuleForm(**{name: request.form.get(name, "") for name in fields})


class CommissionView(Secured, BaseView):
    permission = "finance.view"

    def _page(self, rule_form: commission.RuleForm, preview=None, error: DomainError | None = None):
        return self.render(
            "platform/finance/commission.html",
            rules=commission.rules_list(include_ended=request.args.get("ended") == "1"),
            rule_form=rule_form,
            preview=preview,
            error=error,
            can_manage=has_operator_permission(current_user, "finance.manage"),
            form=FlaskForm(),
            scopes=commission.SCOPE_LABELS,
        ), (error.status_code if error else 200)

    @expose("/")
    def index(self):
        return self._page(commission.RuleForm(scope="merchant"))

    @expose("/", methods=["POST"])
    def submit(self):
        rule_form = _rule_form()
        if not FlaskForm().validate_on_submit():
            return redirect(url_for(".index"))
        try:
            if request.form.get("action") == "preview":
                return self._page(rule_form, preview=commission.preview(rule_form))
            commission.add_rule(current_user, rule_form)
        except DomainError as error:
            db.session.rollback()
            return self._page(rule_form, error=error)
        db.session.commit()
        flash(_("Rule added. It applies to orders paid from its start on."), "success")
        return redirect(url_for(".index"))

    @expose("/<int:rule_id>/end", methods=["POST"])
    def end(self, rule_id: int):
        if FlaskForm().validate_on_submit():
            run_step(lambda: commission.end_rule(current_user, rule_id), _("Rule ended. Paid orders keep theirs."))
        return redirect(url_for(".index"))


class SettlementView(Secured, BaseView):
    """Settlement runs and every store's statements; refunds after completion and adjustments."""

    permission = "finance.view"

    @expose("/")
    def index(self):
        status = request.args.get("status")
        return self.render(
            "platform/finance/statements.html",
            page=settlement.all_statements(status, page_number()),
            status=status,
            statuses=settlement.STATUS_LABELS,
            status_label=settlement.status_label,
            can_manage=has_operator_permission(current_user, "finance.manage"),
            form=FlaskForm(),
        )

    @expose("/run", methods=["POST"])
    def run(self):
        if FlaskForm().validate_on_submit():
            try:
                done = settlement.run_settlement(current_user, cutoff=datetime.now(UTC))
            except DomainError as error:
                db.session.rollback()
                flash(error.message, "error")
            else:
                db.session.commit()
                if done is None:
                    flash(_("Nothing to settle."), "info")
                else:
                    flash(_("%(n)d statements written.", n=done.statement_count), "success")
        return redirect(url_for(".index"))

    @expose("/<int:statement_id>")
    def detail(self, statement_id: int):
        statement = settlement.any_statement(statement_id)
        return self.render(
            "platform/finance/statement.html",
            statement=statement,
            lines=settlement.statement_lines(statement),
            status_label=settlement.status_label,
            kind_label=settlement.kind_label,
        )

    @expose("/adjust", methods=["POST"])
    def adjust(self):
        if FlaskForm().validate_on_submit():
            form = request.form
            run_step(
                lambda: adjustments.adjust(
                    current_user,
                    form.get("merchant_id", type=int) or 0,
                    form.get("amount", ""),
                    form.get("direction", ""),
                    form.get("reason"),
                ),
                _("Adjustment posted: it is on the store's next statement."),
            )
        return redirect(url_for(".index"))

    @expose("/refund", methods=["POST"])
    def refund(self):
        if FlaskForm().validate_on_submit():
            form = request.form
            order_id = order_id_from_number(form.get("order", "")) or 0
            run_step(
                lambda: adjustments.refund_completed_order(
                    current_user, order_id, form.get("amount", ""), form.get("reason")
                ),
                _("Refund sent; the store's share comes off its next statement."),
            )
        return redirect(url_for(".index"))


class WithdrawalsView(Secured, BaseView):
    """Stores' withdrawal requests: review, approve (paid out) or reject with a reason."""

    permission = "finance.view"

    @expose("/")
    def index(self):
        status = request.args.get("status", "requested")
        return self.render(
            "platform/finance/withdrawals.html",
            page=withdrawals.all_withdrawals(status if status != "all" else None, page_number()),
            status=status,
            statuses=withdrawals.STATUS_LABELS,
            status_label=withdrawals.status_label,
            can_manage=has_operator_permission(current_user, "finance.manage"),
            form=FlaskForm(),
        )

    @expose("/<int:withdrawal_id>/<action>", methods=["POST"])
    def decide(self, withdrawal_id: int, action: str):
        if FlaskForm().validate_on_submit():
            if action == "approve":
                run_step(
                    lambda: withdrawals.approve_withdrawal(current_user, withdrawal_id),
                    _("Approved: the payout is on its way."),
                )
            elif action == "reject":
                run_step(
                    lambda: withdrawals.reject_withdrawal(current_user, withdrawal_id, request.form.get("reason")),
                    _("Rejected: the money is back in the store's balance."),
                )
        return redirect(url_for(".index"))


class DepositsView(Secured, BaseView):
    """Store deposits: what each holds and owes; record a payment, deduct a penalty, refund."""

    permission = "finance.view"

    @expose("/")
    def index(self):
        return self.render(
            "platform/finance/deposits.html",
            rows=deposits.deposits_overview(),
            can_manage=has_operator_permission(current_user, "finance.manage"),
            form=FlaskForm(),
        )

    @expose("/<int:merchant_id>/<action>", methods=["POST"])
    def act(self, merchant_id: int, action: str):
        form = request.form
        steps = {
            "paid": (
                lambda: deposits.record_payment(current_user, merchant_id, form.get("amount"), form.get("reason")),
                _("Deposit payment recorded."),
            ),
            "deduct": (
                lambda: deposits.deduct(current_user, merchant_id, form.get("amount"), form.get("reason")),
                _("Deducted from the deposit. The store has been told."),
            ),
            "refund": (lambda: deposits.refund(current_user, merchant_id), _("Deposit refunded.")),
        }
        if FlaskForm().validate_on_submit() and action in steps:
            run_step(*steps[action])
        return redirect(url_for(".index"))


def _period() -> tuple[datetime, datetime, str, str]:
    """The report's period from ``?start=&end=`` (dates, end inclusive); the last 30 days by default."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    try:
        start = datetime.fromisoformat(request.args.get("start", "")).replace(tzinfo=UTC)
    except ValueError:
        start = today - timedelta(days=29)
    try:
        end = datetime.fromisoformat(request.args.get("end", "")).replace(tzinfo=UTC)
    except ValueError:
        end = today
    if end < start:
        start, end = end, start
    return start, end + timedelta(days=1), f"{start:%Y-%m-%d}", f"{end:%Y-%m-%d}"


class ReportsView(Secured, BaseView):
    """Finance reports by day or month and by store, and reconciliation with the providers."""

    permission = "finance.view"

    @expose("/")
    def index(self):
        start, end, start_text, end_text = _period()
        unit = "month" if request.args.get("unit") == "month" else "day"
        return self.render(
            "platform/finance/reports.html",
            report=reports.report(start, end, unit),
            start=start_text,
            end=end_text,
            unit=unit,
        )

    @expose("/reconcile")
    def reconcile(self):
        start, end, start_text, end_text = _period()
        rows = reconciliation.reconcile(start, end)
        if request.args.get("format") == "csv":
            data = csv_bytes(reconciliation.EXPORT_COLUMNS, reconciliation.export_rows(rows))
            name = f"reconciliation-{start_text}-{end_text}.csv"
            return Response(data, mimetype="text/csv", headers={"Content-Disposition": f"attachment; filename={name}"})
        return self.render(
            "platform/finance/reconcile.html",
            rows=rows,
            summary=reconciliation.summary(rows),
            labels=RECONCILE_LABELS,
            start=start_text,
            end=end_text,
        )


RECONCILE_LABELS = {
    "matched": L_("Matched"),
    "mismatch": L_("Amounts differ"),
    "missing_at_provider": L_("Missing at the provider"),
    "missing_in_mall": L_("Missing in the mall"),
    "missing_in_ledger": L_("Missing in the ledger"),
}
