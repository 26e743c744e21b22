"""Staff invitations (M-11): invite by email or mobile, accept once through the link's token.

Only the token's SHA-256 is stored; the token itself exists in the message sent and nowhere else.
Accepting goes through ``enlist_staff``, the same path as adding an existing account by hand.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from mall.audit.services import record_audit
from mall.errors import DomainError, NotFound
from mall.extensions import db
from mall.i18n import _
from mall.identity.models import User
from mall.identity.permissions import BUILTIN_MERCHANT_ROLES
from mall.identity.services import EMAIL_RE, PHONE_RE, normalise_phone
from mall.mail.services import send_mail
from mall.merchants.models import Merchant, StaffInvitation, StaffMember, StaffRole
from mall.merchants.services import enlist_staff, require_staff_permission, role_fields, role_value
from mall.notifications.sms import send_sms
from mall.tenancy.binding import bind_merchant, cache_key, require_merchant_id, tenant
from mall.web.ratelimit import hit
from mall.web.urls import external_url

INVITATION_DAYS = 7
INVITATIONS_PER_DAY = 50  # per store: the mall must not become a way to send mass mail or SMS
TOKEN_MAX = 100  # longer path segments are not ours: refused before hashing


class InvitationError(DomainError):
    pass


class InvitationNotFound(InvitationError):
    status_code = 404


class InvitationGone(InvitationError):
    """Expired, withdrawn or already used."""

    status_code = 410


def hash_token(token: str) -> str:
    """What is stored of a token: its SHA-256, hex (the token has 256 random bits, so no salt is needed)."""
    return hashlib.sha256(token.encode()).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC)


def _open_clause():
    return StaffInvitation.accepted_at.is_(None), StaffInvitation.revoked_at.is_(None)


def role_label(invitation: StaffInvitation | StaffMember) -> str:
    """The name of the role an invitation (or staff row) gives, in the current language."""
    if invitation.role_code:
        builtin = BUILTIN_MERCHANT_ROLES.get(invitation.role_code)
        return str(builtin[0]) if builtin else invitation.role_code
    role = db.session.get(StaffRole, invitation.role_id)
    return role.name if role is not None else ""


def _clean_address(email: str | None, phone: str | None) -> tuple[str | None, str | None]:
    email = (email or "").strip().lower() or None
    phone = normalise_phone(phone)
    if not email and not phone:
        raise InvitationError(_("Give an email address or a mobile number."), field="email")
    if email and phone:
        raise InvitationError(_("Give either an email address or a mobile number, not both."), field="phone")
    if email and (len(email) > 254 or not EMAIL_RE.match(email)):
        raise InvitationError(_("This is not a valid email address."), field="email")
    if phone and not PHONE_RE.match(phone):
        raise InvitationError(_("This is not a valid mobile number."), field="phone")
    return email, phone


def _invitee(email: str | None, phone: str | None) -> User | None:
    clause = func.lower(User.email) == email if email else User.phone == phone
    return db.session.scalar(select(User).where(clause))


def invite_staff(actor: User, email: str | None = None, phone: str | None = None, *, role: str) -> StaffInvitation:
    """Invite someone to the bound store's staff with ``role``, by email or by SMS, valid for 7 days.

    Refused when the address belongs to active staff or already has an open invitation, and past
    ``INVITATIONS_PER_DAY`` invitations of the store in a day. The message
    is sent only if the transaction commits (outbox and job); audited.
    """
    merchant_id = require_merchant_id()
    require_staff_permission(actor, "staff.manage")
    email, phone = _clean_address(email, phone)
    field = "email" if email else "phone"
    fields = role_fields(role, actor)
    user = _invitee(email, phone)
    staff = db.session.scalar(select(StaffMember).where(StaffMember.user_id == user.id)) if user else None
    if staff is not None and staff.is_active:
        raise InvitationError(_("%(name)s is already staff of this store.", name=user.username), field=field)
    address = StaffInvitation.email == email if email else StaffInvitation.phone == phone
    if db.session.scalar(
        select(StaffInvitation.id).where(address, StaffInvitation.expires_at > _now(), *_open_clause())
    ):
        raise InvitationError(
            _("An invitation to this address is still open. Withdraw it to send a new one."), field=field
        )
    if not hit(cache_key("staff-invitations"), INVITATIONS_PER_DAY, 86400):
        raise InvitationError(_("This store has sent too many invitations today. Try again tomorrow."))
    token = secrets.token_urlsafe(32)
    invitation = StaffInvitation(
        email=email,
        phone=phone,
        token_hash=hash_token(token),
        invited_by_id=actor.id,
        expires_at=_now() + timedelta(days=INVITATION_DAYS),
        **fields,
    )
    db.session.add(invitation)
    db.session.flush()
    _send_invitation(invitation, token, db.session.get(Merchant, merchant_id), actor)
    record_audit(
        "staff.invite",
        area="merchant",
        merchant_id=merchant_id,
        obj=invitation,
        changes={field: [None, email or phone], "role": [None, role_value(invitation)]},
    )
    return invitation


def _send_invitation(invitation: StaffInvitation, token: str, merchant: Merchant, actor: User) -> None:
    link = external_url("merchant.accept_invitation", merchant_id=merchant.id, token=token)
    values = {"store": merchant.name, "role": role_label(invitation), "inviter": actor.username, "link": link}
    if invitation.email:
        send_mail(
            invitation.email,
            _("Join %(store)s on the mall", store=merchant.name),
            _(
                "Hello,\n\n%(inviter)s invites you to join the staff of %(store)s as %(role)s.\n\n"
                "Open this link to accept (valid for 7 days; log in or create an account first):\n%(link)s\n\n"
                "If you do not know this store, ignore this email.",
                **values,
            ),
        )
    else:
        send_sms(
            invitation.phone,
            _("%(inviter)s invites you to join %(store)s as %(role)s. Accept within 7 days: %(link)s", **values),
        )


def revoke_invitation(actor: User, invitation_id: int) -> StaffInvitation:
    """Withdraw an open invitation of the bound store: its link stops working. Audited."""
    merchant_id = require_merchant_id()
    require_staff_permission(actor, "staff.manage")
    invitation = db.session.get(StaffInvitation, invitation_id)
    if invitation is None:
        raise NotFound(_("No such invitation."))
    if invitation.accepted_at is not None or invitation.revoked_at is not None:
        raise InvitationError(_("This invitation has already been used or withdrawn."))
    invitation.revoked_at = _now()
    db.session.flush()
    record_audit(
        "staff.invitation_revoke",
        area="merchant",
        merchant_id=merchant_id,
        obj=invitation,
        changes={"revoked": [False, True]},
    )
    return invitation


def pending_invitations() -> list[StaffInvitation]:
    """The bound store's invitations that can still be accepted, newest first."""
    require_merchant_id()
    return list(
        db.session.scalars(
            select(StaffInvitation)
            .where(StaffInvitation.expires_at > _now(), *_open_clause())
            .order_by(StaffInvitation.created_at.desc(), StaffInvitation.id.desc())
        )
    )


