"""Store name and address (slug) changes (M-02), reviewed by the platform before they apply.

A merchant asks (``request_store_change``; one pending request per field), may withdraw it
(``cancel_store_change``), and an operator approves or rejects it (``decide_store_change``).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime

from flask import current_app
from flask_babel import force_locale
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from mall.audit.services import record_audit
from mall.errors import DomainError, NotFound, PermissionDenied
from mall.extensions import db
from mall.i18n import L_, _
from mall.identity.access import has_operator_permission
from mall.identity.models import User
from mall.mail.services import send_mail
from mall.merchants.models import Merchant, StoreChangeRequest
from mall.merchants.services import require_staff_permission, slug_problem
from mall.tenancy.binding import require_merchant_id
from mall.web.urls import external_url

CHANGE_FIELDS = {"name": L_("Store name"), "slug": L_("Store address")}
_WHAT = {"name": L_("store name"), "slug": L_("store address")}  # inside sentences
CHANGE_STATUSES = ("pending", "approved", "rejected", "cancelled")
NAME_MAX = 80


class StoreChangeError(DomainError):
    pass


def _clean_change(field: str, value: str, merchant: Merchant) -> str:
    if field not in CHANGE_FIELDS:
        raise NotFound(_("Only the store name or address can be changed this way."))
    value = (value or "").strip()
    if field == "name":
        value = unicodedata.normalize("NFC", value)
        if not value:
            raise StoreChangeError(_("Give the store a name."), field=field)
        if len(value) > NAME_MAX or any(unicodedata.category(ch) == "Cc" for ch in value):
            raise StoreChangeError(_("At most %(max)s characters, on one line.", max=NAME_MAX), field=field)
    else:
        value = value.lower()
    if value == getattr(merchant, field):
        raise StoreChangeError(_("This is already the %(what)s.", what=_WHAT[field]), field=field)
    if field == "slug":
        problem = slug_problem(value) or _subdomain_problem(value, merchant)
        if problem:
            raise StoreChangeError(problem, field=field)
    return value


def _subdomain_problem(slug: str, merchant: Merchant) -> str | None:
    """The new slug also becomes the subdomain when the subdomain followed the slug: it must be free too."""
    if merchant.subdomain != merchant.slug:
        return None
    taken = db.session.scalar(select(Merchant.id).where(Merchant.subdomain == slug, Merchant.id != merchant.id))
    return _("This address is already taken.") if taken else None


def request_store_change(actor: User, field: str, new_value: str) -> StoreChangeRequest:
    """Ask the platform to change the bound store's name or slug; one pending request per field, audited."""
    merchant_id = require_merchant_id()
    require_staff_permission(actor, "store.manage")
    merchant = db.session.get(Merchant, merchant_id)
    value = _clean_change(field, new_value, merchant)
    pending = select(StoreChangeRequest.id).where(
        StoreChangeRequest.merchant_id == merchant_id,
        StoreChangeRequest.field == field,
        StoreChangeRequest.status == "pending",
    )
    already = _("A change of the %(what)s is already waiting for review.", what=_WHAT[field])
    if db.session.scalar(pending):
        raise StoreChangeError(already, field=field)
    change = StoreChangeRequest(
        merchant_id=merchant_id,
        field=field,
        old_value=getattr(merchant, field),
        new_value=value,
        requested_by_id=actor.id,
    )
    try:
        with db.session.begin_nested():  # the partial unique index settles a race between two requests
            db.session.add(change)
            db.session.flush()
    except IntegrityError as exc:
        raise StoreChangeError(already, field=field) from exc
    record_audit(
        "store.change_request",
        area="merchant",
        merchant_id=merchant_id,
        obj=change,
        changes={field: [change.old_value, value]},
    )
    return change


def cancel_store_change(actor: User, request_id: int) -> StoreChangeRequest:
    """Withdraw a pending request of the bound store (another store's request is not found), audited."""
    merchant_id = require_merchant_id()
    require_staff_permission(actor, "store.manage")
    change = _locked_change(request_id)
    if change is None or change.merchant_id != merchant_id:
        raise NotFound(_("No such change request."))
    if change.status != "pending":
        raise StoreChangeError(_("This request has already been decided."))
    change.status = "cancelled"
    change.decided_at = datetime.now(UTC)
    db.session.flush()
    record_audit(
        "store.change_cancel",
        area="merchant",
        merchant_id=merchant_id,
        obj=change,
        changes={"status": ["pending", "cancelled"]},
    )
    return change


def store_changes(limit: int = 10) -> list[StoreChangeRequest]:
    """The bound store's latest requests, pending first, newest first."""
    merchant_id = require_merchant_id()
    return list(
        db.session.scalars(
            select(StoreChangeRequest)
            .where(StoreChangeRequest.merchant_id == merchant_id)
            .order_by((StoreChangeRequest.status == "pending").desc(), StoreChangeRequest.id.desc())
            .limit(limit)
        )
    )


@dataclass(frozen=True)
class ChangeRow:
    """One line of the operators' list."""

    change: StoreChangeRequest
    merchant: Merchant
    requested_by: str | None
    decided_by: str | None


