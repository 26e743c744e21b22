"""Operator marketing pages (P-08): the mall's coupons. Rules in ``mall.marketing.coupons``."""

from __future__ import annotations

from flask import flash, redirect, request, url_for
from flask_admin import BaseView, expose
from flask_login import current_user
from flask_wtf import FlaskForm

from mall.errors import DomainError
from mall.extensions import db
from mall.i18n import _
from mall.marketing import coupons
from mall.platform.views import Secured
from mall.web.forms import run_step

FIELDS = ("code", "name", "kind", "amount_yuan", "percent", "max_yuan", "min_spend_yuan", "starts_at", "ends_at",
          "total_quantity", "per_user_limit")  # fmt: skip


class CouponsView(Secured, BaseView):
    permission = "marketing.manage"

    def _page(self, coupon_form: coupons.CouponForm, error: DomainError | None = None):
        return self.render(
            "platform/marketing/coupons.html",
            coupons=coupons.coupons_list(),
            coupon_form=coupon_form,
            error=error,
            describe=coupons.describe,
            form=FlaskForm(),
        ), (error.status_code if error else 200)

    @expose("/")
    def index(self):
        return self._page(coupons.CouponForm())

    @expose("/", methods=["POST"])
    def submit(self):
        coupon_form = coupons.CouponForm(
            **{name: request.form.get(name, "") for name in FIELDS}, is_public=request.form.get("is_public") == "1"
        )
        if not FlaskForm().validate_on_submit():
            return redirect(url_for(".index"))
        try:
            coupon = coupons.create_coupon(current_user, coupon_form)
        except DomainError as error:
            db.session.rollback()
            return self._page(coupon_form, error=error)
        db.session.commit()
        flash(_("Coupon %(code)s added.", code=coupon.code), "success")
        return redirect(url_for(".index"))

    @expose("/<int:coupon_id>/stop", methods=["POST"])
    def stop(self, coupon_id: int):
        if FlaskForm().validate_on_submit():
            run_step(
                lambda: coupons.stop_coupon(current_user, coupon_id),
                _("Coupon stopped. Orders placed with it keep their discount."),
            )
        return redirect(url_for(".index"))
