"""Telling a user something: an in-site message and an email, both after the commit."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import current_app
from flask_babel import force_locale
from flask_login import current_user
from sqlalchemy import func, select, update

from mall.extensions import db
from mall.i18n import get_locale, normalise_locale
from mall.identity.models import User
from mall.jobs import enqueue, platform_job
from mall.notifications.models import SiteMessage


def recipient_locale(user: User | None) -> str:
    """The language to write to ``user`` in: their saved choice; else, when they are the one making
    this request, the language they are reading in; else the mall's default."""
    chosen = normalise_locale(user.locale) if user is not None and user.locale else None
    if chosen:
        return chosen
    if user is not None and getattr(current_user, "is_authenticated", False) and current_user.id == user.id:
        return str(get_locale())
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def notify(user_id: int, subject: object, body: object, link: str | None = None, *, email: bool = True) -> None:
    """Queue an in-site message (and an email) for ``user_id``; nothing happens if the transaction rolls back.

    Pass subject and body as lazy strings (``L_``): they are rendered now, in the recipient's language
    (``recipient_locale``), not in the language of whoever caused the message.
    """
    with force_locale(recipient_locale(db.session.get(User, user_id))):
        subject, body = str(subject), str(body)
    enqueue(deliver_notification, user_id, subject, body, link, email)


@platform_job(queue="default")
def deliver_notification(user_id: int, subject: str, body: str, link: str | None, email: bool) -> None:
    """The inbox row and the email's outbox row are written in the job's one transaction: a failed
    attempt leaves neither, so a retry does not duplicate them."""
    from mall.mail.services import send_mail

    user = db.session.get(User, user_id)
    if user is None:
        return
    db.session.add(SiteMessage(user_id=user_id, subject=subject[:200], body=body, link=link))
    if email and user.email:
        text = body + (f"\n\n{link}" if link else "")
        send_mail(user.email, subject, text)


def inbox(user_id: int, limit: int = 100) -> list[SiteMessage]:
    return list(
        db.session.scalars(
            select(SiteMessage).where(SiteMessage.user_id == user_id).order_by(SiteMessage.id.desc()).limit(limit)
        )
    )


def unread_count(user_id: int) -> int:
    return db.session.scalar(
        select(func.count(SiteMessage.id)).where(SiteMessage.user_id == user_id, SiteMessage.read_at.is_(None))
    )


def mark_read(user_id: int, message_id: int | None = None) -> None:
    """Mark one message (or all) of ``user_id`` as read; other users' messages are never touched."""
    stmt = update(SiteMessage).where(SiteMessage.user_id == user_id, SiteMessage.read_at.is_(None))
    if message_id is not None:
        stmt = stmt.where(SiteMessage.id == message_id)
    db.session.execute(stmt.values(read_at=datetime.now(UTC)))
