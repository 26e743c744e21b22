"""Operator review of merchant applications (P-01)."""

from __future__ import annotations

from flask import abort, flash, redirect, request, url_for
from flask_admin import BaseView, expose
from flask_login import current_user
from flask_wtf import FlaskForm

from mall.errors import DomainError
from mall.extensions import db
from mall.i18n import _
from mall.identity.models import User
from mall.onboarding import services as onboarding
from mall.platform.views import Secured


class ApplicationsView(Secured, BaseView):
    permission = "applications.review"

    @expose("/")
    def index(self):
        status = request.args.get("status") or None
        if status and status not in onboarding.STATUS_LABELS:
            status = None
        older = request.args.get("older_than", type=int)
        applications = onboarding.review_queue(status, older)
        applicants = {
            u.id: u for u in db.session.query(User).filter(User.id.in_({a.applicant_id for a in applications}))
        }
        return self.render(
            "platform/applications.html",
            applications=applications,
            applicants=applicants,
            statuses=onboarding.STATUS_LABELS,
            status=status,
            older_than=older,
        )

    @expose("/<int:application_id>")
    def detail(self, application_id: int):
        application = self._get(application_id)
        return self.render(
            "platform/application.html",
            application=application,
            applicant=db.session.get(User, application.applicant_id),
            statuses=onboarding.STATUS_LABELS,
            categories=onboarding.MAIN_CATEGORIES,
            transitions=onboarding.TRANSITIONS[application.status],
            form=FlaskForm(),
            actors={
                u.id: u for u in db.session.query(User).filter(User.id.in_({e.actor_id for e in application.events}))
            },
        )

    @expose("/<int:application_id>/decide", methods=["POST"])
    def decide(self, application_id: int):
        FlaskForm().validate_on_submit() or abort(400)
        application = self._get(application_id)
        action, note = request.form.get("action"), request.form.get("note", "")
        try:
            if action == "approve":
                merchant = onboarding.approve(application, current_user)
                message = _("Approved: the store “%(name)s” is created.", name=merchant.name)
            elif action == "reject":
                onboarding.reject(application, current_user, note)
                message = _("The application is rejected.")
            elif action == "ask":
                onboarding.ask_for_info(application, current_user, note)
                message = _("Your question was sent to the applicant.")
            else:
                abort(400)
        except DomainError as error:
            db.session.rollback()
            flash(error.message, "error")
            return redirect(url_for(".detail", application_id=application_id))
        db.session.commit()
        flash(message, "success")
        return redirect(url_for(".detail", application_id=application_id))

    def _get(self, application_id: int):
        try:
            return onboarding.get_for_reviewer(current_user, application_id)
        except DomainError:
            abort(404)
