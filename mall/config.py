"""Configuration from the environment (and an optional ``instance/mall.cfg``).

Every variable is documented in README.md ("Configuration"). Nothing here
connects to anything: the embedded services are started by ``mall.embedded``
from the app factory, only when their URL is missing.
"""

from __future__ import annotations

import os
from datetime import timedelta

TRUE = {"1", "true", "yes", "on"}


def env_flag(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    return default if value is None else value.strip().lower() in TRUE


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return default if not value else int(value)


class ConfigError(RuntimeError):
    """The configuration cannot run safely (e.g. production without SECRET_KEY)."""


def load_config(overrides: dict | None = None) -> dict:
    """Read settings from the environment; ``overrides`` win (used by tests and the CLI)."""
    debug = env_flag("MALL_DEBUG") or env_flag("FLASK_DEBUG")
    cfg = {
        "DEBUG": debug,
        "TESTING": False,
        "SECRET_KEY": os.environ.get("SECRET_KEY"),
        "DATABASE_URL": os.environ.get("DATABASE_URL"),
        "REDIS_URL": os.environ.get("REDIS_URL"),
        "STORAGE_URL": os.environ.get("STORAGE_URL"),
        "MAIL_URL": os.environ.get("MAIL_URL"),
        "MAIL_FROM": os.environ.get("MAIL_FROM", "Mall <no-reply@mall.localhost>"),
        "MALL_DOMAIN": os.environ.get("MALL_DOMAIN"),
        "MALL_BASE_URL": (os.environ.get("MALL_BASE_URL") or "").rstrip("/") or None,
        "TRUSTED_HOSTS": [h.strip() for h in os.environ.get("MALL_TRUSTED_HOSTS", "").split(",") if h.strip()] or None,
        "MALL_PROXY_COUNT": env_int("MALL_PROXY_COUNT", 0),
        "SMS_BACKEND": os.environ.get("SMS_BACKEND", "log"),
        "MERCHANT_DEPOSIT_CENTS": env_int("MERCHANT_DEPOSIT_CENTS", 500000),
        "MERCHANT_AGREEMENT_VERSION": os.environ.get("MERCHANT_AGREEMENT_VERSION", "2026-11"),
        "PLATFORM_COMMISSION_BP": env_int("PLATFORM_COMMISSION_BP", 500),
        "MALL_PAGE_CACHE_SECONDS": env_int("MALL_PAGE_CACHE_SECONDS", 300),
        "MALL_FRAGMENT_CACHE_SECONDS": env_int("MALL_FRAGMENT_CACHE_SECONDS", 300),
        "MALL_PAY_WITHIN_MINUTES": env_int("MALL_PAY_WITHIN_MINUTES", 30),
        "MALL_AUTO_CONFIRM_DAYS": env_int("MALL_AUTO_CONFIRM_DAYS", 15),
        "MALL_AFTER_SALES_DAYS": env_int("MALL_AFTER_SALES_DAYS", 7),
        "MALL_REVIEW_DAYS": env_int("MALL_REVIEW_DAYS", 15),
        "MALL_SETTLEMENT_DAYS": env_int("MALL_SETTLEMENT_DAYS", 7),
        "MALL_SETTLEMENT_DAYS_OF_MONTH": os.environ.get("MALL_SETTLEMENT_DAYS_OF_MONTH", ""),
        "MALL_STATEMENT_CONFIRM_DAYS": env_int("MALL_STATEMENT_CONFIRM_DAYS", 3),
        "MALL_WITHDRAWAL_MIN_CENTS": env_int("MALL_WITHDRAWAL_MIN_CENTS", 10000),
        "MALL_WITHDRAWAL_FEE_BP": env_int("MALL_WITHDRAWAL_FEE_BP", 10),
        "MALL_WITHDRAWAL_FEE_MIN_CENTS": env_int("MALL_WITHDRAWAL_FEE_MIN_CENTS", 100),
        "MALL_PAYOUT_PROVIDER": os.environ.get("MALL_PAYOUT_PROVIDER", "sandbox_bank"),
        "MALL_SANDBOX_PAYOUT_FAIL_SUFFIX": os.environ.get("MALL_SANDBOX_PAYOUT_FAIL_SUFFIX", "0000"),
        "MALL_CASE_REPLY_DAYS": env_int("MALL_CASE_REPLY_DAYS", 2),
        "MALL_CASE_RETURN_DAYS": env_int("MALL_CASE_RETURN_DAYS", 7),
        "MALL_CASE_RECEIVE_DAYS": env_int("MALL_CASE_RECEIVE_DAYS", 10),
        "MALL_CASE_ESCALATE_DAYS": env_int("MALL_CASE_ESCALATE_DAYS", 7),
        "MALL_BANK_TRANSFER_DAYS": env_int("MALL_BANK_TRANSFER_DAYS", 3),
        "MALL_BANK_ACCOUNT": os.environ.get(
            "MALL_BANK_ACCOUNT", "Mall Co., Ltd. · Bank of Shanghai · 6222 0000 0000 0000"
        ),
        "MALL_EMBEDDED_WORKER": env_flag("MALL_EMBEDDED_WORKER", True),
        "MALL_DB_POOL_SIZE": env_int("MALL_DB_POOL_SIZE", 10),
        "MALL_UPGRADE_PROCESSES": env_int("MALL_UPGRADE_PROCESSES", os.cpu_count() or 2),
        "MALL_MIGRATION_LOCK_TIMEOUT": os.environ.get("MALL_MIGRATION_LOCK_TIMEOUT", "5s"),
        "LOGIN_MAX_ATTEMPTS_PER_ACCOUNT": env_int("LOGIN_MAX_ATTEMPTS_PER_ACCOUNT", 5),
        "LOGIN_MAX_ATTEMPTS_PER_IP": env_int("LOGIN_MAX_ATTEMPTS_PER_IP", 20),
        "LOGIN_LOCK_SECONDS": env_int("LOGIN_LOCK_SECONDS", 900),
        "PASSWORD_RESET_MAX_AGE": env_int("PASSWORD_RESET_MAX_AGE", 3600),
        "UPLOAD_MAX_BYTES": env_int("UPLOAD_MAX_BYTES", 10 * 1024 * 1024),
        "DECORATION_VIDEO_MAX_BYTES": env_int("DECORATION_VIDEO_MAX_BYTES", 30 * 1024 * 1024),
        "BABEL_DEFAULT_LOCALE": "zh_Hans_CN",
        "BABEL_DEFAULT_TIMEZONE": os.environ.get("MALL_TIMEZONE", "Asia/Shanghai"),
        "MALL_LOCALES": ["zh_Hans_CN", "en"],
        "WTF_CSRF_TIME_LIMIT": None,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": env_flag("SESSION_COOKIE_SECURE", not debug),
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_DURATION": timedelta(days=14),
        "PERMANENT_SESSION_LIFETIME": timedelta(hours=env_int("SESSION_HOURS", 12)),
        "MAX_CONTENT_LENGTH": env_int("MAX_CONTENT_LENGTH", 32 * 1024 * 1024),
        "FLASK_ADMIN_SWATCH": "cerulean",
    }
    cfg["REMEMBER_COOKIE_SECURE"] = cfg["SESSION_COOKIE_SECURE"]
    if overrides:
        cfg.update(overrides)
    return cfg


def check_secrets(config, instance_path: str) -> None:
    """Refuse to run outside debug/testing without an explicit SECRET_KEY.

    In debug (the local demo) a random key is generated once and kept in the
    instance folder, so sessions survive a restart without a shared default.
    """
    if config.get("SECRET_KEY"):
        return
    if config.get("DEBUG") or config.get("TESTING"):
        import secrets

        path = os.path.join(instance_path, "secret_key")
        if not os.path.exists(path):
            os.makedirs(instance_path, exist_ok=True)
            with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as f:
                f.write(secrets.token_urlsafe(48))
        with open(path) as f:
            config["SECRET_KEY"] = f.read().strip()
        return
    raise ConfigError(
        "SECRET_KEY is not set. Set it in the environment or instance/mall.cfg "
        "(or run with MALL_DEBUG=1 for local development)."
    )
