"""Per-merchant supervision page (P-02): details, staff, records, suspend / reinstate / close."""

from __future__ import annotations

from flask import abort, flash, redirect, request, url_for
from flask_admin import BaseView, expose
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import func, select

from mall.errors import DomainError
from mall.extensions import db
from mall.i18n import _
from mall.identity.access import has_operator_permission
from mall.identity.models import User
from mall.merchants import supervision
from mall.merchants.models import MerchantMembership, StoreChangeRequest
from mall.onboarding.models import MerchantApplication
from mall.platform.views import Secured
from mall.tenancy.models import TenantSchema


class SupervisionView(Secured, BaseView):
    permission = "merchants.view"

    def is_visible(self) -> bool:
        return False  # opened from the merchant list

    @expose("/")
    def index(self):
        return redirect(url_for("platform_merchants.index_view"))

    @expose("/<int:merchant_id>")
    def detail(self, merchant_id: int):
        merchant = self._merchant(merchant_id)
        notes = supervision.notes_of(merchant)
        authors = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_({n.author_id for n in notes})))}
        staff_count = db.session.scalar(
            select(func.count(MerchantMembership.id)).where(
                MerchantMembership.merchant_id == merchant.id, MerchantMembership.is_active.is_(True)
            )
        )
        application = db.session.scalar(
            select(MerchantApplication).where(MerchantApplication.merchant_id == merchant.id)
        )
        pending_changes = db.session.scalars(
            select(StoreChangeRequest).where(
                StoreChangeRequest.merchant_id == merchant.id, StoreChangeRequest.status == "pending"
            )
        ).all()
        return self.render(
            "platform/supervision.html",
            merchant=merchant,
            notes=notes,
            authors=authors,
            staff_count=staff_count,
            application=application,
            schema=db.session.get(TenantSchema, merchant.id),
            pending_changes=pending_changes,
            can_manage=has_operator_permission(current_user, "merchants.manage"),
            status_label=supervision.status_label,
            form=FlaskForm(),
        )

    @expose("/<int:merchant_id>/act", methods=["POST"])
    def act(self, merchant_id: int):
        if not has_operator_permission(current_user, "merchants.manage"):
            abort(403)
        FlaskForm().validate_on_submit() or abort(400)
        merchant = self._merchant(merchant_id)
        action, text = request.form.get("action"), request.form.get("text", "")
        try:
            if action in ("warning", "score", "note"):
                score = request.form.get("score", type=int)
                supervision.add_note(merchant, current_user, action, text, score)
                message = _("Recorded.")
            elif action == "suspend":
                supervision.suspend(merchant, current_user, text)
                message = _("The store is suspended and hidden from the mall.")
            elif action == "reinstate":
                supervision.reinstate(merchant, current_user, text)
                message = _("The store is open again.")
            elif action == "close":
                if request.form.get("confirm") != merchant.slug:
                    raise supervision.SupervisionError(_("Type the store address to confirm the closure."))
                key = supervision.close(merchant, current_user, text)
                message = _("The store is closed; its data was exported to %(key)s.", key=key)
            else:
                abort(400)
        except DomainError as error:
            db.session.rollback()
            flash(error.message, "error")
            return redirect(url_for(".detail", merchant_id=merchant_id))
        db.session.commit()
        flash(message, "success")
        return redirect(url_for(".detail", merchant_id=merchant_id))

    def _merchant(self, merchant_id: int):
        try:
            return supervision.get_merchant(merchant_id)
        except DomainError:
            abort(404)
