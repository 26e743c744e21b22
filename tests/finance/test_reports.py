"""Finance reports and reconciliation (P-07): GMV, refunds, commission, fees and payouts by period
and by store, what is owed now; the mall's payments, refunds and payouts matched against the sandbox
providers' records, with every kind of difference found and exported."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from mall.finance import adjustments, reconciliation, reports, settlement, withdrawals
from mall.finance.models import SandboxPayout
from mall.ledger.models import JournalEntry
from mall.payments.models import Payment, SandboxTransaction
from mall.tenancy import tenant
from tests.finance.test_settlement import completed_order, finance_mall, settle
from tests.jobs.helpers import work
from tests.merchant.helpers import area_client
from tests.trading.helpers import shopper
from tests.trading.test_fulfilment import owner_of, paid_order

pytestmark = pytest.mark.usefixtures("english")
START = datetime.now(UTC) - timedelta(days=1)
END = datetime.now(UTC) + timedelta(days=1)


@pytest.fixture()
def finance(make_user):
    return make_user(operator_role="finance")


def money_moves(app, db, make_user, make_merchant, finance):
    """A completed order settled and withdrawn, another paid, a refund after completion."""
    mall = finance_mall(app, db, make_merchant)
    user = shopper(make_user)
    first = completed_order(app, db, mall, user, (mall.green, 2))  # ¥88
    paid_order(app, db, mall, user, (mall.cup, 1))  # ¥12, not completed
    for statement in settle(mall, finance).values():
        settlement._confirm(statement, None)
    with tenant(mall.tea_house.id):
        withdrawal = withdrawals.request_withdrawal(owner_of(mall.tea_house), "50")
    withdrawals.approve_withdrawal(finance, withdrawal.id)
    adjustments.refund_completed_order(finance, first.id, "10", "Goodwill")
    db.session.commit()
    work(app)  # the payout and the refund settle at the providers
    return mall


def test_the_report_adds_up(app, db, make_user, make_merchant, finance):
    money_moves(app, db, make_user, make_merchant, finance)
    report = reports.report(START, END)
    total = report.totals
    assert (total.orders, total.gmv_cents, total.refunds_cents) == (2, 10000, 1000)
    # commission: ¥3.90 earned on the completed order, less the share of the ¥10 refunded (¥0.44)
    assert total.commission_cents == 390 - 44
    assert (total.payout_fees_cents, total.paid_out_cents) == (100, 4900)
    assert report.owed["pending"] == 1200 - 60 and report.owed["balance"] == 8410 - 5000
    assert report.owed["available"] == -(1000 - 44)  # the clawback waits for the next statement
    assert [row["name"] for row in report.by_store] == ["Tea House", "Pottery"]
    client = area_client(app, make_user(operator_role="finance"), "platform")
    page = client.get("/platform/platform_finance_reports/?unit=month").get_data(as_text=True)
    assert 'id="report-total"' in page and "¥100.00" in page


def test_reconciliation_finds_every_difference(app, db, make_user, make_merchant, finance):
    money_moves(app, db, make_user, make_merchant, finance)
    rows = reconciliation.reconcile(START, END)
    assert reconciliation.summary(rows) == {
        "matched": 4,  # two payments, the refund, the payout
        "mismatch": 0,
        "missing_at_provider": 0,
        "missing_in_mall": 0,
        "missing_in_ledger": 0,
    }
    payments = list(db.session.scalars(select(Payment).order_by(Payment.id)))
    db.session.execute(
        update(SandboxTransaction).where(SandboxTransaction.id == payments[0].provider_ref).values(amount_cents=1)
    )
    db.session.execute(
        update(SandboxTransaction).where(SandboxTransaction.id == payments[1].provider_ref).values(status="failed")
    )
    db.session.add(
        SandboxTransaction(id="sbx_pay_stray", kind="payment", merchant_ref="x", amount_cents=500, status="succeeded")
    )
    db.session.execute(update(SandboxPayout).values(amount_cents=4800))
    db.session.flush()
    buckets = {(r.kind, r.bucket) for r in reconciliation.reconcile(START, END)}
    assert buckets == {
        ("payment", "mismatch"),
        ("payment", "missing_at_provider"),
        ("payment", "missing_in_mall"),
        ("payout", "mismatch"),
        ("refund", "matched"),
    }
    client = area_client(app, make_user(operator_role="finance"), "platform")
    page = client.get("/platform/platform_finance_reports/reconcile").get_data(as_text=True)
    assert "sbx_pay_stray" in page and "Amounts differ" in page
    exported = client.get("/platform/platform_finance_reports/reconcile?format=csv").get_data(as_text=True)
    assert re.search(r"payment,sbx_pay_stray,,5\.00,missing_in_mall", exported)
    assert db.session.scalar(select(JournalEntry.id).where(JournalEntry.kind == "payment_captured")) is not None
