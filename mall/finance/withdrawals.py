"""Withdrawals and payouts (M-10, P-07).

A store asks to withdraw part of its balance (at least ``MALL_WITHDRAWAL_MIN_CENTS``, never more
than the balance) to the bank account verified at onboarding; the fee is
``MALL_WITHDRAWAL_FEE_BP`` of the amount, at least ``MALL_WITHDRAWAL_FEE_MIN_CENTS``. The amount is
held at once (``balance`` → ``withdrawing``), so two requests cannot spend the same money. Finance
rejects (the hold goes back) or approves: the payout provider is asked to pay the net amount. Its
answer comes later: paid (``withdrawing`` → the mall's bank, the fee to ``payout_fees``) or failed
with a reason (the hold goes back to the balance). A payout is keyed by its withdrawal, so a retried
approval or a duplicate result never pays twice.

The built-in sandbox bank keeps its own books (``SandboxPayout``), settles each payout by a job, and
fails accounts ending in ``MALL_SANDBOX_PAYOUT_FAIL_SUFFIX`` ("account closed").
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Protocol

from flask import current_app
from sqlalchemy import func, select

from mall.audit.services import record_audit
from mall.catalog.money import format_cents, parse_yuan
from mall.catalog.paging import Page, paged
from mall.errors import DomainError, NotFound, PermissionDenied
from mall.extensions import db
from mall.finance.adjustments import reason_text
from mall.finance.models import SandboxPayout, Statement, Withdrawal
from mall.i18n import L_, _
from mall.identity.access import has_operator_permission
from mall.identity.models import User
from mall.jobs.core import enqueue, platform_job
from mall.ledger.models import LedgerAccount
from mall.ledger.services import merchant_account, normal_balance, platform_account, post
from mall.merchants.services import notify_staff, require_staff_permission
from mall.onboarding.models import MerchantApplication
from mall.tenancy.binding import require_merchant_id

STATUS_LABELS = {
    "requested": L_("Waiting for review"),
    "paying": L_("Being paid"),
    "paid": L_("Paid"),
    "failed": L_("Payout failed"),
    "rejected": L_("Rejected"),
}


class WithdrawalError(DomainError):
    pass


def status_label(status: str) -> str:
    return str(STATUS_LABELS.get(status, status))


def fee_for(amount_cents: int) -> int:
    bp, least = current_app.config["MALL_WITHDRAWAL_FEE_BP"], current_app.config["MALL_WITHDRAWAL_FEE_MIN_CENTS"]
    return max(least, (amount_cents * bp + 5000) // 10000)


def bank_account(merchant_id: int) -> MerchantApplication | None:
    """The bank account verified when the store's application was approved."""
    return db.session.scalar(
        select(MerchantApplication)
        .where(
            MerchantApplication.merchant_id == merchant_id,
            MerchantApplication.status == "approved",
            MerchantApplication.bank_account_number.is_not(None),
        )
        .order_by(MerchantApplication.id.desc())
        .limit(1)
    )


def balances(merchant_id: int) -> dict[str, int]:
    """The store's money by state (what the mall owes it; a negative balance is owed to the mall)."""
    return {
        name: normal_balance(merchant_account(merchant_id, name))
        for name in ("pending", "available", "balance", "withdrawing", "deposit")
    }


def _lock_balance(merchant_id: int) -> int:
    """The store's balance with its ledger row locked (no concurrent request spends it twice)."""
    code = merchant_account(merchant_id, "balance")
    db.session.execute(select(LedgerAccount.id).where(LedgerAccount.code == code).with_for_update())
    return normal_balance(code)


def request_withdrawal(actor: User, amount: str) -> Withdrawal:
    """The store asks to be paid ``amount`` (yuan text) of its balance."""
    require_staff_permission(actor, "finance.manage")
    merchant_id = require_merchant_id()
    cents = parse_yuan(amount, field="amount")
    least = current_app.config["MALL_WITHDRAWAL_MIN_CENTS"]
    if cents < least:
        raise WithdrawalError(_("The least you can withdraw is ¥%(min)s.", min=format_cents(least)), field="amount")
    account = bank_account(merchant_id)
    if account is None:
        raise WithdrawalError(_("Your store has no verified bank account. Contact the mall."))
    balance = _lock_balance(merchant_id)
    if cents > balance:
        raise WithdrawalError(
            _("You can withdraw at most ¥%(balance)s.", balance=format_cents(max(balance, 0))), field="amount"
        )
    fee = fee_for(cents)
    if fee >= cents:
        raise WithdrawalError(_("The fee would take all of it: withdraw more."), field="amount")
    withdrawal = Withdrawal(
        merchant_id=merchant_id,
        amount_cents=cents,
        fee_cents=fee,
        account_name=account.bank_account_name or "",
        bank_name=account.bank_name or "",
        account_number=account.bank_account_number,
        requested_by_id=actor.id,
    )
    db.session.add(withdrawal)
    db.session.flush()
    post(
        "withdrawal_held",
        f"withdrawal:{withdrawal.id}",
        [(merchant_account(merchant_id, "balance"), cents), (merchant_account(merchant_id, "withdrawing"), -cents)],
        idempotency_key=f"withdrawal:{withdrawal.id}:held",
        actor_id=actor.id,
    )
    record_audit("withdrawal.request", area="merchant", merchant_id=merchant_id, obj=withdrawal)
    return withdrawal


