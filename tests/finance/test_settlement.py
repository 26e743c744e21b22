"""Settlement and payouts (P-07, M-10): a run writes one statement per store whose totals match the
ledger; confirming moves the money to the withdrawable balance; withdrawals hold the money, pay out
once (retries and duplicate results change nothing), fail back into the balance, are refused above
the balance; refunds after completion and deductions claw back on the next statement, netting a
negative balance; statements are paid once payouts cover them; stores see only their own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from mall.errors import DomainError, NotFound
from mall.extensions import db
from mall.finance import adjustments, settlement, withdrawals
from mall.finance.models import SandboxPayout, Statement, StatementLine, Withdrawal
from mall.ledger.services import check_ledger, normal_balance, platform_account
from mall.onboarding.models import MerchantApplication
from mall.tenancy import tenant
from mall.trading import fulfilment
from tests.jobs.helpers import work
from tests.trading.helpers import Mall, shopper
from tests.trading.test_fulfilment import owner_of, paid_order

pytestmark = pytest.mark.usefixtures("english")


@pytest.fixture()
def mall(app, db, make_merchant):
    return finance_mall(app, db, make_merchant)


def finance_mall(app, db, make_merchant) -> Mall:
    """The trading test mall, with bank accounts verified at onboarding (the pottery's fails)."""
    app.config["MALL_WITHDRAWAL_MIN_CENTS"] = 1000
    mall = Mall(make_merchant)
    for merchant, number in ((mall.tea_house, "6222000011112222"), (mall.pottery, "6222000011110000")):
        db.session.add(
            MerchantApplication(
                applicant_id=owner_of(merchant).id,
                status="approved",
                merchant_id=merchant.id,
                bank_account_name=merchant.name,
                bank_name="Bank of Shanghai",
                bank_account_number=number,
            )
        )
    db.session.flush()
    return mall


@pytest.fixture()
def finance(make_user):
    return make_user(operator_role="finance")


def completed_order(app, db, mall, user, *items):
    (order,) = paid_order(app, db, mall, user, *items)
    merchant = mall.store_of(items[0][0])
    with tenant(merchant.id):
        if order.delivery == "express":
            fulfilment.ship(owner_of(merchant), order.id, "SF", "SF123456")
    fulfilment.confirm_receipt(user.id, order.id)
    fulfilment.complete(order)
    return order


def money(merchant_id: int) -> dict[str, int]:
    return withdrawals.balances(merchant_id)


def settle(mall, finance):
    run = settlement.run_settlement(finance, cutoff=datetime.now(UTC) + timedelta(seconds=1))
    if run is None:
        return {}
    return {s.merchant_id: s for s in db.session.scalars(select(Statement).where(Statement.run_id == run.id))}


def test_a_statement_matches_the_ledger_and_confirming_moves_it_to_the_balance(app, db, make_user, mall, finance):
    user = shopper(make_user)
    order = completed_order(app, db, mall, user, (mall.green, 2))  # ¥88, commission ¥3.90
    assert money(mall.tea_house.id)["available"] == 8410
    statements = settle(mall, finance)
    statement = statements[mall.tea_house.id]
    assert (statement.sales_cents, statement.commission_cents, statement.total_cents) == (8800, 390, 8410)
    ((line, line_order),) = settlement.statement_lines(statement)
    assert (line_order.id, line.kind, line.net_cents) == (order.id, "order_completed", 8410)
    assert settle(mall, finance) == {}  # nothing is settled twice
    owner = owner_of(mall.tea_house)
    with tenant(mall.tea_house.id):
        settlement.confirm_statement(owner, statement.id)
        with pytest.raises(DomainError, match="confirmed already"):
            settlement.confirm_statement(owner, statement.id)
    assert money(mall.tea_house.id) == {**money(mall.tea_house.id), "available": 0, "balance": 8410}
    with tenant(mall.pottery.id), pytest.raises(NotFound):
        settlement.store_statement(statement.id)  # another store's statement
    assert check_ledger().ok


def test_withdraw_pay_out_once_and_fail_back(app, db, make_user, mall, finance):
    user = shopper(make_user)
    completed_order(app, db, mall, user, (mall.green, 2))
    completed_order(app, db, mall, user, (mall.cup, 5))  # pottery: ¥60, commission ¥3.00
    for statement in settle(mall, finance).values():
        settlement._confirm(statement, None)
    tea, pottery = owner_of(mall.tea_house), owner_of(mall.pottery)
    with tenant(mall.tea_house.id):
        with pytest.raises(DomainError, match=r"at most ¥84\.10"):
            withdrawals.request_withdrawal(tea, "84.11")
        with pytest.raises(DomainError, match="least you can withdraw"):
            withdrawals.request_withdrawal(tea, "5")
        first = withdrawals.request_withdrawal(tea, "50")
        with pytest.raises(DomainError, match=r"at most ¥34\.10"):
            withdrawals.request_withdrawal(tea, "40")  # the first is held already
    assert (first.fee_cents, first.net_cents) == (100, 4900)
    assert money(mall.tea_house.id)["balance"] == 3410 and money(mall.tea_house.id)["withdrawing"] == 5000
    withdrawals.approve_withdrawal(finance, first.id)
    withdrawals.approve_withdrawal(finance, first.id)  # a retried approval
    assert db.session.scalar(select(SandboxPayout).where(SandboxPayout.withdrawal_id == first.id)) is not None
    db.session.commit()
    work(app)
    db.session.expire_all()
    first = db.session.get(Withdrawal, first.id)
    assert first.status == "paid"
    assert withdrawals.payout_result(first.payout_ref, True) == "ignored: already paid"  # a duplicate result
    assert normal_balance(platform_account("payout_fees")) == 100
    assert money(mall.tea_house.id)["withdrawing"] == 0
    with tenant(mall.pottery.id):  # the pottery's account ends in 0000: the sandbox bank fails it
        failing = withdrawals.request_withdrawal(pottery, "57")
    withdrawals.approve_withdrawal(finance, failing.id)
    db.session.commit()
    work(app)
    db.session.expire_all()
    failing = db.session.get(Withdrawal, failing.id)
    assert (failing.status, failing.failure_reason) == ("failed", "account closed")
    assert money(mall.pottery.id)["balance"] == 5700 and money(mall.pottery.id)["withdrawing"] == 0
    with tenant(mall.pottery.id):
        rejected = withdrawals.request_withdrawal(pottery, "20")
    with pytest.raises(DomainError, match="Give a reason"):
        withdrawals.reject_withdrawal(finance, rejected.id, "")
    withdrawals.reject_withdrawal(finance, rejected.id, "Documents missing")
    assert money(mall.pottery.id)["balance"] == 5700 and check_ledger().ok


def test_clawback_and_deduction_net_against_the_next_statement(app, db, make_user, mall, finance):
    user = shopper(make_user)
    order = completed_order(app, db, mall, user, (mall.green, 2))  # the store keeps ¥84.10
    for statement in settle(mall, finance).values():
        settlement._confirm(statement, None)
    with pytest.raises(DomainError, match=r"at most ¥88\.00"):
        adjustments.refund_completed_order(finance, order.id, "88.01", "Broken in transit")
    adjustments.refund_completed_order(finance, order.id, "88", "Broken in transit")  # everything back
    adjustments.adjust(finance, mall.tea_house.id, "10", "deduct", "Late shipping penalty")
    assert order.refunded_cents == 8800
    statement = settle(mall, finance)[mall.tea_house.id]
    kinds = {line.kind: line for line, _order in settlement.statement_lines(statement)}
    assert kinds["clawback"].net_cents == -8410 and kinds["clawback"].refunds_cents == 8800
    assert kinds["clawback"].commission_cents == -390  # the commission earned on it goes back
    assert kinds["adjustment"].net_cents == -1000
    assert statement.total_cents == -9410
    settlement._confirm(statement, None)
    assert money(mall.tea_house.id)["balance"] == 8410 - 9410  # the store owes ¥10 now
    with tenant(mall.tea_house.id), pytest.raises(DomainError, match=r"at most ¥0\.00"):
        withdrawals.request_withdrawal(owner_of(mall.tea_house), "10")
    completed_order(app, db, mall, user, (mall.green, 1))  # ¥49 less ¥1.95: netted against the ¥10 owed
    settlement._confirm(settle(mall, finance)[mall.tea_house.id], None)
    assert money(mall.tea_house.id)["balance"] == 4705 - 1000
    assert normal_balance(platform_account("commission_revenue")) == 195 and check_ledger().ok


def test_statements_are_paid_when_payouts_cover_them(app, db, make_user, mall, finance):
    user = shopper(make_user)
    completed_order(app, db, mall, user, (mall.green, 2))
    (statement,) = settle(mall, finance).values()
    settlement._confirm(statement, None)
    with tenant(mall.tea_house.id):
        withdrawal = withdrawals.request_withdrawal(owner_of(mall.tea_house), "84.10")
    withdrawals.approve_withdrawal(finance, withdrawal.id)
    db.session.commit()
    work(app)
    db.session.expire_all()
    assert db.session.get(Statement, statement.id).status == "paid"
    assert db.session.scalar(select(StatementLine.statement_id)) == statement.id


def test_the_periodic_jobs_settle_on_the_cycle_and_confirm_late_statements(app, committed_db, make_user, make_merchant):
    db = committed_db
    mall = finance_mall(app, db, make_merchant)
    user = shopper(make_user)
    completed_order(app, db, mall, user, (mall.green, 1))
    db.session.commit()
    assert settlement.settle_due() is None  # T+7: completed just now, not yet settleable
    app.config["MALL_SETTLEMENT_DAYS"] = 0
    try:
        run_id = settlement.settle_due()
        assert run_id is not None and settlement.settle_due() is None  # once a day
    finally:
        app.config["MALL_SETTLEMENT_DAYS"] = 7
    statement = db.session.scalar(select(Statement).where(Statement.run_id == run_id))
    statement.confirm_by = datetime.now(UTC) - timedelta(minutes=1)
    db.session.commit()
    assert settlement.confirm_due_statements() == 1
    db.session.expire_all()
    assert db.session.get(Statement, statement.id).status == "confirmed"
    assert money(mall.tea_house.id)["balance"] == 4705 and check_ledger().ok


def test_a_refund_after_completion_settled_together_is_its_own_line(app, db, make_user, mall, finance):
    order = completed_order(app, db, mall, shopper(make_user), (mall.green, 2))
    adjustments.refund_completed_order(finance, order.id, "20", "Late")
    statement = settle(mall, finance)[mall.tea_house.id]
    lines = {line.kind: line for line, _order in settlement.statement_lines(statement)}
    done, back = lines["order_completed"], lines["clawback"]
    assert (done.sales_cents, done.refunds_cents, done.commission_cents, done.adjustments_cents) == (8800, 0, 390, 0)
    assert (back.refunds_cents, back.commission_cents, back.adjustments_cents) == (2000, -89, 0)
    assert statement.total_cents == 8410 - (2000 - 89) == money(mall.tea_house.id)["available"]
