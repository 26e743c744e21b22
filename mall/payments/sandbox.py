"""The built-in sandbox gateway: it behaves like a real payment provider, inside the mall.

- ``start_payment`` opens a transaction on the gateway's books (``SandboxTransaction``) and returns
  its hosted page, where the buyer pays, fails or cancels;
- each outcome is told to the mall by a job that POSTs a JSON notification signed with
  HMAC-SHA256 (header ``X-Sandbox-Signature: t=<unix time>,v1=<hex>`` over ``"<t>.<body>"``) to
  ``/payments/notify/sandbox``, through the app's own WSGI stack as the gateway would over HTTP; a
  reply other than 200 fails the job, which RQ retries with backoff until it is acknowledged.
  ``SANDBOX_DUPLICATE_NOTIFICATIONS`` delivers every notification twice, as real gateways sometimes do;
- refunds are checked against what is left of the payment and notified the same way;
- ``transaction_report`` is the gateway's CSV report of its transactions, for reconciliation.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import secrets
import time
from collections.abc import Mapping
from datetime import UTC, datetime

from flask import current_app, url_for
from sqlalchemy import func, select

from mall.extensions import db
from mall.jobs.core import enqueue, platform_job
from mall.payments.models import Payment, Refund, SandboxTransaction
from mall.payments.providers import BadSignature, Notification, register_provider

SIGNATURE_HEADER = "X-Sandbox-Signature"
TOLERANCE_SECONDS = 300


class SandboxError(Exception):
    """The gateway refused a request (e.g. a refund above what is left of the payment)."""


def secret() -> bytes:
    configured = current_app.config.get("SANDBOX_PAYMENT_SECRET")
    if configured:
        return configured.encode()
    return hmac.new(current_app.config["SECRET_KEY"].encode(), b"sandbox-payments", hashlib.sha256).digest()


def sign(body: bytes, timestamp: int | None = None) -> str:
    timestamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


class SandboxProvider:
    code = "sandbox"

    def start_payment(self, payment: Payment, return_url: str) -> str:
        txn = SandboxTransaction(
            id=f"sbx_pay_{secrets.token_urlsafe(18)}",
            kind="payment",
            merchant_ref=str(payment.id),
            amount_cents=payment.amount_cents,
            return_url=return_url,
        )
        db.session.add(txn)
        payment.provider_ref = txn.id
        db.session.flush()
        return url_for("sandbox.hosted_page", txn_id=txn.id)

    def parse_notification(self, body: bytes, headers: Mapping[str, str]) -> Notification:
        header = headers.get(SIGNATURE_HEADER) or ""
        parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
        try:
            timestamp = int(parts.get("t", ""))
        except ValueError:
            raise BadSignature("no timestamp") from None
        if abs(time.time() - timestamp) > TOLERANCE_SECONDS:
            raise BadSignature("timestamp outside the tolerance")
        expected = sign(body, timestamp).split("v1=", 1)[1]
        if not hmac.compare_digest(expected, parts.get("v1", "")):
            raise BadSignature("signature mismatch")
        try:
            data = json.loads(body)
            return Notification(
                event_id=str(data["event_id"]),
                kind=str(data["kind"]),
                transaction_id=str(data["transaction_id"]),
                amount_cents=int(data["amount_cents"]),
                reason=data.get("reason"),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise BadSignature(f"malformed body: {exc}") from None

    def start_refund(self, refund: Refund, payment: Payment) -> None:
        parent = db.session.get(SandboxTransaction, payment.provider_ref, with_for_update=True)
        if parent is None or parent.status != "succeeded":
            raise SandboxError("the payment was not captured by the gateway")
        refunded = db.session.scalar(
            select(func.coalesce(func.sum(SandboxTransaction.amount_cents), 0)).where(
                SandboxTransaction.parent_id == parent.id, SandboxTransaction.status != "failed"
            )
        )
        txn = SandboxTransaction(
            id=f"sbx_ref_{secrets.token_urlsafe(18)}",
            kind="refund",
            merchant_ref=str(refund.id),
            parent_id=parent.id,
            amount_cents=refund.amount_cents,
        )
        if refunded + refund.amount_cents > parent.amount_cents:
            txn.status = "failed"
            kind, reason = "refund.failed", "amount above what is left of the payment"
        else:
            txn.status = "succeeded"
            kind, reason = "refund.succeeded", None
        txn.settled_at = datetime.now(UTC)
        db.session.add(txn)
        refund.provider_ref = txn.id
        db.session.flush()
        notify(txn, kind, reason)


register_provider(SandboxProvider())


def decide(txn_id: str, outcome: str) -> SandboxTransaction:
    """The buyer's choice on the hosted page: ``pay``, ``fail`` or ``cancel`` (once)."""
    txn = db.session.get(SandboxTransaction, txn_id, with_for_update=True)
    if txn is None or txn.kind != "payment":
        raise SandboxError("no such transaction")
    if txn.status != "pending":
        return txn
    kind, reason = {
        "pay": ("payment.succeeded", None),
        "fail": ("payment.failed", "card declined (sandbox)"),
        "cancel": ("payment.cancelled", "cancelled by the buyer"),
    }[outcome]
    txn.status = kind.split(".")[1]
    txn.settled_at = datetime.now(UTC)
    db.session.flush()
    notify(txn, kind, reason)
    return txn


