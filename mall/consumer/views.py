from __future__ import annotations

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user

from mall.extensions import db
from mall.i18n import _, get_locale
from mall.identity import services as accounts
from mall.identity.forms import (
    ChangePasswordForm,
    ForgotPasswordForm,
    RegisterForm,
    ResetPasswordForm,
)
from mall.identity.login import safe_next
from mall.web.forms import attach_error
from mall.web.login import login_page

blueprint = Blueprint("consumer", __name__, template_folder="templates")


@blueprint.route("/account/login", methods=["GET", "POST"])
def login():
    return login_page("consumer/login.html", "consumer.account")


@blueprint.route("/account/register", methods=["GET", "POST"])
def register():
    form = RegisterForm()
    if form.validate_on_submit():
        try:
            # Registration answers whether an email or phone is taken: slow down enumeration.
            accounts.check_rate("register-ip", request.remote_addr or "unknown", 20, 3600)
            user = accounts.register_user(
                form.username.data,
                form.password.data,
                email=form.email.data,
                phone=form.phone.data,
                locale=str(get_locale()),
            )
        except accounts.AccountError as error:
            attach_error(form, error)
        else:
            login_user(user)  # a guest cart joins the new account (mall.consumer.cart)
            db.session.commit()
            flash(_("Welcome, %(name)s! Your account is ready.", name=user.username), "success")
            return redirect(safe_next(request.args.get("next"), url_for("consumer.account")))
    return render_template("consumer/register.html", form=form), 400 if form.errors else 200


@blueprint.get("/account/username-available")
def username_available():
    """Live check used while typing on the registration form."""
    username = request.args.get("username", "").strip()
    problem = accounts.username_problem(username)
    return jsonify(available=problem is None, message=problem or _("This username is available."))


@blueprint.post("/account/logout")
def logout():
    logout_user()
    flash(_("You have logged out."), "info")
    return redirect(url_for("consumer.home"))


@blueprint.get("/account")
@login_required
def account():
    from mall.identity.access import active_memberships, is_operator

    return render_template(
        "consumer/account.html",
        memberships=active_memberships(current_user),
        is_operator=is_operator(current_user),
    )


@blueprint.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            accounts.change_password(current_user, form.old_password.data, form.new_password.data)
        except accounts.AccountError as error:
            attach_error(form, error)
        else:
            db.session.commit()
            login_user(current_user._get_current_object())  # refresh this session's token
            flash(_("Your password has been changed."), "success")
            return redirect(url_for("consumer.account"))
    return render_template("consumer/password.html", form=form), 400 if form.errors else 200


@blueprint.route("/account/forgot-password", methods=["GET", "POST"])
def forgot_password():
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        try:
            accounts.request_password_reset(form.identifier.data, ip=request.remote_addr)
        except accounts.AccountError as error:
            attach_error(form, error)
            return render_template("consumer/forgot.html", form=form), error.status_code
        db.session.commit()
        # The same answer whether or not the account exists.
        flash(
            _("If an account with an email address matches, we have sent it a link to reset the password."),
            "info",
        )
        return redirect(url_for("consumer.login"))
    return render_template("consumer/forgot.html", form=form)


@blueprint.route("/account/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    form = ResetPasswordForm()
    if form.validate_on_submit():
        try:
            accounts.reset_password(token, form.new_password.data)
        except accounts.AccountError as error:
            attach_error(form, error)
        else:
            db.session.commit()
            flash(_("Your password has been reset. Please log in."), "success")
            return redirect(url_for("consumer.login"))
    return render_template("consumer/reset.html", form=form), 400 if form.errors else 200
