"""Unbound extensions: created here, initialised by ``create_app``; nothing connects at import."""

from __future__ import annotations

import redis
from flask import current_app
from flask_babel import Babel
from flask_login import LoginManager
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import Engine, MetaData, Result
from sqlalchemy.orm import DeclarativeBase

from mall.tenancy.session import READS_ONLY, MallSession

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class PlatformBase(DeclarativeBase):
    metadata = MetaData(schema="public", naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=PlatformBase, session_options={"class_": MallSession})


def read(statement, params: dict | None = None) -> Result:
    """A Core statement on the session's connection: rows of plain values, no ORM objects to build
    (for the busiest pages). The bound store's schema applies, and a store table with none bound is
    refused, as for ORM statements (``mall.tenancy.session``)."""
    return db.session.connection().execute(statement, params or {})


def autocommit_reads() -> None:
    """For a request that only reads (an anonymous product page): its statements run without a
    transaction around them, sparing PostgreSQL's ``BEGIN`` and ``ROLLBACK``, two of such a page's
    five round trips. Takes effect only before the request's first statement; writing afterwards is
    refused (``mall.tenancy.session``). The pool puts the connection back in transaction mode."""
    session = db.session()
    # A session bound to a connection (not the engine) shares its caller's transaction (tests).
    if not session.in_transaction() and isinstance(db.engine, Engine):
        session.info[READS_ONLY] = True
        session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})


login_manager = LoginManager()
babel = Babel()
csrf = CSRFProtect()


class RedisStore:
    """One Redis client per app (the connection pool is created lazily by redis-py)."""

    def init_app(self, app) -> None:
        app.extensions["mall.redis"] = redis.Redis.from_url(app.config["REDIS_URL"])

    @property
    def client(self) -> redis.Redis:
        return current_app.extensions["mall.redis"]


redis_store = RedisStore()
