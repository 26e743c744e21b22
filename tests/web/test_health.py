"""/healthz: 200 while PostgreSQL, Redis and storage all answer; 503 naming the one that does not."""

from __future__ import annotations

import pytest

from mall.storage import LocalStorage


def test_healthz_reports_every_service_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {
        "status": "ok",
        "checks": {"database": "ok", "redis": "ok", "storage": "ok"},
    }


def test_healthz_needs_no_login_and_is_json(client):
    response = client.get("/healthz")
    assert response.mimetype == "application/json"


@pytest.fixture()
def broken_storage(app, tmp_path):
    """Storage whose root is a regular file: every write (and so check()) fails."""
    not_a_folder = tmp_path / "media-is-a-file"
    not_a_folder.write_bytes(b"")
    sentinel = object()
    saved = app.extensions.get("mall.storage", sentinel)
    app.extensions["mall.storage"] = LocalStorage(not_a_folder)
    try:
        yield not_a_folder
    finally:
        if saved is sentinel:
            app.extensions.pop("mall.storage", None)
        else:
            app.extensions["mall.storage"] = saved


def test_healthz_is_503_when_storage_is_broken(client, broken_storage):
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json
    assert body["status"] == "unavailable"
    assert body["checks"]["database"] == "ok" and body["checks"]["redis"] == "ok"
    assert body["checks"]["storage"].startswith("error: ")
    assert body["checks"]["storage"] == "error: FileExistsError"


def test_healthz_recovers_once_storage_is_back(client, broken_storage):
    assert client.get("/healthz").status_code == 503
    broken_storage.unlink()  # the folder can now be created
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json["checks"]["storage"] == "ok"
    assert broken_storage.is_dir()
