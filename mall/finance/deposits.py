"""Store deposits (P-07): the deposit asked for at onboarding is an account in the ledger
(``merchant:<id>:deposit``). Finance records it paid or topped up (money into the mall's bank),
deducts penalties from it with a reason (the store is told, and owes the difference as a new
top-up), and refunds it when the store has closed and everything it owes or is owed is settled; a
negative balance is taken from the deposit first. Every step is audited and posted."""

from __future__ import annotations

from sqlalchemy import func, select

from mall.audit.services import record_audit
from mall.catalog.money import format_cents
from mall.errors import DomainError, NotFound, PermissionDenied
from mall.extensions import db
from mall.finance.adjustments import positive_amount, reason_text
from mall.i18n import L_, _
from mall.identity.access import has_operator_permission
from mall.identity.models import User
from mall.ledger.models import LedgerAccount
from mall.ledger.services import merchant_account, normal_balance, platform_account, post
from mall.merchants.models import Merchant
from mall.merchants.services import notify_staff
from mall.trading.models import Order


class DepositError(DomainError):
    pass


def _finance(actor: User) -> None:
    if not has_operator_permission(actor, "finance.manage"):
        raise PermissionDenied(_("You do not have permission to change deposits."))


def _merchant(merchant_id: int) -> Merchant:
    merchant = db.session.scalar(select(Merchant).where(Merchant.id == merchant_id).with_for_update())
    if merchant is None:
        raise NotFound(_("This store does not exist."))
    return merchant


def held(merchant_id: int) -> int:
    return normal_balance(merchant_account(merchant_id, "deposit"))


def record_payment(actor: User, merchant_id: int, amount: str, reference: str | None) -> None:
    """The store's deposit (or a top-up) arrived in the mall's bank account."""
    _finance(actor)
    merchant = _merchant(merchant_id)
    cents = positive_amount(amount)
    reference = reason_text(reference)
    post(
        "deposit_paid",
        f"merchant:{merchant.id}",
        [(platform_account("bank"), cents), (merchant_account(merchant.id, "deposit"), -cents)],
        memo=reference,
        actor_id=actor.id,
    )
    merchant.deposit_due_cents = max(0, merchant.deposit_due_cents - cents)
    record_audit("deposit.paid", area="platform", merchant_id=merchant.id, obj=merchant,
                 changes={"deposit_cents": [None, cents], "reference": [None, reference]})  # fmt: skip


def deduct(actor: User, merchant_id: int, amount: str, reason: str | None) -> None:
    """A penalty taken from the deposit; the store is to top it up again."""
    _finance(actor)
    merchant = _merchant(merchant_id)
    cents, reason = positive_amount(amount), reason_text(reason)
    _lock(merchant.id)
    if cents > held(merchant.id):
        raise DepositError(_("The deposit holds only ¥%(held)s.", held=format_cents(held(merchant.id))), field="amount")
    post(
        "deposit_deducted",
        f"merchant:{merchant.id}",
        [(merchant_account(merchant.id, "deposit"), cents), (platform_account("penalties"), -cents)],
        memo=reason,
        actor_id=actor.id,
    )
    merchant.deposit_due_cents += cents
    record_audit("deposit.deduct", area="platform", merchant_id=merchant.id, obj=merchant,
                 changes={"deposit_cents": [None, -cents], "reason": [None, reason]})  # fmt: skip
    notify_staff(
        merchant.id,
        "finance.view",
        L_("Deposit deducted"),
        L_("¥%(amount)s was deducted from your deposit: %(reason)s. Please top it up.",
           amount=format_cents(cents), reason=reason),
    )  # fmt: skip


def _lock(merchant_id: int) -> None:
    code = merchant_account(merchant_id, "deposit")
    db.session.execute(select(LedgerAccount.id).where(LedgerAccount.code == code).with_for_update())


def outstanding(merchant_id: int) -> list[str]:
    """What still stands between a closed store and its deposit (empty: it can be refunded)."""
    problems = []
    merchant = db.session.get(Merchant, merchant_id)
    if merchant.status != "closed":
        problems.append(_("The store is not closed."))
    open_orders = db.session.scalar(
        select(func.count()).where(
            Order.merchant_id == merchant_id, Order.status.not_in(("completed", "cancelled", "closed"))
        )
    )
    if open_orders:
        problems.append(_("%(n)d orders are not finished.", n=open_orders))
    for name, label in (
        ("pending", L_("money of unfinished orders")),
        ("available", L_("settleable money not yet on a statement")),
        ("withdrawing", L_("withdrawals being paid")),
    ):
        if normal_balance(merchant_account(merchant_id, name)):
            problems.append(_("There is %(what)s.", what=label))
    if normal_balance(merchant_account(merchant_id, "balance")) > 0:
        problems.append(_("The store still has a balance to withdraw."))
    return problems


def refund(actor: User, merchant_id: int) -> int:
    """Give a closed store its deposit back (less what its balance owes); returns what was paid."""
    _finance(actor)
    merchant = _merchant(merchant_id)
    _lock(merchant.id)
    problems = outstanding(merchant.id)
    if problems:
        raise DepositError(" ".join(problems))
    deposit = held(merchant.id)
    owed = -min(0, normal_balance(merchant_account(merchant.id, "balance")))  # a negative balance
    taken = min(owed, deposit)
    postings = [(merchant_account(merchant.id, "deposit"), deposit)]
    if taken:
        postings.append((merchant_account(merchant.id, "balance"), -taken))
    if deposit - taken:
        postings.append((platform_account("bank"), -(deposit - taken)))
    if deposit:
        post("deposit_refunded", f"merchant:{merchant.id}", postings, actor_id=actor.id,
             idempotency_key=f"merchant:{merchant.id}:deposit_refunded")  # fmt: skip
    record_audit("deposit.refund", area="platform", merchant_id=merchant.id, obj=merchant,
                 changes={"refunded_cents": [None, deposit - taken], "netted_cents": [None, taken]})  # fmt: skip
    return deposit - taken


def deposits_overview() -> list[tuple[Merchant, int]]:
    """Every store with the deposit it holds (one query for the ledger side)."""
    held_by = dict(
        db.session.execute(
            select(LedgerAccount.merchant_id, LedgerAccount.balance_cents).where(
                LedgerAccount.code.like("merchant:%:deposit")
            )
        ).all()
    )
    merchants = list(db.session.scalars(select(Merchant).order_by(Merchant.id)))
    return [(merchant, -held_by.get(merchant.id, 0)) for merchant in merchants]
