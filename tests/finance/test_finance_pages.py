"""Finance pages: finance runs a settlement; the store sees its money, confirms and exports its
statement, asks to withdraw; finance approves and the payout lands; stores never see each other's
statements; only finance managers act."""

from __future__ import annotations

import csv
import io
import re

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from mall.finance.models import Statement, Withdrawal
from mall.ledger.services import check_ledger
from tests.finance.test_settlement import completed_order, finance_mall, money
from tests.jobs.helpers import work
from tests.merchant.helpers import area_client
from tests.trading.helpers import shopper
from tests.trading.test_fulfilment import owner_of

pytestmark = pytest.mark.usefixtures("english")


def token_of(html: str) -> str:
    found = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"', html)
    return found.group(1) or found.group(2)


def test_settle_confirm_withdraw_and_pay_through_the_pages(app, db, make_user, make_merchant):
    mall = finance_mall(app, db, make_merchant)
    order = completed_order(app, db, mall, shopper(make_user), (mall.green, 2))
    finance = area_client(app, make_user(operator_role="finance"), "platform")
    page = finance.get("/platform/platform_settlement/").get_data(as_text=True)
    finance.post("/platform/platform_settlement/run", data={"csrf_token": token_of(page)})
    statement = db.session.scalar(select(Statement).where(Statement.merchant_id == mall.tea_house.id))
    assert statement is not None and statement.total_cents == 8410
    assert statement.number in finance.get("/platform/platform_settlement/").get_data(as_text=True)

    store = area_client(app, owner_of(mall.tea_house), "merchant")
    overview = store.get("/merchant/finance").get_data(as_text=True)
    assert 'id="money-available">¥84.10<' in overview and statement.number in overview
    detail = store.get(f"/merchant/finance/statements/{statement.id}").get_data(as_text=True)
    assert order.number in detail and 'id="statement-total"><strong>¥84.10<' in detail
    exported = store.get(f"/merchant/finance/statements/{statement.id}.csv").get_data(as_text=True)
    rows = list(csv.reader(io.StringIO(exported.lstrip("\ufeff"))))
    assert rows[0][0] == "date" and rows[1][2] == order.number and rows[1][9] == "84.10"
    sheet = load_workbook(io.BytesIO(store.get(f"/merchant/finance/statements/{statement.id}.xlsx").data)).active
    assert list(sheet.iter_rows(values_only=True))[1][9] == "84.10"
    store.post(f"/merchant/finance/statements/{statement.id}/confirm", data={"csrf_token": token_of(detail)})
    overview = store.get("/merchant/finance").get_data(as_text=True)
    assert 'id="money-balance">¥84.10<' in overview
    refused = store.post(
        "/merchant/finance/withdrawals", data={"csrf_token": token_of(overview), "amount": "100"}, follow_redirects=True
    ).get_data(as_text=True)
    assert "You can withdraw at most ¥84.10" in refused
    store.post("/merchant/finance/withdrawals", data={"csrf_token": token_of(overview), "amount": "84.10"})
    withdrawal = db.session.scalar(select(Withdrawal))
    assert withdrawal.status == "requested" and money(mall.tea_house.id)["withdrawing"] == 8410

    other = area_client(app, owner_of(mall.pottery), "merchant")
    assert other.get(f"/merchant/finance/statements/{statement.id}").status_code == 404
    assert statement.number not in other.get("/merchant/finance").get_data(as_text=True)

    queue = finance.get("/platform/platform_withdrawals/").get_data(as_text=True)
    assert f'id="approve-{withdrawal.id}"' in queue
    finance.post(f"/platform/platform_withdrawals/{withdrawal.id}/approve", data={"csrf_token": token_of(queue)})
    db.session.commit()
    work(app)
    db.session.expire_all()
    assert db.session.get(Withdrawal, withdrawal.id).status == "paid"
    assert db.session.get(Statement, statement.id).status == "paid"
    overview = store.get("/merchant/finance").get_data(as_text=True)
    assert 'id="money-balance">¥0.00<' in overview and "¥83.10" in overview  # paid to the bank, less the fee
    assert check_ledger().ok


def test_only_finance_managers_run_and_decide(app, db, make_user, make_merchant):
    mall = finance_mall(app, db, make_merchant)
    viewer = area_client(app, make_user(operator_role="operator"), "platform")
    assert viewer.get("/platform/platform_settlement/").status_code in (302, 403)
    clerk = make_user()
    from tests.merchant.helpers import add_staff_member

    add_staff_member(db, mall.tea_house, clerk, "orders")
    store = area_client(app, clerk, "merchant")
    assert store.get("/merchant/finance").status_code == 403
