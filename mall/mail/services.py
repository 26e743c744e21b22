"""Sending email: an outbox row in the caller's transaction, delivered by a job after commit.

Delivery uses SMTP when ``MAIL_URL`` is set (``smtp://user:pass@host:port``,
``smtps://`` for TLS, ``?starttls=1``); otherwise the message stays in the outbox
table marked ``logged`` and is written to the log, so development never needs a server.
"""

from __future__ import annotations

import logging
import smtplib
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import make_msgid
from urllib.parse import parse_qs, unquote, urlparse

from flask import current_app

from mall.extensions import db
from mall.jobs import enqueue
from mall.mail.models import OutboxMessage

log = logging.getLogger("mall.mail")


def send_mail(to: str, subject: str, text: str, html: str | None = None) -> OutboxMessage:
    """Queue one email: it is delivered only if the current transaction commits."""
    from mall.mail.jobs import deliver_mail

    message = OutboxMessage(to_address=to, subject=str(subject)[:200], body_text=str(text), body_html=html)
    db.session.add(message)
    db.session.flush()
    enqueue(deliver_mail, message.id, job_id=f"mail-{message.id}")
    return message


def _smtp_settings(url: str) -> dict:
    parsed = urlparse(url)
    query = {k: v[0] for k, v in parse_qs(parsed.query).items()}
    return {
        "ssl": parsed.scheme == "smtps",
        "starttls": query.get("starttls") in ("1", "true", "yes"),
        "host": parsed.hostname or "localhost",
        "port": parsed.port or (465 if parsed.scheme == "smtps" else 25),
        "username": unquote(parsed.username) if parsed.username else None,
        "password": unquote(parsed.password) if parsed.password else None,
    }


def build_message(outbox: OutboxMessage, sender: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = outbox.to_address
    msg["Subject"] = outbox.subject
    msg["Message-ID"] = make_msgid(idstring=f"outbox{outbox.id}")
    msg.set_content(outbox.body_text)
    if outbox.body_html:
        msg.add_alternative(outbox.body_html, subtype="html")
    return msg


def deliver(outbox: OutboxMessage) -> None:
    """Send one outbox message now; raises on SMTP failure (the job retries)."""
    if outbox.status in ("sent", "logged"):
        return  # idempotent: a retried job does not send twice
    url = current_app.config.get("MAIL_URL")
    outbox.attempts += 1
    if not url:
        log.info(
            "mail (no MAIL_URL, kept in outbox) to=%s subject=%s\n%s",
            outbox.to_address,
            outbox.subject,
            outbox.body_text,
        )
        outbox.status = "logged"
        outbox.sent_at = datetime.now(UTC)
        return
    settings = _smtp_settings(url)
    smtp_class = smtplib.SMTP_SSL if settings["ssl"] else smtplib.SMTP
    try:
        with smtp_class(settings["host"], settings["port"], timeout=30) as smtp:
            if settings["starttls"]:
                smtp.starttls()
            if settings["username"]:
                smtp.login(settings["username"], settings["password"] or "")
            smtp.send_message(build_message(outbox, current_app.config["MAIL_FROM"]))
    except (OSError, smtplib.SMTPException) as exc:
        outbox.status = "failed"
        outbox.last_error = f"{type(exc).__name__}: {exc}"[:2000]
        raise
    outbox.status = "sent"
    outbox.sent_at = datetime.now(UTC)
    outbox.last_error = None
