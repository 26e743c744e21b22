"""Real browser: the owner decorates the store (banner upload + rich text), previews, publishes; a visitor sees it.

Headless Debian Chromium against the app on a live HTTP server with real commits (the database is
wiped afterwards). Skipped when /usr/bin/chromium is missing; a browser is never downloaded.
Screenshots of the themes for docs/ are made by docs/screenshots/make_screenshots.py.
"""

from __future__ import annotations

import pytest

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.conftest import PASSWORD
from tests.decoration.conftest import png_bytes

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} not found (apt-get install chromium)"),
]


def _image_loaded(locator) -> bool:
    return locator.evaluate("img => img.complete && img.naturalWidth > 0")


def test_owner_decorates_previews_publishes_and_a_visitor_sees_it(
    live_server, committed_db, make_user, make_merchant, tmp_path
):
    from playwright.sync_api import expect, sync_playwright

    owner = make_user("deco_owner")
    make_merchant("Maple Crafts", slug="maple-crafts", owner=owner)
    committed_db.session.commit()
    banner_file = tmp_path / "autumn.png"
    banner_file.write_bytes(png_bytes(1500, 500, (180, 90, 40)))

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(locale="en-GB", viewport={"width": 1280, "height": 900})
            context.set_default_timeout(15_000)
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))

            # Log in to the merchant centre and open the editor from the sidebar.
            page.goto(live_server + "/merchant/login")
            page.locator("#identifier").fill("deco_owner")
            page.locator("#password").fill(PASSWORD)
            page.locator("main form button[type=submit]").click()
            page.locator("nav.sidebar").get_by_role("link", name="Shop decoration").click()
            expect(page).to_have_url(live_server + "/merchant/decoration")
            expect(page.locator("main h1")).to_have_text("Shop decoration")
            expect(page.locator("#modules")).to_contain_text("No modules yet.")

            # A banner carousel with an uploaded image.
            page.locator("#new-module-type").select_option(label="Banner carousel")
            page.locator(".deco-add").get_by_role("button", name="Add").click()
            expect(page.locator("main h1")).to_have_text("New module: Banner carousel")
            page.locator("#slides-new-image").set_input_files(str(banner_file))
            page.locator("#slides-new-link").fill("/shop/maple-crafts/")
            page.locator("#slides-new-alt").fill("Autumn sale on maple bowls")
            page.get_by_role("button", name="Save to the draft").click()
            expect(page.locator(".flash-success")).to_have_text("Module added to the draft.")
            expect(page.locator("#modules")).to_contain_text("Banner carousel")

            # A rich text module; its script is dropped when saved.
            page.locator("#new-module-type").select_option(label="Rich text")
            page.locator(".deco-add").get_by_role("button", name="Add").click()
            page.locator("#html").fill(
                "<h2>Made in our workshop</h2><p>Every bowl is <strong>turned by hand</strong>."
                "<script>document.title='hacked'</script></p>"
            )
            page.get_by_role("button", name="Save to the draft").click()
            expect(page.locator(".flash-success")).to_have_text("Module added to the draft.")
            expect(page.locator(".deco-modules li")).to_have_count(2)

            # Preview: the draft as buyers will see it, at desktop and at phone width.
            page.locator(".deco-status").get_by_role("link", name="Preview").click()
            frame = page.frame_locator("iframe")
            expect(frame.locator(".mod-richtext h2")).to_have_text("Made in our workshop")
            expect(frame.locator(".mod-banner img")).to_have_attribute("alt", "Autumn sale on maple bowls")
            assert _image_loaded(frame.locator(".mod-banner img"))
            expect(page.locator("iframe")).to_have_attribute("width", "1280")
            page.get_by_role("link", name="Phone (390 px)").click()
            expect(page.locator("iframe")).to_have_attribute("width", "390")
            expect(page.frame_locator("iframe").locator(".mod-richtext strong")).to_have_text("turned by hand")

            # Not visible to buyers before publishing.
            visitor = browser.new_context(locale="en-GB", viewport={"width": 390, "height": 844})
            shop = visitor.new_page()
            shop.on("pageerror", lambda exc: errors.append(str(exc)))
            shop.goto(live_server + "/shop/maple-crafts/")
            expect(shop.locator(".shop-decorating h2")).to_have_text("This store is being decorated")

            # Publish from the preview.
            page.get_by_role("button", name="Publish").click()
            expect(page.locator(".flash-success")).to_have_text("Version 1 is published: buyers see it now.")
            expect(page.locator("#versions")).to_contain_text("Live")

            # An anonymous visitor sees the published store.
            shop.goto(live_server + "/shop/maple-crafts/")
            expect(shop.locator("h1.shop-name")).to_have_text("Maple Crafts")
            banner = shop.locator(".mod-banner img")
            expect(banner).to_have_attribute("alt", "Autumn sale on maple bowls")
            assert _image_loaded(banner)
            expect(shop.locator(".mod-richtext h2")).to_have_text("Made in our workshop")
            assert shop.title() == "Maple Crafts · Mall"
            assert shop.locator(".mod-richtext script").count() == 0
            # The theme's stylesheet is applied (served from /themes/default/static/).
            assert shop.locator(".shop-header").evaluate("el => getComputedStyle(el).borderTopWidth") == "4px"
            shop.locator(".mod-banner a").click()
            expect(shop).to_have_url(live_server + "/shop/maple-crafts/")
            assert errors == [], f"JavaScript errors: {errors}"
        finally:
            browser.close()
