"""The store's reviews (C-13, M-06): every review of its products, newest first, and one reply each."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from mall.errors import DomainError
from mall.extensions import db
from mall.i18n import _
from mall.merchant.access import require
from mall.merchant.views import blueprint
from mall.trading import reviews
from mall.web.forms import page_number


@blueprint.get("/reviews")
@require("orders.manage")
def store_reviews():
    page = page_number()
    unanswered = request.args.get("unanswered") == "1"
    return render_template("merchant/reviews.html", page=reviews.store_reviews(page, unanswered), unanswered=unanswered)


@blueprint.post("/reviews/<int:review_id>/reply")
@require("orders.manage")
def reply_review(review_id: int):
    try:
        reviews.reply(current_user, review_id, request.form.get("reply"))
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
    else:
        db.session.commit()
        flash(_("Reply published."), "success")
    return redirect(url_for("merchant.store_reviews"))
