"""Finance reports for operators (P-07): by day or month, and by store.

- GMV: what buyers paid for orders (by the day they paid);
- refunds: what was given back (by the day it was asked of the provider);
- commission earned, payout fees, penalties, platform-funded discounts: what the ledger's revenue
  and expense accounts took in each period;
- paid out: what withdrawals paid to stores' banks;
- now: what the mall owes stores (pending, settleable, balance, being withdrawn) and deposits held.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select

from mall.extensions import db
from mall.finance.models import Withdrawal
from mall.ledger.models import JournalEntry, JournalLine, LedgerAccount
from mall.ledger.services import platform_account
from mall.merchants.models import Merchant
from mall.payments.models import Refund
from mall.trading.models import Order

PAID = ("paid", "partially_shipped", "shipped", "received", "completed")
LEDGER_FIGURES = {
    "commission_cents": (platform_account("commission_revenue"), -1),
    "payout_fees_cents": (platform_account("payout_fees"), -1),
    "penalties_cents": (platform_account("penalties"), -1),
    "discounts_cents": (platform_account("discount_expense"), 1),
}


@dataclass
class Period:
    label: str
    gmv_cents: int = 0
    orders: int = 0
    refunds_cents: int = 0
    commission_cents: int = 0
    payout_fees_cents: int = 0
    penalties_cents: int = 0
    discounts_cents: int = 0
    paid_out_cents: int = 0


@dataclass
class Report:
    periods: list[Period]
    totals: Period
    owed: dict[str, int] = field(default_factory=dict)
    by_store: list[dict] = field(default_factory=list)

    @property
    def peak_gmv(self) -> int:
        return max([p.gmv_cents for p in self.periods] + [1])


def _bucket(column, unit: str):
    return func.to_char(
        func.date_trunc(unit, func.timezone("UTC", column)), "YYYY-MM-DD" if unit == "day" else "YYYY-MM"
    )


def report(start: datetime, end: datetime, unit: str = "day") -> Report:
    """Figures per day (or month) between ``start`` and ``end``, with totals and the store table."""
    unit = "month" if unit == "month" else "day"
    periods: dict[str, Period] = {}

    def at(label: str) -> Period:
        return periods.setdefault(label, Period(label))

    paid_in = (Order.paid_at >= start, Order.paid_at < end, Order.status.in_((*PAID, "cancelled")))
    bucket = _bucket(Order.paid_at, unit)
    for label, gmv, count in db.session.execute(
        select(bucket, func.sum(Order.total_cents), func.count()).where(*paid_in).group_by(bucket)
    ):
        at(label).gmv_cents, at(label).orders = int(gmv), count
    bucket = _bucket(Refund.created_at, unit)
    for label, amount in db.session.execute(
        select(bucket, func.sum(Refund.amount_cents))
        .where(Refund.created_at >= start, Refund.created_at < end)
        .group_by(bucket)
    ):
        at(label).refunds_cents = int(amount)
    bucket = _bucket(JournalEntry.created_at, unit)
    for name, (code, sign) in LEDGER_FIGURES.items():
        for label, amount in db.session.execute(
            select(bucket, func.sum(JournalLine.amount_cents))
            .join(JournalEntry, JournalEntry.id == JournalLine.entry_id)
            .join(LedgerAccount, LedgerAccount.id == JournalLine.account_id)
            .where(LedgerAccount.code == code, JournalEntry.created_at >= start, JournalEntry.created_at < end)
            .group_by(bucket)
        ):
            setattr(at(label), name, sign * int(amount))
    bucket = _bucket(Withdrawal.settled_at, unit)
    for label, amount in db.session.execute(
        select(bucket, func.sum(Withdrawal.amount_cents - Withdrawal.fee_cents))
        .where(Withdrawal.status == "paid", Withdrawal.settled_at >= start, Withdrawal.settled_at < end)
        .group_by(bucket)
    ):
        at(label).paid_out_cents = int(amount)
    ordered = [periods[k] for k in sorted(periods)]
    totals = Period("total")
    for period in ordered:
        for name in vars(totals):
            if name != "label":
                setattr(totals, name, getattr(totals, name) + getattr(period, name))
    return Report(ordered, totals, owed=_owed(), by_store=_by_store(start, end))


def _owed() -> dict[str, int]:
    """What the mall owes all stores now, by state, and the deposits it holds (normal balances)."""
    owed = {}
    for name in ("pending", "available", "balance", "withdrawing", "deposit"):
        owed[name] = -int(
            db.session.scalar(
                select(func.coalesce(func.sum(LedgerAccount.balance_cents), 0)).where(
                    LedgerAccount.code.like(f"merchant:%:{name}")
                )
            )
        )
    return owed


def _by_store(start: datetime, end: datetime) -> list[dict]:
    rows = db.session.execute(
        select(Merchant.id, Merchant.name, func.sum(Order.total_cents), func.sum(Order.refunded_cents), func.count())
        .join(Order, Order.merchant_id == Merchant.id)
        .where(Order.paid_at >= start, Order.paid_at < end)
        .group_by(Merchant.id, Merchant.name)
        .order_by(func.sum(Order.total_cents).desc())
        .limit(100)
    ).all()
    balances = {
        (merchant_id, code.rsplit(":", 1)[1]): -balance
        for merchant_id, code, balance in db.session.execute(
            select(LedgerAccount.merchant_id, LedgerAccount.code, LedgerAccount.balance_cents).where(
                LedgerAccount.merchant_id.in_([r[0] for r in rows])
            )
        )
    }
    return [
        {
            "merchant_id": merchant_id,
            "name": name,
            "gmv_cents": int(gmv or 0),
            "refunded_cents": int(refunded or 0),
            "orders": count,
            "owed_cents": sum(balances.get((merchant_id, n), 0) for n in ("pending", "available", "balance")),
        }
        for merchant_id, name, gmv, refunded, count in rows
    ]
