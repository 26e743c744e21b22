"""Settlement (P-07, M-10): statements of each store's settleable money, confirmed into its balance.

A store's money becomes settleable (``merchant:<id>:available``) when an order completes, that is
once its after-sales window has closed with no case open; later refunds and finance adjustments
move it too. A settlement run (the periodic ``settle_due`` on the configured cycle, or finance's
button) takes every such ledger movement up to the cutoff that no statement holds yet and writes
one statement per store, a line per movement: order, sales, how its discounts split (the store's
own, and the mall coupon's part the platform paid instead of the buyer, credited to the store as
sales), refunds, commission, adjustments, net.
The statement's total is the sum of those ledger lines, so it matches the ledger to the cent.

The store confirms its statement (or it is confirmed ``MALL_STATEMENT_CONFIRM_DAYS`` later): the
total moves from settleable to the store's withdrawable balance. A negative statement (refunds or
deductions larger than sales) lowers the balance, which may go below zero: the store then owes the
mall and its next statements are netted against it. A statement is paid once the store's payouts
cover it (see ``mall.finance.withdrawals``).

Cycle: ``MALL_SETTLEMENT_DAYS`` (T+N: movements at least N days old are settled) and optionally
``MALL_SETTLEMENT_DAYS_OF_MONTH`` ("1,16": runs only on those days of the month).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import exists, func, select, text

from mall.audit.services import record_audit
from mall.catalog.money import format_cents
from mall.catalog.paging import Page, paged
from mall.errors import DomainError, NotFound, PermissionDenied
from mall.extensions import db
from mall.finance.models import SettlementRun, Statement, StatementLine
from mall.finance.withdrawals import mark_paid_statements
from mall.i18n import L_, _
from mall.identity.access import has_operator_permission
from mall.identity.models import User
from mall.jobs.core import platform_job
from mall.ledger.models import JournalEntry, JournalLine, LedgerAccount
from mall.ledger.services import merchant_account, platform_account, post
from mall.merchants.services import notify_staff, require_staff_permission
from mall.payments.models import Refund
from mall.tenancy.binding import require_merchant_id
from mall.trading.models import Order

RUN_LOCK = 0x5E771E  # pg advisory lock: one settlement run at a time
STATUS_LABELS = {"draft": L_("To confirm"), "confirmed": L_("Confirmed"), "paid": L_("Paid")}
KIND_LABELS = {
    "order_completed": L_("Order completed"),
    "clawback": L_("Refund after completion"),
    "adjustment": L_("Adjustment by finance"),
}


class SettlementError(DomainError):
    pass


def status_label(status: str) -> str:
    return str(STATUS_LABELS.get(status, status))


def kind_label(kind: str) -> str:
    return str(KIND_LABELS.get(kind, kind))


def _unsettled(cutoff: datetime):
    """Ledger lines on stores' settleable accounts up to ``cutoff`` that no statement holds yet."""
    held = exists(select(StatementLine.id).where(StatementLine.journal_line_id == JournalLine.id))
    return (
        select(
            JournalLine.id,
            JournalLine.amount_cents,
            LedgerAccount.merchant_id,
            JournalEntry.id,
            JournalEntry.kind,
            JournalEntry.reference,
            JournalEntry.memo,
            JournalEntry.created_at,
        )
        .join(JournalEntry, JournalEntry.id == JournalLine.entry_id)
        .join(LedgerAccount, LedgerAccount.id == JournalLine.account_id)
        .where(
            LedgerAccount.code.like("merchant:%:available"),
            JournalEntry.kind != "settlement",  # a confirmed statement's own transfer out
            JournalEntry.created_at <= cutoff,
            ~held,
        )
        .order_by(LedgerAccount.merchant_id, JournalEntry.created_at, JournalLine.id)
    )


