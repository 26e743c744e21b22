from __future__ import annotations

from sqlalchemy import select

from mall.audit.models import AuditEntry
from mall.identity.models import OperatorRole
from tests.conftest import csrf_token, login


def test_custom_role_created_in_flask_admin_is_audited(client, db, make_user):
    admin = make_user(operator_role="sysadmin")
    login(client, admin.username, area="platform")
    token = csrf_token(client, "/platform/platform_roles/new/")
    response = client.post(
        "/platform/platform_roles/new/",
        data={
            "name": "Catalogue checker",
            "description": "",
            "permissions": ["products.review", "audit.view"],
            "csrf_token": token,
        },
    )
    assert response.status_code == 302
    role = db.session.scalar(select(OperatorRole).where(OperatorRole.name == "Catalogue checker"))
    assert role.permissions == ["audit.view", "products.review"]
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "operator_role.create"))
    assert entry.actor_id == admin.id and entry.changes["permissions"][1] == ["audit.view", "products.review"]


def test_admin_form_without_csrf_token_changes_nothing(client, db, make_user):
    admin = make_user(operator_role="sysadmin")
    login(client, admin.username, area="platform")
    response = client.post("/platform/platform_roles/new/", data={"name": "Sneaky", "permissions": ["users.manage"]})
    assert response.status_code in (200, 400)
    assert db.session.scalar(select(OperatorRole).where(OperatorRole.name == "Sneaky")) is None


def test_operator_menu_shows_only_permitted_views(client, db, make_user):
    editor = make_user(operator_role="content_editor")
    login(client, editor.username, area="platform")
    page = client.get("/platform/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "/platform/platform_merchants/" in page
    assert "/platform/platform_users/" not in page and "/platform/platform_audit/" not in page


def test_merchants_list_searches(client, db, make_user, make_merchant):
    make_merchant("Tea House", slug="tea-house")
    make_merchant("Book Corner", slug="book-corner")
    admin = make_user(operator_role="operator")
    login(client, admin.username, area="platform")
    page = client.get("/platform/platform_merchants/?search=tea").get_data(as_text=True)
    assert "Tea House" in page and "Book Corner" not in page


def test_duplicate_role_name_is_refused_in_flask_admin(client, db, make_user):
    from mall.identity import services as accounts

    accounts.create_operator_role("Reviewers", ["products.review"])
    admin = make_user(operator_role="sysadmin")
    login(client, admin.username, area="platform")
    token = csrf_token(client, "/platform/platform_roles/new/")
    page = client.post(
        "/platform/platform_roles/new/",
        data={"name": "reviewers", "permissions": ["audit.view"], "csrf_token": token},
        headers={"Accept-Language": "en"},
    ).get_data(as_text=True)
    assert "A role with this name exists already." in page
    assert db.session.scalars(select(OperatorRole.name)).all() == ["Reviewers"]
