"""Real browser: the owner creates a product with two specs in the editor (the category reloads its
attributes, the SKU table follows the specs as they are typed), saves it and submits it.

Headless Debian Chromium against the live server with real commits (wiped afterwards).
"""

from __future__ import annotations

import os

import pytest
from sqlalchemy import select

from mall.catalog.models import Product
from mall.tenancy import tenant
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.catalog.product_helpers import make_taxonomy, png
from tests.conftest import PASSWORD

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} not found (apt-get install chromium)"),
]


def test_owner_creates_a_product_with_two_specs_and_submits_it(
    live_server, committed_db, make_user, make_merchant, tmp_path
):
    from playwright.sync_api import expect, sync_playwright

    owner = make_user("scarf_owner")
    merchant = make_merchant("Scarf House", slug="scarf-house", owner=owner)
    tax = make_taxonomy(committed_db)
    committed_db.session.commit()
    photo = tmp_path / "scarf.png"
    photo.write_bytes(png((150, 20, 40)))
    shots = os.environ.get("PRODUCT_EDITOR_SCREENSHOTS")  # a folder, to look at the pages

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(locale="en-GB", viewport={"width": 1280, "height": 900})
            context.set_default_timeout(15_000)
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("dialog", lambda dialog: dialog.accept())

            page.goto(live_server + "/merchant/login")
            page.locator("#identifier").fill("scarf_owner")
            page.locator("#password").fill(PASSWORD)
            page.locator("main form button[type=submit]").click()
            page.locator("nav.sidebar").get_by_role("link", name="Products").click()
            expect(page.locator("main h1")).to_have_text("Products")
            page.get_by_role("link", name="New product").click()

            # Choosing the category reloads the form with its attributes, keeping the title.
            page.locator("#title").fill("羊绒围巾 Cashmere scarf")
            page.locator("#category_id").select_option(str(tax.leaf.id))
            expect(page.locator(f"#attr-{tax.material.id}")).to_be_visible()
            expect(page.locator("#title")).to_have_value("羊绒围巾 Cashmere scarf")
            page.locator(f"#attr-{tax.material.id}").select_option("羊绒")

            # The SKU table follows the specs: one row, then 2 x 2 rows, typed prices kept per row.
            rows = page.locator("#sku-table tbody tr")
            expect(rows).to_have_count(1)
            page.locator("#spec-0-name").fill("颜色")
            page.locator("#spec-0-values").fill("红, 灰")
            expect(rows).to_have_count(2)
            page.locator('#sku-table [name="sku-0-price"]').fill("199.00")
            page.locator("#spec-1-name").fill("尺码")
            page.locator("#spec-1-values").fill("S, M")
            expect(rows).to_have_count(4)
            expect(rows.nth(3).locator(".pe-spec-label")).to_contain_text("灰 / M")
            page.locator("#fill-price").fill("129.00")
            page.get_by_role("button", name="Fill in").click()
            page.locator('[name="sku-1-stock"]').fill("7")
            page.locator("#new_images").set_input_files(str(photo))
            if shots:
                page.screenshot(path=os.path.join(shots, "editor-new.png"), full_page=True)
            page.get_by_role("button", name="Save draft").click()
            expect(page.locator(".flash-success")).to_have_text("Draft saved.")
            expect(page.locator("#sku-table tbody tr")).to_have_count(4)
            expect(page.locator("#images img")).to_have_count(1)

            page.locator("#status").get_by_role("button", name="Submit for review").click()
            expect(page.locator(".flash-success")).to_contain_text("Submitted for review.")
            expect(page.locator('[data-status="submitted"]')).to_be_visible()
            if shots:
                page.screenshot(path=os.path.join(shots, "editor-submitted.png"), full_page=True)
                page.set_viewport_size({"width": 390, "height": 844})
                page.goto(live_server + "/merchant/products")
                page.screenshot(path=os.path.join(shots, "list-phone.png"), full_page=True)
            assert errors == []
        finally:
            browser.close()

    with tenant(merchant.id):
        product = committed_db.session.scalar(select(Product))
        skus = sorted(product.skus, key=lambda s: s.position)
        assert product.status == "submitted" and len(product.images) == 1
        assert [(s.spec_key, s.price_cents, s.stock) for s in skus] == [
            ("颜色:红|尺码:S", 12900, 0),
            ("颜色:红|尺码:M", 12900, 7),
            ("颜色:灰|尺码:S", 12900, 0),
            ("颜色:灰|尺码:M", 12900, 0),
        ]
