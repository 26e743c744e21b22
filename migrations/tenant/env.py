"""Tenant chain: one merchant schema. Revisions name no schema (search_path is set per schema).

``mall db upgrade`` runs this chain over every store without this file (see
mall/tenancy/migrations.py). This env.py serves ``mall db revision --tenant
--autogenerate``: it brings a scratch schema to head and compares it with the models.
"""

from alembic import context
from alembic.migration import MigrationContext
from alembic.operations import Operations
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, create_engine, text
from sqlalchemy.pool import NullPool

from mall import models  # noqa: F401
from mall.tenancy.models import TenantModel

SCRATCH = "tenant_autogenerate"
config = context.config


def schema_free_metadata() -> MetaData:
    metadata = MetaData(naming_convention=TenantModel.metadata.naming_convention)
    for table in TenantModel.metadata.sorted_tables:
        table.to_metadata(metadata, schema=None)
    return metadata


def run_migrations_online() -> None:
    engine = create_engine(config.get_main_option("sqlalchemy.url"), poolclass=NullPool)
    with engine.begin() as connection:
        connection.execute(text(f'DROP SCHEMA IF EXISTS "{SCRATCH}" CASCADE'))
        connection.execute(text(f'CREATE SCHEMA "{SCRATCH}"'))
        connection.execute(text("SELECT set_config('search_path', :p, true)"), {"p": SCRATCH})
        _bring_scratch_to_head(connection)
        context.configure(
            connection=connection,
            target_metadata=schema_free_metadata(),
            version_table_schema=SCRATCH,
            compare_type=True,
            include_name=lambda name, type_, parents: not (type_ == "table" and name == "alembic_version"),
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.execute(text(f'DROP SCHEMA "{SCRATCH}" CASCADE'))


def _bring_scratch_to_head(connection) -> None:
    """Replay the chain on the scratch schema (without touching alembic's ``context`` proxy)."""
    script = ScriptDirectory.from_config(config)
    revisions = list(reversed(list(script.walk_revisions("base", "heads"))))
    with Operations.context(MigrationContext.configure(connection)):
        for revision in revisions:
            revision.module.upgrade()
    connection.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)"))
    if revisions:
        connection.execute(text("INSERT INTO alembic_version VALUES (:r)"), {"r": revisions[-1].revision})


run_migrations_online()