class _Breakdown:
    """What explains the settleable movements of one run, read in three statements for all of them:
    the orders completed, the refunds each had before completing (later ones are clawback lines of
    their own), and the commission and refund amounts of each journal entry."""

    def __init__(self, rows) -> None:
        order_ids = {_order_id(row[5]) for row in rows if _order_id(row[5])}
        entry_ids = {row[3] for row in rows}
        self.orders = {o.id: o for o in db.session.scalars(select(Order).where(Order.id.in_(order_ids)))}
        clawed = exists(
            select(JournalEntry.id).where(
                JournalEntry.idempotency_key == func.concat("refund:", Refund.id, ":clawback")
            )
        )
        self.refunded_before: dict[int, tuple[int, int]] = {  # order → (what the store gave back, coupon part)
            order_id: (int(given), int(coupon))
            for order_id, given, coupon in db.session.execute(
                select(
                    Refund.order_id,
                    func.sum(Refund.amount_cents + Refund.platform_cents),
                    func.sum(Refund.platform_cents),
                )
                .where(Refund.order_id.in_(order_ids), ~clawed)
                .group_by(Refund.order_id)
            )
        }
        self.credited: dict[tuple[int, str], int] = {}  # (entry, account) → what it credited
        for entry_id, code, amount in db.session.execute(
            select(JournalLine.entry_id, LedgerAccount.code, func.sum(JournalLine.amount_cents))
            .join(LedgerAccount, LedgerAccount.id == JournalLine.account_id)
            .where(
                JournalLine.entry_id.in_(entry_ids),
                LedgerAccount.code.in_(
                    (
                        platform_account("commission_revenue"),
                        platform_account("refunds_due"),
                        platform_account("discount_expense"),
                    )
                ),
            )
            .group_by(JournalLine.entry_id, LedgerAccount.code)
        ):
            self.credited[(entry_id, code)] = -int(amount)

    def line(self, journal_line_id, amount, entry_id, kind, reference, memo, occurred_at) -> StatementLine:
        net = -amount  # credited to the store's settleable money is what it earns
        line = StatementLine(
            journal_line_id=journal_line_id, kind=kind, occurred_at=occurred_at, net_cents=net, memo=memo
        )
        line.sales_cents = line.refunds_cents = line.commission_cents = line.adjustments_cents = 0
        line.store_discount_cents = line.platform_discount_cents = 0
        commission = self.credited.get((entry_id, platform_account("commission_revenue")), 0)
        if kind == "order_completed" and _order_id(reference) in self.orders:
            order = self.orders[_order_id(reference)]
            given_back, coupon_back = self.refunded_before.get(order.id, (0, 0))
            line.order_id, line.sales_cents = order.id, order.total_cents
            line.store_discount_cents = order.discount_cents
            line.platform_discount_cents = order.platform_discount_cents - coupon_back
            line.refunds_cents = given_back
            line.commission_cents = commission
        elif kind == "clawback" and _order_id(reference):
            coupon_back = self.credited.get((entry_id, platform_account("discount_expense")), 0)
            line.order_id = _order_id(reference)
            line.refunds_cents = self.credited.get((entry_id, platform_account("refunds_due")), 0) + coupon_back
            line.platform_discount_cents = -coupon_back  # the coupon's part of the refund, taken back
            line.commission_cents = commission  # given back: < 0
        # whatever the breakdown does not explain is an adjustment, so the line always adds up
        line.adjustments_cents = net - (line.sales_cents - line.refunds_cents - line.commission_cents)
        return line


def _order_id(reference: str) -> int | None:
    return int(reference.split(":")[1]) if reference.startswith("order:") else None


def run_settlement(actor: User | None = None, cutoff: datetime | None = None) -> SettlementRun | None:
    """Put every store's unsettled movements up to ``cutoff`` (default: the cycle's) on statements.
    Returns the run, or None when there was nothing to settle."""
    if actor is not None and not has_operator_permission(actor, "finance.manage"):
        raise PermissionDenied(_("You do not have permission to run settlements."))
    db.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": RUN_LOCK})
    now = datetime.now(UTC)
    cutoff = cutoff or now - timedelta(days=current_app.config["MALL_SETTLEMENT_DAYS"])
    rows = db.session.execute(_unsettled(cutoff)).all()
    if not rows:
        return None
    run = SettlementRun(cutoff_at=cutoff, created_by_id=actor.id if actor else None)
    db.session.add(run)
    db.session.flush()
    confirm_by = now + timedelta(days=current_app.config["MALL_STATEMENT_CONFIRM_DAYS"])
    statements: dict[int, Statement] = {}
    breakdown = _Breakdown(rows)
    for journal_line_id, amount, merchant_id, entry_id, kind, reference, memo, occurred_at in rows:
        statement = statements.get(merchant_id)
        if statement is None:
            statement = statements[merchant_id] = Statement(
                run_id=run.id,
                merchant_id=merchant_id,
                cutoff_at=cutoff,
                confirm_by=confirm_by,
                sales_cents=0,
                refunds_cents=0,
                commission_cents=0,
                adjustments_cents=0,
                total_cents=0,
                platform_discount_cents=0,
            )
            db.session.add(statement)
            db.session.flush()
        line = breakdown.line(journal_line_id, amount, entry_id, kind, reference, memo, occurred_at)
        line.statement_id = statement.id
        db.session.add(line)
        statement.sales_cents += line.sales_cents
        statement.platform_discount_cents += line.platform_discount_cents
        statement.refunds_cents += line.refunds_cents
        statement.commission_cents += line.commission_cents
        statement.adjustments_cents += line.adjustments_cents
        statement.total_cents += line.net_cents
    run.statement_count = len(statements)
    db.session.flush()
    if actor is not None:
        record_audit("settlement.run", area="platform", obj=run, changes={"statements": [None, len(statements)]})
    for statement in statements.values():
        notify_staff(
            statement.merchant_id,
            "finance.view",
            L_("Settlement statement %(number)s", number=statement.number),
            L_(
                "Your statement of ¥%(total)s is ready. Check and confirm it within %(n)d days, or it is confirmed"
                " automatically.",
                total=format_cents(statement.total_cents),
                n=current_app.config["MALL_STATEMENT_CONFIRM_DAYS"],
            ),
        )
    return run


