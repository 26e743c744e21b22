from __future__ import annotations

import pytest
from sqlalchemy import inspect, select, text

from mall.merchants.models import StaffMember, StaffRole
from mall.tenancy import CrossTenantWrite, TenantNotBound, bind_merchant, cache_key, tenant


def test_two_stores_with_overlapping_data_see_only_their_own(db, make_merchant):
    a, b = make_merchant(), make_merchant()
    with tenant(a.id):
        db.session.add_all([StaffRole(name="Packer", permissions=["orders.manage"]), StaffRole(name="Only A")])
    with tenant(b.id):
        db.session.add(StaffRole(name="Packer", permissions=["products.manage"]))
    db.session.flush()
    with tenant(a.id):
        assert sorted(r.name for r in db.session.scalars(select(StaffRole))) == ["Only A", "Packer"]
        assert db.session.scalar(select(StaffRole).where(StaffRole.name == "Packer")).permissions == ["orders.manage"]
        assert len(db.session.scalars(select(StaffMember)).all()) == 1  # only A's owner
    with tenant(b.id):
        roles = db.session.scalars(select(StaffRole)).all()
        assert [(r.name, r.permissions) for r in roles] == [("Packer", ["products.manage"])]
    # and in the database itself, each row sits in its own schema
    rows = db.session.execute(text(f"SELECT name FROM m_{b.id}.staff_roles")).scalars().all()
    assert rows == ["Packer"]


def test_tenant_row_ids_are_globally_unique(db, make_merchant):
    a, b = make_merchant(), make_merchant()
    ids = []
    for m in (a, b, a):
        with tenant(m.id):
            role = StaffRole(name=f"r{len(ids)}")
            db.session.add(role)
            db.session.flush()
            ids.append(role.id)
    assert len(set(ids)) == 3 and ids == sorted(ids)


def test_unbound_tenant_query_raises(db, make_merchant):
    make_merchant()
    with pytest.raises(TenantNotBound):
        db.session.scalars(select(StaffRole)).all()
    with pytest.raises(TenantNotBound):
        db.session.execute(select(StaffRole.__table__)).all()


def test_unbound_tenant_table_is_refused_wherever_it_hides(db, make_merchant):
    """The guard reads the SQL sent: a tenant table in a subquery, or a Core statement run on the
    connection itself, is refused as well, and a platform table merely named like it is not."""
    from mall.merchants.models import Merchant

    merchant = make_merchant()
    roles = select(StaffRole.id).where(StaffRole.name == "Packer")
    with tenant(merchant.id):
        assert db.session.connection().execute(select(StaffRole.__table__.c.id)).all() == []
        assert db.session.execute(select(Merchant.id).where(roles.exists())).all() == []
    with pytest.raises(TenantNotBound):
        db.session.execute(select(Merchant.id).where(roles.exists())).all()
    with pytest.raises(TenantNotBound):
        db.session.connection().execute(select(StaffRole.__table__.c.id)).all()
    # Refused before anything was sent: the transaction goes on.
    assert db.session.execute(text("SELECT count(*) FROM tenant_schemas")).scalar() == 1


def test_unbound_tenant_insert_raises(db):
    db.session.add(StaffRole(name="nowhere"))
    with pytest.raises(TenantNotBound):
        db.session.flush()
    db.session.rollback()


def test_get_uses_the_bound_store(db, make_merchant):
    a, b = make_merchant(), make_merchant()
    with tenant(a.id):
        role = StaffRole(name="A role")
        db.session.add(role)
        db.session.flush()
        role_id = role.id
    db.session.expunge_all()
    with tenant(b.id):
        assert db.session.get(StaffRole, role_id) is None
    with tenant(a.id):
        assert db.session.get(StaffRole, role_id).name == "A role"


def test_switching_inside_one_transaction_keeps_objects_with_their_store(db, make_merchant):
    a, b = make_merchant(), make_merchant()
    with tenant(a.id):
        role_a = StaffRole(name="A custom", permissions=["orders.manage"])
        db.session.add(role_a)
        db.session.flush()
        staff_a = db.session.scalar(select(StaffMember))
        staff_a.role_code, staff_a.role_id = None, role_a.id
        db.session.flush()
        assert inspect(role_a).key[2] == f"m_{a.id}"
    bind_merchant(b.id)
    db.session.add(StaffRole(name="B custom"))
    db.session.flush()
    # Expired attributes and lazy loads of A's objects still read from A.
    db.session.expire(staff_a)
    db.session.expire(role_a)
    assert role_a.name == "A custom"
    assert staff_a.role.name == "A custom"
    # Writing A's object while B is bound is refused, and nothing reaches B.
    role_a.name = "hijacked"
    with pytest.raises(CrossTenantWrite):
        db.session.flush()
    db.session.rollback()


def test_cache_keys_carry_the_merchant(db, make_merchant):
    a, b = make_merchant(), make_merchant()
    with tenant(a.id):
        key_a = cache_key("home")
    with tenant(b.id):
        key_b = cache_key("home")
    assert key_a != key_b and f"m{a.id}" in key_a and f"m{b.id}" in key_b
    with pytest.raises(TenantNotBound):
        cache_key("home")


def test_no_search_path_is_left_on_connections(db, make_merchant):
    make_merchant()
    path = db.session.execute(text("SHOW search_path")).scalar()
    assert "m_" not in path


def test_platform_rows_are_one_object_whether_or_not_a_store_is_bound(db, make_merchant, make_user):
    from mall.identity.models import User

    user = make_user()
    merchant = make_merchant()
    db.session.flush()
    with tenant(merchant.id):
        bound = db.session.scalar(select(User).where(User.id == user.id))
    unbound = db.session.scalar(select(User).where(User.id == user.id))
    assert bound is unbound is user
    assert inspect(user).key[2] is None


def test_errors_inside_a_tenant_block_surface_unchanged(db, make_merchant):
    from sqlalchemy.exc import IntegrityError

    from mall.tenancy import current_merchant_id

    merchant = make_merchant()
    with tenant(merchant.id):
        db.session.add(StaffRole(name="Dup"))
    db.session.flush()
    with pytest.raises(IntegrityError), tenant(merchant.id):
        db.session.add(StaffRole(name="Dup"))
        db.session.flush()
    assert current_merchant_id() is None
    db.session.rollback()


def test_a_domain_error_inside_a_tenant_block_writes_nothing(db, make_merchant):
    from mall.errors import DomainError

    merchant = make_merchant()
    with pytest.raises(DomainError), tenant(merchant.id):
        db.session.add(StaffRole(name="Half done"))
        raise DomainError("no")
    db.session.expunge_all()
    with tenant(merchant.id):
        assert db.session.scalars(select(StaffRole).where(StaffRole.name == "Half done")).all() == []