def open_invitation(merchant_id: int, token: str, *, lock: bool = False) -> tuple[Merchant, StaffInvitation]:
    """Check that ``token`` is an invitation of store ``merchant_id`` that can still be accepted, and
    only then bind that store for the rest of the request.

    The token is looked up in that store's schema alone, so a token of store A given with store B's id
    is not found. Unknown → ``InvitationNotFound``; expired, withdrawn or used → ``InvitationGone``.
    """
    merchant = db.session.get(Merchant, merchant_id)
    if merchant is None or merchant.status == "closed" or not token or len(token) > TOKEN_MAX:
        raise InvitationNotFound(_("This invitation link is not valid. Check that you copied all of it."))
    query = select(StaffInvitation).where(StaffInvitation.token_hash == hash_token(token))
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    with tenant(merchant.id):
        invitation = db.session.scalar(query)
    if invitation is None:
        raise InvitationNotFound(_("This invitation link is not valid. Check that you copied all of it."))
    if invitation.accepted_at is not None:
        raise InvitationGone(_("This invitation has already been accepted."))
    if invitation.revoked_at is not None:
        raise InvitationGone(_("This invitation has been withdrawn by the store."))
    if invitation.expires_at <= _now():
        raise InvitationGone(_("This invitation has expired. Ask the store to send you a new one."))
    bind_merchant(merchant.id)
    return merchant, invitation


def accept_invitation(user: User, merchant_id: int, token: str) -> StaffMember:
    """``user`` joins the store's staff with the invitation's role; the invitation is used up. Audited.

    The invitation row is locked, so two people opening the same link cannot both join.
    """
    _merchant, invitation = open_invitation(merchant_id, token, lock=True)
    fields = {"role_code": invitation.role_code, "role_id": invitation.role_id}
    staff = enlist_staff(user, fields, created_by_id=invitation.invited_by_id, invitation_id=invitation.id)
    invitation.accepted_at = _now()
    invitation.accepted_user_id = user.id
    db.session.flush()
    record_audit(
        "staff.invitation_accept",
        area="merchant",
        merchant_id=merchant_id,
        obj=invitation,
        actor=user,
        changes={"accepted_by": [None, user.username]},
    )
    return staff


def is_invitee_staff(user: User) -> bool:
    """Whether ``user`` is already active staff of the bound store (the accept page says so)."""
    query = select(StaffMember.id).where(StaffMember.user_id == user.id, StaffMember.is_active.is_(True))
    return db.session.scalar(query) is not None
