"""One real-browser smoke test: headless Debian Chromium against the app on a live HTTP server.

Home page in Chinese, switch to English, register (with the live username check), log out,
log in again. Skipped when /usr/bin/chromium is missing; a browser is never downloaded.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS

ZH_CATALOG = Path(__file__).resolve().parents[2] / "translations" / "zh_Hans_CN" / "LC_MESSAGES" / "messages.po"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} not found (apt-get install chromium)"),
]


def zh(message: str) -> str:
    """The Chinese catalog's translation of ``message`` (the test fails if it has none)."""
    from babel.messages.pofile import read_po

    assert ZH_CATALOG.exists(), f"missing {ZH_CATALOG}"
    with ZH_CATALOG.open("rb") as f:
        entry = read_po(f).get(message)
    assert entry is not None and entry.string, f"{message!r} is not translated in {ZH_CATALOG}"
    return entry.string


def test_browse_switch_language_register_logout_login(live_server):
    from playwright.sync_api import expect, sync_playwright

    username, email, password = "smoke_user1", "smoke@example.test", "browser123"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(locale="zh-CN")
            context.set_default_timeout(15_000)
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))

            # Home page, in Chinese by default.
            page.goto(live_server + "/")
            expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
            expect(page.locator("nav.nav")).to_contain_text(zh("Log in"))
            expect(page.locator("h1")).to_have_text(zh("One cart, every store"))

            # Switch to English.
            page.locator("nav.lang").get_by_role("link", name="English").click()
            expect(page.locator("html")).to_have_attribute("lang", "en")
            expect(page.locator("nav.nav").get_by_role("link", name="Log in")).to_be_visible()
            expect(page.locator("h1")).to_have_text("One cart, every store")

            # Register; the live check fills the help line while typing.
            page.locator("nav.nav").get_by_role("link", name="Register").click()
            expect(page).to_have_url(live_server + "/account/register")
            help_line = page.locator("#username-help")
            page.locator("#username").press_sequentially(username, delay=20)
            expect(help_line).to_have_text("This username is available.")
            expect(help_line).to_have_class("help ok")
            page.locator("#email").fill(email)
            page.locator("#password").fill(password)
            page.locator("#confirm").fill(password)
            page.locator("#register-form button[type=submit]").click()

            expect(page).to_have_url(live_server + "/account")
            expect(page.locator("main")).to_contain_text(f"Welcome, {username}!")
            expect(page.locator("main table")).to_contain_text(username)
            expect(page.locator("main table")).to_contain_text(email)

            # Log out.
            page.locator("nav.nav").get_by_role("button", name="Log out").click()
            expect(page).to_have_url(live_server + "/")
            expect(page.locator("nav.nav").get_by_role("link", name="Log in")).to_be_visible()

            # The live check now says the name is taken.
            page.goto(live_server + "/account/register")
            page.locator("#username").press_sequentially(username, delay=20)
            expect(help_line).to_have_class("help bad")

            # Log in again with the same credentials.
            page.locator("nav.nav").get_by_role("link", name="Log in").click()
            page.locator("#identifier").fill(username)
            page.locator("#password").fill(password)
            page.locator("main form button[type=submit]").click()
            expect(page).to_have_url(live_server + "/account")
            expect(page.locator("main h1")).to_have_text("My account")
            expect(page.locator("main table")).to_contain_text(username)
            expect(page.locator("nav.nav")).to_contain_text(username)

            assert errors == [], f"JavaScript errors: {errors}"
        finally:
            browser.close()
