"""Trading end to end in a real browser: a buyer puts items from two stores in the cart, checks out
once (express from one store, pick-up at the other), pays on the sandbox gateway's page; both
stores fulfil (one ships with a tracking number, the other hands over against the pick-up code);
the buyer confirms receipt, and the order pages show every step.

Headless Debian Chromium against the live server with real commits (wiped afterwards); the
gateway's notification is delivered by running the queued job.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from mall.trading.models import Order
from tests.browser.conftest import CHROMIUM
from tests.browser.test_catalog_e2e import _login
from tests.jobs.helpers import work
from tests.trading.helpers import Mall, shopper
from tests.trading.test_fulfilment import owner_of

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} not found (apt-get install chromium)"),
]


def test_two_stores_one_checkout_pay_fulfil_confirm_and_return(
    live_app, live_server, browser, committed_db, make_user, make_merchant
):
    from playwright.sync_api import expect

    db = committed_db
    mall = Mall(make_merchant)
    shopper(make_user, "e2e_buyer")
    tea_owner, pottery_owner = owner_of(mall.tea_house).username, owner_of(mall.pottery).username
    db.session.commit()
    errors: list[str] = []

    buyer = browser.new_context(locale="en-GB", viewport={"width": 1280, "height": 900})
    buyer.set_default_timeout(15_000)
    page = buyer.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    _login(page, live_server + "/account/login", "e2e_buyer")

    # --- the cart across two stores, one checkout ---------------------------------------------------
    page.goto(f"{live_server}/p/{mall.green.id}-green-tea")
    page.locator("#quantity").fill("2")
    page.locator("#add-to-cart").click()
    expect(page.locator(".flash-success")).to_have_text("Added to your cart.")
    page.goto(f"{live_server}/p/{mall.cup.id}-tea-cup")
    page.locator("#add-to-cart").click()
    page.goto(live_server + "/cart")
    expect(page.locator(".cart-store")).to_have_count(2)
    expect(page.locator("#cart-total")).to_have_text("¥90.00")
    page.locator("#go-checkout").click()
    page.locator(f'input[name="delivery-{mall.pottery.id}"][value="pickup"]').check()
    page.get_by_role("button", name="Update totals").click()
    expect(page.locator("#checkout-total")).to_have_text("¥100.00")  # ¥78 + ¥10 shipping, ¥12 picked up
    page.locator("#place-order").click()
    expect(page.locator("h1")).to_have_text("Your orders are placed")

    # --- paying on the gateway's page ---------------------------------------------------------------
    page.locator("#pay-now").click()
    expect(page.locator("h1")).to_have_text("Pay ¥100.00")
    page.locator("#sandbox-pay").click()
    expect(page.locator("#payment-outcome h1")).to_have_text("Waiting for the payment confirmation")
    work(live_app)  # the gateway's signed notification reaches the mall
    page.reload()
    expect(page.locator("#payment-outcome h1")).to_have_text("Payment received")

    tea_order = db.session.scalar(select(Order).where(Order.merchant_id == mall.tea_house.id))
    cup_order = db.session.scalar(select(Order).where(Order.merchant_id == mall.pottery.id))
    db.session.refresh(cup_order)
    assert tea_order.status == cup_order.status == "paid" and cup_order.pickup_code

    # --- the stores fulfil ----------------------------------------------------------------------------
    for username, order, action in ((tea_owner, tea_order, "ship"), (pottery_owner, cup_order, "hand_over")):
        store = browser.new_context(locale="en-GB")
        store.set_default_timeout(15_000)
        merchant_page = store.new_page()
        _login(merchant_page, live_server + "/merchant/login", username)
        merchant_page.goto(live_server + "/merchant/orders?status=to_ship")
        merchant_page.get_by_role("link", name=order.number).click()
        if action == "ship":
            merchant_page.locator("#carrier").fill("SF Express")
            merchant_page.locator("#tracking").fill("SF1234567")
            merchant_page.locator("#ship").get_by_role("button", name="Ship").click()
            expect(merchant_page.locator("#order-status")).to_have_text("Shipped")
        else:
            merchant_page.locator('#hand-over input[name="code"]').fill(cup_order.pickup_code)
            merchant_page.locator("#hand-over").get_by_role("button", name="Hand over").click()
            expect(merchant_page.locator("#order-status")).to_have_text("Received")
        store.close()

    # --- the buyer confirms and sees every step -----------------------------------------------------
    page.goto(f"{live_server}/orders/{tea_order.id}")
    expect(page.locator(".shipment")).to_contain_text("SF1234567")
    page.locator("#confirm-receipt").click()
    expect(page.locator("#order-status")).to_have_text("Received")
    page.goto(live_server + "/orders?tab=done")
    expect(page.locator(".order-row")).to_have_count(2)

    # --- the buyer returns the cup from the other store: approved, sent back, received, refunded ----
    page.goto(f"{live_server}/orders/{cup_order.id}")
    page.locator("#request-after-sales").click()
    page.locator('input[name="kind"][value="return_refund"]').check()
    page.locator('input[name^="qty-"]').fill("1")
    page.locator("#reason").select_option("quality")
    page.locator("#description").fill("A chip on the rim")
    page.get_by_role("button", name="Send the request").click()
    expect(page.locator("#case-status")).to_have_text("Waiting for the store")
    case_url = page.url

    store = browser.new_context(locale="en-GB")
    store.set_default_timeout(15_000)
    merchant_page = store.new_page()
    _login(merchant_page, live_server + "/merchant/login", pottery_owner)
    merchant_page.goto(live_server + "/merchant/after-sales")
    merchant_page.locator("#store-cases a").first.click()
    expect(merchant_page.locator(".after-sales-case")).to_contain_text("A chip on the rim")
    merchant_page.locator("#return-address").fill("Pottery returns, 8 Clay Lane")
    merchant_page.locator("#approve").click()
    expect(merchant_page.locator("#case-status")).to_have_text("Send the goods back")

    page.goto(case_url)
    expect(page.locator("#case-return-address")).to_have_text("Pottery returns, 8 Clay Lane")
    page.locator('input[name="carrier"]').fill("SF Express")
    page.locator('input[name="tracking_number"]').fill("SF7654321")
    page.get_by_role("button", name="I sent it").click()
    expect(page.locator("#case-status")).to_have_text("Goods on the way back")

    merchant_page.reload()
    merchant_page.locator("#receive-goods").click()
    expect(merchant_page.locator("#case-status")).to_have_text("Refunded")
    expect(merchant_page.locator("#case-refunded")).to_have_text("¥12.00")
    store.close()
    work(live_app)  # the gateway confirms the refund; the notifications go out
    page.goto(case_url)
    expect(page.locator("#case-status")).to_have_text("Refunded")
    page.goto(live_server + "/orders?tab=after_sales")
    expect(page.locator(".order-row")).to_have_count(1)
    expect(page.locator(".order-row")).to_contain_text("Refunded ¥12.00")
    db.session.expire_all()
    assert db.session.get(Order, cup_order.id).refunded_cents == 1200
    assert errors == []
