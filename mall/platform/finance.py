"""Operator finance pages (P-07): commission rules with a preview of what a change would do.
Rules in ``mall.finance``."""

from __future__ import annotations

from flask import flash, redirect, request, url_for
from flask_admin import BaseView, expose
from flask_login import current_user
from flask_wtf import FlaskForm

from mall.errors import DomainError
from mall.extensions import db
from mall.finance import commission
from mall.i18n import _
from mall.identity.access import has_operator_permission
from mall.platform.views import Secured
from mall.web.forms import run_step


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
