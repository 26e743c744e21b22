"""Who may do what: operator permissions and merchant staff permissions."""

from __future__ import annotations

from sqlalchemy import select

from mall.extensions import db
from mall.identity.permissions import BUILTIN_MERCHANT_ROLES, BUILTIN_OPERATOR_ROLES


def operator_permissions(user) -> frozenset[str]:
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return frozenset()
    granted: set[str] = set()
    for assignment in user.operator_roles:
        if assignment.role_code:
            builtin = BUILTIN_OPERATOR_ROLES.get(assignment.role_code)
            if builtin:
                granted |= builtin[1]
        elif assignment.role is not None:
            granted |= set(assignment.role.permissions or ())
    return frozenset(granted)


def has_operator_permission(user, permission: str) -> bool:
    return permission in operator_permissions(user)


def is_operator(user) -> bool:
    return bool(operator_permissions(user))


def active_memberships(user) -> list:
    from mall.merchants.models import Merchant, MerchantMembership
    from mall.tenancy.models import TenantSchema

    if user is None or not getattr(user, "is_authenticated", False):
        return []
    return list(
        db.session.scalars(
            select(MerchantMembership)
            .join(Merchant)
            .join(TenantSchema, TenantSchema.merchant_id == Merchant.id)
            # Closed stores stay listed (read-only) while their schema exists; archived-and-dropped ones do not.
            .where(TenantSchema.state == "active")
            .where(MerchantMembership.user_id == user.id, MerchantMembership.is_active.is_(True))
            .order_by(Merchant.name)
        )
    )


def is_member_of(user, merchant_id: int) -> bool:
    return any(m.merchant_id == merchant_id for m in active_memberships(user))


def staff_permissions(staff) -> frozenset[str]:
    """Permissions of a StaffMember row (read with the store bound)."""
    if staff is None or not staff.is_active:
        return frozenset()
    if staff.role_code:
        builtin = BUILTIN_MERCHANT_ROLES.get(staff.role_code)
        return builtin[1] if builtin else frozenset()
    return frozenset(staff.role.permissions or ()) if staff.role else frozenset()
