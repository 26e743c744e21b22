"""End to end in Chromium: an applicant applies, an operator approves, the owner reaches the new store."""

from __future__ import annotations

import io
import re

import pytest
from PIL import Image
from sqlalchemy import select

from tests.browser.conftest import CHROMIUM

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} not found (apt-get install chromium)"),
]
PASSWORD = "browser123"


def make_png(path, colour) -> str:
    buf = io.BytesIO()
    Image.new("RGB", (400, 260), colour).save(buf, "PNG")
    path.write_bytes(buf.getvalue())
    return str(path)


def latest_code(committed_db, phone: str) -> str:
    from mall.notifications.models import SmsMessage

    committed_db.session.expire_all()
    body = committed_db.session.scalars(
        select(SmsMessage.body).where(SmsMessage.phone == phone).order_by(SmsMessage.id.desc())
    ).first()
    committed_db.session.rollback()  # end the read transaction: the live server keeps writing
    return re.search(r"\d{6}", body).group(0)


def apply_for_a_store(page, base, committed_db, tmp_path, *, slug: str, name: str) -> None:
    from playwright.sync_api import expect

    page.goto(base + "/open-store")
    page.get_by_role("button", name="Start the application").click()
    expect(page.locator("main h1")).to_have_text("Your store application")
    page.get_by_role("link", name="Business details").first.click()
    page.locator("#legal_name").fill("Hill Tea Co., Ltd.")
    page.locator("#licence_number").fill("91310000MA1FL8XQ3A")
    page.locator("#contact_name").fill("Wang Fang")
    page.locator("#contact_email").fill("wangfang@example.test")
    page.get_by_role("button", name="Save and continue").click()

    expect(page.locator("main h1")).to_have_text("Mobile number")
    page.locator("#contact_phone").fill("13655556666")
    page.get_by_role("button", name="Send a code").click()
    expect(page.locator(".flash")).to_contain_text("We sent a code")
    page.locator("#sms_code").fill(latest_code(committed_db, "13655556666"))
    page.get_by_role("button", name="Verify").click()
    assert page.locator("p.error").count() == 0, page.locator("p.error").all_inner_texts()

    expect(page.locator("main h1")).to_have_text("Documents")
    page.locator("#licence_file").set_input_files(make_png(tmp_path / "licence.png", (200, 200, 200)))
    page.locator("#id_front_file").set_input_files(make_png(tmp_path / "front.png", (180, 180, 220)))
    page.locator("#id_back_file").set_input_files(make_png(tmp_path / "back.png", (220, 180, 180)))
    page.get_by_role("button", name="Upload and continue").click()

    expect(page.locator("main h1")).to_have_text("Payout bank account")
    page.locator("#bank_account_name").fill("Hill Tea Co., Ltd.")
    page.locator("#bank_name").fill("Bank of China, Hangzhou")
    page.locator("#bank_account_number").fill("6217000011112222333")
    page.get_by_role("button", name="Save and continue").click()

    expect(page.locator("main h1")).to_have_text("Your store")
    page.locator("#store_name").fill(name)
    page.locator("#store_slug").press_sequentially(slug, delay=10)
    expect(page.locator("#store_slug-help")).to_have_text("This address is available.")
    page.get_by_label("Food and drinks").check()
    page.get_by_role("button", name="Save and continue").click()

    expect(page.locator("main h1")).to_have_text("Agreement")
    page.get_by_label("I have read and accept the merchant agreement.").check()
    page.get_by_role("button", name="Submit the application").click()
    expect(page.locator("[data-status]")).to_have_text("Submitted, waiting for review")


def approve_application(page, base, operator: str) -> None:
    from playwright.sync_api import expect

    page.goto(base + "/platform/login")
    page.locator("#identifier").fill(operator)
    page.locator("#password").fill(PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.goto(base + "/platform/platform_applications/")
    page.locator("table a").first.click()
    page.get_by_role("button", name="Approve").click()
    expect(page.locator("[data-status]")).to_have_text("Approved")


def decorate_and_publish(page, base, tmp_path) -> None:
    """The new owner adds a banner and a rich text module, previews the draft and publishes it."""
    from playwright.sync_api import expect

    page.goto(base + "/merchant/decoration")
    page.locator("#new-module-type").select_option(label="Banner carousel")
    page.locator(".deco-add").get_by_role("button", name="Add").click()
    page.locator("#slides-new-image").set_input_files(make_png(tmp_path / "banner.png", (60, 140, 60)))
    page.locator("#slides-new-alt").fill("Spring tea harvest")
    page.get_by_role("button", name="Save to the draft").click()
    expect(page.locator(".flash-success")).to_have_text("Module added to the draft.")
    page.locator("#new-module-type").select_option(label="Rich text")
    page.locator(".deco-add").get_by_role("button", name="Add").click()
    page.locator("#html").fill("<h2>Picked on our own hills</h2><p>Green tea<script>alert(1)</script></p>")
    page.get_by_role("button", name="Save to the draft").click()
    page.locator(".deco-status").get_by_role("link", name="Preview").click()
    expect(page.frame_locator("iframe").locator(".mod-richtext h2")).to_have_text("Picked on our own hills")
    page.get_by_role("button", name="Publish").click()
    expect(page.locator(".flash-success")).to_contain_text("is published")


def test_apply_approve_decorate_publish_and_a_visitor_sees_it(
    live_server, live_app, browser, committed_db, make_user, tmp_path
):
    from playwright.sync_api import expect

    applicant = make_user("hill_tea", password=PASSWORD)
    make_user("reviewer9", password=PASSWORD, operator_role="operator")
    committed_db.session.commit()

    shopper = browser.new_context(locale="en-US")
    shopper.set_default_timeout(15_000)
    page = shopper.new_page()
    page.goto(live_server + "/account/login")
    page.locator("#identifier").fill(applicant.username)
    page.locator("#password").fill(PASSWORD)
    page.locator("main form button[type=submit]").click()
    apply_for_a_store(page, live_server, committed_db, tmp_path, slug="hill-tea", name="Hill Tea House")

    ops = browser.new_context(locale="en-US")
    ops.set_default_timeout(15_000)
    approve_application(ops.new_page(), live_server, "reviewer9")

    page.goto(live_server + "/merchant/")
    expect(page.locator("main h1")).to_have_text("Hill Tea House")
    decorate_and_publish(page, live_server, tmp_path)
    visitor = browser.new_context(locale="en-US", viewport={"width": 390, "height": 844})
    shop = visitor.new_page()
    shop.goto(live_server + "/shop/hill-tea/")
    expect(shop.locator("h1.shop-name")).to_have_text("Hill Tea House")
    expect(shop.locator(".mod-banner img")).to_have_attribute("alt", "Spring tea harvest")
    expect(shop.locator(".mod-richtext h2")).to_have_text("Picked on our own hills")
    assert shop.locator(".mod-richtext script").count() == 0

    from tests.jobs.helpers import work

    work(live_app)  # the notifications are jobs
    page.goto(live_server + "/account/messages")
    expect(page.locator("main")).to_contain_text("We received your store application")
