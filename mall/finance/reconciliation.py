"""Reconciliation (P-07): the mall's records against the providers' own.

Payments and refunds are matched with the sandbox gateway's transaction report, payouts with the
sandbox bank's; each succeeded payment must also have its ledger entry. Every record lands in one
bucket: matched, amount mismatch, missing at the provider (we count it, they do not), or missing in
the mall (they count it, we do not). Finance sees the differences and exports them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from mall.extensions import db
from mall.finance.models import SandboxPayout, Withdrawal
from mall.ledger.models import JournalEntry
from mall.payments.models import Payment, Refund, SandboxTransaction

BUCKETS = ("matched", "mismatch", "missing_at_provider", "missing_in_mall", "missing_in_ledger")


@dataclass
class Row:
    kind: str  # payment | refund | payout
    reference: str  # the provider's id
    ours_cents: int | None
    theirs_cents: int | None
    bucket: str
    at: datetime | None


def _bucket(ours_ok: bool, theirs_ok: bool, ours: int | None, theirs: int | None) -> str:
    if ours_ok and theirs_ok:
        return "matched" if ours == theirs else "mismatch"
    if ours_ok:
        return "missing_at_provider"
    return "missing_in_mall"


def _compare(kind: str, reference: str, ours_ok: bool, ours_cents: int | None, theirs, at) -> Row | None:
    """One record as the mall and the provider (``theirs``: its record, or None) see it; None when
    neither counts it as done."""
    theirs_ok = theirs is not None and theirs.status == "succeeded"
    if not ours_ok and not theirs_ok:
        return None
    theirs_cents = theirs.amount_cents if theirs is not None else None
    return Row(kind, reference, ours_cents if ours_ok else None, theirs_cents if theirs_ok else None,
               _bucket(ours_ok, theirs_ok, ours_cents, theirs_cents), at)  # fmt: skip


def reconcile(start: datetime, end: datetime) -> list[Row]:
    """Every payment, refund and payout either side counts as done between ``start`` and ``end``."""
    rows: list[Row] = []
    theirs = {
        t.id: t
        for t in db.session.scalars(
            select(SandboxTransaction).where(
                SandboxTransaction.created_at >= start, SandboxTransaction.created_at < end
            )
        )
    }
    payments = list(
        db.session.scalars(
            select(Payment).where(Payment.provider == "sandbox", Payment.created_at >= start, Payment.created_at < end)
        )
    )
    captured = set(
        db.session.scalars(
            select(JournalEntry.reference).where(
                JournalEntry.kind == "payment_captured",
                JournalEntry.reference.in_([f"payment:{p.id}" for p in payments]),
            )
        )
    )
    seen = set()
    for payment in payments:
        txn = theirs.get(payment.provider_ref or "")
        seen.add(payment.provider_ref)
        row = _compare("payment", payment.provider_ref or f"payment:{payment.id}", payment.status == "succeeded",
                       payment.amount_cents, txn, payment.settled_at or payment.created_at)  # fmt: skip
        if row is not None:
            if row.bucket == "matched" and f"payment:{payment.id}" not in captured:
                row.bucket = "missing_in_ledger"
            rows.append(row)
    refunds = db.session.scalars(
        select(Refund).where(Refund.created_at >= start, Refund.created_at < end, Refund.provider_ref.is_not(None))
    )
    for refund in refunds:
        seen.add(refund.provider_ref)
        rows.append(_compare("refund", refund.provider_ref, refund.status == "succeeded", refund.amount_cents,
                             theirs.get(refund.provider_ref), refund.settled_at or refund.created_at))  # fmt: skip
    for txn in theirs.values():
        if txn.id not in seen:
            rows.append(_compare(txn.kind, txn.id, False, None, txn, txn.settled_at))
    payouts = {
        p.id: p
        for p in db.session.scalars(
            select(SandboxPayout).where(SandboxPayout.created_at >= start, SandboxPayout.created_at < end)
        )
    }
    for withdrawal in db.session.scalars(
        select(Withdrawal).where(Withdrawal.payout_ref.is_not(None), Withdrawal.created_at >= start,
                                 Withdrawal.created_at < end)
    ):  # fmt: skip
        payout = payouts.pop(withdrawal.payout_ref, None)
        at = withdrawal.settled_at or withdrawal.created_at
        rows.append(
            _compare("payout", withdrawal.payout_ref, withdrawal.status == "paid", withdrawal.net_cents, payout, at)
        )
    for payout in payouts.values():
        rows.append(_compare("payout", payout.id, False, None, payout, payout.settled_at))
    rows = [row for row in rows if row is not None]
    order = {bucket: index for index, bucket in enumerate(BUCKETS)}
    return sorted(rows, key=lambda r: (order[r.bucket] == 0, order[r.bucket], r.kind, r.reference))


def summary(rows: list[Row]) -> dict[str, int]:
    counts = dict.fromkeys(BUCKETS, 0)
    for row in rows:
        counts[row.bucket] += 1
    return counts


EXPORT_COLUMNS = ("kind", "reference", "mall", "provider", "result", "at")


def export_rows(rows: list[Row]):
    from mall.catalog.money import format_yuan

    for row in rows:
        yield [
            row.kind,
            row.reference,
            format_yuan(row.ours_cents) if row.ours_cents is not None else "",
            format_yuan(row.theirs_cents) if row.theirs_cents is not None else "",
            row.bucket,
            row.at.isoformat(timespec="seconds") if row.at else "",
        ]