def notify(txn: SandboxTransaction, kind: str, reason: str | None = None) -> None:
    """Queue the notification of ``kind`` about ``txn`` (after commit); twice when so configured."""
    event_id = f"evt_{secrets.token_urlsafe(12)}"
    payload = {
        "event_id": event_id,
        "kind": kind,
        "transaction_id": txn.id,
        "amount_cents": txn.amount_cents,
        "reason": reason,
        "created": int(time.time()),
    }
    copies = 2 if current_app.config.get("SANDBOX_DUPLICATE_NOTIFICATIONS") else 1
    for _copy in range(copies):
        enqueue(deliver_notification, payload)


class NotAcknowledged(RuntimeError):
    """The mall did not answer 200: the job fails and is retried."""


@platform_job(queue="default")
def deliver_notification(payload: dict) -> int:
    """POST the signed notification to the mall's callback; anything but 200 is retried."""
    body = json.dumps(payload, separators=(",", ":")).encode()
    client = current_app.test_client()
    response = client.post(
        "/payments/notify/sandbox",
        base_url=current_app.config.get("MALL_BASE_URL") or "http://localhost",  # a host the mall trusts
        data=body,
        headers={SIGNATURE_HEADER: sign(body), "Content-Type": "application/json"},
    )
    if response.status_code != 200:
        raise NotAcknowledged(f"callback answered {response.status_code}: {response.get_data(as_text=True)[:200]}")
    return response.status_code


def transaction_report(day_from: datetime | None = None, day_to: datetime | None = None) -> str:
    """The gateway's transactions as CSV (as a provider's reconciliation report)."""
    stmt = select(SandboxTransaction).order_by(SandboxTransaction.created_at, SandboxTransaction.id)
    if day_from is not None:
        stmt = stmt.where(SandboxTransaction.created_at >= day_from)
    if day_to is not None:
        stmt = stmt.where(SandboxTransaction.created_at < day_to)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        ["transaction_id", "kind", "merchant_ref", "parent_id", "amount_cents", "status", "created_at", "settled_at"]
    )
    for txn in db.session.scalars(stmt):
        writer.writerow(
            [
                txn.id,
                txn.kind,
                txn.merchant_ref,
                txn.parent_id or "",
                txn.amount_cents,
                txn.status,
                txn.created_at.isoformat(),
                txn.settled_at.isoformat() if txn.settled_at else "",
            ]
        )
    return out.getvalue()
