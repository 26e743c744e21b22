"""Mail jobs: deliver one message; periodically retry what failed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, or_, select

from mall.extensions import db
from mall.jobs import enqueue, platform_job
from mall.mail.models import OutboxMessage
from mall.mail.services import deliver


@platform_job(queue="high")
def deliver_mail(outbox_id: int) -> str:
    message = db.session.get(OutboxMessage, outbox_id, with_for_update=True)
    if message is None:
        return "missing"
    try:
        deliver(message)
    except Exception:
        db.session.commit()  # keep the failure and attempt count, then let RQ retry
        raise
    return message.status


@platform_job(queue="low", retry=None)
def retry_unsent_mail(max_attempts: int = 10, stale_minutes: int = 10) -> int:
    """Re-enqueue failed messages with attempts left, and queued ones whose job never ran
    (e.g. Redis was down at commit time): nothing in the outbox is left behind.

    The job id is per message, so a message already waiting for its retry is not doubled.
    """
    stale = datetime.now(UTC) - timedelta(minutes=stale_minutes)
    ids = db.session.scalars(
        select(OutboxMessage.id).where(
            OutboxMessage.attempts < max_attempts,
            or_(
                OutboxMessage.status == "failed",
                and_(OutboxMessage.status == "queued", OutboxMessage.created_at < stale),
            ),
        )
    ).all()
    for outbox_id in ids:
        enqueue(deliver_mail, outbox_id, job_id=f"mail-{outbox_id}")
    return len(ids)
