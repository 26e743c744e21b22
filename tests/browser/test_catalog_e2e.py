"""The catalog end to end in a real browser: a merchant creates a product with two specs and submits
it; an operator approves it in the review queue; a visitor finds it by a Chinese search, opens it,
picks a SKU and sees its price and stock.

Headless Debian Chromium against the live server with real commits (wiped afterwards).
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from mall.catalog.models import Product, PublicProduct
from mall.tenancy import tenant
from tests.browser.conftest import CHROMIUM
from tests.catalog.product_helpers import make_taxonomy, png
from tests.conftest import PASSWORD

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} not found (apt-get install chromium)"),
]


def _login(page, url: str, username: str) -> None:
    page.goto(url)
    page.locator("#identifier").fill(username)
    page.locator("#password").fill(PASSWORD)
    page.locator("main form button[type=submit], form button[type=submit]").first.click()


def test_create_submit_approve_search_open_and_pick_a_sku(
    live_server, browser, committed_db, make_user, make_merchant, tmp_path
):
    from playwright.sync_api import expect

    db = committed_db
    owner = make_user("scarf_maker")
    make_user("ops_reviewer", operator_role="operator")
    merchant = make_merchant("Scarf House", slug="scarf-house", owner=owner)
    tax = make_taxonomy(db)
    db.session.commit()
    photo = tmp_path / "scarf.png"
    photo.write_bytes(png((150, 20, 40)))
    errors: list[str] = []

    # --- the merchant creates the product and submits it ------------------------------------------
    merchant_ctx = browser.new_context(locale="en-GB", viewport={"width": 1280, "height": 900})
    merchant_ctx.set_default_timeout(15_000)
    page = merchant_ctx.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("dialog", lambda dialog: dialog.accept())
    _login(page, live_server + "/merchant/login", "scarf_maker")
    page.goto(live_server + "/merchant/products")
    page.get_by_role("link", name="New product").click()
    page.locator("#title").fill("羊绒围巾 Cashmere scarf")
    page.locator("#category_id").select_option(str(tax.leaf.id))
    page.locator(f"#attr-{tax.material.id}").select_option("羊绒")
    page.locator("#spec-0-name").fill("颜色")
    page.locator("#spec-0-values").fill("红, 灰")
    page.locator("#spec-1-name").fill("尺码")
    page.locator("#spec-1-values").fill("S, M")
    rows = page.locator("#sku-table tbody tr")
    expect(rows).to_have_count(4)
    page.locator("#fill-price").fill("199.00")
    page.get_by_role("button", name="Fill in").click()
    page.locator('[name="sku-3-price"]').fill("259.00")  # 灰 / M costs more
    page.locator('[name="sku-3-stock"]').fill("7")
    page.locator('[name="sku-0-stock"]').fill("2")
    page.locator("#new_images").set_input_files(str(photo))
    page.get_by_role("button", name="Save draft").click()
    expect(page.locator(".flash-success")).to_have_text("Draft saved.")
    page.locator("#status").get_by_role("button", name="Submit for review").click()
    expect(page.locator(".flash-success")).to_contain_text("Submitted for review.")

    with tenant(merchant.id):
        product = db.session.scalar(select(Product))
        assert product.status == "submitted"
    assert db.session.get(PublicProduct, product.id) is None  # not reviewed: not in the mall

    # --- the operator approves it from the review queue -------------------------------------------
    ops_ctx = browser.new_context(locale="en-GB", viewport={"width": 1280, "height": 900})
    ops_ctx.set_default_timeout(15_000)
    ops = ops_ctx.new_page()
    ops.on("pageerror", lambda exc: errors.append(str(exc)))
    _login(ops, live_server + "/platform/login", "ops_reviewer")
    ops.goto(live_server + "/platform/platform_product_review/")
    ops.get_by_role("link", name="羊绒围巾 Cashmere scarf").click()
    expect(ops.get_by_text("¥259.00").first).to_be_visible()
    ops.get_by_role("button", name="Approve and publish").click()
    expect(ops.locator(".alert-success, .flash-success").first).to_be_visible()

    # --- a visitor searches in Chinese, opens it and picks a SKU ----------------------------------
    visitor_ctx = browser.new_context(locale="en-GB", viewport={"width": 390, "height": 844})
    visitor_ctx.set_default_timeout(15_000)
    visitor = visitor_ctx.new_page()
    visitor.on("pageerror", lambda exc: errors.append(str(exc)))
    visitor.goto(live_server + "/")
    visitor.locator("#search-q").fill("羊绒 围巾")
    visitor.locator("#search-q").press("Enter")
    result = visitor.get_by_role("link", name="羊绒围巾 Cashmere scarf").first
    expect(result).to_be_visible()
    result.click()
    expect(visitor.locator("h1")).to_contain_text("羊绒围巾 Cashmere scarf")

    def spec(axis: str, value: str):
        return visitor.locator(f'.spec-value[data-axis="{axis}"][data-value="{value}"]')

    spec("颜色", "灰").click()
    spec("尺码", "M").click()
    expect(visitor.locator("#sku-price")).to_have_text("¥259.00")
    expect(visitor.locator("#sku-count")).to_have_text("(7 available)")
    spec("颜色", "红").click()
    spec("尺码", "S").click()
    expect(visitor.locator("#sku-price")).to_have_text("¥199.00")
    expect(visitor.locator("#sku-stock")).to_have_text("Only 2 left")
    spec("尺码", "M").click()
    expect(visitor.locator("#sku-stock")).to_have_text("Out of stock")
    expect(visitor.locator("#quantity")).to_be_disabled()
    assert errors == []
