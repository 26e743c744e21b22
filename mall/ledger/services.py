"""Posting to the ledger, and proving it is right.

``post`` is the only writer of journal entries. The callers (payments, orders, refunds, settlements)
say which accounts move by how much; the ledger checks the postings balance, creates accounts on
first use, writes the entry and its lines in the caller's transaction and keeps each account's
cached balance in step. With an ``idempotency_key`` a second post of the same event returns the
first entry and changes nothing (a retried job, a duplicate payment notification).

Chart of accounts (signed cents, debit positive):

- ``platform:provider_clearing`` (asset): money the payment providers hold for the mall;
- ``platform:commission_deferred`` (liability): commission frozen on paid lines, not yet earned;
- ``platform:commission_revenue`` (revenue): commission earned on settled lines;
- ``platform:discount_expense`` (expense): discounts the platform funds;
- ``platform:refunds_due`` (liability): paid money that belongs to no live order, owed back to the buyer;
- ``platform:bank`` (asset): the mall's bank account (payouts, deposits);
- ``platform:payout_fees`` (revenue): withdrawal fees;
- ``platform:merchant_adjustments`` (expense): finance's manual credits to stores, less deductions;
- ``platform:penalties`` (revenue): deductions from store deposits;
- ``merchant:<id>:pending`` (liability): owed to the merchant for paid orders, not yet settleable;
- ``merchant:<id>:available`` (liability): settleable (completed orders past their after-sales
  window, refunds and adjustments after completion), waiting for a settlement statement;
- ``merchant:<id>:balance`` (liability): settled by a confirmed statement, may be withdrawn; a
  debit balance means the merchant owes the mall, netted against its next statements;
- ``merchant:<id>:withdrawing`` (liability): held for withdrawals being reviewed or paid out;
- ``merchant:<id>:deposit`` (liability): the store deposit held by the mall.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from mall.extensions import db
from mall.ledger.models import JournalEntry, JournalLine, LedgerAccount

CURRENCY = "CNY"
PLATFORM_ACCOUNTS = {
    "provider_clearing": "asset",
    "commission_deferred": "liability",
    "commission_revenue": "revenue",
    "discount_expense": "expense",
    "refunds_due": "liability",
    "bank": "asset",
    "payout_fees": "revenue",
    "merchant_adjustments": "expense",
    "penalties": "revenue",
}
MERCHANT_ACCOUNTS = {
    "pending": "liability",
    "available": "liability",
    "balance": "liability",
    "withdrawing": "liability",
    "deposit": "liability",
}


class LedgerError(Exception):
    """A posting the ledger refuses: a bug in the caller, never a user's mistake."""


def platform_account(name: str) -> str:
    if name not in PLATFORM_ACCOUNTS:
        raise LedgerError(f"unknown platform account {name!r}")
    return f"platform:{name}"


def merchant_account(merchant_id: int, name: str) -> str:
    if name not in MERCHANT_ACCOUNTS:
        raise LedgerError(f"unknown merchant account {name!r}")
    return f"merchant:{int(merchant_id)}:{name}"


def _describe(code: str) -> tuple[str, int | None]:
    """(kind, merchant id) of an account code."""
    parts = code.split(":")
    if len(parts) == 2 and parts[0] == "platform" and parts[1] in PLATFORM_ACCOUNTS:
        return PLATFORM_ACCOUNTS[parts[1]], None
    if len(parts) == 3 and parts[0] == "merchant" and parts[1].isdigit() and parts[2] in MERCHANT_ACCOUNTS:
        return MERCHANT_ACCOUNTS[parts[2]], int(parts[1])
    raise LedgerError(f"unknown account {code!r}")


def _account_ids(codes: set[str]) -> dict[str, int]:
    """Account id by code, creating the missing ones (concurrent creators: one wins, both read it)."""
    rows = [
        {"code": code, "kind": kind, "merchant_id": merchant_id}
        for code in sorted(codes)
        for kind, merchant_id in [_describe(code)]
    ]
    db.session.execute(pg_insert(LedgerAccount).values(rows).on_conflict_do_nothing(index_elements=["code"]))
    found = dict(
        db.session.execute(select(LedgerAccount.code, LedgerAccount.id).where(LedgerAccount.code.in_(codes))).all()
    )
    return found


