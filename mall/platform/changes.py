"""Operators review the stores' requests to change their name or address (slug)."""

from __future__ import annotations

from flask import abort, flash, redirect, request, url_for
from flask_admin import BaseView, expose
from flask_login import current_user
from flask_wtf import FlaskForm

from mall.errors import DomainError
from mall.extensions import db
from mall.i18n import L_, _
from mall.identity.access import has_operator_permission
from mall.merchants import store_changes
from mall.platform.views import Secured

STATUS_LABELS = {
    "pending": L_("Waiting for review"),
    "approved": L_("Approved"),
    "rejected": L_("Rejected"),
    "cancelled": L_("Withdrawn by the store"),
}
PAGE_SIZE = 50


class StoreChangeView(Secured, BaseView):
    """Listing needs ``merchants.view``; approving and rejecting need ``merchants.manage``."""

    permission = "merchants.view"
    decide_permission = "merchants.manage"

    @expose("/")
    def index(self):
        status = request.args.get("status", "pending")
        if status not in ("", *store_changes.CHANGE_STATUSES):
            abort(404)
        page = max(request.args.get("page", 1, type=int) or 1, 1)
        rows = store_changes.list_change_requests(status or None, limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE)
        return self.render(
            "platform/store_changes.html",
            rows=rows[:PAGE_SIZE],
            has_next=len(rows) > PAGE_SIZE,
            page=page,
            status=status,
            statuses=STATUS_LABELS,
            fields=store_changes.CHANGE_FIELDS,
            form=FlaskForm(),
            can_decide=has_operator_permission(current_user, self.decide_permission),
        )

    @expose("/<int:request_id>/<decision>", methods=["POST"])
    def decide(self, request_id: int, decision: str):
        if decision not in ("approve", "reject"):
            abort(404)
        if not has_operator_permission(current_user, self.decide_permission):
            abort(403)
        FlaskForm().validate_on_submit() or abort(400)
        approve = decision == "approve"
        try:
            store_changes.decide_store_change(current_user, request_id, approve, request.form.get("reason"))
        except DomainError as error:
            db.session.rollback()
            flash(error.message, "error")
        else:
            db.session.commit()
            flash(_("Change approved: it applies now.") if approve else _("Change rejected."), "success")
        return redirect(url_for(".index", status=request.args.get("status", "pending")))
