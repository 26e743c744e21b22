"""Flask-Admin views. Each declares the permission it needs; writes go through services (audited)."""

from __future__ import annotations

from flask import abort, flash, redirect, request, url_for
from flask_admin import AdminIndexView, BaseView, expose
from flask_admin.actions import action
from flask_admin.contrib.sqla import ModelView
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from wtforms import SelectMultipleField, widgets

from mall.audit.models import AuditEntry
from mall.audit.services import record_audit
from mall.errors import DomainError, PermissionDenied
from mall.extensions import db
from mall.i18n import L_, _
from mall.identity import services as accounts
from mall.identity.access import has_operator_permission, operator_permissions
from mall.identity.models import OperatorRole, OperatorRoleAssignment, User
from mall.identity.permissions import BUILTIN_OPERATOR_ROLES, OPERATOR_PERMISSIONS
from mall.identity.roles import checked_role
from mall.jobs.worker import delete_failed, failed_jobs, requeue_failed
from mall.merchants.models import Merchant


class Secured:
    """Mixin: the view is visible and reachable only with ``permission``."""

    permission: str = ""

    def is_accessible(self) -> bool:
        return current_user.is_authenticated and has_operator_permission(current_user, self.permission)

    def inaccessible_callback(self, name, **kwargs):
        if not current_user.is_authenticated:
            return redirect(url_for("platform_auth.login", next=request.full_path.rstrip("?")))
        abort(403)


class SecuredModelView(Secured, ModelView):
    form_base_class = FlaskForm  # Flask-WTF's CSRF token on every admin form
    page_size = 50
    can_view_details = True
    model: type

    def __init__(self, session, **kwargs):
        super().__init__(self.model, session, **kwargs)

    def get_one(self, id):
        """A malformed or out-of-range id is "no such record", not a database error."""
        try:
            key = int(id)
        except (TypeError, ValueError):
            return None
        if not -(2**63) <= key < 2**63:
            return None
        return super().get_one(key)


class PlatformIndexView(Secured, AdminIndexView):
    """The overview: open to every operator, whatever their permissions."""

    def is_accessible(self) -> bool:
        return current_user.is_authenticated and bool(operator_permissions(current_user))

    @expose("/")
    def index(self):
        perms = operator_permissions(current_user)
        stats = {}
        if "users.view" in perms:
            stats["users"] = db.session.scalar(select(func.count(User.id)))
        if "merchants.view" in perms:
            stats["merchants"] = db.session.scalar(select(func.count(Merchant.id)))
        if "jobs.view" in perms:
            stats["failed_jobs"] = len(failed_jobs())
        return self.render("platform/index.html", stats=stats, permissions=sorted(perms))


class UserView(SecuredModelView):
    model = User
    permission = "users.view"
    can_create = can_edit = can_delete = False
    column_list = ("id", "username", "email", "phone", "is_active", "created_at", "last_login_at")
    column_details_exclude_list = ("password_hash",)
    column_searchable_list = ("username", "email", "phone")
    column_filters = ("is_active", "created_at")
    column_default_sort = ("id", True)
    column_labels = {
        "id": L_("ID"),
        "username": L_("Username"),
        "email": L_("Email"),
        "phone": L_("Mobile number"),
        "is_active": L_("Active"),
        "created_at": L_("Registered"),
        "last_login_at": L_("Last log-in"),
    }

    def _set_active(self, ids, active: bool) -> None:
        if not has_operator_permission(current_user, "users.manage"):
            abort(403)
        wanted = [int(i) for i in ids if str(i).isdigit() and int(i) < 2**63]
        for user in db.session.scalars(select(User).where(User.id.in_(wanted))):
            if user.id == current_user.id and not active:
                flash(_("You cannot disable your own account."), "error")
                continue
            accounts.set_user_active(user, active)
        db.session.commit()

    @action("disable", L_("Disable"), L_("Disable the selected accounts?"))
    def action_disable(self, ids):
        self._set_active(ids, False)
        flash(_("Accounts disabled."), "success")

    @action("enable", L_("Enable"))
    def action_enable(self, ids):
        self._set_active(ids, True)
        flash(_("Accounts enabled."), "success")


class OperatorRoleView(SecuredModelView):
    model = OperatorRole
    permission = "roles.manage"
    column_list = ("name", "permissions", "description", "created_at")
    form_columns = ("name", "description", "permissions")
    column_labels = {
        "name": L_("Name"),
        "permissions": L_("Permissions"),
        "description": L_("Description"),
        "created_at": L_("Created"),
    }
    form_extra_fields = {
        "permissions": SelectMultipleField(
            L_("Permissions"),
            choices=[],
            widget=widgets.ListWidget(prefix_label=False),
            option_widget=widgets.CheckboxInput(),
        )
    }

    def _refresh_choices(self, form):
        form.permissions.choices = [(code, str(label)) for code, label in OPERATOR_PERMISSIONS.items()]
        return form

    def create_form(self, obj=None):
        return self._refresh_choices(super().create_form(obj))

    def edit_form(self, obj=None):
        return self._refresh_choices(super().edit_form(obj))

    def on_model_change(self, form, model, is_created):
        """Validate, refuse escalation, and audit in the same transaction Flask-Admin commits."""
        from sqlalchemy.orm.attributes import get_history

        with db.session.no_autoflush:
            model.name, model.permissions = checked_role(
                OperatorRole, model.name, model.permissions, OPERATOR_PERMISSIONS, role_id=model.id
            )
            accounts.check_can_grant(current_user, model.permissions)
            if not is_created and any(a.role_id == model.id for a in current_user.operator_roles):
                raise PermissionDenied(_("You cannot change a role you hold yourself."))
        before = {}
        for field in ("name", "permissions"):
            history = get_history(model, field)
            before[field] = history.deleted[0] if history.deleted else (None if is_created else getattr(model, field))
        db.session.flush()  # the new role's id, for the audit row
        record_audit(
            "operator_role.create" if is_created else "operator_role.edit",
            area="platform",
            obj=model,
            changes={f: [before[f], getattr(model, f)] for f in ("name", "permissions")},
        )

    def on_model_delete(self, model):
        accounts.check_can_grant(current_user, model.permissions or ())
        record_audit(
            "operator_role.delete",
            area="platform",
            obj=model,
            changes={"name": [model.name, None], "permissions": [model.permissions, None]},
        )


