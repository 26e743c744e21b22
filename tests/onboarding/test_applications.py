from __future__ import annotations

import io
import re

import pytest
from PIL import Image
from sqlalchemy import func, select

from mall.audit.models import AuditEntry
from mall.mail.models import OutboxMessage
from mall.merchants.models import Merchant, MerchantMembership, StaffMember
from mall.notifications.models import SiteMessage, SmsMessage
from mall.onboarding.models import MerchantApplication
from mall.tenancy import tenant
from mall.tenancy.models import TenantSchema
from tests.conftest import csrf_token, login
from tests.jobs.helpers import work

EN = {"Accept-Language": "en"}


def png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (32, 20), (200, 30, 30)).save(buf, "PNG")
    return buf.getvalue()


def post(client, path, data, **kw):
    data = {**data, "csrf_token": csrf_token(client, "/open-store")}
    return client.post(path, data=data, headers=EN, **kw)


def fill_application(client, app, db, *, slug="tea-garden"):
    """Walk every step as the applicant would, through the pages."""
    assert post(client, "/open-store/start", {}).status_code == 302
    r = post(
        client,
        "/open-store/application/subject",
        {
            "kind": "company",
            "legal_name": "Tea Garden Co., Ltd.",
            "licence_number": "91310000MA1FL8XQ3A",
            "contact_name": "Li Lei",
            "contact_email": "lilei@example.test",
        },
    )
    assert r.status_code == 302, r.get_data(as_text=True)
    assert (
        post(
            client, "/open-store/application/phone", {"contact_phone": "13712345678", "action": "send_code"}
        ).status_code
        == 302
    )
    work(app)
    sms = db.session.scalars(select(SmsMessage).where(SmsMessage.phone == "13712345678")).all()
    code = re.search(r"\d{6}", sms[-1].body).group(0)
    assert (
        post(
            client,
            "/open-store/application/phone",
            {"contact_phone": "13712345678", "sms_code": code, "action": "verify"},
        ).status_code
        == 302
    )
    files = {
        "licence_file": (io.BytesIO(png()), "licence.png"),
        "id_front_file": (io.BytesIO(png()), "front.png"),
        "id_back_file": (io.BytesIO(png()), "back.png"),
    }
    r = post(client, "/open-store/application/documents", files, content_type="multipart/form-data")
    assert r.status_code == 302, r.get_data(as_text=True)
    assert (
        post(
            client,
            "/open-store/application/bank",
            {
                "bank_account_name": "Tea Garden Co., Ltd.",
                "bank_name": "ICBC Shanghai",
                "bank_account_number": "6222 0000 1111 2222",
            },
        ).status_code
        == 302
    )
    r = post(
        client,
        "/open-store/application/store",
        {"store_name": "Tea Garden", "store_slug": slug, "main_categories": ["food"]},
    )
    assert r.status_code == 302, r.get_data(as_text=True)
    return post(client, "/open-store/application/agreement", {"accept": "1"})


