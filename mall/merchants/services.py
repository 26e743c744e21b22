"""Stores and their staff: creating a store with its schema, staff and custom roles."""

from __future__ import annotations

import re

from sqlalchemy import select

from mall.audit.services import record_audit
from mall.errors import DomainError, NotFound, PermissionDenied
from mall.extensions import db
from mall.i18n import _
from mall.identity.access import staff_permissions
from mall.identity.models import User
from mall.identity.permissions import BUILTIN_MERCHANT_ROLES, MERCHANT_PERMISSIONS
from mall.identity.roles import checked_role
from mall.merchants.models import Merchant, MerchantMembership, StaffMember, StaffRole
from mall.notifications.services import notify
from mall.tenancy import provision_merchant_schema, tenant
from mall.tenancy.binding import require_merchant_id

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{1,38}[a-z0-9])$")
RESERVED_SLUGS = {
    "www",
    "admin",
    "api",
    "static",
    "media",
    "merchant",
    "platform",
    "shop",
    "store",
    "mall",
    "login",
    "logout",
    "register",
    "account",
    "help",
    "healthz",
    "files",
}


class MerchantError(DomainError):
    pass


def slug_problem(slug: str) -> str | None:
    if not SLUG_RE.match(slug or ""):
        return _("3–40 characters: lower-case letters, digits and hyphens, not at either end.")
    if slug in RESERVED_SLUGS:
        return _("This address is reserved.")
    if db.session.scalar(select(Merchant.id).where(Merchant.slug == slug)):
        return _("This address is already taken.")
    return None


def create_merchant(name: str, slug: str, owner: User, *, subdomain: str | None = None) -> Merchant:
    """Atomic: the merchant row, its schema at head, the owner's membership and staff row.

    Everything is in the caller's transaction; a failure anywhere leaves nothing behind.
    """
    name = (name or "").strip()
    if not name:
        raise MerchantError(_("Give the store a name."), field="name")
    problem = slug_problem(slug)
    if problem:
        raise MerchantError(problem, field="slug")
    merchant = Merchant(name=name, slug=slug, subdomain=subdomain or slug, status="active")
    db.session.add(merchant)
    db.session.flush()
    provision_merchant_schema(merchant.id)
    db.session.add(MerchantMembership(merchant_id=merchant.id, user_id=owner.id))
    with tenant(merchant.id):
        db.session.add(StaffMember(user_id=owner.id, role_code="owner"))
        db.session.flush()
    record_audit(
        "merchant.create",
        area="platform",
        obj=merchant,
        merchant_id=merchant.id,
        changes={"name": [None, name], "slug": [None, slug], "owner": [None, owner.username]},
    )
    return merchant


def staff_member_for(user: User) -> StaffMember | None:
    """The bound store's staff row of ``user``."""
    return db.session.scalar(select(StaffMember).where(StaffMember.user_id == user.id))


def require_staff_permission(user: User, permission: str) -> StaffMember:
    staff = staff_member_for(user)
    if permission not in staff_permissions(staff):
        raise PermissionDenied(_("You do not have permission to do this in this store."))
    return staff


def role_fields(role: str, actor: User | None = None) -> dict:
    """``role`` is a built-in code or ``custom:<id>`` of the bound store → the staff row's role columns.

    The owner role is never given this way: a store has one owner. With ``actor``, the role may
    grant only permissions the actor holds in this store (no escalation through staff management).
    """
    fields, granted = None, frozenset()
    if role in BUILTIN_MERCHANT_ROLES:
        fields, granted = {"role_code": role, "role_id": None}, BUILTIN_MERCHANT_ROLES[role][1]
    elif role.startswith("custom:") and role[7:].isdigit():
        custom = db.session.get(StaffRole, int(role[7:]))
        if custom is not None:
            fields, granted = {"role_code": None, "role_id": custom.id}, frozenset(custom.permissions or ())
    if fields is None:
        raise MerchantError(_("Choose a role."), field="role")
    if fields["role_code"] == "owner":
        raise MerchantError(_("A store has one owner; choose another role."), field="role")
    if actor is not None:
        check_staff_can_grant(actor, granted)
    return fields


def check_staff_can_grant(actor: User, permissions) -> None:
    """Staff hand out only permissions they hold themselves."""
    beyond = sorted(set(permissions) - staff_permissions(staff_member_for(actor)))
    if beyond:
        raise PermissionDenied(_("You cannot grant permissions you do not hold: %(p)s", p=", ".join(beyond)))


def role_value(row) -> str:
    """The role of a staff row or invitation as ``role_fields`` takes it (``orders``, ``custom:12``)."""
    return row.role_code or f"custom:{row.role_id}"


def add_staff(actor: User, identifier: str, role: str) -> StaffMember:
    """Make an existing account staff of the bound store with ``role``."""
    from mall.identity.services import find_user

    require_merchant_id()
    require_staff_permission(actor, "staff.manage")
    user = find_user(identifier)
    if user is None:
        raise MerchantError(_("No account has this username, email or mobile number."), field="identifier")
    return enlist_staff(user, role_fields(role, actor), created_by_id=actor.id)


