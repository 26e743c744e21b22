"""Name and address (slug) changes: the merchant asks, an operator approves or rejects in the back office."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from mall.audit.models import AuditEntry
from mall.errors import PermissionDenied
from mall.mail.models import OutboxMessage
from mall.merchants import store_changes
from mall.merchants.models import StoreChangeRequest
from mall.tenancy import tenant
from tests.conftest import csrf_token
from tests.jobs.helpers import work
from tests.merchant.helpers import area_client, field_errors

LIST = "/platform/platform_store_changes/"


def ask(client, field: str, value: str):
    token = csrf_token(client, "/merchant/settings")
    return client.post(f"/merchant/settings/changes/{field}", data={field: value, "csrf_token": token})


def decide(client, change_id: int, decision: str, reason: str | None = None):
    data = {"csrf_token": csrf_token(client, "/platform/")}
    if reason is not None:
        data["reason"] = reason
    return client.post(f"{LIST}{change_id}/{decision}", data=data)


def pending(db, merchant_id: int, field: str) -> StoreChangeRequest | None:
    return db.session.scalar(
        select(StoreChangeRequest).where(
            StoreChangeRequest.merchant_id == merchant_id,
            StoreChangeRequest.field == field,
            StoreChangeRequest.status == "pending",
        )
    )


def audit_actions(db, merchant_id: int) -> list[tuple[str, str]]:
    rows = db.session.scalars(
        select(AuditEntry).where(AuditEntry.merchant_id == merchant_id).order_by(AuditEntry.id)
    ).all()
    return [(e.action, e.area) for e in rows]


def test_name_change_is_reviewed_then_applied_and_the_requester_is_told(app, db, store, make_user):
    store.owner.locale = "en"  # the email is written in the requester's saved language
    merchant_client = area_client(app, store.owner, "merchant")
    assert ask(merchant_client, "name", "  Tea Palace ").status_code == 302
    change = pending(db, store.merchant.id, "name")
    assert (change.old_value, change.new_value, change.requested_by_id) == ("Tea House", "Tea Palace", store.owner.id)
    page = merchant_client.get("/merchant/settings").get_data(as_text=True)
    assert "Waiting for review" in page and "Tea Palace" in page
    assert store.merchant.name == "Tea House"  # nothing applies before the review

    operator = area_client(app, make_user(operator_role="operator"), "platform")
    listing = operator.get(LIST).get_data(as_text=True)
    assert f'data-change="{change.id}"' in listing and "Tea Palace" in listing
    assert decide(operator, change.id, "approve").status_code == 302
    db.session.expire_all()
    assert change.status == "approved" and change.decided_at is not None
    assert store.merchant.name == "Tea Palace"
    assert "Tea Palace" in merchant_client.get("/merchant/").get_data(as_text=True)

    mail = db.session.scalar(select(OutboxMessage).where(OutboxMessage.to_address == store.owner.email))
    assert "Tea House" in mail.body_text and "Tea Palace" in mail.body_text and "approved" in mail.body_text
    work(app)
    assert db.session.get(OutboxMessage, mail.id).status == "logged"
    assert audit_actions(db, store.merchant.id)[-2:] == [
        ("store.change_request", "merchant"),
        ("store.change_approve", "platform"),
    ]
    oplog = merchant_client.get("/merchant/oplog").get_data(as_text=True)
    assert "store.change_request" in oplog  # the operator's decision is a platform row, not in the store's log


def test_slug_change_moves_the_store_page_and_the_subdomain_follows(app, db, store, make_user):
    client = app.test_client()
    assert client.get("/shop/tea-house/").status_code == 200
    merchant_client = area_client(app, store.owner, "merchant")
    assert ask(merchant_client, "slug", "Fujian-Tea").status_code == 302  # lower-cased
    change = pending(db, store.merchant.id, "slug")
    assert change.new_value == "fujian-tea"
    operator = area_client(app, make_user(operator_role="operator"), "platform")
    decide(operator, change.id, "approve")
    db.session.expire_all()
    assert (store.merchant.slug, store.merchant.subdomain) == ("fujian-tea", "fujian-tea")
    assert client.get("/shop/fujian-tea/").status_code == 200
    assert client.get("/shop/tea-house/").status_code == 404
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "store.change_approve"))
    assert entry.changes["slug"] == ["tea-house", "fujian-tea"]
    assert entry.changes["subdomain"] == ["tea-house", "fujian-tea"]
    page = merchant_client.get("/merchant/settings").get_data(as_text=True)
    assert "http://mall.test/shop/fujian-tea/" in page


def test_a_subdomain_of_its_own_is_kept(db, store, make_user):
    store.merchant.subdomain = "teashop"
    db.session.flush()
    with tenant(store.merchant.id):
        change = store_changes.request_store_change(store.owner, "slug", "new-tea")
    store_changes.decide_store_change(make_user(operator_role="operator"), change.id, True)
    assert (store.merchant.slug, store.merchant.subdomain) == ("new-tea", "teashop")


def test_rejection_needs_a_reason_and_keeps_the_old_name(app, db, store, make_user):
    store.owner.locale = "en"  # the email is written in the requester's saved language
    merchant_client = area_client(app, store.owner, "merchant")
    ask(merchant_client, "name", "Best Tea In The World")
    change = pending(db, store.merchant.id, "name")
    operator = area_client(app, make_user(operator_role="operator"), "platform")
    decide(operator, change.id, "reject", reason="  ")
    assert "Say why the change is rejected." in operator.get(LIST).get_data(as_text=True)
    db.session.expire_all()
    assert change.status == "pending"
    decide(operator, change.id, "reject", reason="Superlatives are not allowed in store names.")
    db.session.expire_all()
    assert change.status == "rejected" and change.reason == "Superlatives are not allowed in store names."
    assert store.merchant.name == "Tea House"
    page = merchant_client.get("/merchant/settings").get_data(as_text=True)
    assert "Rejected" in page and "Superlatives are not allowed in store names." in page
    mail = db.session.scalar(select(OutboxMessage).where(OutboxMessage.to_address == store.owner.email))
    assert "rejected" in mail.body_text and "Superlatives" in mail.body_text
    # Decided is decided: no second decision.
    decide(operator, change.id, "approve")
    db.session.expire_all()
    assert change.status == "rejected" and store.merchant.name == "Tea House"
    # A new request may follow.
    assert ask(merchant_client, "name", "Tea Garden").status_code == 302


def test_slug_taken_between_request_and_decision_is_refused(app, db, store, make_store, make_user):
    with tenant(store.merchant.id):
        change = store_changes.request_store_change(store.owner, "slug", "green-leaf")
    make_store("Green Leaf", slug="green-leaf")  # another store gets it first
    operator = area_client(app, make_user(operator_role="operator"), "platform")
    decide(operator, change.id, "approve")
    listing = operator.get(LIST).get_data(as_text=True)
    assert "The address green-leaf cannot be given any more: This address is already taken." in listing
    db.session.expire_all()
    assert change.status == "pending" and store.merchant.slug == "tea-house"
    assert app.test_client().get("/shop/tea-house/").status_code == 200
    decide(operator, change.id, "reject", reason="Taken meanwhile.")
    db.session.expire_all()
    assert change.status == "rejected"


def test_slug_used_as_another_stores_subdomain_is_refused(app, db, store, make_store):
    other = make_store("Other", slug="other-store")
    other.merchant.subdomain = "leafy"
    db.session.flush()
    client = area_client(app, store.owner, "merchant")
    response = ask(client, "slug", "leafy")
    assert response.status_code == 400
    assert field_errors(response.get_data(as_text=True)) == ["This address is already taken."]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("name", "Tea House", "This is already the store name."),
        ("name", "n" * 81, "Field cannot be longer than 80 characters."),
        ("slug", "tea-house", "This is already the store address."),
        ("slug", "ab", "3–40 characters: lower-case letters, digits and hyphens, not at either end."),
        ("slug", "-tea-", "3–40 characters: lower-case letters, digits and hyphens, not at either end."),
        ("slug", "admin", "This address is reserved."),
        ("slug", "book-corner", "This address is already taken."),
    ],
)
def test_bad_requests_are_refused_per_field(app, db, store, make_store, field, value, message):
    make_store("Book Corner", slug="book-corner")
    client = area_client(app, store.owner, "merchant")
    response = ask(client, field, value)
    assert response.status_code == 400
    assert field_errors(response.get_data(as_text=True)) == [message]
    assert db.session.scalars(select(StoreChangeRequest)).all() == []


def test_one_pending_request_per_field_and_cancelling(app, db, store):
    client = area_client(app, store.owner, "merchant")
    assert ask(client, "name", "Tea Palace").status_code == 302
    assert ask(client, "slug", "tea-palace").status_code == 302  # another field may wait at the same time
    second = ask(client, "name", "Tea Castle")
    assert second.status_code == 400
    assert field_errors(second.get_data(as_text=True)) == ["A change of the store name is already waiting for review."]
    change = pending(db, store.merchant.id, "name")
    token = csrf_token(client, "/merchant/settings")
    assert client.post(f"/merchant/settings/changes/{change.id}/cancel", data={"csrf_token": token}).status_code == 302
    db.session.expire_all()
    assert change.status == "cancelled"
    assert ask(client, "name", "Tea Castle").status_code == 302
    again = client.post(f"/merchant/settings/changes/{change.id}/cancel", data={"csrf_token": token})
    assert again.status_code == 400 and "This request has already been decided." in again.get_data(as_text=True)
    assert ("store.change_cancel", "merchant") in audit_actions(db, store.merchant.id)


def test_operator_permissions_to_list_and_decide(app, db, store, make_user):
    with tenant(store.merchant.id):
        change = store_changes.request_store_change(store.owner, "name", "Tea Palace")
    viewer = area_client(app, make_user(operator_role="content_editor"), "platform")  # merchants.view only
    assert viewer.get(LIST).status_code == 200
    assert f"{LIST}{change.id}/approve" not in viewer.get(LIST).get_data(as_text=True)  # no buttons
    assert decide(viewer, change.id, "approve").status_code == 403
    outsider = area_client(app, make_user(operator_role="finance"), "platform")
    finance_list = outsider.get(LIST)
    assert finance_list.status_code == 200  # finance has merchants.view
    stranger = make_user()
    from mall.identity import services as accounts

    role = accounts.create_operator_role("Auditors", ["audit.view"])
    accounts.grant_operator_role(stranger, role_id=role.id)
    auditor = area_client(app, stranger, "platform")
    assert auditor.get(LIST).status_code == 403
    assert decide(auditor, change.id, "approve").status_code == 403
    with pytest.raises(PermissionDenied):
        store_changes.decide_store_change(stranger, change.id, True)
    db.session.expire_all()
    assert change.status == "pending" and store.merchant.name == "Tea House"


def test_operator_list_filters_by_status_newest_first(app, db, make_store, make_user):
    a, b = make_store("Alpha", slug="alpha-store"), make_store("Beta", slug="beta-store")
    with tenant(a.merchant.id):
        first = store_changes.request_store_change(a.owner, "name", "Alpha Two")
    with tenant(b.merchant.id):
        second = store_changes.request_store_change(b.owner, "name", "Beta Two")
    operator_user = make_user(operator_role="operator")
    store_changes.decide_store_change(operator_user, first.id, False, "No.")
    operator = area_client(app, operator_user, "platform")
    pending_page = operator.get(LIST).get_data(as_text=True)
    assert f'data-change="{second.id}"' in pending_page and f'data-change="{first.id}"' not in pending_page
    rejected_page = operator.get(f"{LIST}?status=rejected").get_data(as_text=True)
    assert f'data-change="{first.id}"' in rejected_page and f'data-change="{second.id}"' not in rejected_page
    everything = operator.get(f"{LIST}?status=").get_data(as_text=True)
    assert everything.index(f'data-change="{second.id}"') < everything.index(f'data-change="{first.id}"')
    assert operator.get(f"{LIST}?status=bogus").status_code == 404


def test_an_approved_name_reaches_the_catalog_and_its_cached_pages(app, db, store, make_user, client):
    from mall.catalog.models import PublicProduct
    from tests.catalog import browse_helpers as h

    row = h.product(store.merchant, h.category("Tea", "tea-cat"), "Green tea", slug="green-tea")
    path = f"/p/{row.id}-green-tea"
    assert "Tea House" in client.get(path, headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert client.get(path, headers={"Accept-Language": "en"}).headers["X-Cache"] == "hit"
    with tenant(store.merchant.id):
        change = store_changes.request_store_change(store.owner, "name", "Tea Palace")
    store_changes.decide_store_change(make_user(operator_role="operator"), change.id, True)
    page = client.get(path, headers={"Accept-Language": "en"})
    assert page.headers["X-Cache"] == "miss" and "Tea Palace" in page.get_data(as_text=True)
    public = db.session.get(PublicProduct, row.id)
    db.session.refresh(public)
    assert "palace" in public.search_text  # the search document (lower case) names the store anew