def _finance(actor: User) -> None:
    if not has_operator_permission(actor, "finance.manage"):
        raise PermissionDenied(_("You do not have permission to review withdrawals."))


def _locked(withdrawal_id: int) -> Withdrawal:
    withdrawal = db.session.scalar(select(Withdrawal).where(Withdrawal.id == withdrawal_id).with_for_update())
    if withdrawal is None:
        raise NotFound(_("This withdrawal does not exist."))
    return withdrawal


def _release(withdrawal: Withdrawal, why: str) -> None:
    post(
        "withdrawal_released",
        f"withdrawal:{withdrawal.id}",
        [
            (merchant_account(withdrawal.merchant_id, "withdrawing"), withdrawal.amount_cents),
            (merchant_account(withdrawal.merchant_id, "balance"), -withdrawal.amount_cents),
        ],
        idempotency_key=f"withdrawal:{withdrawal.id}:released",
        memo=why[:300],
    )


def reject_withdrawal(actor: User, withdrawal_id: int, reason: str | None) -> Withdrawal:
    _finance(actor)
    reason = reason_text(reason)
    withdrawal = _locked(withdrawal_id)
    if withdrawal.status != "requested":
        raise WithdrawalError(_("This withdrawal was decided already."))
    withdrawal.status, withdrawal.reject_reason = "rejected", reason
    withdrawal.decided_by_id, withdrawal.decided_at = actor.id, datetime.now(UTC)
    _release(withdrawal, reason)
    record_audit("withdrawal.reject", area="platform", merchant_id=withdrawal.merchant_id, obj=withdrawal)
    _tell_store(withdrawal, L_("Withdrawal rejected"), L_("Reason: %(reason)s", reason=reason))
    return withdrawal


def approve_withdrawal(actor: User, withdrawal_id: int) -> Withdrawal:
    """Finance approves: the payout provider is asked to pay (once, however often this is retried)."""
    _finance(actor)
    withdrawal = _locked(withdrawal_id)
    if withdrawal.status == "paying":
        return withdrawal  # a retried approval: the payout is on its way already
    if withdrawal.status != "requested":
        raise WithdrawalError(_("This withdrawal was decided already."))
    withdrawal.status, withdrawal.decided_by_id, withdrawal.decided_at = "paying", actor.id, datetime.now(UTC)
    withdrawal.payout_ref = payout_provider().start_payout(withdrawal)
    record_audit("withdrawal.approve", area="platform", merchant_id=withdrawal.merchant_id, obj=withdrawal)
    return withdrawal


def payout_result(payout_ref: str, succeeded: bool, reason: str | None = None) -> str:
    """The payout provider's answer (applied once; a repeat changes nothing)."""
    withdrawal = db.session.scalar(select(Withdrawal).where(Withdrawal.payout_ref == payout_ref).with_for_update())
    if withdrawal is None:
        return "ignored: unknown payout"
    if withdrawal.status != "paying":
        return f"ignored: already {withdrawal.status}"
    withdrawal.settled_at = datetime.now(UTC)
    if succeeded:
        withdrawal.status = "paid"
        postings = [
            (merchant_account(withdrawal.merchant_id, "withdrawing"), withdrawal.amount_cents),
            (platform_account("bank"), -withdrawal.net_cents),
            (platform_account("payout_fees"), -withdrawal.fee_cents),
        ]
        post("payout", f"withdrawal:{withdrawal.id}", postings, idempotency_key=f"withdrawal:{withdrawal.id}:paid")
        mark_paid_statements(withdrawal.merchant_id)
        _tell_store(
            withdrawal,
            L_("Withdrawal paid"),
            L_("¥%(net)s was paid to your account %(account)s.", net=format_cents(withdrawal.net_cents),
               account=withdrawal.masked_account),
        )  # fmt: skip
        return "paid"
    withdrawal.status, withdrawal.failure_reason = "failed", (reason or "")[:300] or None
    _release(withdrawal, f"payout failed: {reason}")
    _tell_store(
        withdrawal,
        L_("Withdrawal failed"),
        L_("The bank could not pay it (%(reason)s). The money is back in your balance.", reason=reason or ""),
    )
    return "failed"