class OperatorsView(Secured, BaseView):
    """Who holds which operator role; grant and revoke."""

    permission = "roles.manage"

    @expose("/")
    def index(self):
        assignments = db.session.scalars(
            select(OperatorRoleAssignment).join(User).order_by(User.username, OperatorRoleAssignment.id)
        ).all()
        custom = db.session.scalars(select(OperatorRole).order_by(OperatorRole.name)).all()
        return self.render(
            "platform/operators.html",
            assignments=assignments,
            builtin=BUILTIN_OPERATOR_ROLES,
            custom=custom,
            form=FlaskForm(),
        )

    @expose("/grant", methods=["POST"])
    def grant(self):
        FlaskForm().validate_on_submit() or abort(400)
        user = accounts.find_user(request.form.get("identifier", ""))
        role = request.form.get("role", "")
        try:
            if user is None:
                raise DomainError(_("No account has this username, email or mobile number."))
            if role.startswith("custom:") and role[7:].isdigit():
                accounts.grant_operator_role(user, role_id=int(role[7:]), actor=current_user)
            else:
                accounts.grant_operator_role(user, role_code=role, actor=current_user)
        except DomainError as error:
            db.session.rollback()
            flash(error.message, "error")
        else:
            db.session.commit()
            flash(_("Role granted."), "success")
        return redirect(url_for(".index"))

    @expose("/revoke/<int:assignment_id>", methods=["POST"])
    def revoke(self, assignment_id: int):
        FlaskForm().validate_on_submit() or abort(400)
        assignment = db.session.get(OperatorRoleAssignment, assignment_id) or abort(404)
        try:
            accounts.revoke_operator_role(assignment.user, assignment_id, actor=current_user)
        except DomainError as error:
            db.session.rollback()
            flash(error.message, "error")
            return redirect(url_for(".index"))
        db.session.commit()
        flash(_("Role revoked."), "success")
        return redirect(url_for(".index"))


def _merchant_link(view, context, model, name):
    from markupsafe import Markup, escape

    url = url_for("platform_supervision.detail", merchant_id=model.id)
    return Markup(f'<a href="{escape(url)}">{escape(model.name)}</a>')


class MerchantView(SecuredModelView):
    model = Merchant
    permission = "merchants.view"
    column_formatters = {"name": _merchant_link}
    can_create = can_edit = can_delete = False
    column_list = ("id", "name", "slug", "subdomain", "status", "created_at")
    column_searchable_list = ("name", "slug")
    column_filters = ("status", "created_at")
    column_default_sort = ("id", True)
    column_labels = {
        "id": L_("ID"),
        "name": L_("Store name"),
        "slug": L_("Address"),
        "subdomain": L_("Subdomain"),
        "status": L_("Status"),
        "created_at": L_("Created"),
    }


class AuditView(SecuredModelView):
    model = AuditEntry
    permission = "audit.view"
    can_create = can_edit = can_delete = False
    column_list = (
        "created_at",
        "actor_name",
        "area",
        "merchant_id",
        "action",
        "object_type",
        "object_id",
        "changes",
        "ip",
    )
    column_searchable_list = ("action", "actor_name", "object_type", "object_id")
    column_filters = ("area", "action", "merchant_id", "actor_name", "object_type", "created_at")
    column_default_sort = ("created_at", True)
    column_labels = {
        "created_at": L_("When"),
        "actor_name": L_("Who"),
        "area": L_("Area"),
        "merchant_id": L_("Merchant"),
        "action": L_("Action"),
        "object_type": L_("Object"),
        "object_id": L_("Object id"),
        "changes": L_("Changes"),
        "ip": L_("IP address"),
    }


class FailedJobsView(Secured, BaseView):
    permission = "jobs.view"

    @expose("/")
    def index(self):
        return self.render(
            "platform/failed_jobs.html",
            jobs=failed_jobs(),
            form=FlaskForm(),
            can_manage=has_operator_permission(current_user, "jobs.manage"),
        )

    @expose("/<job_id>/<op>", methods=["POST"])
    def manage(self, job_id: str, op: str):
        if not has_operator_permission(current_user, "jobs.manage") or op not in ("retry", "delete"):
            abort(403)
        FlaskForm().validate_on_submit() or abort(400)
        try:
            (requeue_failed if op == "retry" else delete_failed)(job_id)
        except KeyError:
            abort(404)
        record_audit(f"job.{op}", area="platform", object_type="Job", object_id=job_id)
        db.session.commit()
        flash(_("Job re-queued.") if op == "retry" else _("Job deleted."), "success")
        return redirect(url_for(".index"))
