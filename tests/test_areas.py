"""Area separation and permission matrices for operators and merchant staff."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from mall.audit.models import AuditEntry
from mall.identity.permissions import BUILTIN_OPERATOR_ROLES
from mall.merchants.models import MerchantMembership, StaffMember, StaffRole
from mall.tenancy import tenant
from tests.conftest import csrf_token, login

PLATFORM_VIEWS = {
    "/platform/platform_users/": "users.view",
    "/platform/platform_operators/": "roles.manage",
    "/platform/platform_roles/": "roles.manage",
    "/platform/platform_merchants/": "merchants.view",
    "/platform/platform_audit/": "audit.view",
    "/platform/platform_jobs/": "jobs.view",
}


def test_consumer_cannot_open_the_back_offices(client, db, make_user):
    make_user("plainbuyer")
    login(client, "plainbuyer")
    assert client.get("/account").status_code == 200
    assert client.get("/merchant/").status_code == 403
    assert client.get("/platform/").status_code == 403
    for url in PLATFORM_VIEWS:
        assert client.get(url).status_code == 403


def test_anonymous_users_are_sent_to_each_area_login(client, db):
    assert client.get("/merchant/staff").headers["Location"].startswith("/merchant/login")
    assert client.get("/platform/platform_users/").headers["Location"].startswith("/platform/login")
    assert client.get("/account").headers["Location"].startswith("/account/login")


def test_area_logins_refuse_accounts_without_access(client, db, make_user):
    make_user("justbuyer")
    merchant_login = login(client, "justbuyer", area="merchant")
    assert merchant_login.status_code == 400 and client.get("/merchant/").status_code == 302
    platform_login = login(client, "justbuyer", area="platform")
    assert platform_login.status_code == 400 and client.get("/platform/").status_code == 302


@pytest.mark.parametrize("role", sorted(BUILTIN_OPERATOR_ROLES))
def test_operator_permission_matrix(client, db, make_user, role):
    user = make_user(operator_role=role)
    assert login(client, user.username, area="platform").status_code == 302
    granted = BUILTIN_OPERATOR_ROLES[role][1]
    for url, permission in PLATFORM_VIEWS.items():
        expected = 200 if permission in granted else 403
        assert client.get(url).status_code == expected, (role, url)


def test_custom_operator_role_grants_exactly_its_permissions(client, db, make_user):
    from mall.identity import services as accounts

    role = accounts.create_operator_role("Auditor", ["audit.view"])
    user = make_user()
    accounts.grant_operator_role(user, role_id=role.id)
    login(client, user.username, area="platform")
    assert client.get("/platform/platform_audit/").status_code == 200
    assert client.get("/platform/platform_users/").status_code == 403


def test_sysadmin_grants_and_revokes_roles_with_audit(client, db, make_user):
    admin = make_user(operator_role="sysadmin")
    target = make_user()
    login(client, admin.username, area="platform")
    token = csrf_token(client, "/platform/platform_operators/")
    response = client.post(
        "/platform/platform_operators/grant",
        data={"identifier": target.username, "role": "finance", "csrf_token": token},
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert [a.role_code for a in target.operator_roles] == ["finance"]
    entry = db.session.scalar(
        select(AuditEntry).where(AuditEntry.action == "operator_role.grant", AuditEntry.object_id == str(target.id))
    )
    assert entry.actor_id == admin.id and entry.object_id == str(target.id) and entry.area == "platform"
    assert str(entry.ip) == "127.0.0.1"
    assignment = target.operator_roles[0]
    client.post(f"/platform/platform_operators/revoke/{assignment.id}", data={"csrf_token": token})
    db.session.expire_all()
    assert target.operator_roles == []
    assert db.session.scalar(select(AuditEntry).where(AuditEntry.action == "operator_role.revoke")) is not None


def test_disabling_accounts_is_audited_and_blocks_login(client, db, make_user):
    admin = make_user(operator_role="sysadmin")
    victim = make_user()
    login(client, admin.username, area="platform")
    token = csrf_token(client, "/platform/platform_users/")
    response = client.post(
        "/platform/platform_users/action/",
        data={"action": "disable", "rowid": [str(victim.id)], "csrf_token": token},
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert victim.is_active is False
    assert db.session.scalar(select(AuditEntry).where(AuditEntry.action == "user.disable")).object_id == str(victim.id)
    assert login(client.application.test_client(), victim.username).status_code == 400


def test_audit_log_is_filterable_by_operators(client, db, make_user, make_merchant):
    make_merchant("Audited Store")
    admin = make_user(operator_role="operator")
    login(client, admin.username, area="platform")
    page = client.get("/platform/platform_audit/?search=merchant.create").get_data(as_text=True)
    assert "merchant.create" in page


# --- merchant back office -----------------------------------------------------------------------

MERCHANT_VIEWS = {
    "/merchant/staff": "staff.manage",
    "/merchant/roles": "staff.manage",
    "/merchant/oplog": "oplog.view",
}


@pytest.mark.parametrize("role", ["owner", "product", "orders", "service", "finance"])
def test_merchant_permission_matrix(client, db, make_user, make_merchant, role):
    from mall.identity.permissions import BUILTIN_MERCHANT_ROLES

    merchant = make_merchant()
    user = merchant_owner(db, merchant) if role == "owner" else make_user()
    if role != "owner":
        add_member(db, merchant, user, role)
    login(client, user.username, area="merchant")
    assert client.get("/merchant/").status_code == 200
    for url, permission in MERCHANT_VIEWS.items():
        expected = 200 if permission in BUILTIN_MERCHANT_ROLES[role][1] else 403
        assert client.get(url).status_code == expected, (role, url)


def merchant_owner(db, merchant):
    from mall.identity.models import User

    membership = db.session.scalar(select(MerchantMembership).where(MerchantMembership.merchant_id == merchant.id))
    return db.session.get(User, membership.user_id)


def add_member(db, merchant, user, role_code=None, role_id=None):
    db.session.add(MerchantMembership(merchant_id=merchant.id, user_id=user.id))
    with tenant(merchant.id):
        db.session.add(StaffMember(user_id=user.id, role_code=role_code, role_id=role_id))
    db.session.flush()


def test_staff_see_only_their_own_store(client, db, make_merchant):
    a, b = make_merchant("Alpha Shop"), make_merchant("Beta Shop")
    owner_a = merchant_owner(db, a)
    login(client, owner_a.username, area="merchant")
    page = client.get("/merchant/staff").get_data(as_text=True)
    assert "Alpha Shop" in page and "Beta Shop" not in page
    assert merchant_owner(db, b).username not in page
    # Switching to a store one does not belong to is refused.
    response = client.post(f"/merchant/switch/{b.id}", data={"csrf_token": csrf_token(client, "/merchant/")})
    assert response.status_code == 404
    assert "Alpha Shop" in client.get("/merchant/").get_data(as_text=True)


def test_store_switcher_for_staff_of_several_stores(client, db, make_merchant):
    a = make_merchant("First Store")
    owner = merchant_owner(db, a)
    b = make_merchant("Second Store", owner=owner)
    login(client, owner.username, area="merchant")
    first = client.get("/merchant/").get_data(as_text=True)
    assert "First Store" in first and "Second Store" in first  # both in the switcher
    client.post(f"/merchant/switch/{b.id}", data={"csrf_token": csrf_token(client, "/merchant/")})
    with tenant(b.id):
        db.session.add(StaffRole(name="Only in second"))
    db.session.flush()
    assert "Only in second" in client.get("/merchant/roles").get_data(as_text=True)
    client.post(f"/merchant/switch/{a.id}", data={"csrf_token": csrf_token(client, "/merchant/")})
    assert "Only in second" not in client.get("/merchant/roles").get_data(as_text=True)


def test_owner_adds_staff_with_custom_role_and_it_is_logged(client, db, make_user, make_merchant):
    merchant = make_merchant()
    owner = merchant_owner(db, merchant)
    helper = make_user("helper_one")
    login(client, owner.username, area="merchant")
    token = csrf_token(client, "/merchant/roles")
    response = client.post(
        "/merchant/roles",
        data={"name": "Packer", "permissions": ["orders.manage", "oplog.view"], "csrf_token": token},
    )
    assert response.status_code == 302
    with tenant(merchant.id):
        role = db.session.scalar(select(StaffRole).where(StaffRole.name == "Packer"))
    assert role.permissions == ["oplog.view", "orders.manage"]
    response = client.post(
        "/merchant/staff", data={"identifier": "helper_one", "role": f"custom:{role.id}", "csrf_token": token}
    )
    assert response.status_code == 302
    with tenant(merchant.id):
        staff = db.session.scalar(select(StaffMember).where(StaffMember.user_id == helper.id))
        assert staff.role_id == role.id
    oplog = client.get("/merchant/oplog").get_data(as_text=True)
    assert "staff.add" in oplog and "staff_role.save" in oplog
    # The helper can open the log but not manage staff.
    helper_client = client.application.test_client()
    login(helper_client, "helper_one", area="merchant")
    assert helper_client.get("/merchant/oplog").status_code == 200
    assert helper_client.get("/merchant/staff").status_code == 403


def test_adding_unknown_account_or_second_owner_is_refused(client, db, make_user, make_merchant):
    merchant = make_merchant()
    login(client, merchant_owner(db, merchant).username, area="merchant")
    token = csrf_token(client, "/merchant/staff")
    unknown = client.post(
        "/merchant/staff",
        data={"identifier": "ghost_user", "role": "orders", "csrf_token": token},
        headers={"Accept-Language": "en"},
    )
    assert unknown.status_code == 400 and "No account has this" in unknown.get_data(as_text=True)
    make_user("second_owner")
    owner_try = client.post(
        "/merchant/staff", data={"identifier": "second_owner", "role": "owner", "csrf_token": token}
    )
    assert owner_try.status_code == 400  # "owner" is not offered, so the form refuses it
    with tenant(merchant.id):
        assert len(db.session.scalars(select(StaffMember)).all()) == 1


def test_disabled_staff_lose_access(client, db, make_user, make_merchant):
    merchant = make_merchant()
    clerk = make_user()
    add_member(db, merchant, clerk, "orders")
    owner = merchant_owner(db, merchant)
    login(client, owner.username, area="merchant")
    with tenant(merchant.id):
        staff_id = db.session.scalar(select(StaffMember.id).where(StaffMember.user_id == clerk.id))
    client.post(
        f"/merchant/staff/{staff_id}/active",
        data={"active": "0", "csrf_token": csrf_token(client, "/merchant/staff")},
    )
    clerk_client = client.application.test_client()
    assert login(clerk_client, clerk.username, area="merchant").status_code == 400


def test_store_pages_bind_by_slug_and_hide_suspended_stores(client, db, make_merchant):
    open_store = make_merchant("Open Store", slug="open-store")
    hidden = make_merchant("Hidden Store", slug="hidden-store")
    hidden.status = "suspended"
    db.session.flush()
    assert "Open Store" in client.get("/shop/open-store/").get_data(as_text=True)
    assert client.get("/shop/hidden-store/").status_code == 404
    assert client.get("/shop/no-such-store/").status_code == 404
    assert open_store.id
    # The former address redirects for good.
    moved = client.get("/store/open-store/")
    assert moved.status_code == 301 and moved.headers["Location"].endswith("/shop/open-store/")


def test_store_pages_bind_by_subdomain(app, client, db, make_merchant):
    make_merchant("Sub Store", slug="substore")
    app.config["MALL_DOMAIN"] = "mall.test"
    try:
        page = client.get("/", base_url="http://substore.mall.test")
        assert page.status_code == 200 and "Sub Store" in page.get_data(as_text=True)
        assert client.get("/", base_url="http://nosuch.mall.test").status_code == 404
    finally:
        app.config["MALL_DOMAIN"] = None