def enlist_staff(
    user: User, fields: dict, *, created_by_id: int | None, invitation_id: int | None = None
) -> StaffMember:
    """The one path by which someone becomes staff of the bound store: its staff row and the platform
    membership, both (re)activated, audited. Callers check who may do it; ``fields`` come from ``role_fields``.
    """
    merchant_id = require_merchant_id()
    staff = staff_member_for(user)
    if staff is not None and staff.is_active:
        raise MerchantError(_("%(name)s is already staff of this store.", name=user.username), field="identifier")
    membership = db.session.scalar(
        select(MerchantMembership).where(
            MerchantMembership.merchant_id == merchant_id, MerchantMembership.user_id == user.id
        )
    )
    if staff is None:
        staff = StaffMember(user_id=user.id, created_by_id=created_by_id, **fields)
        db.session.add(staff)
    else:
        staff.is_active = True
        staff.role_code, staff.role_id = fields["role_code"], fields["role_id"]
    if membership is None:
        db.session.add(MerchantMembership(merchant_id=merchant_id, user_id=user.id))
    else:
        membership.is_active = True
    db.session.flush()
    changes = {"user": [None, user.username], "role": [None, role_value(staff)]}
    if invitation_id is not None:
        changes["invitation"] = [None, invitation_id]
    record_audit(
        "staff.add",
        area="merchant",
        merchant_id=merchant_id,
        object_type="StaffMember",
        object_id=staff.id,
        changes=changes,
    )
    return staff


def _get_staff(staff_id: int) -> StaffMember:
    staff = db.session.get(StaffMember, staff_id)
    if staff is None:
        raise NotFound(_("No such staff member."))
    return staff


def change_staff_role(actor: User, staff_id: int, role: str) -> StaffMember:
    merchant_id = require_merchant_id()
    require_staff_permission(actor, "staff.manage")
    staff = _get_staff(staff_id)
    if staff.role_code == "owner":
        raise MerchantError(_("The owner's role cannot be changed."))
    if staff.user_id == actor.id:
        raise PermissionDenied(_("You cannot change your own role."))
    fields = role_fields(role, actor)
    before = role_value(staff)
    staff.role_code, staff.role_id = fields["role_code"], fields["role_id"]
    db.session.flush()
    record_audit(
        "staff.role",
        area="merchant",
        merchant_id=merchant_id,
        object_type="StaffMember",
        object_id=staff.id,
        changes={"role": [before, role]},
    )
    return staff


def set_staff_active(actor: User, staff_id: int, active: bool) -> StaffMember:
    merchant_id = require_merchant_id()
    require_staff_permission(actor, "staff.manage")
    staff = _get_staff(staff_id)
    if staff.role_code == "owner" and not active:
        raise MerchantError(_("The owner cannot be disabled."))
    if staff.user_id == actor.id and not active:
        raise MerchantError(_("You cannot disable yourself."))
    staff.is_active = active
    membership = db.session.scalar(
        select(MerchantMembership).where(
            MerchantMembership.merchant_id == merchant_id, MerchantMembership.user_id == staff.user_id
        )
    )
    if membership is not None:
        membership.is_active = active
    db.session.flush()
    record_audit(
        "staff.enable" if active else "staff.disable",
        area="merchant",
        merchant_id=merchant_id,
        object_type="StaffMember",
        object_id=staff.id,
        changes={"is_active": [not active, active]},
    )
    return staff


def save_staff_role(actor: User, name: str, permissions: list[str], role_id: int | None = None) -> StaffRole:
    """Create or edit a custom role of the bound store."""
    merchant_id = require_merchant_id()
    require_staff_permission(actor, "staff.manage")
    name, permissions = checked_role(StaffRole, name, permissions, MERCHANT_PERMISSIONS, role_id=role_id)
    check_staff_can_grant(actor, permissions)
    if role_id is not None and staff_member_for(actor).role_id == role_id:
        raise PermissionDenied(_("You cannot change a role you hold yourself."))
    if role_id is None:
        role = StaffRole(name=name, permissions=permissions)
        db.session.add(role)
        before: dict = {}
    else:
        role = db.session.get(StaffRole, role_id)
        if role is None:
            raise NotFound(_("No such role."))
        before = {"name": role.name, "permissions": role.permissions}
        role.name, role.permissions = name, permissions
    db.session.flush()
    record_audit(
        "staff_role.save",
        area="merchant",
        merchant_id=merchant_id,
        obj=role,
        changes={k: [before.get(k), v] for k, v in {"name": name, "permissions": role.permissions}.items()},
    )
    return role


def list_staff() -> list[tuple[StaffMember, User | None]]:
    staff = list(db.session.scalars(select(StaffMember).order_by(StaffMember.created_at)))
    users = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_([s.user_id for s in staff])))}
    return [(s, users.get(s.user_id)) for s in staff]


def list_staff_roles() -> list[StaffRole]:
    return list(db.session.scalars(select(StaffRole).order_by(StaffRole.name)))


def get_merchant_by_slug(slug: str) -> Merchant | None:
    return db.session.scalar(select(Merchant).where(Merchant.slug == slug))


def staff_with_permission(permission: str) -> list[int]:
    """User ids of the bound store's active staff (active membership too) whose role grants ``permission``."""
    merchant_id = require_merchant_id()
    members = set(
        db.session.scalars(
            select(MerchantMembership.user_id).where(
                MerchantMembership.merchant_id == merchant_id, MerchantMembership.is_active.is_(True)
            )
        )
    )
    staff = db.session.scalars(select(StaffMember).where(StaffMember.is_active.is_(True)).order_by(StaffMember.id))
    return [s.user_id for s in staff if s.user_id in members and permission in staff_permissions(s)]


def notify_staff(merchant_id: int, permission: str, subject: object, body: object, link: str | None = None) -> None:
    """Tell the store's active staff whose role grants ``permission`` (in-site and email, each in their
    own language: pass lazy strings)."""
    with tenant(merchant_id):
        recipients = staff_with_permission(permission)
    for user_id in recipients:
        notify(user_id, subject, body, link)