def mark_paid_statements(merchant_id: int) -> None:
    """Confirmed statements are paid, oldest first, as far as the store's payouts cover them."""
    paid_out = int(
        db.session.scalar(
            select(func.coalesce(func.sum(Withdrawal.amount_cents), 0)).where(
                Withdrawal.merchant_id == merchant_id, Withdrawal.status == "paid"
            )
        )
    )
    covered = 0
    for statement in db.session.scalars(
        select(Statement)
        .where(Statement.merchant_id == merchant_id, Statement.status.in_(("confirmed", "paid")))
        .order_by(Statement.confirmed_at, Statement.id)
    ):
        covered += statement.total_cents
        if statement.status == "confirmed" and covered <= paid_out:
            statement.status, statement.paid_at = "paid", datetime.now(UTC)


def _tell_store(withdrawal: Withdrawal, subject, body) -> None:
    notify_staff(withdrawal.merchant_id, "finance.view", subject, body)


# ---------------------------------------------------------------------------------------------
# The sandbox bank
# ---------------------------------------------------------------------------------------------


class PayoutProvider(Protocol):
    """What the mall needs of a bank or payout service: accept a payout of ``withdrawal.net_cents``
    to its account and return the provider's reference, at most once per withdrawal (a retry gets
    the same reference); report the outcome later through ``payout_result``."""

    code: str

    def start_payout(self, withdrawal: Withdrawal) -> str: ...


def payout_provider() -> PayoutProvider:
    """The configured payout provider (``MALL_PAYOUT_PROVIDER``)."""
    code = current_app.config.get("MALL_PAYOUT_PROVIDER", "sandbox_bank")
    provider = PAYOUT_PROVIDERS.get(code)
    if provider is None:
        raise RuntimeError(f"unknown payout provider {code!r}")
    return provider


class SandboxBank:
    """A payout provider that behaves like a bank: it accepts a payout, settles it later (a job)
    and reports the outcome; it keeps its own records for reconciliation."""

    code = "sandbox_bank"

    @staticmethod
    def start_payout(withdrawal: Withdrawal) -> str:
        existing = db.session.scalar(select(SandboxPayout).where(SandboxPayout.withdrawal_id == withdrawal.id))
        if existing is not None:
            return existing.id
        payout = SandboxPayout(
            id=f"sbx_po_{secrets.token_hex(8)}",
            withdrawal_id=withdrawal.id,
            amount_cents=withdrawal.net_cents,
            account_number=withdrawal.account_number,
        )
        db.session.add(payout)
        db.session.flush()
        enqueue(settle_sandbox_payout, payout.id)
        return payout.id


PAYOUT_PROVIDERS: dict[str, PayoutProvider] = {SandboxBank.code: SandboxBank()}


@platform_job(queue="default")
def settle_sandbox_payout(payout_id: str) -> str:
    """The sandbox bank settles a payout and reports the outcome to the mall."""
    payout = db.session.scalar(select(SandboxPayout).where(SandboxPayout.id == payout_id).with_for_update())
    if payout is None:
        return "unknown"
    if payout.status == "pending":
        suffix = current_app.config["MALL_SANDBOX_PAYOUT_FAIL_SUFFIX"]
        failed = bool(suffix) and payout.account_number.endswith(suffix)
        payout.status = "failed" if failed else "succeeded"
        payout.failure_reason = "account closed" if failed else None
        payout.settled_at = datetime.now(UTC)
    outcome = payout_result(payout.id, payout.status == "succeeded", payout.failure_reason)
    db.session.commit()
    return outcome


# ---------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------


def store_withdrawals(page: int = 1) -> Page:
    stmt = select(Withdrawal).where(Withdrawal.merchant_id == require_merchant_id())
    result = paged(stmt.order_by(Withdrawal.created_at.desc(), Withdrawal.id.desc()), page, 20)
    result.items = [row[0] for row in result.items]
    return result


def all_withdrawals(status: str | None = None, page: int = 1) -> Page:
    stmt = select(Withdrawal)
    if status in STATUS_LABELS:
        stmt = stmt.where(Withdrawal.status == status)
    result = paged(stmt.order_by(Withdrawal.created_at.desc(), Withdrawal.id.desc()), page, 50)
    result.items = [row[0] for row in result.items]
    return result
