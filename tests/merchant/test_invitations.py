"""Staff invitations (M-11): by email or SMS, accepted once by a logged-in user, refused when expired,
withdrawn, used or given with another store's id."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from mall.audit.models import AuditEntry
from mall.mail.models import OutboxMessage
from mall.merchants.models import MerchantMembership, StaffInvitation, StaffMember, StaffRole
from mall.notifications.models import SmsMessage
from mall.tenancy import tenant
from tests.conftest import PASSWORD, csrf_token, login
from tests.jobs.helpers import work
from tests.merchant.helpers import add_staff_member, area_client, english, field_errors

LINK_RE = re.compile(r"http://mall\.test(/merchant/invitations/(\d+)/([A-Za-z0-9_\-]+))")


def invite(client, **data):
    token = csrf_token(client, "/merchant/staff")
    form = {"invite-csrf_token": token, "invite-role": data.pop("role", "orders")}
    form.update({f"invite-{k}": v for k, v in data.items()})
    return client.post("/merchant/staff/invite", data=form)


def sent_link(db, address: str) -> str:
    mail = db.session.scalar(select(OutboxMessage).where(OutboxMessage.to_address == address))
    return LINK_RE.search(mail.body_text).group(1)


def invitations_of(db, merchant_id: int) -> list[StaffInvitation]:
    with tenant(merchant_id):
        return list(db.session.scalars(select(StaffInvitation).order_by(StaffInvitation.id)))


def staff_row(db, merchant_id: int, user_id: int) -> StaffMember | None:
    with tenant(merchant_id):
        return db.session.scalar(select(StaffMember).where(StaffMember.user_id == user_id))


def accept(client, path: str):
    return client.post(path, data={"csrf_token": csrf_token(client, path)})


def test_email_invitation_round_trip(app, db, store, make_user):
    owner = area_client(app, store.owner, "merchant")
    response = invite(owner, email="New.Clerk@Example.test", role="orders")
    assert response.status_code == 302
    (invitation,) = invitations_of(db, store.merchant.id)
    assert invitation.email == "new.clerk@example.test" and invitation.role_code == "orders"
    assert invitation.expires_at - datetime.now(UTC) > timedelta(days=6, hours=23)
    staff_page = owner.get("/merchant/staff").get_data(as_text=True)
    assert "Invitation sent to new.clerk@example.test." in staff_page and "Order handler" in staff_page

    mail = db.session.scalar(select(OutboxMessage).where(OutboxMessage.to_address == "new.clerk@example.test"))
    assert "Tea House" in mail.body_text and "Order handler" in mail.body_text
    match = LINK_RE.search(mail.body_text)
    path, merchant_id, token = match.group(1), int(match.group(2)), match.group(3)
    assert merchant_id == store.merchant.id
    assert invitation.token_hash == hashlib.sha256(token.encode()).hexdigest()  # only the hash is kept
    assert token not in str(db.session.scalars(select(AuditEntry.changes)).all())
    work(app)
    assert db.session.get(OutboxMessage, mail.id).status == "logged"

    clerk = make_user("newclerk", email="new.clerk@example.test")
    browser = english(app.test_client())
    login(browser, "newclerk")
    page = browser.get(path)
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "Tea House" in text and "Order handler" in text
    assert "Accept and join the store" in text
    response = accept(browser, path)
    assert response.status_code == 302 and response.headers["Location"] == "/merchant/"

    staff = staff_row(db, store.merchant.id, clerk.id)
    assert staff.role_code == "orders" and staff.is_active and staff.created_by_id == store.owner.id
    assert db.session.scalar(
        select(MerchantMembership).where(
            MerchantMembership.merchant_id == store.merchant.id, MerchantMembership.user_id == clerk.id
        )
    ).is_active
    db.session.expire_all()
    (invitation,) = invitations_of(db, store.merchant.id)
    assert invitation.accepted_user_id == clerk.id and invitation.accepted_at is not None
    dashboard = browser.get("/merchant/")
    assert dashboard.status_code == 200 and "Tea House" in dashboard.get_data(as_text=True)
    assert browser.get("/merchant/staff").status_code == 403  # an order handler does not manage staff

    oplog = owner.get("/merchant/oplog").get_data(as_text=True)
    for action in ("staff.invite", "staff.add", "staff.invitation_accept"):
        assert action in oplog
    assert "No open invitations." in owner.get("/merchant/staff").get_data(as_text=True)


def test_an_anonymous_visitor_logs_in_and_comes_back(app, db, store, make_user):
    owner = area_client(app, store.owner, "merchant")
    invite(owner, email="later@example.test")
    path = sent_link(db, "later@example.test")
    visitor = english(app.test_client())
    page = visitor.get(path).get_data(as_text=True)
    assert "Tea House" in page and "Log in to accept." in page
    assert f'href="/account/login?next={path}"' in page
    assert (
        visitor.post(path, data={"csrf_token": csrf_token(visitor, "/account/login")})
        .headers["Location"]
        .startswith("/account/login")
    )
    make_user("laterclerk", email="later@example.test")
    response = visitor.post(
        f"/account/login?next={path}",
        data={"identifier": "laterclerk", "password": PASSWORD, "csrf_token": csrf_token(visitor, "/account/login")},
    )
    assert response.headers["Location"] == path
    assert accept(visitor, path).status_code == 302
    assert visitor.get("/merchant/").status_code == 200


def test_phone_invitation_is_sent_by_sms(app, db, store, make_user):
    owner = area_client(app, store.owner, "merchant")
    assert invite(owner, phone="138 0013 8000", role="service").status_code == 302
    (invitation,) = invitations_of(db, store.merchant.id)
    assert invitation.phone == "13800138000" and invitation.email is None
    sms = db.session.scalar(select(SmsMessage).where(SmsMessage.phone == "13800138000"))
    assert "Tea House" in sms.body
    path = LINK_RE.search(sms.body).group(1)
    assert work(app)
    clerk = make_user(phone="13800138000")
    browser = area_client(app, clerk, "consumer")
    assert accept(browser, path).status_code == 302
    assert staff_row(db, store.merchant.id, clerk.id).role_code == "service"


def test_custom_role_invitation(app, db, store, make_user):
    with tenant(store.merchant.id):
        role = StaffRole(name="Packer", permissions=["orders.manage", "oplog.view"])
        db.session.add(role)
        db.session.flush()
    owner = area_client(app, store.owner, "merchant")
    invite(owner, email="packer@example.test", role=f"custom:{role.id}")
    path = sent_link(db, "packer@example.test")
    browser = area_client(app, make_user(email="packer@example.test"), "consumer")
    assert "Packer" in browser.get(path).get_data(as_text=True)
    accept(browser, path)
    assert browser.get("/merchant/oplog").status_code == 200


def test_used_token_is_refused(app, db, store, make_user):
    owner = area_client(app, store.owner, "merchant")
    invite(owner, email="once@example.test")
    path = sent_link(db, "once@example.test")
    first = area_client(app, make_user(), "consumer")
    assert accept(first, path).status_code == 302
    second_user = make_user()
    second = area_client(app, second_user, "consumer")
    page = second.get(path)
    assert page.status_code == 410 and "This invitation has already been accepted." in page.get_data(as_text=True)
    assert second.post(path, data={"csrf_token": csrf_token(second, "/account/login")}).status_code == 410
    assert staff_row(db, store.merchant.id, second_user.id) is None


def test_expired_token_is_refused(app, db, store, make_user):
    owner = area_client(app, store.owner, "merchant")
    invite(owner, email="slow@example.test")
    path = sent_link(db, "slow@example.test")
    (invitation,) = invitations_of(db, store.merchant.id)
    with tenant(store.merchant.id):
        invitation.expires_at = datetime.now(UTC) - timedelta(minutes=1)
        db.session.flush()
    user = make_user(email="slow@example.test")
    browser = area_client(app, user, "consumer")
    page = browser.get(path)
    assert page.status_code == 410
    assert "This invitation has expired. Ask the store to send you a new one." in page.get_data(as_text=True)
    assert browser.post(path, data={"csrf_token": csrf_token(browser, "/account/login")}).status_code == 410
    assert staff_row(db, store.merchant.id, user.id) is None
    # Expired invitations no longer count as open: a new one may be sent.
    assert invite(owner, email="slow@example.test").status_code == 302


def test_withdrawn_token_is_refused(app, db, store, make_user):
    owner = area_client(app, store.owner, "merchant")
    invite(owner, email="maybe@example.test")
    path = sent_link(db, "maybe@example.test")
    (invitation,) = invitations_of(db, store.merchant.id)
    token = csrf_token(owner, "/merchant/staff")
    response = owner.post(f"/merchant/staff/invitations/{invitation.id}/revoke", data={"csrf_token": token})
    assert response.status_code == 302
    assert "maybe@example.test" not in owner.get("/merchant/staff").get_data(as_text=True)
    user = make_user(email="maybe@example.test")
    browser = area_client(app, user, "consumer")
    page = browser.get(path)
    assert page.status_code == 410 and "This invitation has been withdrawn by the store." in page.get_data(as_text=True)
    assert staff_row(db, store.merchant.id, user.id) is None
    assert "staff.invitation_revoke" in owner.get("/merchant/oplog").get_data(as_text=True)


def test_token_of_one_store_is_useless_with_another_stores_id(app, db, store, make_store, make_user):
    other = make_store("Book Corner", slug="book-corner")
    owner = area_client(app, store.owner, "merchant")
    invite(owner, email="cross@example.test")
    path = sent_link(db, "cross@example.test")
    forged = path.replace(f"/invitations/{store.merchant.id}/", f"/invitations/{other.merchant.id}/")
    user = make_user(email="cross@example.test")
    browser = area_client(app, user, "consumer")
    page = browser.get(forged)
    assert page.status_code == 404 and "This invitation link is not valid." in page.get_data(as_text=True)
    assert "Book Corner" not in page.get_data(as_text=True)
    assert browser.post(forged, data={"csrf_token": csrf_token(browser, "/account/login")}).status_code == 404
    assert staff_row(db, other.merchant.id, user.id) is None and staff_row(db, store.merchant.id, user.id) is None
    assert browser.get("/merchant/invitations/999999999/whatever").status_code == 404
    assert browser.get(path.rsplit("/", 1)[0] + "/not-the-token").status_code == 404


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({}, "email", "Give an email address or a mobile number."),
        (
            {"email": "a@example.test", "phone": "13800138000"},
            "phone",
            "Give either an email address or a mobile number, not both.",
        ),
        ({"email": "not-an-email"}, "email", "This is not a valid email address."),
        ({"phone": "12345"}, "phone", "This is not a valid mobile number."),
        ({"email": "x@example.test", "role": "owner"}, "role", "Not a valid choice."),
    ],
)
def test_bad_invitations_are_refused(app, db, store, data, field, message):
    owner = area_client(app, store.owner, "merchant")
    response = invite(owner, **data)
    assert response.status_code == 400
    assert message in field_errors(response.get_data(as_text=True))
    assert invitations_of(db, store.merchant.id) == []
    assert db.session.scalars(select(OutboxMessage)).all() == []


def test_active_staff_and_open_invitations_are_not_invited_again(app, db, store, make_user):
    clerk = make_user(email="clerk@example.test")
    add_staff_member(db, store.merchant, clerk, "orders")
    owner = area_client(app, store.owner, "merchant")
    response = invite(owner, email="CLERK@example.test")
    assert response.status_code == 400
    assert field_errors(response.get_data(as_text=True)) == [f"{clerk.username} is already staff of this store."]
    assert invite(owner, email="fresh@example.test").status_code == 302
    again = invite(owner, email="fresh@example.test")
    assert field_errors(again.get_data(as_text=True)) == [
        "An invitation to this address is still open. Withdraw it to send a new one."
    ]
    assert len(invitations_of(db, store.merchant.id)) == 1


def test_accepting_when_already_staff_is_refused(app, db, store, make_user):
    owner = area_client(app, store.owner, "merchant")
    invite(owner, email="dup@example.test")
    path = sent_link(db, "dup@example.test")
    page = owner.get(path).get_data(as_text=True)  # the owner opens it by mistake
    assert "You are already staff of this store." in page
    response = accept(owner, path)
    assert response.status_code == 400
    (invitation,) = invitations_of(db, store.merchant.id)
    assert invitation.accepted_at is None


def test_disabled_former_staff_come_back_through_an_invitation(app, db, store, make_user):
    former = make_user(email="former@example.test")
    add_staff_member(db, store.merchant, former, "orders")
    staff = staff_row(db, store.merchant.id, former.id)
    with tenant(store.merchant.id):
        staff.is_active = False
        db.session.flush()
    membership = db.session.scalar(select(MerchantMembership).where(MerchantMembership.user_id == former.id))
    membership.is_active = False
    db.session.flush()
    owner = area_client(app, store.owner, "merchant")
    assert invite(owner, email="former@example.test", role="finance").status_code == 302
    browser = area_client(app, former, "consumer")
    accept(browser, sent_link(db, "former@example.test"))
    db.session.expire_all()
    staff = staff_row(db, store.merchant.id, former.id)
    assert staff.is_active and staff.role_code == "finance" and membership.is_active
    assert browser.get("/merchant/").status_code == 200


def test_staff_without_staff_manage_cannot_invite(app, db, store, make_user):
    clerk = make_user()
    add_staff_member(db, store.merchant, clerk, "orders")
    client = area_client(app, clerk, "merchant")
    token = csrf_token(client, "/merchant/")
    response = client.post(
        "/merchant/staff/invite", data={"invite-email": "x@example.test", "invite-role": "orders", "csrf_token": token}
    )
    assert response.status_code == 403
    assert invitations_of(db, store.merchant.id) == []


def test_another_store_cannot_withdraw_an_invitation(app, db, store, make_store):
    owner = area_client(app, store.owner, "merchant")
    invite(owner, email="keep@example.test")
    (invitation,) = invitations_of(db, store.merchant.id)
    other = make_store("Book Corner", slug="book-corner")
    intruder = area_client(app, other.owner, "merchant")
    token = csrf_token(intruder, "/merchant/staff")
    response = intruder.post(f"/merchant/staff/invitations/{invitation.id}/revoke", data={"csrf_token": token})
    assert response.status_code == 404
    assert "keep@example.test" not in intruder.get("/merchant/staff").get_data(as_text=True)
    db.session.expire_all()
    assert invitations_of(db, store.merchant.id)[0].revoked_at is None


def test_a_store_cannot_send_unlimited_invitations(app, db, store, monkeypatch):
    from mall.merchants import invitations

    monkeypatch.setattr(invitations, "INVITATIONS_PER_DAY", 2)
    owner = area_client(app, store.owner, "merchant")
    assert invite(owner, email="one@example.test").status_code == 302
    assert invite(owner, email="two@example.test").status_code == 302
    third = invite(owner, email="three@example.test")
    assert third.status_code == 400
    assert "This store has sent too many invitations today. Try again tomorrow." in third.get_data(as_text=True)
    assert len(invitations_of(db, store.merchant.id)) == 2
