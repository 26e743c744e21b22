"""Create, archive and restore merchant schemas."""

from __future__ import annotations

import gzip
import os
import re
import shutil
import subprocess
import tempfile
from datetime import UTC, datetime
from functools import cache

from sqlalchemy import Engine, select, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.schema import CreateIndex, CreateTable

from mall.extensions import db
from mall.tenancy.migrations import tenant_head
from mall.tenancy.models import TenantModel, TenantSchema
from mall.tenancy.session import TENANT_SCHEMA, schema_for

_PLACEHOLDER = "__mall_tenant_schema__"


class ProvisioningError(RuntimeError):
    pass


def _head_ddl() -> str:
    return _ddl_at(tenant_head())


@cache
def _ddl_at(head: str) -> str:
    """The whole tenant schema at ``head`` (the models) as one SQL script, rendered once per process."""
    # Importing the domain packages registers every tenant model on the metadata.
    import mall.models  # noqa: F401

    dialect = postgresql.psycopg.dialect()
    # Compiled with a translate map, tenant names render as a schema token we replace below.
    translate = {TENANT_SCHEMA: TENANT_SCHEMA}
    token = f"__[SCHEMA_{TENANT_SCHEMA}]"
    statements = [f"CREATE SCHEMA {_PLACEHOLDER}"]
    for table in TenantModel.metadata.sorted_tables:
        statements.append(str(CreateTable(table).compile(dialect=dialect, schema_translate_map=translate)))
        for index in sorted(table.indexes, key=lambda i: i.name or ""):
            statements.append(str(CreateIndex(index).compile(dialect=dialect, schema_translate_map=translate)))
    statements.append(
        f"CREATE TABLE {_PLACEHOLDER}.alembic_version (version_num VARCHAR(32) NOT NULL, "
        "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))"
    )
    statements.append(f"INSERT INTO {_PLACEHOLDER}.alembic_version VALUES ('{head}')")
    sql = ";\n".join(s.strip() for s in statements) + ";"
    return sql.replace(token, _PLACEHOLDER)


def provision_merchant_schema(merchant_id: int) -> TenantSchema:
    """Create the merchant's schema at the current head and record it.

    Runs in the caller's transaction: if anything later fails and rolls back,
    no schema or registry row is left behind.
    """
    schema = schema_for(merchant_id)
    connection = db.session.connection()
    connection.exec_driver_sql(_head_ddl().replace(_PLACEHOLDER, schema))
    record = TenantSchema(merchant_id=merchant_id, schema_name=schema, revision=tenant_head(), state="active")
    db.session.add(record)
    db.session.flush()
    return record


def pg_tool(name: str) -> str:
    """pgserver ships pg_dump/psql 16, which work with servers up to 16; fall back to the system ones."""
    from importlib.util import find_spec

    spec = find_spec("pgserver")  # located, not imported: importing it starts nothing but warns
    bundled = os.path.join(os.path.dirname(spec.origin), "pginstall", "bin", name) if spec else ""
    return bundled if bundled and os.path.exists(bundled) else (shutil.which(name) or name)


def pg_dump_path() -> str:
    return pg_tool("pg_dump")


def libpq_env(engine: Engine) -> dict[str, str]:
    url = engine.url
    env = dict(os.environ)
    host = url.query.get("host") or url.host or ""
    env.update(
        PGHOST=str(host),
        PGPORT=str(url.port or 5432),
        PGUSER=url.username or "postgres",
        PGDATABASE=url.database or "postgres",
    )
    if url.password:
        env["PGPASSWORD"] = url.password
    return env


def dump_schema(engine: Engine, schema: str) -> bytes:
    """A plain-SQL ``pg_dump -n`` of one schema (structure and data), gzip-compressed."""
    result = subprocess.run(
        [pg_dump_path(), "--no-owner", "--no-privileges", "-n", schema],
        env=libpq_env(engine),
        capture_output=True,
        check=False,
    )
    if result.returncode != 0:
        raise ProvisioningError(result.stderr.decode(errors="replace").strip())
    return gzip.compress(result.stdout)


def archive_merchant_schema(merchant_id: int, storage, *, drop: bool = False) -> str:
    """Export the schema to private storage, then (optionally) drop it. Returns the storage key.

    The dump is written before anything is dropped; the drop happens in the
    caller's transaction, together with the registry update.
    """
    record = db.session.get(TenantSchema, merchant_id)
    if record is None:
        raise ProvisioningError(f"merchant {merchant_id} has no schema")
    db.session.flush()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    key = f"archives/merchants/{merchant_id}/{record.schema_name}-{stamp}.sql.gz"
    storage.save(key, dump_schema(db.engine, record.schema_name), content_type="application/gzip", private=True)
    record.archive_key = key
    if drop:
        db.session.connection().exec_driver_sql(f'DROP SCHEMA "{record.schema_name}" CASCADE')
        record.state = "archived"
    db.session.flush()
    return key


_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def restore_schema_archive(engine: Engine, dump_gz: bytes, source_schema: str, target_schema: str) -> None:
    """Load an archive made by ``archive_merchant_schema`` into ``target_schema``, in one transaction.

    The dump recreates ``source_schema``; if that schema still exists it is renamed aside for the
    duration, so the original is never touched. Either everything lands or nothing does.
    """
    for name in (source_schema, target_schema):
        if not _SCHEMA_NAME.match(name):
            raise ProvisioningError(f"invalid schema name: {name!r}")
    hold = f"{source_schema}__restore_hold"
    with engine.connect() as conn:
        present = {
            r[0]
            for r in conn.execute(
                text("SELECT schema_name FROM information_schema.schemata WHERE schema_name IN (:a, :b)"),
                {"a": source_schema, "b": target_schema},
            )
        }
    if target_schema in present:
        raise ProvisioningError(f"schema {target_schema} already exists")
    steps: list[str] = []
    if source_schema in present:
        steps += ["-c", f"ALTER SCHEMA {source_schema} RENAME TO {hold}"]
    with tempfile.NamedTemporaryFile(suffix=".sql") as dump:
        dump.write(gzip.decompress(dump_gz))
        dump.flush()
        steps += ["-f", dump.name, "-c", f"ALTER SCHEMA {source_schema} RENAME TO {target_schema}"]
        if source_schema in present:
            steps += ["-c", f"ALTER SCHEMA {hold} RENAME TO {source_schema}"]
        result = subprocess.run(
            [pg_tool("psql"), "-X", "-q", "-1", "-v", "ON_ERROR_STOP=1", *steps],
            env=libpq_env(engine),
            capture_output=True,
            check=False,
        )
    if result.returncode != 0:
        raise ProvisioningError(result.stderr.decode(errors="replace").strip())


def schema_exists(schema: str) -> bool:
    from sqlalchemy import text

    row = db.session.execute(
        text("SELECT 1 FROM information_schema.schemata WHERE schema_name = :s"), {"s": schema}
    ).first()
    return row is not None


def registered_schemas() -> list[TenantSchema]:
    return list(db.session.scalars(select(TenantSchema).order_by(TenantSchema.merchant_id)))
