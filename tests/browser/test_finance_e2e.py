"""Browser: finance runs a settlement, the store confirms its statement and withdraws, finance
approves, the sandbox bank pays, and both sides see the balances move."""

from __future__ import annotations

import pytest

from tests.browser.conftest import CHROMIUM
from tests.browser.test_catalog_e2e import _login
from tests.finance.test_settlement import completed_order, finance_mall
from tests.jobs.helpers import work
from tests.trading.helpers import shopper
from tests.trading.test_fulfilment import owner_of

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} not found (apt-get install chromium)"),
]


def test_settle_confirm_withdraw_approve_and_pay(
    app, live_app, live_server, browser, committed_db, make_user, make_merchant
):
    from playwright.sync_api import expect

    db = committed_db
    mall = finance_mall(app, db, make_merchant)
    live_app.config["MALL_WITHDRAWAL_MIN_CENTS"] = 1000
    completed_order(app, db, mall, shopper(make_user), (mall.green, 2))  # the store keeps ¥84.10
    make_user("e2e_finance", operator_role="finance")
    owner = owner_of(mall.tea_house).username
    db.session.commit()
    errors: list[str] = []

    ops_context = browser.new_context(locale="en-GB")
    ops_context.set_default_timeout(15_000)
    ops = ops_context.new_page()
    ops.on("pageerror", lambda exc: errors.append(str(exc)))
    _login(ops, live_server + "/platform/login", "e2e_finance")
    ops.goto(live_server + "/platform/platform_settlement/")
    ops.locator("#run-settlement").click()
    expect(ops.locator("#statements tbody tr")).to_have_count(1)
    expect(ops.locator("#statements")).to_contain_text("¥84.10")

    store_context = browser.new_context(locale="en-GB")
    store_context.set_default_timeout(15_000)
    store = store_context.new_page()
    store.on("pageerror", lambda exc: errors.append(str(exc)))
    _login(store, live_server + "/merchant/login", owner)
    store.goto(live_server + "/merchant/finance")
    expect(store.locator("#money-available")).to_have_text("¥84.10")
    store.locator("#statement-list a").first.click()
    expect(store.locator("#statement-total")).to_have_text("¥84.10")
    store.locator("#confirm-statement").click()
    expect(store.locator("#statement-status")).to_have_text("Confirmed")
    store.goto(live_server + "/merchant/finance")
    expect(store.locator("#money-balance")).to_have_text("¥84.10")
    store.locator("#withdraw-amount").fill("80")
    store.locator("#withdraw-submit").click()
    expect(store.locator("#money-withdrawing")).to_have_text("¥80.00")
    expect(store.locator("#money-balance")).to_have_text("¥4.10")

    ops.goto(live_server + "/platform/platform_withdrawals/")
    ops.locator("#withdrawals button", has_text="Approve and pay").click()
    expect(ops.locator(".alert-success, .alert")).to_contain_text("the payout is on its way")
    ops.goto(live_server + "/platform/platform_withdrawals/?status=paying")
    expect(ops.locator("#withdrawals")).to_contain_text("Being paid")
    work(live_app)  # the sandbox bank pays and reports back
    ops.goto(live_server + "/platform/platform_withdrawals/?status=paid")
    expect(ops.locator("#withdrawals")).to_contain_text("¥79.00")  # ¥80 less the ¥1 fee

    store.goto(live_server + "/merchant/finance")
    expect(store.locator("#money-withdrawing")).to_have_text("¥0.00")
    expect(store.locator("#withdrawal-list")).to_contain_text("Paid")
    ops.goto(live_server + "/platform/platform_finance_reports/")
    expect(ops.locator("#owed")).to_contain_text("Balances ¥4.10")
    assert errors == []
