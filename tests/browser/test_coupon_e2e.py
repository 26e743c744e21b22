"""A mall coupon in a real browser: the checkout page picks the best public coupon, a typed code
replaces it, a wrong code says why and takes nothing off; the buyer pays the lower amount on the
gateway, and the store's order page shows the platform-funded share of each line.

Headless Debian Chromium against the live server with real commits (wiped afterwards).
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from mall.marketing import coupons
from mall.payments.models import Payment
from mall.trading.models import Order
from tests.browser.conftest import CHROMIUM
from tests.browser.test_catalog_e2e import _login
from tests.finance.test_coupons import YESTERDAY
from tests.jobs.helpers import work
from tests.trading.helpers import Mall, shopper
from tests.trading.test_fulfilment import owner_of

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} not found (apt-get install chromium)"),
]


def test_the_buyer_applies_a_coupon_pays_less_and_the_store_sees_the_split(
    live_app, live_server, browser, committed_db, make_user, make_merchant
):
    from playwright.sync_api import expect

    db = committed_db
    mall = Mall(make_merchant)
    buyer = shopper(make_user, "coupon_e2e")
    marketer = make_user(operator_role="operator")
    for code, amount, public in (("CUT10", "10", True), ("STAFF5", "5", False)):
        form = coupons.CouponForm(code=code, name=f"¥{amount} off", amount_yuan=amount, starts_at=YESTERDAY,
                                  ends_at="2099-01-01", is_public=public)  # fmt: skip
        coupons.create_coupon(marketer, form)
    mall.fill_cart(buyer.id, (mall.green, 2), (mall.cup, 1))  # ¥78 + ¥10 express, ¥12: ¥100
    tea_owner = owner_of(mall.tea_house).username
    db.session.commit()
    errors: list[str] = []

    context = browser.new_context(locale="en-GB", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    _login(page, live_server + "/account/login", "coupon_e2e")
    page.goto(live_server + "/checkout")
    expect(page.locator('input[name="coupon"][value="CUT10"]')).to_be_checked()
    expect(page.locator("#checkout-total")).to_have_text("¥90.00")

    page.locator("#coupon-code").fill("nope")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("#coupon-error")).to_have_text("There is no coupon with this code.")
    expect(page.locator("#checkout-total")).to_have_text("¥100.00")

    page.locator("#coupon-code").fill("staff5")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("#checkout-coupon-discount")).to_have_text("−¥5.00")
    expect(page.locator("#checkout-total")).to_have_text("¥95.00")
    page.locator("#place-order").click()
    expect(page.locator("h1")).to_have_text("Your orders are placed")
    expect(page.locator("#checkout-total")).to_have_text("¥95.00")

    page.locator("#pay-now").click()
    expect(page.locator("h1")).to_have_text("Pay ¥95.00")
    page.locator("#sandbox-pay").click()
    work(live_app)
    assert db.session.scalar(select(Payment.amount_cents)) == 9500

    # ¥5 over the lines by what each can give: 500 x 7799/8998 = 433.4, 500 x 1199/8998 = 66.6 (+1 cent)
    tea_order = db.session.scalar(select(Order).where(Order.merchant_id == mall.tea_house.id))
    assert (tea_order.platform_discount_cents, tea_order.status) == (433, "paid")
    store = browser.new_context(locale="en-GB")
    store.set_default_timeout(15_000)
    merchant_page = store.new_page()
    _login(merchant_page, live_server + "/merchant/login", tea_owner)
    merchant_page.goto(f"{live_server}/merchant/orders/{tea_order.id}")
    expect(merchant_page.locator(".order-coupon")).to_contain_text("Buyer pays ¥83.67")
    expect(merchant_page.get_by_role("columnheader", name="Mall coupon (platform-funded)")).to_be_visible()
    store.close()
    context.close()
    assert errors == []