def list_change_requests(status: str | None = "pending", *, limit: int = 50, offset: int = 0) -> list[ChangeRow]:
    """Change requests of every store for operators, newest first, optionally of one status."""
    requester = aliased(User)
    decider = aliased(User)
    query = (
        select(StoreChangeRequest, Merchant, requester.username, decider.username)
        .join(Merchant, Merchant.id == StoreChangeRequest.merchant_id)
        .outerjoin(requester, requester.id == StoreChangeRequest.requested_by_id)
        .outerjoin(decider, decider.id == StoreChangeRequest.decided_by_id)
        .order_by(StoreChangeRequest.created_at.desc(), StoreChangeRequest.id.desc())
        .limit(limit)
        .offset(offset)
    )
    if status:
        query = query.where(StoreChangeRequest.status == status)
    return [ChangeRow(*row) for row in db.session.execute(query)]


def _locked_change(request_id: int) -> StoreChangeRequest | None:
    return db.session.scalar(
        select(StoreChangeRequest)
        .where(StoreChangeRequest.id == request_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


def decide_store_change(
    operator: User, request_id: int, approve: bool, reason: str | None = None
) -> StoreChangeRequest:
    """Approve (the new name or slug applies now) or reject (a reason is required) a pending request.

    The slug is checked again at decision time: if another store took it meanwhile, approval is refused
    and the request stays pending. The subdomain follows the slug when it was equal to the old slug.
    Audited; the requester is emailed (after commit).
    """
    if not has_operator_permission(operator, "merchants.manage"):
        raise PermissionDenied(_("You do not have permission to decide store changes."))
    change = _locked_change(request_id)
    if change is None:
        raise NotFound(_("No such change request."))
    if change.status != "pending":
        raise StoreChangeError(_("This request has already been decided."))
    reason = (reason or "").strip() or None
    if reason and len(reason) > 500:
        raise StoreChangeError(_("At most %(max)s characters.", max=500), field="reason")
    merchant = db.session.scalar(select(Merchant).where(Merchant.id == change.merchant_id).with_for_update())
    changes: dict[str, list] = {"status": ["pending", "approved" if approve else "rejected"]}
    if approve:
        changes.update(_apply_change(change, merchant))
    elif not reason:
        raise StoreChangeError(_("Say why the change is rejected."), field="reason")
    change.status = "approved" if approve else "rejected"
    change.reason = reason
    change.decided_by_id = operator.id
    change.decided_at = datetime.now(UTC)
    db.session.flush()
    if reason:
        changes["reason"] = [None, reason]
    record_audit(
        "store.change_approve" if approve else "store.change_reject",
        area="platform",
        merchant_id=merchant.id,
        obj=change,
        actor=operator,
        changes=changes,
    )
    if approve:
        # Every public row carries the store's name and address (cards, search text): rewrite them,
        # which also retires the cached pages showing the old ones.
        from mall.catalog.publishing import resync_store

        resync_store(merchant.id)
    _notify_requester(change, merchant)
    return change


def _apply_change(change: StoreChangeRequest, merchant: Merchant) -> dict[str, list]:
    if merchant.status == "closed":
        raise StoreChangeError(_("This store is closed; its name and address no longer change."))
    applied = {change.field: [getattr(merchant, change.field), change.new_value]}
    if change.field == "slug":
        problem = slug_problem(change.new_value) or _subdomain_problem(change.new_value, merchant)
        if problem:
            raise StoreChangeError(
                _("The address %(slug)s cannot be given any more: %(problem)s", slug=change.new_value, problem=problem)
            )
        if merchant.subdomain == merchant.slug:
            applied["subdomain"] = [merchant.subdomain, change.new_value]
    try:
        with db.session.begin_nested():  # a store taking the slug at this very moment loses to the constraint
            for name, (_old, new) in applied.items():
                setattr(merchant, name, new)
            db.session.flush()
    except IntegrityError as exc:
        raise StoreChangeError(_("This address is already taken.")) from exc
    return applied


def _notify_requester(change: StoreChangeRequest, merchant: Merchant) -> None:
    user = db.session.get(User, change.requested_by_id) if change.requested_by_id else None
    if user is None or not user.email:
        return
    with force_locale(user.locale or current_app.config["BABEL_DEFAULT_LOCALE"]):
        what = str(_WHAT[change.field])
        values = {"name": user.username, "what": what, "old": change.old_value, "new": change.new_value}
        if change.status == "approved":
            subject = _("Your %(what)s has been changed", what=what)
            text = _(
                'Hello %(name)s,\n\nThe change of your %(what)s from "%(old)s" to "%(new)s" has been '
                "approved and applies now.\n\nYour store: %(link)s",
                link=external_url("consumer.store", slug=merchant.slug),
                **values,
            )
        else:
            subject = _("Your %(what)s has not been changed", what=what)
            text = _(
                'Hello %(name)s,\n\nThe change of your %(what)s from "%(old)s" to "%(new)s" has been '
                "rejected.\n\nReason: %(reason)s",
                reason=change.reason,
                **values,
            )
    send_mail(user.email, subject, text)
