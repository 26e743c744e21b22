"""Ledger tables in the platform schema.

Amounts are signed integer cents on each line: a debit is positive, a credit negative, and the lines
of an entry sum to zero. An account's balance is the sum of its lines (``balance_cents`` caches it,
updated in the posting transaction). The database enforces the two rules that must never break:
journal rows cannot be updated or deleted, and an INSERT that leaves an entry unbalanced fails
(triggers in the ledger migration).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, DateTime, ForeignKey, Index, String, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mall.extensions import db

ACCOUNT_KINDS = ("asset", "liability", "revenue", "expense")


class LedgerAccount(db.Model):
    """One account: a platform account (``platform:provider_clearing``) or one of a merchant's
    (``merchant:42:pending``). Created on first use by the posting service."""

    __tablename__ = "ledger_accounts"
    __table_args__ = (CheckConstraint(f"kind IN {ACCOUNT_KINDS}", name="kind"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    code: Mapped[str] = mapped_column(String(80), unique=True)
    kind: Mapped[str] = mapped_column(String(12))
    merchant_id: Mapped[int | None] = mapped_column(ForeignKey("merchants.id", ondelete="RESTRICT"), index=True)
    currency: Mapped[str] = mapped_column(String(3), default="CNY", server_default="CNY")
    balance_cents: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")  # debits - credits
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    @property
    def normal_balance_cents(self) -> int:
        """The balance as the account's side reads it: assets and expenses debit, the others credit."""
        return self.balance_cents if self.kind in ("asset", "expense") else -self.balance_cents


class JournalEntry(db.Model):
    """One balanced posting: what happened (``kind``), to what (``reference``, e.g. ``payment:12``)."""

    __tablename__ = "journal_entries"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    reference: Mapped[str] = mapped_column(String(80), index=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(120), unique=True)
    memo: Mapped[str | None] = mapped_column(String(300))
    currency: Mapped[str] = mapped_column(String(3), default="CNY", server_default="CNY")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    lines: Mapped[list[JournalLine]] = relationship(back_populates="entry", order_by="JournalLine.id")


class JournalLine(db.Model):
    __tablename__ = "journal_lines"
    __table_args__ = (
        CheckConstraint("amount_cents <> 0", name="amount_not_zero"),
        Index("ix_journal_lines_account_id_id", "account_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("journal_entries.id", ondelete="RESTRICT"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id", ondelete="RESTRICT"))
    amount_cents: Mapped[int] = mapped_column(BigInteger)  # debit > 0, credit < 0

    entry: Mapped[JournalEntry] = relationship(back_populates="lines")
    account: Mapped[LedgerAccount] = relationship(lazy="joined")
