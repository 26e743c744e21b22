"""Browser tests: headless Debian Chromium (never a downloaded browser) against a live server."""

from __future__ import annotations

import contextvars
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from tests.conftest import wipe_database

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture()
def live_app(service_urls, committed_db, tmp_path):
    """A second app for the live server (real commits; the database is wiped afterwards)."""
    from mall import create_app
    from mall.extensions import db

    config = {
        **service_urls,
        "SERVER_NAME": None,
        "TESTING": True,
        "SECRET_KEY": "x",
        "SESSION_COOKIE_SECURE": False,
        "REMEMBER_COOKIE_SECURE": False,
        "STORAGE_URL": f"file://{tmp_path / 'media'}",
        "MAIL_URL": None,
        "MALL_EMBEDDED_WORKER": False,
    }
    # Built in an empty context, outside the app context committed_db holds (Flask-Admin evaluates
    # lazy view names while the app is created).
    live = contextvars.Context().run(create_app, config)
    yield live
    db.session.remove()  # the test's own session (committed_db) must not hold locks the wipe waits for
    with live.app_context():
        engine = db.engine
        wipe_database(engine)
        engine.dispose()


@pytest.fixture()
def live_server(live_app):
    """The live app on 127.0.0.1:<free port>."""
    server = make_server("127.0.0.1", 0, live_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture()
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()
