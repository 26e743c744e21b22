"""Operator log-in page (the back office itself is Flask-Admin)."""

from __future__ import annotations

from flask import Blueprint, redirect, url_for
from flask_login import logout_user

from mall.i18n import _
from mall.identity import services as accounts
from mall.identity.access import is_operator
from mall.web.login import login_page

blueprint = Blueprint("platform_auth", __name__, template_folder="templates")


def _admit_operator(user) -> None:
    if not is_operator(user):
        raise accounts.AccountError(_("This account has no access to the operator back office."))


@blueprint.route("/login", methods=["GET", "POST"])
def login():
    return login_page("platform/login.html", "platform.index", admit=_admit_operator)


@blueprint.post("/logout")
def logout():
    logout_user()
    return redirect(url_for("platform_auth.login"))
