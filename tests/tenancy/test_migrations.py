from __future__ import annotations

import gzip
import textwrap

import pytest
from sqlalchemy import text

from mall.tenancy import migrations
from mall.tenancy.migrations import run_tenant_migrations, tenant_head, upgrade_fleet
from mall.tenancy.provisioning import _head_ddl

CATALOG_SQL = """
SELECT 'column' AS kind, table_name || '.' || column_name || ' ' || data_type || ' '
       || coalesce(character_maximum_length::text, '') || ' ' || is_nullable || ' '
       || coalesce(column_default, '') AS item
  FROM information_schema.columns WHERE table_schema = :s
UNION ALL
SELECT 'constraint', conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid)
  FROM pg_constraint WHERE connamespace = CAST(:s AS regnamespace)
UNION ALL
SELECT 'index', tablename || ' ' || indexname || ' ' || indexdef FROM pg_indexes WHERE schemaname = :s
"""


def describe(session, schema: str) -> list[str]:
    rows = session.execute(text(CATALOG_SQL), {"s": schema}).all()
    return sorted(f"{kind}: {item.replace(schema + '.', 'S.')}" for kind, item in rows)


def test_provision_at_head_equals_upgrade_from_base(db):
    conn = db.session.connection()
    conn.exec_driver_sql(_head_ddl().replace("__mall_tenant_schema__", "m_900001"))
    conn.exec_driver_sql("CREATE SCHEMA m_900002")
    revision = run_tenant_migrations(conn, "m_900002")
    conn.exec_driver_sql("SELECT set_config('search_path', 'public', true)")
    assert revision == tenant_head()
    provisioned, upgraded = describe(db.session, "m_900001"), describe(db.session, "m_900002")
    assert provisioned == upgraded
    assert any("staff_members" in item for item in provisioned)  # the comparison is not vacuous
    version = db.session.execute(text("SELECT version_num FROM m_900001.alembic_version")).scalar()
    assert version == tenant_head()


def test_provisioning_records_the_schema_version(db, make_merchant):
    from mall.tenancy.models import TenantSchema

    merchant = make_merchant()
    record = db.session.get(TenantSchema, merchant.id)
    assert (record.schema_name, record.revision, record.state) == (
        f"m_{merchant.id}",
        tenant_head(),
        "active",
    )


def test_failed_provisioning_leaves_nothing(db, make_user):
    from mall.merchants import services as stores
    from mall.merchants.models import Merchant

    owner = make_user()
    db.session.flush()
    savepoint = db.session.begin_nested()
    merchant = stores.create_merchant("Doomed", "doomed-store", owner)
    merchant_id = merchant.id
    savepoint.rollback()
    assert db.session.get(Merchant, merchant_id) is None
    exists = db.session.execute(
        text("SELECT 1 FROM information_schema.schemata WHERE schema_name = :s"), {"s": f"m_{merchant_id}"}
    ).first()
    assert exists is None


@pytest.fixture()
def extra_revision(tmp_path):
    """Call it to switch to a copy of the tenant chain with one more revision adding a column."""
    import shutil

    chain = tmp_path / "tenant"
    shutil.copytree(migrations.MIGRATIONS_DIR / "tenant", chain)
    head = tenant_head()
    (chain / "versions" / "20991231_testaddcol_add_note.py").write_text(
        textwrap.dedent(
            f'''
            import sqlalchemy as sa
            from alembic import op

            revision = "testaddcol"
            down_revision = "{head}"
            branch_labels = None
            depends_on = None


            def upgrade():
                op.add_column("staff_roles", sa.Column("note", sa.Text()))
            '''
        )
    )
    yield lambda: migrations.set_chain_dir("tenant", chain)
    migrations.set_chain_dir("tenant", None)


def test_fleet_upgrade_continues_past_a_broken_schema_and_reports_it(committed_db, make_user, extra_revision):
    from mall.merchants import services as stores

    db = committed_db
    owner = make_user()
    ids = [stores.create_merchant(f"Fleet {i}", f"fleet-{i}", owner).id for i in range(6)]
    db.session.commit()
    broken = ids[2]
    # Break one schema: its table is gone, so the new revision cannot alter it.
    db.session.execute(text(f"DROP TABLE m_{broken}.staff_roles CASCADE"))
    db.session.commit()
    url = db.engine.url.render_as_string(hide_password=False)
    extra_revision()

    report = upgrade_fleet(url, processes=2)

    assert set(report.failed) == {f"m_{broken}"}
    assert sorted(report.upgraded) == sorted(f"m_{i}" for i in ids if i != broken)
    for merchant_id in ids:
        has_column = db.session.execute(
            text(
                "SELECT count(*) FROM information_schema.columns WHERE table_schema = :s "
                "AND table_name = 'staff_roles' AND column_name = 'note'"
            ),
            {"s": f"m_{merchant_id}"},
        ).scalar()
        assert has_column == (0 if merchant_id == broken else 1)
    rows = dict(db.session.execute(text("SELECT merchant_id, revision FROM public.tenant_schemas")).all())
    assert rows[broken] != "testaddcol" and all(rows[i] == "testaddcol" for i in ids if i != broken)
    error = db.session.execute(
        text("SELECT last_error FROM public.tenant_schemas WHERE merchant_id = :m"), {"m": broken}
    ).scalar()
    assert "staff_roles" in error

    # Resumable: a second run skips every schema already at head and retries only the broken one.
    again = upgrade_fleet(url, processes=2)
    assert again.skipped == len(ids) - 1 and set(again.failed) == {f"m_{broken}"} and not again.upgraded


def test_noop_upgrade_skips_without_connecting(committed_db, make_user):
    from mall.merchants import services as stores

    db = committed_db
    owner = make_user()
    for i in range(3):
        stores.create_merchant(f"Noop {i}", f"noop-{i}", owner)
    db.session.commit()
    report = upgrade_fleet(db.engine.url.render_as_string(hide_password=False))
    assert (report.skipped, report.upgraded, report.failed) == (3, [], {})


def test_archive_exports_with_pg_dump_then_drops(committed_db, make_user, app):
    from mall.merchants import services as stores
    from mall.merchants.models import StaffRole
    from mall.storage import get_storage
    from mall.tenancy import archive_merchant_schema, tenant
    from mall.tenancy.models import TenantSchema

    db = committed_db
    merchant = stores.create_merchant("Closing", "closing-store", make_user())
    with tenant(merchant.id):
        db.session.add(StaffRole(name="Archived role"))
    db.session.commit()

    key = archive_merchant_schema(merchant.id, get_storage(), drop=True)
    db.session.commit()

    dump = gzip.decompress(get_storage().read(key)).decode()
    assert f"CREATE TABLE m_{merchant.id}.staff_roles" in dump and "Archived role" in dump
    record = db.session.get(TenantSchema, merchant.id)
    assert (record.state, record.archive_key) == ("archived", key)
    gone = db.session.execute(
        text("SELECT 1 FROM information_schema.schemata WHERE schema_name = :s"), {"s": f"m_{merchant.id}"}
    ).first()
    assert gone is None
