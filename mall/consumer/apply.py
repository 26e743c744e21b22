"""“Open a store”: the applicant's multi-step application, and the account inbox."""

from __future__ import annotations

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from mall.consumer.views import blueprint
from mall.errors import DomainError
from mall.extensions import db
from mall.i18n import _
from mall.notifications import services as inbox
from mall.onboarding import services as onboarding


@blueprint.get("/open-store")
def open_store():
    application = onboarding.open_application_of(current_user) if current_user.is_authenticated else None
    return render_template("consumer/open_store.html", application=application)


@blueprint.post("/open-store/start")
@login_required
def start_application():
    onboarding.start_application(current_user)
    db.session.commit()
    return redirect(url_for("consumer.application"))


def _current_application():
    application = onboarding.open_application_of(current_user)
    if application is None:
        latest = onboarding.applications_of(current_user)
        return latest[0] if latest else None
    return application


@blueprint.get("/open-store/application")
@login_required
def application():
    application = _current_application()
    if application is None:
        return redirect(url_for("consumer.open_store"))
    return render_template(
        "consumer/application.html",
        application=application,
        steps=onboarding.STEPS,
        missing=onboarding.missing_by_step(application),
        statuses=onboarding.STATUS_LABELS,
        categories=onboarding.MAIN_CATEGORIES,
    )


@blueprint.route("/open-store/application/<step>", methods=["GET", "POST"])
@login_required
def application_step(step: str):
    application = onboarding.open_application_of(current_user)
    if application is None or step not in onboarding.STEP_KEYS:
        abort(404)
    error = None
    if request.method == "POST":
        try:
            if step == "phone":
                _phone_step(application)
            elif step == "agreement":
                onboarding.submit(application, current_user, accept_agreement=request.form.get("accept") == "1")
            else:
                onboarding.save_step(application, current_user, step, _form_data(), request.files)
        except DomainError as caught:
            db.session.rollback()
            error = caught
        else:
            db.session.commit()
            if step == "phone" and request.form.get("action") == "send_code":
                flash(_("We sent a code to %(phone)s.", phone=request.form.get("contact_phone")), "info")
                return redirect(url_for("consumer.application_step", step="phone"))
            if step == "agreement":
                flash(_("Your application has been submitted."), "success")
                return redirect(url_for("consumer.application"))
            flash(_("Saved."), "success")
            return redirect(_next_step_url(step))
    application = onboarding.open_application_of(current_user)
    return render_template(
        "consumer/application_step.html",
        application=application,
        step=step,
        steps=onboarding.STEPS,
        error=error,
        values=_form_data() if error else {},
        categories=onboarding.MAIN_CATEGORIES,
        missing=onboarding.missing_by_step(application),
    ), 400 if error else 200


def _form_data() -> dict:
    data = request.form.to_dict()
    data["main_categories"] = request.form.getlist("main_categories")
    return data


def _phone_step(application) -> None:
    phone = request.form.get("contact_phone", "")
    if request.form.get("action") == "send_code":
        onboarding.send_phone_code(application, phone)
    else:
        onboarding.verify_phone(application, phone, request.form.get("sms_code", ""))


def _next_step_url(step: str) -> str:
    index = onboarding.STEP_KEYS.index(step)
    if index + 1 < len(onboarding.STEP_KEYS):
        return url_for("consumer.application_step", step=onboarding.STEP_KEYS[index + 1])
    return url_for("consumer.application")


@blueprint.post("/open-store/application/answer")
@login_required
def answer_question():
    application = onboarding.open_application_of(current_user) or abort(404)
    try:
        onboarding.answer_question(application, current_user, request.form.get("answer", ""))
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(url_for("consumer.application")), 303
    db.session.commit()
    flash(_("Your answer was sent. Update what was asked for, then submit again."), "success")
    return redirect(url_for("consumer.application"))


@blueprint.post("/open-store/application/withdraw")
@login_required
def withdraw_application():
    application = onboarding.open_application_of(current_user) or abort(404)
    onboarding.withdraw(application, current_user)
    db.session.commit()
    flash(_("The application is withdrawn."), "info")
    return redirect(url_for("consumer.open_store"))


@blueprint.get("/open-store/slug-available")
def slug_available():
    """Live check while the applicant types the store address."""
    from mall.merchants.services import slug_problem

    slug = request.args.get("slug", "").strip().lower()
    problem = slug_problem(slug) or onboarding.pending_slug_problem(slug)
    return jsonify(available=problem is None, message=problem or _("This address is available."))


@blueprint.get("/account/messages")
@login_required
def messages():
    items = inbox.inbox(current_user.id)
    return render_template("consumer/messages.html", messages=items)


@blueprint.post("/account/messages/read")
@login_required
def read_messages():
    message_id = request.form.get("message_id", type=int)
    inbox.mark_read(current_user.id, message_id)
    db.session.commit()
    return redirect(url_for("consumer.messages"))
