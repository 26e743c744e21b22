from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, session, url_for
from flask_login import current_user, logout_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import EmailField, SelectField, SelectMultipleField, StringField, TelField, widgets
from wtforms.validators import DataRequired, Length, Optional

from mall.audit.models import AuditEntry
from mall.errors import DomainError
from mall.extensions import db
from mall.i18n import L_, _
from mall.identity import services as accounts
from mall.identity.access import active_memberships
from mall.identity.permissions import BUILTIN_MERCHANT_ROLES, MERCHANT_PERMISSIONS
from mall.merchant.access import SESSION_KEY, load_store, require
from mall.merchants import invitations
from mall.merchants import services as stores
from mall.web.forms import attach_error
from mall.web.login import login_page

blueprint = Blueprint("merchant", __name__, template_folder="templates")
blueprint.before_request(load_store)


def _admit_staff(user) -> None:
    if not active_memberships(user):
        raise accounts.AccountError(_("This account is not staff of any store."))


@blueprint.route("/login", methods=["GET", "POST"])
def login():
    return login_page("merchant/login.html", "merchant.dashboard", admit=_admit_staff)


@blueprint.post("/logout")
def logout():
    logout_user()
    session.pop(SESSION_KEY, None)
    return redirect(url_for("merchant.login"))


@blueprint.get("/")
def dashboard():
    return render_template("merchant/dashboard.html")


@blueprint.post("/switch/<int:merchant_id>")
def switch_store(merchant_id: int):
    if not any(m.merchant_id == merchant_id for m in g.memberships):
        abort(404)
    session[SESSION_KEY] = merchant_id
    return redirect(url_for("merchant.dashboard"))


def _role_choices() -> list[tuple[str, str]]:
    choices = [(code, str(label)) for code, (label, _perms) in BUILTIN_MERCHANT_ROLES.items() if code != "owner"]
    choices += [(f"custom:{r.id}", r.name) for r in stores.list_staff_roles()]
    return choices


class StaffForm(FlaskForm):
    identifier = StringField(L_("Username, email or mobile"), validators=[DataRequired(), Length(max=254)])
    role = SelectField(L_("Role"), validators=[DataRequired()])


class InviteForm(FlaskForm):
    """Invite someone who may not have an account yet (rendered with the prefix ``invite``)."""

    email = EmailField(L_("Email"), validators=[Optional(), Length(max=254)])
    phone = TelField(L_("Mobile number"), validators=[Optional(), Length(max=20)])
    role = SelectField(L_("Role"), validators=[DataRequired()])


def invite_form() -> InviteForm:
    form = InviteForm(prefix="invite")
    form.role.choices = _role_choices()
    return form


def staff_page(form: StaffForm | None = None, invite: InviteForm | None = None):
    """The staff page with its two forms (the one that was posted keeps its data and errors)."""
    if form is None:
        form = StaffForm(formdata=None)
        form.role.choices = _role_choices()
    invite = invite or invite_form()
    failed = bool(form.errors or invite.errors)
    return render_template(
        "merchant/staff.html",
        form=form,
        invite_form=invite,
        staff=stores.list_staff(),
        invitations=invitations.pending_invitations(),
        invitation_role=invitations.role_label,
        role_choices=form.role.choices,
        builtin=BUILTIN_MERCHANT_ROLES,
    ), 400 if failed else 200


class RoleForm(FlaskForm):
    name = StringField(L_("Role name"), validators=[DataRequired(), Length(max=60)])
    permissions = SelectMultipleField(
        L_("Permissions"),
        widget=widgets.ListWidget(prefix_label=False),
        option_widget=widgets.CheckboxInput(),
    )


@blueprint.route("/staff", methods=["GET", "POST"])
@require("staff.manage")
def staff():
    form = StaffForm()
    form.role.choices = _role_choices()
    if form.validate_on_submit():
        try:
            stores.add_staff(current_user, form.identifier.data, form.role.data)
        except DomainError as error:
            attach_error(form, error)
        else:
            db.session.commit()
            flash(_("Staff member added."), "success")
            return redirect(url_for("merchant.staff"))
    return staff_page(form)


@blueprint.post("/staff/<int:staff_id>/role")
@require("staff.manage")
def staff_role(staff_id: int):
    stores.change_staff_role(current_user, staff_id, request.form.get("role", ""))
    db.session.commit()
    flash(_("Role changed."), "success")
    return redirect(url_for("merchant.staff"))


@blueprint.post("/staff/<int:staff_id>/active")
@require("staff.manage")
def staff_active(staff_id: int):
    stores.set_staff_active(current_user, staff_id, request.form.get("active") == "1")
    db.session.commit()
    flash(_("Staff member updated."), "success")
    return redirect(url_for("merchant.staff"))


@blueprint.route("/roles", methods=["GET", "POST"])
@blueprint.route("/roles/<int:role_id>", methods=["GET", "POST"])
@require("staff.manage")
def roles(role_id: int | None = None):
    from mall.merchants.models import StaffRole

    editing = db.session.get(StaffRole, role_id) if role_id else None
    if role_id and editing is None:
        abort(404)
    form = RoleForm(obj=editing)
    form.permissions.choices = [(code, str(label)) for code, label in MERCHANT_PERMISSIONS.items()]
    if form.validate_on_submit():
        try:
            stores.save_staff_role(current_user, form.name.data, form.permissions.data, role_id=role_id)
        except DomainError as error:
            attach_error(form, error)
        else:
            db.session.commit()
            flash(_("Role saved."), "success")
            return redirect(url_for("merchant.roles"))
    return render_template(
        "merchant/roles.html",
        form=form,
        roles=stores.list_staff_roles(),
        editing=editing,
        permissions=MERCHANT_PERMISSIONS,
        builtin=BUILTIN_MERCHANT_ROLES,
    ), 400 if form.errors else 200


@blueprint.get("/oplog")
@require("oplog.view")
def oplog():
    entries = db.session.scalars(
        select(AuditEntry)
        .where(AuditEntry.merchant_id == g.merchant.id, AuditEntry.area == "merchant")
        .order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc())
        .limit(200)
    ).all()
    return render_template("merchant/oplog.html", entries=entries)


@blueprint.context_processor
def merchant_helpers():
    def builtin_role_label(code: str | None) -> str:
        return str(BUILTIN_MERCHANT_ROLES[code][0]) if code in BUILTIN_MERCHANT_ROLES else (code or "")

    return {"builtin_role_label": builtin_role_label}
