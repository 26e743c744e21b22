from __future__ import annotations

import gzip

from sqlalchemy import select, text

from mall.audit.models import AuditEntry
from mall.merchants.models import MerchantNote, StaffRole
from mall.notifications.models import SiteMessage
from mall.tenancy import tenant
from tests.conftest import csrf_token, login
from tests.jobs.helpers import work
from tests.test_areas import merchant_owner

EN = {"Accept-Language": "en"}


def act(client, merchant, **data):
    token = csrf_token(client, f"/platform/platform_supervision/{merchant.id}")
    return client.post(
        f"/platform/platform_supervision/{merchant.id}/act",
        data={**data, "csrf_token": token},
        headers=EN,
        follow_redirects=True,
    )


def test_warnings_scores_and_notes(app, db, make_user, make_merchant):
    merchant = make_merchant("Watched Store")
    owner = merchant_owner(db, merchant)
    ops = app.test_client()
    login(ops, make_user(operator_role="operator").username, area="platform")
    assert "Watched Store" in ops.get(f"/platform/platform_supervision/{merchant.id}").get_data(as_text=True)
    page = act(ops, merchant, action="score", text="Slow shipping", score="150").get_data(as_text=True)
    assert "whole number from 0 to 100" in page
    act(ops, merchant, action="score", text="Slow shipping", score="62")
    act(ops, merchant, action="warning", text="Fake reviews detected")
    db.session.refresh(merchant)
    assert merchant.score == 62
    kinds = db.session.scalars(select(MerchantNote.kind).where(MerchantNote.merchant_id == merchant.id)).all()
    assert sorted(kinds) == ["score", "warning"]
    work(app)
    subjects = db.session.scalars(select(SiteMessage.subject).where(SiteMessage.user_id == owner.id)).all()
    assert any(s.startswith("商城关于") and "警告" in s for s in subjects)  # in the owner's (default) language


def test_suspension_hides_the_store_but_staff_keep_working(app, db, make_user, make_merchant):
    merchant = make_merchant("Paused Store", slug="paused-store")
    owner = merchant_owner(db, merchant)
    ops = app.test_client()
    login(ops, make_user(operator_role="operator").username, area="platform")
    assert "Give the reason" in act(ops, merchant, action="suspend", text="").get_data(as_text=True)
    act(ops, merchant, action="suspend", text="Counterfeit goods reported")
    db.session.refresh(merchant)
    assert merchant.status == "suspended"
    visitor = app.test_client()
    assert visitor.get("/store/paused-store/", follow_redirects=True).status_code == 404
    staff = app.test_client()
    login(staff, owner.username, area="merchant")
    page = staff.get("/merchant/", headers=EN).get_data(as_text=True)
    assert "suspended" in page and "Counterfeit goods reported" in page
    assert staff.get("/merchant/staff").status_code == 200
    act(ops, merchant, action="reinstate", text="")
    db.session.refresh(merchant)
    assert merchant.status == "active"
    assert visitor.get("/store/paused-store/", follow_redirects=True).status_code == 200
    actions = db.session.scalars(select(AuditEntry.action).where(AuditEntry.merchant_id == merchant.id)).all()
    assert "merchant.suspended" in actions and "merchant.active" in actions


def test_only_operators_with_manage_permission_act(app, db, make_user, make_merchant):
    merchant = make_merchant()
    viewer = app.test_client()
    login(viewer, make_user(operator_role="service_agent").username, area="platform")
    assert viewer.get(f"/platform/platform_supervision/{merchant.id}").status_code == 200
    response = viewer.post(
        f"/platform/platform_supervision/{merchant.id}/act",
        data={"action": "suspend", "text": "x", "csrf_token": csrf_token(viewer, "/platform/")},
    )
    assert response.status_code == 403
    db.session.refresh(merchant)
    assert merchant.status == "active"


def test_closure_exports_keeps_data_read_only_and_the_export_restores(app, committed_db, make_user, make_merchant):
    db = committed_db
    merchant = make_merchant("Closing Store", slug="closing-store")
    owner = merchant_owner(db, merchant)
    with tenant(merchant.id):
        db.session.add_all([StaffRole(name="Keeper", permissions=["orders.manage"]), StaffRole(name="Second")])
    operator = make_user(operator_role="operator")
    db.session.commit()
    ops = app.test_client()
    login(ops, operator.username, area="platform")
    refused = act(ops, merchant, action="close", text="Contract ended", confirm="wrong").get_data(as_text=True)
    assert "Type the store address" in refused
    act(ops, merchant, action="close", text="Contract ended", confirm="closing-store")
    db.session.expire_all()
    assert merchant.status == "closed"
    from mall.storage import get_storage
    from mall.tenancy.models import TenantSchema

    record = db.session.get(TenantSchema, merchant.id)
    dump = gzip.decompress(get_storage().read(record.archive_key))
    assert b"Keeper" in dump
    # Kept and readable by its staff, but read-only.
    staff = app.test_client()
    login(staff, owner.username, area="merchant")
    assert "Keeper" in staff.get("/merchant/roles").get_data(as_text=True)
    staff.post(
        "/merchant/roles",
        data={"name": "New", "permissions": ["orders.manage"], "csrf_token": csrf_token(staff, "/merchant/roles")},
    )
    with tenant(merchant.id):
        assert db.session.scalars(select(StaffRole.name).order_by(StaffRole.name)).all() == ["Keeper", "Second"]
    # The export restores into a new schema with identical rows.
    from mall.tenancy.provisioning import restore_schema_archive

    restore_schema_archive(db.engine, get_storage().read(record.archive_key), f"m_{merchant.id}", "restored_check")
    original = db.session.execute(
        text(f"SELECT id, name, permissions FROM m_{merchant.id}.staff_roles ORDER BY id")
    ).all()
    restored = db.session.execute(
        text("SELECT id, name, permissions FROM restored_check.staff_roles ORDER BY id")
    ).all()
    assert original == restored and len(original) == 2
    db.session.execute(text("DROP SCHEMA restored_check CASCADE"))
    db.session.commit()