def test_application_round_trip_with_questions_and_approval(app, client, db, make_user):
    applicant = make_user("applicant1", locale="en")  # messages are written in the recipient's language
    reviewer = make_user("reviewer1", operator_role="operator")
    login(client, applicant.username)
    assert fill_application(client, app, db).status_code == 302
    application = db.session.scalar(select(MerchantApplication).where(MerchantApplication.applicant_id == applicant.id))
    assert application.status == "submitted" and application.bank_account_number == "6222000011112222"

    ops = app.test_client()
    login(ops, reviewer.username, area="platform")
    page = ops.get("/platform/platform_applications/", headers=EN).get_data(as_text=True)
    assert "Tea Garden" in page
    detail = ops.get(f"/platform/platform_applications/{application.id}", headers=EN).get_data(as_text=True)
    assert "••••••••••••2222" in detail
    token = csrf_token(ops, f"/platform/platform_applications/{application.id}")
    decide = f"/platform/platform_applications/{application.id}/decide"
    # Asking without a question is refused and changes nothing.
    ops.post(decide, data={"action": "ask", "note": "", "csrf_token": token})
    db.session.refresh(application)
    assert application.status == "submitted"
    ops.post(decide, data={"action": "ask", "note": "Please upload a clearer licence.", "csrf_token": token})
    db.session.refresh(application)
    assert application.status == "needs_info"

    # The applicant answers, re-uploads and resubmits.
    assert post(client, "/open-store/application/answer", {"answer": "Uploaded a new scan."}).status_code == 302
    files = {"licence_file": (io.BytesIO(png()), "licence2.png")}
    assert (
        post(client, "/open-store/application/documents", files, content_type="multipart/form-data").status_code == 302
    )
    assert post(client, "/open-store/application/agreement", {"accept": "1"}).status_code == 302
    db.session.refresh(application)
    assert application.status == "submitted"

    r = ops.post(decide, data={"action": "approve", "csrf_token": token})
    assert r.status_code == 302
    db.session.refresh(application)
    merchant = db.session.get(Merchant, application.merchant_id)
    assert (application.status, merchant.slug, merchant.subdomain) == ("approved", "tea-garden", "tea-garden")
    assert merchant.deposit_due_cents == app.config["MERCHANT_DEPOSIT_CENTS"] == application.deposit_due_cents
    assert db.session.get(TenantSchema, merchant.id).state == "active"
    assert db.session.scalar(select(MerchantMembership).where(MerchantMembership.user_id == applicant.id))
    with tenant(merchant.id):
        owner = db.session.scalar(select(StaffMember).where(StaffMember.user_id == applicant.id))
        assert owner.role_code == "owner"

    history = [(e.from_status, e.to_status) for e in application.events]
    assert history == [
        (None, "draft"),
        ("draft", "submitted"),
        ("submitted", "needs_info"),
        ("needs_info", "needs_info"),
        ("needs_info", "submitted"),
        ("submitted", "approved"),
    ]
    assert application.events[2].note == "Please upload a clearer licence."
    assert application.events[2].actor_id == reviewer.id and application.events[3].actor_id == applicant.id
    actions = db.session.scalars(select(AuditEntry.action).where(AuditEntry.object_type == "MerchantApplication")).all()
    assert sorted(actions) == ["application.approved", "application.needs_info"]

    work(app)  # notifications: in-site messages and emails for each transition
    subjects = db.session.scalars(
        select(SiteMessage.subject).where(SiteMessage.user_id == applicant.id).order_by(SiteMessage.id)
    ).all()
    assert subjects == [
        "We received your store application",
        "Your store application needs more information",
        "We received your store application",
        "Your store is open",
    ]
    assert (
        db.session.scalar(select(func.count(OutboxMessage.id)).where(OutboxMessage.to_address == applicant.email)) == 4
    )
    # The new owner reaches the merchant centre of the new store.
    assert client.get("/merchant/").status_code == 200


def test_validation_errors_are_per_field_and_change_nothing(app, client, db, make_user):
    applicant = make_user()
    login(client, applicant.username)
    post(client, "/open-store/start", {})
    r = post(
        client,
        "/open-store/application/subject",
        {
            "kind": "company",
            "legal_name": "X Co",
            "licence_number": "123",
            "contact_name": "Li",
            "contact_email": "li@example.test",
        },
    )
    assert r.status_code == 400 and "15 or 18 letters and digits" in r.get_data(as_text=True)
    application = db.session.scalar(select(MerchantApplication).where(MerchantApplication.applicant_id == applicant.id))
    assert application.legal_name is None
    r = post(
        client,
        "/open-store/application/store",
        {"store_name": "Shop", "store_slug": "admin", "main_categories": ["food"]},
    )
    assert r.status_code == 400 and "reserved" in r.get_data(as_text=True)
    r = post(client, "/open-store/application/agreement", {"accept": "1"})
    assert r.status_code == 400 and "Please complete" in r.get_data(as_text=True)
    r = post(
        client,
        "/open-store/application/phone",
        {"contact_phone": "13712345678", "sms_code": "000000", "action": "verify"},
    )
    assert r.status_code == 400
    db.session.refresh(application)
    assert application.status == "draft" and application.phone_verified_at is None


def test_applicants_see_only_their_own_application_and_documents(app, client, db, make_user):
    first, second = make_user(), make_user()
    login(client, first.username)
    fill_application(client, app, db)
    application = db.session.scalar(select(MerchantApplication).where(MerchantApplication.applicant_id == first.id))
    other = app.test_client()
    login(other, second.username)
    assert "Tea Garden" not in other.get("/open-store/application", follow_redirects=True).get_data(as_text=True)
    assert other.get(f"/files/{application.licence_file_id}").status_code == 403
    assert client.get(f"/files/{application.licence_file_id}").status_code == 200
    # An operator without the review permission can neither see the documents nor decide.
    editor = make_user(operator_role="content_editor")
    ops = app.test_client()
    login(ops, editor.username, area="platform")
    assert ops.get(f"/files/{application.licence_file_id}").status_code == 403
    assert ops.get(f"/platform/platform_applications/{application.id}").status_code == 403
    r = ops.post(
        f"/platform/platform_applications/{application.id}/decide",
        data={"action": "approve", "csrf_token": csrf_token(ops, "/platform/")},
    )
    assert r.status_code == 403
    db.session.refresh(application)
    assert application.status == "submitted"


