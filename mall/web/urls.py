"""Absolute links for emails and messages, never taken from the request's Host header."""

from __future__ import annotations

from flask import current_app, url_for


def external_url(endpoint: str, **values) -> str:
    """``MALL_BASE_URL`` + the endpoint's path when configured (production); otherwise the
    current request's host, which is only safe with ``MALL_TRUSTED_HOSTS`` or in development."""
    base = current_app.config.get("MALL_BASE_URL")
    if base:
        return base + url_for(endpoint, _external=False, **values)
    return url_for(endpoint, _external=True, **values)
