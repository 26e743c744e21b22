"""The product page in a real browser: the SKU picker updates price and stock, disables combinations
without an active SKU, shows "out of stock" with the notify-me box, and the gallery switches pictures."""

from __future__ import annotations

from mall.catalog.models import Sku
from tests.catalog import browse_helpers as h


def test_picking_specs_updates_price_and_stock(live_server, browser, committed_db, make_merchant):
    from playwright.sync_api import expect

    db = committed_db
    leaf = h.category("Scarves", "scarves")
    merchant = make_merchant("Wool House", slug="wool-house")
    skus = [
        Sku(spec_values={"Colour": "Red", "Size": "S"}, spec_key="a", price_cents=19900, market_price_cents=29900,
            stock=3, position=0),
        Sku(spec_values={"Colour": "Red", "Size": "L"}, spec_key="b", price_cents=21900, stock=0, position=1),
        Sku(spec_values={"Colour": "Grey", "Size": "S"}, spec_key="c", price_cents=124900, stock=7, position=2),
        Sku(spec_values={"Colour": "Grey", "Size": "L"}, spec_key="d", price_cents=1, stock=9, is_active=False,
            position=3),
    ]  # fmt: skip
    row = h.product(
        merchant,
        leaf,
        "Cashmere scarf",
        slug="cashmere-scarf",
        skus=skus,
        specs=[{"name": "Colour", "values": ["Red", "Grey"]}, {"name": "Size", "values": ["S", "L"]}],
        images=2,
    )
    db.session.commit()

    context = browser.new_context(locale="en-US")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{live_server}/p/{row.id}-cashmere-scarf")

    price, stock, restock = page.locator("#sku-price"), page.locator("#sku-stock"), page.locator("#restock")
    expect(price).to_have_text("¥199.00")
    expect(page.locator("#sku-market")).to_have_text("¥299.00")
    expect(stock).to_have_text("Only 3 left")
    expect(restock).to_be_hidden()

    def spec(axis: str, value: str):
        return page.locator(f'.spec-value[data-axis="{axis}"][data-value="{value}"]')

    spec("Colour", "Grey").click()
    expect(price).to_have_text("¥1,249.00")
    expect(page.locator("#sku-market")).to_be_hidden()
    expect(page.locator("#sku-count")).to_have_text("(7 available)")
    expect(spec("Size", "L")).to_be_disabled()  # Grey/L is not an active SKU

    spec("Colour", "Red").click()
    expect(spec("Size", "L")).to_be_enabled()
    spec("Size", "L").click()
    expect(price).to_have_text("¥219.00")
    expect(stock).to_have_text("Out of stock")
    expect(page.locator("#quantity")).to_be_disabled()
    expect(restock).to_be_visible()
    expect(restock.get_by_role("link", name="Log in to be notified when it is back")).to_be_visible()

    main = page.locator("#gallery-main")
    first_src = main.get_attribute("src")
    page.locator(".gallery-thumbs a").nth(1).click()
    expect(main).not_to_have_attribute("src", first_src)
    assert errors == []
    context.close()
