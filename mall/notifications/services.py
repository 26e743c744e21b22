"""Telling a user something: an in-site message and an email, both after the commit."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select, update

from mall.extensions import db
from mall.identity.models import User
from mall.jobs import enqueue, platform_job
from mall.notifications.models import SiteMessage


def notify(user_id: int, subject: str, body: str, link: str | None = None, *, email: bool = True) -> None:
    """Queue an in-site message (and an email) for ``user_id``; nothing happens if the transaction rolls back.

    Subject and body are rendered now, in the language of the request that caused them.
    """
    enqueue(deliver_notification, user_id, str(subject), str(body), link, email)


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
