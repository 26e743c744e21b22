"""Staff invitations in the merchant centre: invite and withdraw (staff page), accept (the link)."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, session, url_for
from flask_login import current_user
from flask_wtf import FlaskForm

from mall.errors import DomainError
from mall.extensions import db
from mall.i18n import _
from mall.merchant.access import SESSION_KEY, require
from mall.merchant.views import blueprint, invite_form, staff_page
from mall.merchants import invitations
from mall.web.forms import attach_error


@blueprint.post("/staff/invite")
@require("staff.manage")
def invite_staff():
    form = invite_form()
    if form.validate_on_submit():
        try:
            invitation = invitations.invite_staff(
                current_user, email=form.email.data, phone=form.phone.data, role=form.role.data
            )
        except DomainError as error:
            attach_error(form, error)
        else:
            db.session.commit()
            flash(_("Invitation sent to %(address)s.", address=invitation.email or invitation.phone), "success")
            return redirect(url_for("merchant.staff"))
    return staff_page(invite=form)


@blueprint.post("/staff/invitations/<int:invitation_id>/revoke")
@require("staff.manage")
def revoke_invitation(invitation_id: int):
    invitations.revoke_invitation(current_user, invitation_id)
    db.session.commit()
    flash(_("Invitation withdrawn."), "success")
    return redirect(url_for("merchant.staff"))


@blueprint.route("/invitations/<int:merchant_id>/<token>", methods=["GET", "POST"])
def accept_invitation(merchant_id: int, token: str):
    """Public endpoint (see ``access.PUBLIC_ENDPOINTS``): the token is the authorisation, checked first."""
    try:
        merchant, invitation = invitations.open_invitation(merchant_id, token)
    except invitations.InvitationError as error:
        return render_template("merchant/invitation.html", problem=error.message), error.status_code
    role = invitations.role_label(invitation)
    if not current_user.is_authenticated:
        if request.method == "POST":
            return redirect(url_for("consumer.login", next=request.path))
        return render_template(
            "merchant/invitation.html", merchant=merchant, invitation=invitation, role=role, next=request.path
        )
    form = FlaskForm()
    status = 200
    if form.validate_on_submit():
        try:
            invitations.accept_invitation(current_user, merchant_id, token)
        except DomainError as error:
            flash(error.message, "error")
            status = error.status_code
        else:
            db.session.commit()
            session[SESSION_KEY] = merchant_id
            flash(_("Welcome to the staff of %(store)s.", store=merchant.name), "success")
            return redirect(url_for("merchant.dashboard"))
    return render_template(
        "merchant/invitation.html",
        merchant=merchant,
        invitation=invitation,
        role=role,
        form=form,
        already_staff=invitations.is_invitee_staff(current_user),
    ), status
