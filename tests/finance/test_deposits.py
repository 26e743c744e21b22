"""Deposits (P-07): recorded paid into the bank, deducted for a penalty (the store is told and owes a
top-up), never deducted beyond what is held, refunded only to a closed store with nothing
outstanding, a negative balance taken from it first; the operator page."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from mall.errors import DomainError, PermissionDenied
from mall.finance import adjustments, deposits, settlement
from mall.ledger.services import check_ledger, merchant_account, normal_balance, platform_account
from mall.merchants.models import Merchant
from mall.notifications.models import SiteMessage
from tests.finance.test_settlement import completed_order, finance_mall, settle
from tests.jobs.helpers import work
from tests.merchant.helpers import area_client
from tests.trading.helpers import shopper
from tests.trading.test_fulfilment import owner_of

pytestmark = pytest.mark.usefixtures("english")


@pytest.fixture()
def finance(make_user):
    return make_user(operator_role="finance")


def test_paid_deducted_and_refunded_on_closure(app, db, make_user, make_merchant, finance):
    mall = finance_mall(app, db, make_merchant)
    tea = mall.tea_house
    tea.deposit_due_cents = 500000
    with pytest.raises(PermissionDenied):
        deposits.record_payment(make_user(operator_role="operator"), tea.id, "5000", "BOS-1")
    deposits.record_payment(finance, tea.id, "5000", "BOS-20261130-1")
    assert deposits.held(tea.id) == 500000 and tea.deposit_due_cents == 0
    with pytest.raises(DomainError, match=r"holds only ¥5,000\.00"):
        deposits.deduct(finance, tea.id, "5000.01", "Fake goods")
    owner_of(tea).locale = "en"  # the store is told in its own language
    deposits.deduct(finance, tea.id, "200", "Counterfeit listing")
    assert deposits.held(tea.id) == 480000 and tea.deposit_due_cents == 20000
    assert normal_balance(platform_account("penalties")) == 20000
    db.session.commit()
    work(app)
    assert db.session.scalar(select(SiteMessage).where(SiteMessage.user_id == owner_of(tea).id)).subject == (
        "Deposit deducted"
    )
    with pytest.raises(DomainError, match="not closed"):
        deposits.refund(finance, tea.id)

    # a store that owes money (a refund after completion larger than what it has left)
    order = completed_order(app, db, mall, shopper(make_user), (mall.green, 2))
    for statement in settle(mall, finance).values():
        settlement._confirm(statement, None)
    adjustments.refund_completed_order(finance, order.id, "88", "Never delivered")
    adjustments.adjust(finance, tea.id, "100", "deduct", "Penalty")
    settlement._confirm(settle(mall, finance)[tea.id], None)
    assert normal_balance(merchant_account(tea.id, "balance")) == -10000
    db.session.get(Merchant, tea.id).status = "closed"
    paid_back = deposits.refund(finance, tea.id)
    assert paid_back == 480000 - 10000  # the ¥100 owed came out of the deposit first
    assert deposits.held(tea.id) == 0 and normal_balance(merchant_account(tea.id, "balance")) == 0
    assert check_ledger().ok


def test_a_closed_store_with_money_outstanding_is_not_refunded(app, db, make_user, make_merchant, finance):
    mall = finance_mall(app, db, make_merchant)
    deposits.record_payment(finance, mall.tea_house.id, "100", "BOS-2")
    completed_order(app, db, mall, shopper(make_user), (mall.green, 1))
    mall.tea_house.status = "closed"
    with pytest.raises(DomainError, match="settleable money not yet on a statement"):
        deposits.refund(finance, mall.tea_house.id)
    assert deposits.held(mall.tea_house.id) == 10000


def test_the_deposits_page(app, db, make_user, make_merchant, finance):
    mall = finance_mall(app, db, make_merchant)
    client = area_client(app, finance, "platform")
    page = client.get("/platform/platform_deposits/").get_data(as_text=True)
    assert f'id="deposit-{mall.tea_house.id}"' in page
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    client.post(
        f"/platform/platform_deposits/{mall.tea_house.id}/paid",
        data={"csrf_token": token, "amount": "abc", "reason": "x"},
    )
    assert deposits.held(mall.tea_house.id) == 0  # refused: not an amount
    client.post(
        f"/platform/platform_deposits/{mall.tea_house.id}/paid",
        data={"csrf_token": token, "amount": "300", "reason": "BOS-3"},
    )
    assert deposits.held(mall.tea_house.id) == 30000
