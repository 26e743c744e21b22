"""The one helper every back-office write path uses to leave an audit row."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from flask import has_request_context, request
from flask_login import current_user

from mall.audit.models import AuditEntry
from mall.extensions import db


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, set | frozenset | tuple):
        return sorted(_jsonable(v) for v in value)
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list]:
    """``{field: [old, new]}`` for the fields that changed."""
    return {
        k: [_jsonable(before.get(k)), _jsonable(after.get(k))]
        for k in sorted(set(before) | set(after))
        if before.get(k) != after.get(k)
    }


def record_audit(
    action: str,
    *,
    area: str,
    obj: Any = None,
    object_type: str | None = None,
    object_id: Any = None,
    changes: dict | None = None,
    merchant_id: int | None = None,
    actor=None,
) -> AuditEntry:
    """Add an audit row to the current transaction (it commits or rolls back with the change)."""
    if actor is None and has_request_context() and current_user and current_user.is_authenticated:
        actor = current_user._get_current_object()
    if obj is not None:
        object_type = object_type or type(obj).__name__
        object_id = object_id if object_id is not None else getattr(obj, "id", None)
    entry = AuditEntry(
        actor_id=getattr(actor, "id", None),
        actor_name=getattr(actor, "username", None),
        area=area,
        merchant_id=merchant_id,
        action=action,
        object_type=object_type,
        object_id=None if object_id is None else str(object_id),
        changes=_jsonable(changes) if changes else None,
    )
    if has_request_context():
        entry.ip = request.remote_addr
        entry.user_agent = (request.user_agent.string or "")[:300] or None
    db.session.add(entry)
    return entry
