"""The operator's supervision of stores (P-02): notes, warnings, scores, suspension, closure."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from mall.audit.services import record_audit
from mall.catalog.publishing import resync_store
from mall.errors import DomainError, NotFound
from mall.extensions import db
from mall.i18n import L_, _
from mall.identity.models import User
from mall.merchants.models import Merchant, MerchantMembership, MerchantNote
from mall.notifications.services import notify
from mall.storage import get_storage
from mall.tenancy import archive_merchant_schema
from mall.web.urls import external_url


class SupervisionError(DomainError):
    pass


def get_merchant(merchant_id: int) -> Merchant:
    merchant = db.session.get(Merchant, merchant_id)
    if merchant is None:
        raise NotFound(_("No such merchant."))
    return merchant


def notes_of(merchant: Merchant) -> list[MerchantNote]:
    return list(
        db.session.scalars(
            select(MerchantNote).where(MerchantNote.merchant_id == merchant.id).order_by(MerchantNote.id.desc())
        )
    )


def add_note(merchant: Merchant, operator: User, kind: str, body: str, score: int | None = None) -> MerchantNote:
    """A warning (the store's staff are told), a score (0 to 100, kept as the store's current score) or a note."""
    body = (body or "").strip()
    if kind not in ("warning", "score", "note"):
        raise SupervisionError(_("Choose warning, score or note."), field="kind")
    if not body:
        raise SupervisionError(_("Write the text of the record."), field="body")
    if kind == "score":
        if score is None or not 0 <= score <= 100:
            raise SupervisionError(_("A score is a whole number from 0 to 100."), field="score")
        merchant.score = score
    else:
        score = None
    note = MerchantNote(merchant_id=merchant.id, kind=kind, score=score, body=body[:2000], author_id=operator.id)
    db.session.add(note)
    db.session.flush()
    record_audit(
        f"merchant.{kind}",
        area="platform",
        obj=merchant,
        merchant_id=merchant.id,
        changes={"body": [None, note.body], **({"score": [None, score]} if score is not None else {})},
    )
    if kind == "warning":
        _tell_staff(merchant, L_("A warning from the mall about “%(store)s”", store=merchant.name), note.body)
    return note


def suspend(merchant: Merchant, operator: User, reason: str) -> None:
    """Hide the store from the mall; its staff can still log in and serve existing orders."""
    reason = (reason or "").strip()
    if not reason:
        raise SupervisionError(_("Give the reason for the suspension."), field="reason")
    _change_status(merchant, operator, "suspended", reason, allowed_from=("active",))
    _tell_staff(
        merchant,
        L_("“%(store)s” is suspended", store=merchant.name),
        L_("Your store is hidden from the mall. Reason: %(reason)s", reason=reason),
    )


def reinstate(merchant: Merchant, operator: User, note: str | None = None) -> None:
    _change_status(merchant, operator, "active", (note or "").strip() or None, allowed_from=("suspended",))
    _tell_staff(
        merchant, L_("“%(store)s” is open again", store=merchant.name), L_("Your store is visible in the mall again.")
    )


def close(merchant: Merchant, operator: User, reason: str) -> str:
    """Close the store for good: its schema is dumped to storage first and kept, read-only.

    Returns the storage key of the export. Nothing is deleted.
    """
    reason = (reason or "").strip()
    if not reason:
        raise SupervisionError(_("Give the reason for the closure."), field="reason")
    if merchant.status == "closed":
        raise SupervisionError(_("This store is already closed."))
    key = archive_merchant_schema(merchant.id, get_storage(), drop=False)
    _change_status(
        merchant, operator, "closed", reason, allowed_from=("active", "suspended"), extra={"archive": [None, key]}
    )
    _tell_staff(
        merchant,
        L_("“%(store)s” is closed", store=merchant.name),
        L_(
            "Your store has been closed by the mall. Reason: %(reason)s\nIts data is kept and can still be read in "
            "the merchant centre.",
            reason=reason,
        ),
    )
    return key


def _change_status(
    merchant: Merchant,
    operator: User,
    status: str,
    reason: str | None,
    *,
    allowed_from: tuple[str, ...],
    extra: dict | None = None,
) -> None:
    if merchant.status not in allowed_from:
        raise SupervisionError(
            _("This cannot be done to a store that is %(status)s.", status=status_label(merchant.status))
        )
    before = merchant.status
    merchant.status = status
    merchant.status_reason = reason[:500] if reason else None
    merchant.status_changed_at = datetime.now(UTC)
    db.session.flush()
    resync_store(merchant.id)  # its products leave (or return to) the mall with it
    record_audit(
        f"merchant.{status}",
        area="platform",
        obj=merchant,
        merchant_id=merchant.id,
        changes={"status": [before, status], "reason": [None, reason], **(extra or {})},
    )


def status_label(status: str) -> str:
    return {"active": _("open"), "suspended": _("suspended"), "closed": _("closed")}.get(status, status)


def _tell_staff(merchant: Merchant, subject: object, body: object) -> None:
    user_ids = db.session.scalars(
        select(MerchantMembership.user_id).where(
            MerchantMembership.merchant_id == merchant.id, MerchantMembership.is_active.is_(True)
        )
    ).all()
    link = external_url("merchant.dashboard")
    for user_id in user_ids:
        notify(user_id, subject, body, link)