def test_provisioning_failure_leaves_nothing_and_says_why(app, client, db, make_user, monkeypatch):
    from mall.merchants import services as stores

    applicant = make_user()
    reviewer = make_user(operator_role="sysadmin")
    login(client, applicant.username)
    fill_application(client, app, db, slug="doomed-shop")
    application = db.session.scalar(select(MerchantApplication).where(MerchantApplication.applicant_id == applicant.id))
    merchants_before = db.session.scalar(select(func.count(Merchant.id)))

    def broken(merchant_id):
        from sqlalchemy import text

        db.session.execute(text("CREATE SCHEMA provisioning_will_fail"))
        db.session.execute(text("SELECT * FROM no_such_table_for_provisioning"))

    monkeypatch.setattr(stores, "provision_merchant_schema", broken)
    ops = app.test_client()
    login(ops, reviewer.username, area="platform")
    token = csrf_token(ops, f"/platform/platform_applications/{application.id}")
    r = ops.post(
        f"/platform/platform_applications/{application.id}/decide",
        data={"action": "approve", "csrf_token": token},
        headers=EN,
        follow_redirects=True,
    )
    assert "The store could not be created" in r.get_data(as_text=True)
    assert "no_such_table_for_provisioning" in r.get_data(as_text=True)
    db.session.refresh(application)
    assert application.status == "submitted" and application.merchant_id is None
    assert db.session.scalar(select(func.count(Merchant.id))) == merchants_before
    from sqlalchemy import text

    assert (
        db.session.execute(
            text("SELECT 1 FROM information_schema.schemata WHERE schema_name = 'provisioning_will_fail'")
        ).first()
        is None
    )


def test_rejection_needs_a_reason_and_is_final(app, client, db, make_user):
    applicant = make_user()
    reviewer = make_user(operator_role="operator")
    login(client, applicant.username)
    fill_application(client, app, db)
    application = db.session.scalar(select(MerchantApplication).where(MerchantApplication.applicant_id == applicant.id))
    ops = app.test_client()
    login(ops, reviewer.username, area="platform")
    token = csrf_token(ops, f"/platform/platform_applications/{application.id}")
    decide = f"/platform/platform_applications/{application.id}/decide"
    ops.post(decide, data={"action": "reject", "note": "", "csrf_token": token})
    db.session.refresh(application)
    assert application.status == "submitted"
    ops.post(decide, data={"action": "reject", "note": "Licence does not match the legal name.", "csrf_token": token})
    db.session.refresh(application)
    assert (application.status, application.decision_reason) == ("rejected", "Licence does not match the legal name.")
    r = ops.post(decide, data={"action": "approve", "csrf_token": token}, headers=EN, follow_redirects=True)
    assert "Only a submitted application can be approved." in r.get_data(as_text=True)
    page = client.get("/open-store/application", headers=EN).get_data(as_text=True)
    assert "Licence does not match the legal name." in page


@pytest.mark.parametrize("slug", ["ab", "-bad-", "Has_Upper", "www"])
def test_slug_live_check(client, db, slug):
    data = client.get(f"/open-store/slug-available?slug={slug}", headers=EN).json
    assert data["available"] is False


def test_sms_codes_are_rate_limited(app, client, db, make_user):
    login(client, make_user().username)
    post(client, "/open-store/start", {})
    assert (
        post(
            client, "/open-store/application/phone", {"contact_phone": "13700000000", "action": "send_code"}
        ).status_code
        == 302
    )
    r = post(client, "/open-store/application/phone", {"contact_phone": "13700000000", "action": "send_code"})
    assert r.status_code == 400 and "wait a minute" in r.get_data(as_text=True)


def test_notifications_are_written_in_the_recipients_language(app, db, make_user):
    from mall.i18n import L_
    from mall.notifications.services import notify

    chinese, unset, english = make_user(locale="zh_Hans_CN"), make_user(), make_user(locale="en")
    db.session.flush()
    # Caused by an English-speaking operator's request: each recipient still reads their own language.
    with app.test_request_context(headers={"Accept-Language": "en"}):
        for user in (chinese, unset, english):
            notify(user.id, L_("Your store is open"), L_("Reason: %(note)s", note="x"))
        db.session.commit()
    work(app)
    rows = dict(db.session.execute(select(SiteMessage.user_id, SiteMessage.subject)).all())
    assert rows == {chinese.id: "您的店铺已开通", unset.id: "您的店铺已开通", english.id: "Your store is open"}