def post(
    kind: str,
    reference: str,
    postings: Iterable[tuple[str, int]],
    *,
    idempotency_key: str | None = None,
    memo: str | None = None,
    actor_id: int | None = None,
) -> JournalEntry:
    """Write one balanced entry: ``postings`` are (account code, signed cents), debits positive.

    Amounts must be ints (never floats or Decimals) and sum to zero; zero amounts are left out and
    at least two lines must remain. Raises ``LedgerError`` otherwise, before anything is written.
    """
    lines: Counter[str] = Counter()
    for code, amount in postings:
        if type(amount) is not int:
            raise LedgerError(f"amount for {code} must be int cents, not {type(amount).__name__}")
        _describe(code)
        lines[code] += amount
    lines = Counter({code: amount for code, amount in lines.items() if amount})
    if len(lines) < 2:
        raise LedgerError(f"{kind} {reference}: an entry needs two accounts with non-zero amounts")
    if sum(lines.values()) != 0:
        raise LedgerError(f"{kind} {reference}: debits and credits differ by {sum(lines.values())} cents")
    values = {
        "kind": kind,
        "reference": reference,
        "idempotency_key": idempotency_key,
        "memo": memo,
        "currency": CURRENCY,
        "created_by_id": actor_id,
    }
    if idempotency_key is not None:
        entry_id = db.session.scalar(
            pg_insert(JournalEntry)
            .values(values)
            .on_conflict_do_nothing(index_elements=["idempotency_key"])
            .returning(JournalEntry.id)
        )
        if entry_id is None:  # posted before: that entry stands
            return db.session.scalar(select(JournalEntry).where(JournalEntry.idempotency_key == idempotency_key))
    else:
        entry_id = db.session.scalar(insert(JournalEntry).values(values).returning(JournalEntry.id))
    ids = _account_ids(set(lines))
    # One INSERT for all lines: the database's balance trigger checks the entry per statement.
    db.session.execute(
        insert(JournalLine).values(
            [
                {"entry_id": entry_id, "account_id": ids[code], "amount_cents": amount}
                for code, amount in sorted(lines.items())
            ]
        )
    )
    for code in sorted(lines, key=ids.get):  # in id order: concurrent posts lock accounts alike
        db.session.execute(
            update(LedgerAccount)
            .where(LedgerAccount.id == ids[code])
            .values(balance_cents=LedgerAccount.balance_cents + lines[code])
        )
    return db.session.get(JournalEntry, entry_id)


def balance(code: str) -> int:
    """The account's balance in signed cents (debits - credits); 0 for an account never used."""
    _describe(code)
    return db.session.scalar(select(LedgerAccount.balance_cents).where(LedgerAccount.code == code)) or 0


def normal_balance(code: str) -> int:
    """The balance as the account's side reads it (what a liability owes is positive)."""
    kind, _merchant = _describe(code)
    value = balance(code)
    return value if kind in ("asset", "expense") else -value


def entries_for(reference: str) -> list[JournalEntry]:
    return list(
        db.session.scalars(select(JournalEntry).where(JournalEntry.reference == reference).order_by(JournalEntry.id))
    )


@dataclass
class LedgerCheck:
    """What ``check_ledger`` found: empty lists mean every rule holds."""

    entries: int = 0
    lines: int = 0
    accounts: int = 0
    unbalanced: list[tuple[int, int, int]] = field(default_factory=list)  # entry id, sum, line count
    wrong_balances: list[tuple[str, int, int]] = field(default_factory=list)  # code, cached, sum of lines
    mixed_currency: list[int] = field(default_factory=list)  # entry ids

    @property
    def ok(self) -> bool:
        return not (self.unbalanced or self.wrong_balances or self.mixed_currency)


def check_ledger() -> LedgerCheck:
    """Prove the ledger: every entry has two or more lines summing to zero, every account's cached
    balance equals the sum of its lines, and an entry's accounts share its currency."""
    result = LedgerCheck()
    result.entries = db.session.scalar(select(func.count()).select_from(JournalEntry))
    result.lines = db.session.scalar(select(func.count()).select_from(JournalLine))
    result.accounts = db.session.scalar(select(func.count()).select_from(LedgerAccount))
    per_entry = (
        select(JournalEntry.id, func.coalesce(func.sum(JournalLine.amount_cents), 0), func.count(JournalLine.id))
        .outerjoin(JournalLine, JournalLine.entry_id == JournalEntry.id)
        .group_by(JournalEntry.id)
        .having((func.coalesce(func.sum(JournalLine.amount_cents), 0) != 0) | (func.count(JournalLine.id) < 2))
        .order_by(JournalEntry.id)
    )
    result.unbalanced = [(int(i), int(s), int(n)) for i, s, n in db.session.execute(per_entry)]
    summed = func.coalesce(func.sum(JournalLine.amount_cents), 0)
    per_account = (
        select(LedgerAccount.code, LedgerAccount.balance_cents, summed)
        .outerjoin(JournalLine, JournalLine.account_id == LedgerAccount.id)
        .group_by(LedgerAccount.id)
        .having(LedgerAccount.balance_cents != summed)
        .order_by(LedgerAccount.code)
    )
    result.wrong_balances = [(code, int(cached), int(s)) for code, cached, s in db.session.execute(per_account)]
    mixed = (
        select(JournalEntry.id)
        .join(JournalLine, JournalLine.entry_id == JournalEntry.id)
        .join(LedgerAccount, LedgerAccount.id == JournalLine.account_id)
        .where(LedgerAccount.currency != JournalEntry.currency)
        .distinct()
        .order_by(JournalEntry.id)
    )
    result.mixed_currency = list(db.session.scalars(mixed))
    return result
