"""Every merchant back-office request: logged in, member of the store, store bound, permission checked."""

from __future__ import annotations

from functools import wraps

from flask import abort, g, redirect, request, session, url_for
from flask_login import current_user

from mall.errors import PermissionDenied
from mall.i18n import _
from mall.identity.access import active_memberships, staff_permissions
from mall.merchants.services import staff_member_for
from mall.tenancy.binding import bind_merchant

SESSION_KEY = "merchant_id"
PUBLIC_ENDPOINTS = {"merchant.login", "merchant.logout", "merchant.accept_invitation"}  # the last checks its token


def load_store():
    """Bind the store for this request from the user's memberships (routing is not authorisation)."""
    if request.endpoint in PUBLIC_ENDPOINTS or request.endpoint is None:
        return None
    if not current_user.is_authenticated:
        return redirect(url_for("merchant.login", next=request.full_path.rstrip("?")))
    memberships = active_memberships(current_user)
    if not memberships:
        abort(403)
    chosen = session.get(SESSION_KEY)
    membership = next((m for m in memberships if m.merchant_id == chosen), None) or memberships[0]
    session[SESSION_KEY] = membership.merchant_id
    bind_merchant(membership.merchant_id)
    staff = staff_member_for(current_user)
    if staff is None or not staff.is_active:
        abort(403)
    g.memberships = memberships
    g.merchant = membership.merchant
    if (
        g.merchant.status == "closed"
        and request.method not in ("GET", "HEAD")
        and request.endpoint not in ("merchant.switch_store",)
    ):
        raise PermissionDenied(_("This store is closed: its data can be read but no longer changed."))
    g.staff = staff
    g.permissions = staff_permissions(staff)
    return None


def require(permission: str):
    """View decorator: the staff member's role must grant ``permission`` in the bound store."""

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if permission not in g.permissions:
                abort(403)
            return view(*args, **kwargs)

        wrapped.permission = permission
        return wrapped

    return decorator
