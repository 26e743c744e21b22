"""Platform chain: the ``public`` schema. Run through ``mall db upgrade`` / ``mall db revision``."""

from alembic import context
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

from mall import models  # noqa: F401
from mall.extensions import db

config = context.config
target_metadata = db.metadata


def include_name(name, type_, parent_names):
    if type_ == "schema":
        return name in (None, "public")  # the default schema is reported as None
    return True


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        engine = create_engine(config.get_main_option("sqlalchemy.url"), poolclass=NullPool)
        with engine.begin() as connection:
            _run(connection)
    else:
        _run(connection)


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        include_schemas=True,
        include_name=include_name,
        version_table_schema="public",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
