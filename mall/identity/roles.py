"""Custom roles of either audience (operator roles, store staff roles) are checked the same way."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sqlalchemy import func, select

from mall.errors import DomainError
from mall.extensions import db
from mall.i18n import _


def checked_role(
    model: type, name: str, permissions: Iterable[str], known: Mapping[str, object], *, role_id: int | None = None
) -> tuple[str, list[str]]:
    """A cleaned name and sorted permission list, or a DomainError naming the bad field.

    ``model`` is the role table (its ``name`` is unique, case-insensitively); the
    bound store decides which store's staff roles are compared for tenant models.
    """
    name = (name or "").strip()
    if not name:
        raise DomainError(_("Give the role a name."), field="name")
    permissions = sorted(set(permissions or ()))
    unknown = [p for p in permissions if p not in known]
    if unknown:
        raise DomainError(_("Unknown permissions: %(p)s", p=", ".join(unknown)), field="permissions")
    clash = db.session.scalar(
        select(model.id).where(func.lower(model.name) == name.lower(), model.id != (role_id or 0))
    )
    if clash:
        raise DomainError(_("A role with this name exists already."), field="name")
    return name, permissions
