"""Regression tests for defects found in review: redirects, throttling, escalation, bad ids, mail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from mall.identity.login import safe_next
from mall.identity.models import OperatorRoleAssignment
from tests.conftest import PASSWORD, csrf_token, login


@pytest.mark.parametrize(
    "target",
    [
        "/\t/evil.example/x",
        "//evil.example",
        "/\\evil.example",
        "https://evil.example",
        "/ /evil",
        "javascript:alert(1)",
        "/\n/evil.example",
    ],
)
def test_next_targets_that_leave_the_site_are_refused(target):
    assert safe_next(target, "/home") == "/home"


def test_language_switch_does_not_redirect_off_site(client, db):
    response = client.get("/lang/en?next=/%09/evil.example/x")
    assert response.headers["Location"] == "/"


def test_every_spelling_of_a_phone_number_counts_for_the_same_account(app, client, db, make_user):
    make_user("phoneowner", phone="13800000077")
    spellings = ["13800000077", "138-0000-0077", "1380 000 0077", "138 0000 0077", "13800-000077"]
    for n in range(app.config["LOGIN_MAX_ATTEMPTS_PER_ACCOUNT"]):
        login(client, spellings[n % len(spellings)], "wrong-pass1")
    assert login(client, "1-3800000077".replace("-", ""), PASSWORD).status_code == 429


def test_password_reset_requests_are_throttled_per_identifier(client, db, make_user):
    make_user("resetflood", email="flood@example.test")
    codes = []
    for _ in range(4):
        codes.append(
            client.post(
                "/account/forgot-password",
                data={"identifier": "flood@example.test", "csrf_token": csrf_token(client, "/account/forgot-password")},
            ).status_code
        )
    assert codes == [302, 302, 302, 429]


def test_operators_cannot_grant_themselves_or_others_more_than_they_hold(app, db, make_user):
    from mall.identity import services as accounts

    role = accounts.create_operator_role("Role keeper", ["roles.manage"])
    keeper = make_user()
    accounts.grant_operator_role(keeper, role_id=role.id)
    victim = make_user()
    client = app.test_client()
    login(client, keeper.username, area="platform")
    token = csrf_token(client, "/platform/platform_operators/")
    for identifier in (keeper.username, victim.username):
        client.post(
            "/platform/platform_operators/grant",
            data={"identifier": identifier, "role": "sysadmin", "csrf_token": token},
        )
    codes = db.session.scalars(
        select(OperatorRoleAssignment.role_code).where(OperatorRoleAssignment.user_id.in_([keeper.id, victim.id]))
    ).all()
    assert "sysadmin" not in codes
    assert client.get("/platform/platform_users/").status_code == 403
    # Nor by widening a custom role through Flask-Admin.
    response = client.post(
        "/platform/platform_roles/new/",
        data={
            "name": "Sneaky",
            "permissions": ["users.manage"],
            "csrf_token": csrf_token(client, "/platform/platform_roles/new/"),
        },
    )
    assert response.status_code == 200  # the form comes back with the error
    from mall.identity.models import OperatorRole

    assert db.session.scalar(select(OperatorRole).where(OperatorRole.name == "Sneaky")) is None


@pytest.mark.parametrize(
    "url",
    [
        "/platform/platform_users/details/?id=abc",
        "/platform/platform_roles/edit/?id=abc",
        "/platform/platform_audit/details/?id=99999999999999999999",
    ],
)
def test_malformed_admin_ids_are_not_server_errors(app, db, make_user, url):
    admin = make_user(operator_role="sysadmin")
    client = app.test_client()
    login(client, admin.username, area="platform")
    assert client.get(url).status_code in (302, 404)
    response = client.post(
        "/platform/platform_users/action/",
        data={"action": "disable", "rowid": ["abc"], "csrf_token": csrf_token(client, "/platform/platform_users/")},
    )
    assert response.status_code == 302


def test_a_persons_private_file_is_not_readable_by_store_operators(app, db, make_user):
    from mall.storage.services import store_upload
    from tests.storage.conftest import image_bytes

    owner = make_user()
    with app.test_request_context("/"):
        obj = store_upload(image_bytes("PNG", (8, 8)), "me.png", purpose="avatar", private=True, owner_id=owner.id)
    operator = make_user(operator_role="operator")
    client = app.test_client()
    login(client, operator.username, area="platform")
    assert client.get(f"/files/{obj.id}").status_code == 403


def test_stale_queued_mail_is_picked_up_again(app, db):
    from mall.mail.jobs import retry_unsent_mail
    from mall.mail.models import OutboxMessage
    from tests.jobs.helpers import work

    lost = OutboxMessage(
        to_address="lost@example.test",
        subject="s",
        body_text="b",
        status="queued",
        created_at=datetime.now(UTC) - timedelta(hours=1),
    )
    fresh = OutboxMessage(to_address="fresh@example.test", subject="s", body_text="b", status="queued")
    db.session.add_all([lost, fresh])
    db.session.flush()
    assert retry_unsent_mail() == 1
    db.session.commit()
    work(app)
    db.session.refresh(lost)
    assert lost.status == "logged"


def test_store_staff_cannot_escalate_through_roles(app, db, make_user, make_merchant):
    from mall.merchants.models import MerchantMembership, StaffMember, StaffRole
    from mall.tenancy import tenant

    merchant = make_merchant()
    manager = make_user()
    with tenant(merchant.id):
        staff_only = StaffRole(name="Staff manager", permissions=["staff.manage"])
        db.session.add(staff_only)
        db.session.flush()
        db.session.add(StaffMember(user_id=manager.id, role_id=staff_only.id))
    db.session.add(MerchantMembership(merchant_id=merchant.id, user_id=manager.id))
    db.session.flush()
    client = app.test_client()
    login(client, manager.username, area="merchant")
    token = csrf_token(client, "/merchant/roles")
    client.post("/merchant/roles", data={"name": "Money", "permissions": ["finance.manage"], "csrf_token": token})
    client.post(
        f"/merchant/roles/{staff_only.id}",
        data={"name": "Staff manager", "permissions": ["staff.manage", "finance.manage"], "csrf_token": token},
    )
    with tenant(merchant.id):
        me = db.session.scalar(select(StaffMember).where(StaffMember.user_id == manager.id))
        client.post(f"/merchant/staff/{me.id}/role", data={"role": "finance", "csrf_token": token})
        assert db.session.scalars(select(StaffRole.name)).all() == ["Staff manager"]
        db.session.refresh(staff_only)
        db.session.refresh(me)
        assert staff_only.permissions == ["staff.manage"] and me.role_id == staff_only.id
    other = make_user()
    client.post("/merchant/staff", data={"identifier": other.username, "role": "finance", "csrf_token": token})
    with tenant(merchant.id):
        assert db.session.scalar(select(StaffMember).where(StaffMember.user_id == other.id)) is None
