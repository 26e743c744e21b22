"""Pluggable SMS sending and one-time verification codes.

``SMS_BACKEND`` names the provider: ``log`` (default: the message is written to the
log and kept in ``sms_messages``, nothing leaves the machine) or a dotted path to a
class with ``send(phone, text) -> None``. Codes live in Redis, hashed, with an
expiry, a resend interval and an attempt limit.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib
import logging
import secrets

from flask import current_app

from mall.errors import DomainError
from mall.extensions import db, redis_store
from mall.i18n import _
from mall.jobs import enqueue, platform_job
from mall.notifications.models import SmsMessage

log = logging.getLogger("mall.sms")

CODE_TTL = 600  # seconds a code stays valid
RESEND_INTERVAL = 60  # seconds before another code may be sent to the same phone
MAX_ATTEMPTS = 5


class SmsError(DomainError):
    pass


class LogSmsBackend:
    """Development provider: logs the text (the message is kept in ``sms_messages`` either way)."""

    name = "log"

    def send(self, phone: str, text: str) -> None:
        log.info("SMS to %s: %s", phone, text)


def _backend():
    path = current_app.config.get("SMS_BACKEND") or "log"
    if path == "log":
        return LogSmsBackend()
    module, _sep, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)()


def send_sms(phone: str, text: str) -> SmsMessage:
    """Record the SMS in the caller's transaction; a job hands it to the provider after commit."""
    message = SmsMessage(phone=phone, body=str(text)[:500], provider=current_app.config.get("SMS_BACKEND") or "log")
    db.session.add(message)
    db.session.flush()
    enqueue(deliver_sms, message.id)
    return message


@platform_job(queue="high")
def deliver_sms(message_id: int) -> None:
    message = db.session.get(SmsMessage, message_id)
    if message is not None:
        _backend().send(message.phone, message.body)


def _key(purpose: str, phone: str) -> str:
    return f"mall:sms:{purpose}:{phone}"


def _digest(code: str) -> str:
    return hashlib.sha256(f"{current_app.config['SECRET_KEY']}:{code}".encode()).hexdigest()


def send_verification_code(phone: str, purpose: str) -> None:
    """Text a 6-digit code for ``purpose`` (e.g. "application"); refuses to resend within a minute."""
    r = redis_store.client
    key = _key(purpose, phone)
    if not r.set(key + ":cooldown", 1, nx=True, ex=RESEND_INTERVAL):
        raise SmsError(_("A code was sent a moment ago. Please wait a minute before asking again."))
    code = f"{secrets.randbelow(10**6):06d}"
    r.delete(key + ":attempts")
    r.set(key, _digest(code), ex=CODE_TTL)
    send_sms(phone, _("Your mall verification code is %(code)s. It is valid for 10 minutes.", code=code))


def check_verification_code(phone: str, purpose: str, code: str) -> None:
    """Accept the code once; wrong codes count, and too many void it."""
    r = redis_store.client
    key = _key(purpose, phone)
    stored = r.get(key)
    if stored is None:
        raise SmsError(_("The code has expired. Ask for a new one."), field="sms_code")
    if r.incr(key + ":attempts") > MAX_ATTEMPTS:
        r.delete(key)
        raise SmsError(_("Too many wrong codes. Ask for a new one."), field="sms_code")
    r.expire(key + ":attempts", CODE_TTL)
    if not hmac.compare_digest(stored.decode(), _digest((code or "").strip())):
        raise SmsError(_("The code is not correct."), field="sms_code")
    r.delete(key, key + ":attempts")