def _confirm(statement: Statement, actor_id: int | None) -> Statement:
    if statement.status != "draft":
        raise SettlementError(_("This statement is confirmed already."))
    statement.status, statement.confirmed_at, statement.confirmed_by_id = "confirmed", datetime.now(UTC), actor_id
    if statement.total_cents:
        post(
            "settlement",
            f"statement:{statement.id}",
            [
                (merchant_account(statement.merchant_id, "available"), statement.total_cents),
                (merchant_account(statement.merchant_id, "balance"), -statement.total_cents),
            ],
            idempotency_key=f"statement:{statement.id}:confirmed",
            actor_id=actor_id,
        )
    db.session.flush()
    mark_paid_statements(statement.merchant_id)
    return statement


def confirm_statement(actor: User, statement_id: int) -> Statement:
    """The store confirms its statement: the total moves to its withdrawable balance."""
    require_staff_permission(actor, "finance.manage")
    statement = db.session.scalar(
        select(Statement)
        .where(Statement.id == statement_id, Statement.merchant_id == require_merchant_id())
        .with_for_update()
    )
    if statement is None:
        raise NotFound(_("This statement does not exist."))
    record_audit("statement.confirm", area="merchant", merchant_id=statement.merchant_id, obj=statement)
    return _confirm(statement, actor.id)


@platform_job(queue="default")
def confirm_due_statements(limit: int = 500) -> int:
    """Statements not confirmed by their store in time are confirmed (periodic)."""
    ids = list(
        db.session.scalars(
            select(Statement.id)
            .where(Statement.status == "draft", Statement.confirm_by <= datetime.now(UTC))
            .order_by(Statement.id)
            .limit(limit)
        )
    )
    for statement_id in ids:
        statement = db.session.scalar(select(Statement).where(Statement.id == statement_id).with_for_update())
        if statement.status == "draft":
            _confirm(statement, None)
            db.session.commit()
    return len(ids)


def _due_today(now: datetime) -> bool:
    days = [int(d) for d in str(current_app.config["MALL_SETTLEMENT_DAYS_OF_MONTH"] or "").split(",") if d.strip()]
    return not days or now.day in days


@platform_job(queue="default")
def settle_due() -> int | None:
    """The periodic settlement: once a day (or on the configured days of the month)."""
    now = datetime.now(UTC)
    if not _due_today(now):
        return None
    start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if db.session.scalar(select(SettlementRun.id).where(SettlementRun.created_at >= start).limit(1)) is not None:
        return None
    run = run_settlement()
    db.session.commit()
    return run.id if run else None


# ---------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------


def store_statements(page: int = 1) -> Page:
    stmt = select(Statement).where(Statement.merchant_id == require_merchant_id())
    result = paged(stmt.order_by(Statement.created_at.desc(), Statement.id.desc()), page, 20)
    result.items = [row[0] for row in result.items]
    return result


def store_statement(statement_id: int) -> Statement:
    statement = db.session.scalar(
        select(Statement).where(Statement.id == statement_id, Statement.merchant_id == require_merchant_id())
    )
    if statement is None:
        raise NotFound(_("This statement does not exist."))
    return statement


def statement_lines(statement: Statement) -> list[tuple[StatementLine, Order | None]]:
    lines = list(
        db.session.scalars(
            select(StatementLine)
            .where(StatementLine.statement_id == statement.id)
            .order_by(StatementLine.occurred_at, StatementLine.id)
        )
    )
    ids = {line.order_id for line in lines if line.order_id}
    orders = {o.id: o for o in db.session.scalars(select(Order).where(Order.id.in_(ids)))} if ids else {}
    return [(line, orders.get(line.order_id)) for line in lines]


def all_statements(status: str | None = None, page: int = 1) -> Page:
    stmt = select(Statement)
    if status in STATUS_LABELS:
        stmt = stmt.where(Statement.status == status)
    result = paged(stmt.order_by(Statement.created_at.desc(), Statement.id.desc()), page, 50)
    result.items = [row[0] for row in result.items]
    return result


def any_statement(statement_id: int) -> Statement:
    statement = db.session.get(Statement, statement_id)
    if statement is None:
        raise NotFound(_("This statement does not exist."))
    return statement


EXPORT_COLUMNS = (
    "date",
    "kind",
    "order",
    "sales",
    "store_discount",
    "mall_coupon",
    "refunds",
    "commission",
    "adjustments",
    "net",
    "memo",
)


def export_rows(statement: Statement):
    from mall.catalog.money import format_yuan

    for line, order in statement_lines(statement):
        yield [
            line.occurred_at.isoformat(timespec="seconds"),
            kind_label(line.kind),
            order.number if order else "",
            format_yuan(line.sales_cents),
            format_yuan(line.store_discount_cents),
            format_yuan(line.platform_discount_cents),
            format_yuan(line.refunds_cents),
            format_yuan(line.commission_cents),
            format_yuan(line.adjustments_cents),
            format_yuan(line.net_cents),
            line.memo or "",
        ]
