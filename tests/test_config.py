from __future__ import annotations

import pytest

from mall import create_app
from mall.config import ConfigError


def test_refuses_to_start_without_secret_key_outside_debug(monkeypatch, tmp_path, service_urls):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("MALL_DEBUG", raising=False)
    monkeypatch.delenv("FLASK_DEBUG", raising=False)
    monkeypatch.setenv("MALL_INSTANCE_PATH", str(tmp_path))
    with pytest.raises(ConfigError, match="SECRET_KEY is not set"):
        create_app({**service_urls})


def test_debug_generates_and_keeps_an_instance_secret(monkeypatch, tmp_path, service_urls):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("MALL_DEBUG", "1")
    monkeypatch.setenv("MALL_INSTANCE_PATH", str(tmp_path))
    first = create_app({**service_urls}).config["SECRET_KEY"]
    second = create_app({**service_urls}).config["SECRET_KEY"]
    assert first == second and len(first) >= 40
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0  # readable by the owner only


def test_instance_config_file_and_environment(monkeypatch, tmp_path, service_urls):
    (tmp_path / "mall.cfg").write_text('MAIL_FROM = "Shop <shop@example.test>"\nLOGIN_LOCK_SECONDS = 60\n')
    monkeypatch.setenv("MALL_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("SECRET_KEY", "from-env")
    monkeypatch.setenv("MALL_DOMAIN", "shops.example.test")
    app = create_app({**service_urls})
    assert app.config["MAIL_FROM"] == "Shop <shop@example.test>"
    assert app.config["LOGIN_LOCK_SECONDS"] == 60
    assert app.config["SECRET_KEY"] == "from-env"
    assert app.config["MALL_DOMAIN"] == "shops.example.test"
    assert app.config["SESSION_COOKIE_SECURE"] is True  # production default
    assert app.config["STORAGE_URL"] == f"file://{tmp_path}/media"  # no STORAGE_URL: local media folder
